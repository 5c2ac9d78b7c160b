//! Open-time recovery: from a store to a ledger ready to append.
//!
//! 1. The catalogue is rebuilt by one [`walk`] over every record (hashes checked, record
//!    headers decoded in parallel; the full body only for retractions and country and case
//!    streams, whose facts the catalogue keeps).
//! 2. The end of that walk is checked against the stored head (`M head`) and the witness file:
//!    a log shorter than what was once durable has lost its tail (see [`check_head`]).
//! 3. The Merkle frontier is loaded and, for a store written without the tree, extended from
//!    the records (another walk, over the missing leaves only).
//! 4. The stored views are loaded if they are at the head; otherwise they are refolded from the
//!    log and written back.
//!
//! [`verify_store`] runs steps 1–2 on a store that is not opened as a ledger (one too damaged to
//! open, say), decoding every body.

use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use proto_events::codec::decode_prefix;
use proto_events::{RecordedEvent, Timestamp};

use super::catalog::{Catalog, Head};
use super::tiles::Frontier;
use super::walk::{self, Check, End, Tail};
use super::writer::Writer;
use super::{Ledger, Options, Shared, VerifyReport, ViewName};
use crate::error::Error;
use crate::merkle::leaf_hash;
use crate::metrics::Metrics;
use crate::store::{
    self, Access, Backend, Group, IndexCheck, IndexRow, IndexVerdict, Location, Store,
};
use crate::views::state::ViewState;
use crate::views::stored;

/// How long a reader of PostgreSQL waits, at open, for the acknowledgement of the views it
/// loaded.
const ACKNOWLEDGEMENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the ledger at `location`; see the module documentation.
pub(super) fn open(location: &Location, options: Options) -> Result<Ledger, Error> {
    let access = match (options.read_only, options.create) {
        (true, _) => Access::Read,
        (false, true) => Access::Create,
        (false, false) => Access::Write,
    };
    let store = store::open(location, access)?;
    // A reader of a log another process writes (PostgreSQL) serves only what was acknowledged.
    let follower = options.read_only && matches!(location, Location::Postgres(_));
    open_on(store, options, follower)
}

