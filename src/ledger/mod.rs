//! The ledger: an append-only, hash-chained log of cooperation events in sled, with the views
//! kept current in the same atomic batches.
//!
//! This is the synchronous, deterministic core. [`Ledger`] owns the single writer; [`Reader`]s
//! read concurrently. The async handle in [`crate::handle`] puts the writer on its own thread and
//! groups concurrent appends into shared syncs.

pub mod catalog;
pub mod frame;
pub mod reader;
pub mod rules;
pub mod staging;
pub mod writer;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use proto_events::{Date, NewEvent, RecordedEvent, Timestamp};
use tokio::sync::broadcast;

use crate::error::Error;
use crate::metrics::Metrics;
use crate::store::{Batch, Store, keys};
use crate::views::fold::Folder;
use crate::views::state::ViewState;
use crate::views::stored;
use catalog::Catalog;
use frame::Frame;
pub use reader::{MAX_PAGE, Reader, VerifyReport};
pub use writer::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES, Pending, Receipt, Request, Writer};

/// How many committed batches a subscriber may fall behind before it is dropped.
pub const FEED_CAPACITY: usize = 4096;

/// State shared by the writer and every reader.
pub struct Shared {
    pub(crate) store: Store,
    pub(crate) catalog: RwLock<Catalog>,
    pub(crate) views: RwLock<Arc<ViewState>>,
    poisoned: Mutex<Option<String>>,
    pub(crate) feed: broadcast::Sender<Arc<Vec<RecordedEvent>>>,
    pub(crate) metrics: Metrics,
}

impl Shared {
    /// Why writes are refused, if an earlier write or sync failed.
    pub fn poison_reason(&self) -> Option<String> {
        self.poisoned.lock().clone()
    }

    pub(crate) fn poison(&self, reason: &str) {
        tracing::error!(reason, "write failed; ledger poisoned until reopened");
        self.poisoned
            .lock()
            .get_or_insert_with(|| reason.to_owned());
    }
}

/// Tunables of an open ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How many committed batches a live subscriber may fall behind before it is dropped.
    pub feed_capacity: usize,
    /// Whether a missing or empty directory becomes a new ledger (otherwise it is an error).
    pub create: bool,
    /// Whether the Merkle tree is kept (proofs and checkpoints need it). Without it appends skip
    /// the tiles; the next open with the tree catches them up from the records.
    pub merkle: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            feed_capacity: FEED_CAPACITY,
            create: true,
            merkle: true,
        }
    }
}

/// Walks the log of the store in `dir` without opening the ledger: every record's hash, every
/// link, every body and the stored head. Works on a store too damaged to open, and names the
/// first bad sequence.
///
/// # Errors
/// [`Error::Corrupt`] naming the first bad sequence; storage errors (a store in use included).
pub fn verify_store(
    dir: impl AsRef<Path>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, Error> {
    let store = Store::open_existing(dir.as_ref())?;
    let mut prev = frame::GENESIS;
    let mut last = 0u64;
    for item in store.prefix(&[keys::EVENT]) {
        let (key, value) = item?;
        let expected = last + 1;
        let seq = keys::event_seq(&key).unwrap_or(0);
        if seq != expected {
            return Err(Error::Corrupt {
                seq: expected,
                reason: "record missing from the log".into(),
            });
        }
        let frame = Frame::parse(seq, &value)?;
        if frame.prev != prev {
            return Err(Error::Corrupt {
                seq,
                reason: "previous-hash link does not match the record before it".into(),
            });
        }
        frame.decode(seq)?;
        prev = frame.hash;
        last = seq;
        if seq.is_multiple_of(65_536) {
            progress(seq);
        }
    }
    let head = catalog::Head {
        seq: last,
        hash: prev,
        recorded_at: Timestamp::UNIX_EPOCH,
    };
    reader::check_stored_head(&store, head)?;
    progress(last);
    Ok(VerifyReport {
        events: last,
        head_seq: last,
        head_hash: prev,
    })
}

/// A point of the log's history to compute views at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The current head.
    Head,
    /// After the record with this sequence.
    Sequence(u64),
    /// After the last record recorded at or before this time.
    Time(Timestamp),
    /// Counting only facts that happened on or before this date (by the current knowledge).
    Date(Date),
}

