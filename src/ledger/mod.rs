//! The ledger: an append-only, hash-chained log of cooperation events, with the views and the
//! Merkle tiles kept current in the same atomic groups as the records.
//!
//! This is the synchronous, deterministic core; it knows nothing of threads or runtimes beyond
//! the data parallelism of its own loops. [`Ledger`] owns the single writer; [`Reader`]s read
//! concurrently. An append is two steps: the ledger stages requests into an open group
//! ([`Ledger::open_group`], [`Ledger::stage`], [`Ledger::close_group`]: decided on top of the
//! group staged before it, committed or not), then a [`Committer`] writes and publishes it;
//! [`Ledger::append_group`] does both in turn. The async handle in
//! [`crate::handle`] groups concurrent appends into shared syncs and runs the two steps on two
//! threads, so that the next group is staged while one commits.
//!
//! - [`recover`]: from a store to an open ledger (and [`verify_store`] for one that is not);
//! - [`walk`]: the one walk over the records;
//! - [`writer`], [`staging`], [`rules`]: appends;
//! - [`reader`]: everything a [`Reader`] can do;
//! - [`catalog`]: the in-memory index; [`frame`]: record framing and the hash chain;
//! - [`tiles`], [`tree`]: the Merkle tree's stored hashes and proofs generated from them;
//! - [`fold`]: folding the log into views from scratch.

pub mod catalog;
pub mod fold;
mod follow;
pub mod frame;
pub mod migrate;
pub mod reader;
mod recover;
pub mod rules;
pub mod staging;
pub mod tiles;
pub mod tree;
pub mod walk;
pub mod writer;

use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use proto_events::{Date, NewEvent, RecordedEvent, Timestamp};

use crate::error::Error;
use crate::metrics::Metrics;
use crate::store::{Group, Location, Store, ViewWrite};
use crate::views::digest::Digest;
use crate::views::state::{Touched, ViewState};
use crate::views::stored;
use catalog::Catalog;
pub use reader::{MAX_PAGE, Reader, VerifyReport};
pub use recover::{verify_at, verify_store};
pub use writer::{
    MAX_BATCH_EVENTS, MAX_EVENT_BYTES, Open, Pending, Receipt, Request, Staged, Views, Writer,
};

/// State shared by the writer and every reader.
pub struct Shared {
    pub(crate) store: Store,
    pub(crate) catalog: RwLock<Catalog>,
    pub(crate) views: RwLock<Arc<ViewState>>,
    poisoned: Mutex<Option<String>>,
    /// For a ledger opened read-only to be checked: what is wrong with its stored views.
    pub(crate) views_problem: Mutex<Option<String>>,
    /// Opened read-only: every write is refused.
    pub(crate) read_only: bool,
    pub(crate) metrics: Metrics,
}

impl Shared {
    /// Why writes are refused, as the error to answer with: an earlier storage failure, or a
    /// ledger opened read-only.
    pub(crate) fn refuse_writes(&self) -> Option<Error> {
        if self.read_only {
            return Some(Error::ReadOnly);
        }
        self.poison_reason().map(Error::Poisoned)
    }

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
    /// Whether a missing or empty directory becomes a new ledger. Off by default: a mistyped
    /// path is "no ledger at DIR", never a new empty ledger.
    pub create: bool,
    /// Whether the Merkle tree is kept (proofs and checkpoints need it). Without it appends skip
    /// the tiles; the next open with the tree catches them up from the records.
    pub merkle: bool,
    /// Open to check, not to use: nothing is written, not even the repairs an open makes
    /// (extending the tree, rebuilding views); what is wrong with the stored views is kept for
    /// [`Reader::verify_views`] to report. Appends are refused.
    pub read_only: bool,
    /// Whether stored views that fail their own check (changed outside the ledger: they differ
    /// from their digest) are refolded from the log at open instead of refused. What
    /// `coopledger rebuild` asks for; off by default, so that damaged views stop every other
    /// command until someone rebuilds them on purpose.
    pub refold_damaged_views: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create: false,
            merkle: true,
            read_only: false,
            refold_damaged_views: false,
        }
    }
}