/// Opens a ledger on an open store (see [`open`]); `follower`: the store is a log another
/// process writes.
pub(super) fn open_on(store: Store, options: Options, follower: bool) -> Result<Ledger, Error> {
    let started = std::time::Instant::now();
    let stored_views = match stored::load(&*store) {
        Err(Error::CorruptView(why)) if options.read_only || options.refold_damaged_views => {
            Err(why)
        }
        other => Ok(other?),
    };
    // A follower's stored views are the writer's, maybe of a group committed and not yet
    // acknowledged: it waits for that acknowledgement (it follows the commit at once), so that
    // its head is at or past the views it loaded, then folds on from them.
    if follower && let Ok(Some((views, _))) = &stored_views {
        store.wait_for_head(views.as_of.saturating_sub(1), ACKNOWLEDGEMENT_WAIT)?;
    }
    let catalog = load_catalog(&*store, false)?;
    let head = catalog.head();
    check_head(&*store, head.into())?;
    let tree = match (options.merkle, options.read_only) {
        (true, false) => Some(extend_tree(&*store, head)?),
        _ => None,
    };
    let shared = Arc::new(Shared {
        store,
        catalog: RwLock::new(catalog),
        views: RwLock::new(Arc::new(ViewState::default())),
        poisoned: Mutex::new(None),
        views_problem: Mutex::new(None),
        read_only: options.read_only,
        metrics: Metrics::default(),
    });
    let mut ledger = Ledger {
        writer: Writer::new(ViewState::default(), tree),
        shared,
        listener: Arc::default(),
        below: None,
        refolded_at_open: false,
    };
    match stored_views {
        Ok(Some((views, digest))) if views.as_of == head.seq => {
            *ledger.shared.views.write() = Arc::new(views.clone());
            ledger.writer.set_views(views, digest);
        }
        Ok(None) if head.seq == 0 => {}
        Ok(Some((views, _))) if follower && views.as_of < head.seq => {
            let reader = ledger.reader();
            let views = super::fold::fold_on(&reader, views, head.seq, None)?;
            *ledger.shared.views.write() = Arc::new(views);
        }
        Ok(Some((views, _))) if follower && views.as_of > head.seq => {
            // Committed and never acknowledged (its writer stopped in between): the next
            // writer adopts it; until then this reader folds what it may serve.
            tracing::warn!(
                views = views.as_of,
                head = head.seq,
                "the stored views are ahead of the acknowledged head; folding the log"
            );
            let reader = ledger.reader();
            let folded = super::fold::fold(&reader, head.seq, None, &mut |_| {})?;
            *ledger.shared.views.write() = Arc::new(folded);
        }
        // Written up to a point before the head (a writer under load defers them, at most
        // `writer::VIEWS_EVERY` records): folded on over the tail; a writer stores every part
        // with its next group.
        Ok(Some((views, digest))) if !follower && views.as_of < head.seq => {
            let reader = ledger.reader();
            let views = super::fold::fold_on(&reader, views, head.seq, None)?;
            *ledger.shared.views.write() = Arc::new(views.clone());
            ledger.writer.set_views_ahead_of_stored(views, digest);
        }
        // Opened to be checked: nothing is repaired; what is wrong is kept for `verify` to
        // report, and the views are folded in memory only.
        problem if options.read_only => {
            let why = match problem {
                Err(why) => why,
                Ok(None) => "no views are stored".into(),
                Ok(Some((views, _))) => format!(
                    "the stored views are at sequence {}, the log at {}",
                    views.as_of, head.seq
                ),
            };
            *ledger.shared.views_problem.lock() = Some(why);
            let reader = ledger.reader();
            let folded = super::fold::fold(&reader, head.seq, None, &mut |_| {})?;
            *ledger.shared.views.write() = Arc::new(folded);
        }
        Err(why) => {
            tracing::warn!(%why, head = head.seq, "stored views damaged; rebuilding");
            ledger.rebuild_views(ViewName::All, &mut |_| {})?;
            ledger.refolded_at_open = true;
        }
        Ok(stored) => {
            tracing::warn!(
                stored = stored.map(|v| v.0.as_of),
                head = head.seq,
                "stored views missing or not at the head; rebuilding"
            );
            ledger.rebuild_views(ViewName::All, &mut |_| {})?;
            ledger.refolded_at_open = true;
        }
    }
    tracing::info!(
        location = %ledger.shared.store.location(),
        head = head.seq,
        ms = started.elapsed().as_millis() as u64,
        "ledger opened"
    );
    Ok(ledger)
}