/// Which view a rebuild refolds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewName {
    /// Both.
    All,
    /// The per-country view.
    Countries,
    /// The inter-regional view.
    Regions,
}

/// Progress of a long operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Records done.
    pub done: u64,
    /// Records in all.
    pub total: u64,
    /// Records per second so far.
    pub rate: f64,
    /// Estimated seconds left.
    pub eta_secs: f64,
}

/// The ledger, owning its single writer. See the module documentation.
pub struct Ledger {
    shared: Arc<Shared>,
    writer: Writer,
}

impl Ledger {
    /// Opens (or creates) the ledger in `dir`.
    ///
    /// # Errors
    /// When the store is in use, foreign, of another format, or corrupt.
    pub fn open(dir: impl AsRef<Path>) -> Result<Ledger, Error> {
        Self::open_with(dir, Options::default())
    }

    /// Opens (or creates) the ledger in `dir` with non-default options.
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open_with(dir: impl AsRef<Path>, options: Options) -> Result<Ledger, Error> {
        let dir = dir.as_ref();
        let started = Instant::now();
        let store = if options.create {
            Store::open(dir)?
        } else {
            Store::open_existing(dir)?
        };
        let catalog = load_catalog(&store)?;
        reader::check_stored_head(&store, catalog.head())?;
        let head = catalog.head();
        let tree = if options.merkle {
            Some(load_tree(&store, head.seq)?)
        } else {
            None
        };
        let (feed, _) = broadcast::channel(options.feed_capacity.max(1));
        let stored_views = stored::load(&store).ok().flatten();
        let shared = Arc::new(Shared {
            store,
            catalog: RwLock::new(catalog),
            views: RwLock::new(Arc::new(ViewState::default())),
            poisoned: Mutex::new(None),
            feed,
            metrics: Metrics::default(),
        });
        let mut ledger = Ledger {
            writer: Writer::new(ViewState::default(), tree),
            shared,
        };
        match stored_views {
            Some(views) if views.as_of == head.seq => {
                *ledger.shared.views.write() = Arc::new(views.clone());
                ledger.writer.set_views(views);
            }
            None if head.seq == 0 => {}
            other => {
                tracing::warn!(
                    stored = other.map(|v| v.as_of),
                    head = head.seq,
                    "stored views missing or not at the head; rebuilding"
                );
                ledger.rebuild_views(ViewName::All, &mut |_| {})?;
            }
        }
        tracing::info!(
            dir = %dir.display(),
            head = head.seq,
            ms = started.elapsed().as_millis() as u64,
            "ledger opened"
        );
        Ok(ledger)
    }