/// How far into the log a view reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The whole log, as of the head when the question is asked.
    Head,
    /// After the record with this sequence (never above the head).
    Sequence(u64),
    /// After the last record recorded at or before this time (never in the future).
    Time(Timestamp),
}

/// A point of the log's history to compute views at: how far into the log (what the ledger
/// said at a sequence or time) and, optionally, which real-world dates count (what had happened
/// by a date). "What the ledger said at N about what had happened by D" is both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsOf {
    /// How far into the log.
    pub at: At,
    /// Count only facts dated on or before this day (by what the log says at `at`).
    pub on: Option<Date>,
}

impl AsOf {
    /// The head, every date.
    pub const HEAD: AsOf = AsOf {
        at: At::Head,
        on: None,
    };

    /// After the record with sequence `seq`.
    #[must_use]
    pub fn sequence(seq: u64) -> AsOf {
        AsOf {
            at: At::Sequence(seq),
            on: None,
        }
    }

    /// After the last record recorded at or before `t`.
    #[must_use]
    pub fn time(t: Timestamp) -> AsOf {
        AsOf {
            at: At::Time(t),
            on: None,
        }
    }

    /// At the head, counting only facts dated on or before `d`.
    #[must_use]
    pub fn date(d: Date) -> AsOf {
        AsOf {
            at: At::Head,
            on: Some(d),
        }
    }

    /// The same point, counting only facts dated on or before `d`.
    #[must_use]
    pub fn on(self, d: Date) -> AsOf {
        AsOf {
            on: Some(d),
            ..self
        }
    }
}

/// A point of history resolved against the log: a sequence the log has reached, and the date
/// filter. Views at a resolved point never change, so they may be cached under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Resolved {
    /// The last sequence folded in (at most the head when resolved).
    pub seq: u64,
    /// Count only facts dated on or before this day.
    pub on: Option<Date>,
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

/// Called with the records of every group once they are durable and published.
pub type CommitListener = Box<dyn FnMut(Arc<Vec<RecordedEvent>>) + Send>;

/// The listener, shared by the ledger and its committers.
type Listener = Arc<Mutex<Option<CommitListener>>>;

/// The ledger, owning its single writer. See the module documentation.
pub struct Ledger {
    shared: Arc<Shared>,
    writer: Writer,
    listener: Listener,
    /// The group staged last, for the next one to be staged over until the catalogue has it.
    below: Option<Arc<staging::Overlay>>,
    /// Whether the open refolded every view from the log (stored views missing, behind, or
    /// damaged and `Options::refold_damaged_views`).
    refolded_at_open: bool,
}

/// Writes and publishes staged groups, in the order they were staged (see the module
/// documentation); it may run on another thread than the ledger's.
pub struct Committer {
    shared: Arc<Shared>,
    listener: Listener,
}

impl Committer {
    /// Commits `staged` (one store commit, one sync), publishes it, tells the commit listener,
    /// and returns each request's answer. Call it for every staged group, in order, the next
    /// once this one has returned.
    pub fn commit(&self, staged: Staged) -> Vec<Result<Vec<Receipt>, Error>> {
        let (results, committed) = staged.commit(&self.shared);
        if let Some(records) = committed
            && let Some(listener) = &mut *self.listener.lock()
        {
            listener(records);
        }
        results
    }
}

impl Ledger {
    /// Opens the existing ledger in `dir`.
    ///
    /// # Errors
    /// [`crate::store::StoreError::Missing`] when `dir` holds no ledger; when the store is in
    /// use, foreign, of another format, or corrupt.
    pub fn open(dir: impl AsRef<Path>) -> Result<Ledger, Error> {
        Self::open_with(dir, Options::default())
    }