/// Verifies the store in `dir` without using it: walks the log (every record's hash, every link,
/// every body, the stored head and the witness), naming the first bad sequence even in a store
/// too damaged to open; then opens it read-only (writing nothing) and compares the stored
/// views with a fold of the log. `progress` is called with the records checked so far.
///
/// # Errors
/// [`Error::Corrupt`] naming the first bad sequence; [`Error::ViewsDisagree`]; storage errors
/// (a store in use included).
pub fn verify_store(
    dir: impl AsRef<Path>,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, Error> {
    verify_at(&Location::from(dir.as_ref()), progress)
}

/// [`verify_store`] for a ledger at any location (a sled directory or a PostgreSQL database).
///
/// # Errors
/// As [`verify_store`].
pub fn verify_at(
    location: &Location,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, Error> {
    let location = location.clone();
    let report = verify_log(&location, progress)?;
    let options = Options {
        read_only: true,
        ..Options::default()
    };
    open(&location, options)?.reader().verify_views()?;
    Ok(report)
}

/// The walk of [`verify_store`].
pub(super) fn verify_log(
    location: &Location,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifyReport, Error> {
    let store = store::open(location, Access::Read)?;
    let store = &*store;
    let watermark = store.index_watermark()?;
    let mut check = store.index_check()?;
    let tail = walk::walk(
        store,
        1,
        None,
        End::Stored,
        Check::Hashes,
        walk::CHUNK,
        |chunk| {
            check_indexed(store, &mut *check, &chunk, Some(watermark))?;
            if let Some(last) = chunk.records().last() {
                progress(last.seq);
            }
            Ok(())
        },
    )?;
    check_head(store, tail)?;
    progress(tail.seq);
    Ok(VerifyReport {
        events: tail.seq,
        head_seq: tail.seq,
        head_hash: tail.hash,
    })
}

/// Decodes every body of `chunk` and gives its records to the check of the store's index
/// (`check`, from [`Backend::index_check`]): an event id or stream version the index leads
/// elsewhere would let a repeated append in twice, or an expected version pass wrongly.
///
/// A store opened only to be verified has not been given the records after its index's
/// watermark (open gives them, `Backend::index_tail`): with `tail_after`, those rows are given
/// to it first, as open would.
///
/// # Errors
/// [`Error::Corrupt`] naming the first record that does not decode or that the index
/// disagrees with; storage errors.
pub(super) fn check_indexed(
    store: &dyn Backend,
    check: &mut dyn IndexCheck,
    chunk: &walk::Chunk,
    tail_after: Option<u64>,
) -> Result<(), Error> {
    check_rows(store, check, &index_rows(chunk)?, tail_after)
}

/// [`check_indexed`] for a chunk's records decoded by the caller (in order).
pub(super) fn check_indexed_events(
    store: &dyn Backend,
    check: &mut dyn IndexCheck,
    events: &[RecordedEvent],
) -> Result<(), Error> {
    let rows: Vec<IndexRow> = events
        .iter()
        .map(|e| IndexRow {
            seq: e.sequence,
            event_id: e.envelope.event_id,
            stream: e.envelope.stream.clone(),
            stream_version: e.stream_version,
        })
        .collect();
    check_rows(store, check, &rows, None)
}

fn check_rows(
    store: &dyn Backend,
    check: &mut dyn IndexCheck,
    rows: &[IndexRow],
    tail_after: Option<u64>,
) -> Result<(), Error> {
    if let Some(watermark) = tail_after {
        let from = rows.partition_point(|row| row.seq <= watermark);
        store.index_tail(&rows[from..])?;
    }
    match check.feed(rows)? {
        IndexVerdict::Agrees => Ok(()),
        IndexVerdict::Record(seq, reason) => Err(Error::Corrupt { seq, reason }),
        IndexVerdict::Range {
            first,
            last,
            reason,
        } => Err(first_misled(store, first, last, reason)),
    }
}

fn index_rows(chunk: &walk::Chunk) -> Result<Vec<IndexRow>, Error> {
    chunk.par_map(|raw, frame| {
        let event = frame.decode(raw.seq)?;
        Ok(IndexRow {
            seq: raw.seq,
            event_id: event.envelope.event_id,
            stream: event.envelope.stream,
            stream_version: event.stream_version,
        })
    })
}

/// The error for an index whose entries for records `first..=last` differ from them: the
/// first of those records a lookup is misled about, or, when none is (an entry no record has),
/// the range and `reason`.
fn first_misled(store: &dyn Backend, first: u64, last: u64, reason: String) -> Error {
    let mut named = None;
    let walked = walk::walk(
        store,
        first,
        None,
        End::Seq(last),
        Check::Hashes,
        walk::CHUNK,
        |chunk| {
            if named.is_none() {
                named = store::check_index_by_lookups(store, &index_rows(&chunk)?)?;
            }
            Ok(())
        },
    );
    match (walked, named) {
        (Err(e), _) => e,
        (Ok(_), Some((seq, why))) => Error::Corrupt {
            seq,
            reason: format!("{why} ({reason})"),
        },
        (Ok(_), None) => Error::Corrupt {
            seq: first,
            reason: format!(
                "the index's entries for records {first}..={last} are not theirs: {reason}"
            ),
        },
    }
}

/// Checks the stored head (`M head`), and the witness file outside sled, against `tail`, the
/// end of the log as walked: a log shorter than what was once made durable has lost its tail,
/// and a head that names another record means records were removed or rewritten.
///
/// # Errors
/// [`Error::Corrupt`] naming the first missing or disagreeing sequence.
pub(super) fn check_head(store: &dyn Backend, tail: Tail) -> Result<(), Error> {
    let witness = store.witness()?;
    check_ends(store, tail, witness, store.head()?)
}

/// [`check_head`] with the witness and the stored head already read (in that order: the
/// witness is written after the head it names is committed, so, read first, it is never ahead
/// of the head read after it).
///
/// # Errors
/// As [`check_head`].
pub(super) fn check_ends(
    store: &dyn Backend,
    tail: Tail,
    witness: Option<(u64, proto_events::Hash)>,
    head: Option<(u64, proto_events::Hash)>,
) -> Result<(), Error> {
    if let Some((seq, hash)) = witness {
        if seq > tail.seq {
            return Err(Error::Corrupt {
                seq: tail.seq + 1,
                reason: format!(
                    "records {}..={seq} are missing: they were durable once, so the store's data file is damaged",
                    tail.seq + 1
                ),
            });
        }
        if seq > 0 && walk::read_one(store, seq)?.frame().hash != hash {
            return Err(Error::Corrupt {
                seq,
                reason: "its hash differs from the one recorded when it was made durable".into(),
            });
        }
    }
    let matches = match head {
        None => tail.seq == 0,
        Some((seq, hash)) => seq == tail.seq && hash == tail.hash,
    };
    if matches {
        Ok(())
    } else {
        Err(Error::Corrupt {
            seq: tail.seq,
            reason:
                "the stored head does not match the last record (records removed or rewritten?)"
                    .into(),
        })
    }
}

/// Brings the store's index up to the end of the log and finds the head: one walk over the
/// records after the index's watermark (for a store written before the index was persisted, all
/// of them), checking each record's hash, the links and the contiguity of sequences, decoding
/// the leading fields the index needs (in parallel, in chunks). With `maintain`, the store may
/// write its index as it goes (`coopledger migrate`), so memory stays bounded.
pub(super) fn load_catalog(store: &dyn Backend, maintain: bool) -> Result<Catalog, Error> {
    let watermark = store.index_watermark()?;
    let stored = store.head()?.map_or(0, |(seq, _)| seq);
    if watermark > stored {
        return Err(Error::Corrupt {
            seq: stored + 1,
            reason: format!(
                "the index covers records up to {watermark}, but the log ends at {stored} (records removed?)"
            ),
        });
    }
    let prev = match watermark {
        0 => None,
        seq => Some(walk::read_one(store, seq)?.frame().hash),
    };
    let tail = walk::walk(
        store,
        watermark + 1,
        prev,
        End::Stored,
        Check::Hashes,
        walk::CHUNK * 4,
        |chunk| {
            let rows = chunk.par_map(|raw, frame| {
                let seq = raw.seq;
                let prefix = decode_prefix(frame.body).map_err(|e| Error::Corrupt {
                    seq,
                    reason: format!("its body does not decode: {e}"),
                })?;
                if prefix.sequence != seq {
                    return Err(Error::Corrupt {
                        seq,
                        reason: format!("stored under sequence {seq} but says {}", prefix.sequence),
                    });
                }
                Ok(IndexRow {
                    seq,
                    event_id: prefix.event_id,
                    stream: prefix.stream,
                    stream_version: prefix.stream_version,
                })
            })?;
            store.index_tail(&rows)?;
            while maintain && store.maintain()? {}
            Ok(())
        },
    )?;
    let recorded_at = match tail.seq {
        0 => Timestamp::UNIX_EPOCH,
        seq => walk::read_event(store, seq)?.envelope.recorded_at,
    };
    Ok(Catalog::at(Head {
        seq: tail.seq,
        hash: tail.hash,
        recorded_at,
    }))
}

/// Loads the Merkle frontier and brings the tiles up to the head: a store written without the
/// tree (or before it existed) has its missing leaves hashed from the records now.
fn extend_tree(store: &dyn Backend, head: Head) -> Result<Frontier, Error> {
    let mut tree = Frontier::load(store)?;
    if tree.size() > head.seq {
        return Err(Error::CorruptTree(format!(
            "the tiles cover {} records but the log holds {} (records removed?)",
            tree.size(),
            head.seq
        )));
    }
    if tree.size() == head.seq {
        return Ok(tree);
    }
    tracing::info!(
        from = tree.size() + 1,
        to = head.seq,
        "extending the Merkle tree from the records"
    );
    walk::walk(
        store,
        tree.size() + 1,
        None,
        End::At(head.seq, head.hash),
        Check::Hashes,
        walk::CHUNK * 4,
        |chunk| {
            for leaf in chunk.par_map(|_, frame| Ok(leaf_hash(frame.body)))? {
                tree.push(leaf);
            }
            let group = Group {
                tiles: tree.take_writes(),
                tree_size: Some(tree.size()),
                ..Group::default()
            };
            store.commit(&group)?;
            Ok(())
        },
    )?;
    Ok(tree)
}