    /// A reader sharing this ledger.
    #[must_use]
    pub fn reader(&self) -> Reader {
        Reader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Appends `events` as one atomic batch and returns once they are durable.
    ///
    /// # Errors
    /// [`Error::Invalid`] or [`Error::Conflict`] (nothing written), limits, storage failures.
    pub fn append(&mut self, events: Vec<NewEvent>) -> Result<Vec<Receipt>, Error> {
        self.submit(Request::append(events))
    }

    /// Appends one request (an atomic batch).
    ///
    /// # Errors
    /// As [`Ledger::append`].
    pub fn submit(&mut self, request: Request) -> Result<Vec<Receipt>, Error> {
        self.append_group(vec![request])
            .pop()
            .unwrap_or(Err(Error::Closed))
    }

    /// Appends several requests with one sync (group commit); each succeeds or fails alone.
    pub fn append_group(&mut self, requests: Vec<Request>) -> Vec<Result<Vec<Receipt>, Error>> {
        self.writer.append_group(&self.shared, requests)
    }

    /// Drops the stored state of a view and refolds it from the whole log, reporting progress.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn rebuild_views(
        &mut self,
        which: ViewName,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<u64, Error> {
        if let Some(reason) = self.shared.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let reader = self.reader();
        let head = reader.head().seq;
        let fresh = fold(&reader, head, None, progress)?;
        let current = self.writer.views().clone();
        // A rebuild of one view keeps the other's current state.
        let views = match which {
            ViewName::All => fresh,
            ViewName::Countries => ViewState {
                regions: current.regions,
                ..fresh
            },
            ViewName::Regions => ViewState {
                regions: fresh.regions,
                ..current
            },
        };
        let mut batch = Batch::default();
        stored::clear(&self.shared.store, &mut batch)?;
        stored::write(&views, &crate::views::state::Touched::all(), &mut batch)?;
        let written = self
            .shared
            .store
            .apply(batch)
            .and_then(|()| self.shared.store.sync());
        if let Err(e) = written {
            self.shared.poison(&e.to_string());
            return Err(e.into());
        }
        *self.shared.views.write() = Arc::new(views.clone());
        self.writer.set_views(views);
        tracing::info!(events = head, "views rebuilt");
        Ok(head)
    }
}

/// Folds records `1..=upto` into fresh views, checking every record's hash.
///
/// # Errors
/// On a storage error or a record that fails its checks.
pub fn fold(
    reader: &Reader,
    upto: u64,
    on_or_before: Option<Date>,
    progress: &mut dyn FnMut(Progress),
) -> Result<ViewState, Error> {
    let started = Instant::now();
    let mut folder = Folder::new(on_or_before);
    let mut load =
        |stream: &proto_events::Stream, before: u64| reader.stream_facts_before(stream, before);
    // Pages are read (scanned, hashed, decoded) on one thread while this one folds the previous
    // page: the two halves of a rebuild overlap.
    std::thread::scope(|scope| {
        let (pages, incoming) =
            std::sync::mpsc::sync_channel::<Result<Vec<RecordedEvent>, Error>>(2);
        scope.spawn(move || {
            let mut next = 1u64;
            while next <= upto {
                let limit =
                    usize::try_from((upto - next + 1).min(MAX_PAGE as u64)).unwrap_or(MAX_PAGE);
                let page = reader.read_forward(next, limit);
                let stop = page.as_ref().map_or(true, Vec::is_empty);
                if let Ok(p) = &page {
                    next += p.len() as u64;
                }
                if pages.send(page).is_err() || stop {
                    break;
                }
            }
        });
        let mut done = 0u64;
        for page in incoming {
            let page = page?;
            if page.is_empty() {
                break;
            }
            for event in &page {
                folder.apply(event, &mut load)?;
            }
            done += page.len() as u64;
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            let rate = done as f64 / secs;
            progress(Progress {
                done,
                total: upto,
                rate,
                eta_secs: (upto.saturating_sub(done)) as f64 / rate.max(1e-9),
            });
        }
        Ok::<(), Error>(())
    })?;
    Ok(folder.finish())
}

impl Reader {
    /// The views at a point of history. `AsOf::Head` is the maintained state; other points are
    /// folded from the log without touching it.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn views_at(&self, at: AsOf) -> Result<Arc<ViewState>, Error> {
        let head = self.head().seq;
        let (upto, date) = match at {
            AsOf::Head => return Ok(self.views()),
            AsOf::Sequence(seq) => (seq.min(head), None),
            AsOf::Time(t) => (self.seq_at_time(t)?, None),
            AsOf::Date(d) => (head, Some(d)),
        };
        if upto == head && date.is_none() {
            return Ok(self.views());
        }
        Ok(Arc::new(fold(self, upto, date, &mut |_| {})?))
    }
}