    /// Opens the ledger in `dir`, creating a new one when `dir` is missing or empty.
    ///
    /// # Errors
    /// As [`Ledger::open`] (a non-empty directory that is not a ledger is refused).
    pub fn create(dir: impl AsRef<Path>) -> Result<Ledger, Error> {
        Self::open_with(
            dir,
            Options {
                create: true,
                ..Options::default()
            },
        )
    }

    /// Opens the ledger in `dir` with non-default options.
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open_with(dir: impl AsRef<Path>, options: Options) -> Result<Ledger, Error> {
        recover::open(&Location::from(dir.as_ref()), options)
    }

    /// Opens the ledger at `location` (a sled directory or a PostgreSQL database).
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open_at(location: &Location, options: Options) -> Result<Ledger, Error> {
        recover::open(location, options)
    }

    /// Opens the ledger at `location` to try appends on: they are checked and committed as
    /// on the ledger itself, but into a scratch copy-on-write layer ([`crate::store::overlay`])
    /// that is thrown away when this ledger is dropped; the ledger at `location` is opened for
    /// reading only and never written. `import --check` judges a whole file this way.
    ///
    /// # Errors
    /// As [`Ledger::open`]; when the scratch directory cannot be made.
    pub fn open_scratch(location: &Location) -> Result<Ledger, Error> {
        let base = crate::store::open(location, crate::store::Access::Read)?;
        let overlay = crate::store::overlay::Overlay::new(base)?;
        let options = Options {
            // Nothing here is proved to anyone: the tiles are not kept.
            merkle: false,
            ..Options::default()
        };
        recover::open_on(Box::new(overlay), options, false)
    }

    /// A reader sharing this ledger.
    #[must_use]
    pub fn reader(&self) -> Reader {
        Reader {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Sets the function told of every committed group (the async handle's live feed).
    pub fn set_commit_listener(&mut self, listener: CommitListener) {
        *self.listener.lock() = Some(listener);
    }

    /// Whether opening refolded every view from the whole log (they were missing, not at the
    /// head, or damaged and [`Options::refold_damaged_views`] was set): a rebuild right after
    /// would fold the same log again.
    #[must_use]
    pub fn refolded_at_open(&self) -> bool {
        self.refolded_at_open
    }

    /// The committer of the groups this ledger stages.
    #[must_use]
    pub fn committer(&self) -> Committer {
        Committer {
            shared: Arc::clone(&self.shared),
            listener: Arc::clone(&self.listener),
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
        self.append_group(vec![request]).pop().unwrap_or_else(|| {
            Err(Error::Internal(
                "a group of one request gave no answer".into(),
            ))
        })
    }

    /// Appends several requests with one sync (group commit); each succeeds or fails alone.
    pub fn append_group(&mut self, requests: Vec<Request>) -> Vec<Result<Vec<Receipt>, Error>> {
        let mut open = self.open_group();
        self.stage(&mut open, requests);
        let staged = self.close_group(open, Views::Now);
        self.committer().commit(staged)
    }

    /// Opens a group to stage requests into, over the group staged before (whether or not its
    /// commit has returned); nothing is written until the group is closed and a [`Committer`]
    /// commits it, after the group before.
    #[must_use]
    pub fn open_group(&self) -> Open {
        Open::new(&self.shared, self.below.clone())
    }

    /// Stages `requests` into the open group, each succeeding or failing alone.
    pub fn stage(&mut self, open: &mut Open, requests: Vec<Request>) {
        self.writer.stage(&self.shared, open, requests);
    }

    /// Closes the open group, ready to commit; the next group is staged over it. `views` says
    /// whether it writes the view parts changed since they were last written (a writer under
    /// load defers them: [`writer::VIEWS_EVERY`]).
    pub fn close_group(&mut self, open: Open, views: Views) -> Staged {
        let staged = self.writer.close(&self.shared, open, views);
        if staged.has_records() {
            self.below = staged.overlay();
        }
        staged
    }

    /// Follows a log another process writes (a read-only node): reads what the store's head
    /// has gained since this ledger's head (at most `MAX_PAGE` records at a time), checks it
    /// (every hash, and the link to the last record read), folds it into the views with the
    /// writer's own decision, publishes it and tells the commit listener. Returns the new head's
    /// sequence (unchanged when nothing was new).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when a record fails its checks, does not follow the last one read, or
    /// the store's head went back (a follower does not follow a log that changed under it);
    /// storage errors.
    pub fn catch_up(&mut self) -> Result<u64, Error> {
        follow::catch_up(&self.shared, &mut self.listener.lock())
    }

    /// Waits until the store holds records past this ledger's head (another process appended
    /// them), or `timeout` has passed; returns whether it does. On PostgreSQL a notification
    /// of the writer wakes it, else it polls. [`Ledger::catch_up`] then reads them.
    ///
    /// # Errors
    /// Storage errors (a lost connection: the caller waits and tries again).
    pub fn wait_for_records(&self, timeout: std::time::Duration) -> Result<bool, Error> {
        follow::wait(&self.shared, timeout)
    }

    /// Stops serving what follows: a follower that read a record failing its checks keeps what
    /// it verified, and its health check says why it stopped (until it is restarted).
    pub(crate) fn stop_following(&self, reason: &str) {
        self.shared.poison(reason);
    }

    /// Stores a signed checkpoint of the first `size` records (signed by [`crate::audit`]),
    /// making it the latest one readers see.
    ///
    /// # Errors
    /// [`Error::BeyondHead`] when `size` exceeds the head; [`Error::Poisoned`]; storage errors
    /// (which poison the ledger).
    pub fn publish_checkpoint(&mut self, size: u64, note: String) -> Result<(), Error> {
        if let Some(refused) = self.shared.refuse_writes() {
            return Err(refused);
        }
        let head = self.reader().head().seq;
        if size > head {
            return Err(Error::BeyondHead {
                what: format!("a checkpoint of {size} records"),
                head,
            });
        }
        let group = Group {
            checkpoint: Some((size, note)),
            ..Group::default()
        };
        self.commit_other(&group)
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
        if let Some(refused) = self.shared.refuse_writes() {
            return Err(refused);
        }
        self.below = None;
        let reader = self.reader();
        let head = reader.head().seq;
        let fresh = fold::fold(&reader, head, None, progress)?;
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
        let mut digest = Digest::default();
        let mut writes = vec![ViewWrite::ClearAll];
        writes.extend(stored::writes(&views, &Touched::all(), &mut digest)?);
        self.commit_other(&Group {
            views: writes,
            ..Group::default()
        })?;
        *self.shared.views.write() = Arc::new(views.clone());
        self.writer.set_views(views, digest);
        tracing::info!(events = head, "views rebuilt");
        Ok(head)
    }

    /// Writes the view parts changed since they were last written, if any, so that the stored
    /// views are at the head (a writer stopping after a load that deferred them).
    ///
    /// # Errors
    /// [`Error::Poisoned`]; storage errors (which poison the ledger).
    pub fn write_views(&mut self) -> Result<(), Error> {
        if let Some(refused) = self.shared.refuse_writes() {
            return Err(refused);
        }
        let views = self.writer.take_view_writes()?;
        if views.is_empty() {
            return Ok(());
        }
        self.commit_other(&Group {
            views,
            ..Group::default()
        })
    }

    /// Commits a group that is not an append, poisoning the ledger if the write fails.
    fn commit_other(&self, group: &Group<'_>) -> Result<(), Error> {
        if let Err(e) = self.shared.store.commit(group) {
            self.shared.poison(&e.to_string());
            return Err(e.into());
        }
        Ok(())
    }
}