/// Loads the Merkle frontier and brings the tiles up to the head: a store written without the
/// tree (or before it existed) has its missing leaves hashed from the records now.
fn load_tree(store: &Store, head: u64) -> Result<crate::audit::tiles::Frontier, Error> {
    let mut tree = crate::audit::tiles::Frontier::load(store)?;
    if tree.size() > head {
        return Err(Error::Corrupt {
            seq: head,
            reason: format!(
                "the Merkle tiles cover {} records but the log holds {head} (records removed?)",
                tree.size()
            ),
        });
    }
    if tree.size() == head {
        return Ok(tree);
    }
    tracing::info!(
        from = tree.size() + 1,
        to = head,
        "extending the Merkle tree from the records"
    );
    while tree.size() < head {
        let from = tree.size() + 1;
        let to = head.min(from + MAX_PAGE as u64 - 1);
        for item in store.range(&keys::event(from), &keys::event(to + 1)) {
            let (key, value) = item?;
            let seq = keys::event_seq(&key).unwrap_or(0);
            let frame = Frame::parse(seq, &value)?;
            frame.check(seq)?;
            tree.push(crate::audit::tiles::leaf_hash(frame.body));
        }
        if tree.size() != to {
            return Err(Error::Corrupt {
                seq: tree.size() + 1,
                reason: "record missing from the log".into(),
            });
        }
        let mut batch = Batch::default();
        tree.write(&mut batch);
        store.apply(batch)?;
    }
    store.sync()?;
    Ok(tree)
}

/// Rebuilds the catalogue from every record, checking each record's hash, the links of the
/// chain and the contiguity of sequences. Records are hashed and decoded in parallel, in chunks;
/// most need only their leading fields.
fn load_catalog(store: &Store) -> Result<Catalog, Error> {
    const CHUNK: usize = 16_384;
    let mut catalog = Catalog::default();
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut items = store.prefix(&[keys::EVENT]);
    loop {
        chunk.clear();
        for item in items.by_ref().take(CHUNK) {
            let (key, value) = item?;
            let expected = catalog.head().seq + chunk.len() as u64 + 1;
            let seq = keys::event_seq(&key).unwrap_or(0);
            if seq != expected {
                return Err(Error::Corrupt {
                    seq: expected,
                    reason: format!("record missing from the log (next stored is {seq})"),
                });
            }
            chunk.push((seq, value));
        }
        if chunk.is_empty() {
            break;
        }
        for loaded in load_chunk(&chunk)? {
            let (seq, prev) = (loaded.seq(), loaded.prev());
            if prev != catalog.head().hash {
                return Err(Error::Corrupt {
                    seq,
                    reason: "previous-hash link does not match the record before it".into(),
                });
            }
            match loaded {
                Loaded::Full(event) => catalog.record(&event),
                Loaded::Prefix { prefix, hash, .. } => catalog.record_prefix(&prefix, hash),
            }
        }
    }
    let head = catalog.head();
    if head.seq > 0 {
        let last = reader::read_record(store, head.seq)?;
        catalog.set_recorded_at(last.envelope.recorded_at);
    }
    Ok(catalog)
}

enum Loaded {
    Full(RecordedEvent),
    Prefix {
        prefix: proto_events::codec::Prefix,
        hash: proto_events::Hash,
        prev: proto_events::Hash,
    },
}

impl Loaded {
    fn seq(&self) -> u64 {
        match self {
            Loaded::Full(e) => e.sequence,
            Loaded::Prefix { prefix, .. } => prefix.sequence,
        }
    }

    fn prev(&self) -> proto_events::Hash {
        match self {
            Loaded::Full(e) => e.prev_hash,
            Loaded::Prefix { prev, .. } => *prev,
        }
    }
}

fn load_chunk(chunk: &[(u64, crate::store::Value)]) -> Result<Vec<Loaded>, Error> {
    use rayon::prelude::*;
    chunk
        .par_iter()
        .with_min_len(256)
        .map(|(seq, value)| {
            let frame = Frame::parse(*seq, value)?;
            frame.check(*seq)?;
            let corrupt = |reason: String| Error::Corrupt { seq: *seq, reason };
            let prefix = proto_events::codec::decode_prefix(frame.body)
                .map_err(|e| corrupt(e.to_string()))?;
            if prefix.sequence != *seq {
                return Err(corrupt(format!(
                    "stored under sequence {seq} but says {}",
                    prefix.sequence
                )));
            }
            let needs_full = prefix.event_type == proto_events::EventType::EventRetracted
                || crate::entity::is_cached(&prefix.stream);
            if needs_full {
                frame.decode(*seq).map(Loaded::Full)
            } else {
                Ok(Loaded::Prefix {
                    prefix,
                    hash: frame.hash,
                    prev: frame.prev,
                })
            }
        })
        .collect()
}
