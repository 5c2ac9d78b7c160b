//! Everything a [`Reader`] can do: pages forward and backward, streams, single events, views at
//! any point of history, verification of the chain and of the tree, Merkle roots and proofs,
//! the stored checkpoints.
//!
//! Every record returned has had its hash checked; runs of records (pages, verification) are read
//! by the [`walk`](super::walk), which also checks the links between them. Reads stop at the
//! published head, so a reader never sees part of a group.

use std::sync::Arc;

use proto_events::{Hash, RecordedEvent, Stream, Timestamp};
use uuid::Uuid;

use super::catalog::Head;
use super::recover::check_ends;
use super::tiles::{self, TileReader};
use super::walk::{self, Check, End};
use super::{AsOf, At, Resolved, Shared, fold, tree};
use crate::entity::{StreamFacts, apply_to_facts};
use crate::error::Error;
use crate::merkle::{ConsistencyProof, InclusionProof, RootAccumulator, leaf_hash};
use crate::views::state::ViewState;
use crate::views::timeline::TimelineFolder;

/// The most records one read returns.
pub const MAX_PAGE: usize = 10_000;

/// The outcome of a full verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked.
    pub events: u64,
    /// The head sequence.
    pub head_seq: u64,
    /// The head hash.
    pub head_hash: Hash,
}

/// A cheap, cloneable handle for reading; many may read while the writer appends.
#[derive(Clone)]
pub struct Reader {
    pub(crate) shared: Arc<Shared>,
}

impl Reader {
    /// The published head.
    #[must_use]
    pub fn head(&self) -> Head {
        self.shared.catalog.read().head()
    }

    // ---- records ---------------------------------------------------------------------------

    /// Records from sequence `from` (1-based) on, at most `limit` (capped at [`MAX_PAGE`]).
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn read_forward(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let head = self.head().seq;
        let from = from.max(1);
        let limit = limit.min(MAX_PAGE) as u64;
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        let to = head.min(from.saturating_add(limit - 1));
        self.scan(from, to)
    }

    /// Records from sequence `from` backwards (newest first), at most `limit`.
    ///
    /// # Errors
    /// As [`Reader::read_forward`].
    pub fn read_backward(&self, from: u64, limit: usize) -> Result<Vec<RecordedEvent>, Error> {
        let head = self.head().seq;
        let from = from.min(head);
        let limit = limit.min(MAX_PAGE) as u64;
        if from == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        let start = from.saturating_sub(limit - 1).max(1);
        let mut events = self.scan(start, from)?;
        events.reverse();
        Ok(events)
    }

    /// Checks and decodes records `from..=to`, which must all exist (one walk, records hashed
    /// and decoded in parallel).
    fn scan(&self, from: u64, to: u64) -> Result<Vec<RecordedEvent>, Error> {
        let mut out = Vec::with_capacity(usize::try_from(to - from + 1).unwrap_or(0));
        walk::walk(
            &*self.shared.store,
            from,
            None,
            End::Seq(to),
            Check::Hashes,
            512,
            |chunk| {
                out.extend(chunk.par_map(|raw, frame| frame.decode(raw.seq))?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// One record by sequence, if committed.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn get_seq(&self, seq: u64) -> Result<Option<RecordedEvent>, Error> {
        if seq == 0 || seq > self.head().seq {
            return Ok(None);
        }
        walk::read_event(&*self.shared.store, seq).map(Some)
    }

    /// One record by event id.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn get(&self, id: &Uuid) -> Result<Option<RecordedEvent>, Error> {
        let seq = self.shared.store.seqs_of(std::slice::from_ref(id))?;
        let head = self.head().seq;
        match seq.first().copied().flatten().filter(|s| *s <= head) {
            Some(seq) => self.get_seq(seq),
            None => Ok(None),
        }
    }

    /// The stored body of committed record `seq` (the Merkle leaf, the bytes a receipt
    /// carries), its hash checked.
    ///
    /// # Errors
    /// [`Error::BeyondHead`] above the head; storage errors; a record that fails its checks.
    pub fn record_body(&self, seq: u64) -> Result<Vec<u8>, Error> {
        self.check_size(seq, "record")?;
        Ok(walk::read_one(&*self.shared.store, seq)?
            .frame()
            .body
            .to_vec())
    }

    /// The records of a stream from version `from_version` (1-based), at most `limit`.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn read_stream(
        &self,
        stream: &Stream,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let head = self.head().seq;
        let mut seqs = self
            .shared
            .store
            .stream_seqs(stream, from_version, limit.min(MAX_PAGE))?;
        seqs.retain(|s| *s <= head);
        seqs.into_iter()
            .map(|seq| walk::read_event(&*self.shared.store, seq))
            .collect()
    }

    /// The version of a stream as of the published head (0 if it does not exist).
    ///
    /// # Errors
    /// Storage errors.
    pub fn stream_version(&self, stream: &Stream) -> Result<u64, Error> {
        let head = self.head().seq;
        let version = self.shared.store.stream_version(stream)?;
        if version == 0 {
            return Ok(0);
        }
        // A group committed but not yet published may already be indexed: count up to the head.
        let seqs = self.shared.store.stream_seqs(stream, 1, usize::MAX)?;
        Ok(seqs.iter().take_while(|s| **s <= head).count() as u64)
    }

    /// The effective facts of a stream from its records before sequence `before`.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn stream_facts_before(&self, stream: &Stream, before: u64) -> Result<StreamFacts, Error> {
        let mut facts = StreamFacts::new();
        for seq in self.shared.store.stream_seqs(stream, 1, usize::MAX)? {
            if seq >= before {
                break;
            }
            apply_to_facts(&mut facts, &walk::read_event(&*self.shared.store, seq)?);
        }
        Ok(facts)
    }

    /// The last sequence recorded at or before `at` (0 if none): "as of time T" is a prefix of
    /// the log because recording times never decrease.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn seq_at_time(&self, at: Timestamp) -> Result<u64, Error> {
        let (mut lo, mut hi) = (0u64, self.head().seq);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let event = walk::read_event(&*self.shared.store, mid)?;
            if event.envelope.recorded_at <= at {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    // ---- views -----------------------------------------------------------------------------

    /// The current views (a consistent snapshot: never a half-applied group).
    #[must_use]
    pub fn views(&self) -> Arc<ViewState> {
        Arc::clone(&self.shared.views.read())
    }

    /// Resolves a point of history against the log: the sequence it reads to and its date.
    ///
    /// # Errors
    /// [`Error::BeyondHead`] for a sequence above the head or a time in the future: what the
    /// ledger will say there is not known yet, and an answer for the head would turn wrong.
    pub fn resolve(&self, at: AsOf) -> Result<Resolved, Error> {
        let head = self.head();
        let seq = match at.at {
            At::Head => head.seq,
            At::Sequence(seq) if seq > head.seq => {
                return Err(Error::BeyondHead {
                    what: format!("as of sequence {seq}"),
                    head: head.seq,
                });
            }
            At::Sequence(seq) => seq,
            At::Time(t) if t > Timestamp::now().max(head.recorded_at) => {
                return Err(Error::BeyondHead {
                    what: format!("as of {t} (a time in the future)"),
                    head: head.seq,
                });
            }
            At::Time(t) => self.seq_at_time(t)?,
        };
        Ok(Resolved { seq, on: at.on })
    }

    /// The views at a point of history: the maintained state for the head, otherwise folded
    /// from the log without touching it.
    ///
    /// # Errors
    /// As [`Reader::resolve`]; on a storage error or a record that fails its checks.
    pub fn views_at(&self, at: AsOf) -> Result<Arc<ViewState>, Error> {
        self.views_resolved(self.resolve(at)?)
    }

    /// The views at a resolved point (see [`Reader::resolve`]).
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn views_resolved(&self, point: Resolved) -> Result<Arc<ViewState>, Error> {
        if point.on.is_none() {
            let current = self.views();
            if current.as_of == point.seq {
                return Ok(current);
            }
        }
        Ok(Arc::new(fold::fold(
            self,
            point.seq,
            point.on,
            &mut |_| {},
        )?))
    }

    /// The views at a resolved point, folded on from `base`, the views at an earlier sequence
    /// of the same date (as [`Reader::views_resolved`] gave them): only the records after it
    /// are read, so views as of a date stay cheap to bring to a head that moved on.
    ///
    /// # Errors
    /// [`Error::Internal`] when `base` is after the point; as [`Reader::views_resolved`].
    pub fn views_resolved_from(
        &self,
        base: &ViewState,
        point: Resolved,
    ) -> Result<Arc<ViewState>, Error> {
        if base.as_of > point.seq {
            return Err(Error::Internal(format!(
                "views at {} folded on to the earlier {}",
                base.as_of, point.seq
            )));
        }
        Ok(Arc::new(fold::fold_on(
            self,
            base.clone(),
            point.seq,
            point.on,
        )?))
    }

    /// [`Reader::verify`], and the views, the timeline and the entity index at a resolved point
    /// folded in one pass from the records it reads: what is folded is what was verified.
    ///
    /// # Errors
    /// As [`Reader::verify`], then the fold's (when the verification failed, the fold fails too;
    /// the verification's error names the cause).
    pub fn verify_and_fold_point(
        &self,
        point: Resolved,
    ) -> (
        Result<VerifyReport, Error>,
        Result<(ViewState, TimelineFolder), Error>,
    ) {
        fold::verify_and_fold(self, point.seq, point.on)
    }

    /// The timeline and the entity index at a resolved point, folded from the log in one pass.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn timeline(&self, point: Resolved) -> Result<TimelineFolder, Error> {
        let mut folder = TimelineFolder::new(point.on);
        fold::timeline(self, &mut folder, point.seq)?;
        Ok(folder)
    }

    // ---- verification ----------------------------------------------------------------------

    /// Recomputes the whole chain from the first record to the published head, checking every
    /// hash, every link and every body, and the stored head; names the first bad sequence.
    /// `progress` is called with (records checked, total) as the walk goes.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the first bad sequence; storage errors.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, Error> {
        self.verify_feeding(progress, None)
    }

    /// [`Reader::verify`], handing the records it decodes to `each`, when given, as it goes, a
    /// page at a time in log order: what `each` is given is what the walk checked, from the
    /// same reads (a fold that must show only verified records, [`fold::verify_and_fold`]).
    ///
    /// # Errors
    /// As [`Reader::verify`]; the first error `each` returns.
    pub(super) fn verify_feeding(
        &self,
        progress: &mut dyn FnMut(u64, u64),
        mut each: Option<&mut dyn FnMut(Vec<RecordedEvent>) -> Result<(), Error>>,
    ) -> Result<VerifyReport, Error> {
        let head = self.head();
        let store = &*self.shared.store;
        let mut check = store.index_check()?;
        let tail = walk::walk(
            store,
            1,
            None,
            End::At(head.seq, head.hash),
            Check::Hashes,
            walk::CHUNK * 4,
            |chunk| {
                match each.as_mut() {
                    // Nothing to hand on: the bodies are decoded into index rows alone, and
                    // dropped in parallel.
                    None => super::recover::check_indexed(store, &mut *check, &chunk, None)?,
                    Some(each) => {
                        let events = chunk.par_map(|raw, frame| frame.decode(raw.seq))?;
                        super::recover::check_indexed_events(store, &mut *check, &events)?;
                        each(events)?;
                    }
                }
                if let Some(last) = chunk.records().last() {
                    progress(last.seq, head.seq);
                }
                Ok(())
            },
        )?;
        let witness = store.witness()?;
        match store.head()? {
            // The log moved on while it was verified (the writer appended to it, in this
            // process or, for a read-only node, in another): what was verified is the prefix up
            // to the head the walk started from. The witness, read first, is never ahead of the
            // head read after it, nor is either read again.
            Some((seq, _)) if seq > tail.seq => {}
            head => check_ends(store, tail, witness, head)?,
        }
        progress(head.seq, head.seq);
        tracing::info!(events = head.seq, "verify ok");
        Ok(VerifyReport {
            events: head.seq,
            head_seq: head.seq,
            head_hash: head.hash,
        })
    }

    /// Refolds the views from the whole log and compares them with the ones the ledger keeps
    /// (stored, and maintained append by append): a view changed outside the ledger is found
    /// here even when its digest was forged too.
    ///
    /// # Errors
    /// [`Error::ViewsDisagree`] naming the first difference; the fold's errors.
    pub fn verify_views(&self) -> Result<(), Error> {
        if let Some(problem) = self.shared.views_problem.lock().clone() {
            return Err(Error::ViewsDisagree(problem));
        }
        let kept = self.views();
        let folded = fold::fold(self, kept.as_of, None, &mut |_| {})?;
        self.views_agree(&kept, &folded)
    }

    /// [`Reader::verify_views`] with the fold done by the caller: `folded` must be the views
    /// folded from the whole log up to `kept.as_of`, every fact counting, and `kept` the views
    /// the ledger keeps ([`Reader::views`]).
    ///
    /// # Errors
    /// [`Error::ViewsDisagree`] naming the first difference (or the damage found at open).
    pub fn views_agree(&self, kept: &ViewState, folded: &ViewState) -> Result<(), Error> {
        if let Some(problem) = self.shared.views_problem.lock().clone() {
            return Err(Error::ViewsDisagree(problem));
        }
        if folded.as_of != kept.as_of {
            return Err(Error::Internal(format!(
                "views folded to {} compared with views kept at {}",
                folded.as_of, kept.as_of
            )));
        }
        match kept.first_difference(folded) {
            Some(difference) => Err(Error::ViewsDisagree(difference)),
            None => Ok(()),
        }
    }

    /// Recomputes the whole Merkle tree from the records and compares it with the stored tiles:
    /// every leaf must be its record's hash (the first differing record is named) and the root
    /// of the recomputed tree must be the stored one. Returns the root.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the first record whose leaf differs; [`Error::CorruptTree`].
    pub fn verify_tree(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Hash, Error> {
        let head = self.head();
        let store = &*self.shared.store;
        let mut roots = RootAccumulator::default();
        walk::walk(
            store,
            1,
            None,
            End::At(head.seq, head.hash),
            Check::Links,
            walk::CHUNK * 4,
            |chunk| {
                let leaves = chunk.par_map(|_, frame| Ok(leaf_hash(frame.body)))?;
                // A reader per chunk keeps at most one chunk's tiles in memory.
                let tiles = TileReader::new(store);
                for (raw, leaf) in chunk.records().iter().zip(leaves) {
                    let stored = tiles.hash(0, raw.seq - 1).map_err(|e| Error::Corrupt {
                        seq: raw.seq,
                        reason: format!("its Merkle leaf is unreadable: {e}"),
                    })?;
                    if stored != leaf {
                        return Err(Error::Corrupt {
                            seq: raw.seq,
                            reason: "its Merkle leaf is not the hash of the record".into(),
                        });
                    }
                    roots.push(leaf);
                }
                if let Some(last) = chunk.records().last() {
                    progress(last.seq, head.seq);
                }
                Ok(())
            },
        )?;
        let root = roots.root();
        if root != tree::root(&TileReader::new(store), head.seq)? {
            return Err(Error::CorruptTree(
                "the stored tree's root differs from the one recomputed from the records".into(),
            ));
        }
        progress(head.seq, head.seq);
        Ok(root)
    }

    // ---- the Merkle tree -------------------------------------------------------------------

    fn check_size(&self, size: u64, what: &str) -> Result<(), Error> {
        let head = self.head().seq;
        if size > head {
            return Err(Error::BeyondHead {
                what: format!("{what} {size}"),
                head,
            });
        }
        Ok(())
    }

    /// The Merkle root of the first `size` records.
    ///
    /// # Errors
    /// When `size` exceeds the head, or the tiles are missing or corrupt.
    pub fn merkle_root(&self, size: u64) -> Result<Hash, Error> {
        self.check_size(size, "a tree of size")?;
        tree::root(&TileReader::new(&*self.shared.store), size)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records (the head's by default).
    ///
    /// # Errors
    /// [`Error::BeyondHead`] when `size` exceeds the head; [`Error::BadArgument`] when `seq` is
    /// not in `1..=size`.
    pub fn inclusion_proof(&self, seq: u64, size: Option<u64>) -> Result<InclusionProof, Error> {
        let size = size.unwrap_or_else(|| self.head().seq);
        self.check_size(size, "a tree of size")?;
        if seq == 0 || seq > size {
            return Err(Error::BadArgument(format!(
                "record {seq} is not in a tree of {size} records"
            )));
        }
        let tiles = TileReader::new(&*self.shared.store);
        let raw = walk::read_one(&*self.shared.store, seq)?;
        Ok(InclusionProof {
            leaf_index: seq - 1,
            tree_size: size,
            leaf_hash: leaf_hash(raw.frame().body),
            path: tree::inclusion_path(&tiles, seq - 1, size)?,
            root: tree::root(&tiles, size)?,
        })
    }

    /// The consistency proof between the trees of `from` and `to` records.
    ///
    /// # Errors
    /// [`Error::BeyondHead`] when `to` exceeds the head; [`Error::BadArgument`] unless
    /// `1 ≤ from ≤ to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof, Error> {
        self.check_size(to, "a tree of size")?;
        if from == 0 || from > to {
            return Err(Error::BadArgument(format!(
                "no consistency proof from {from} to {to} records (need 1 ≤ from ≤ to)"
            )));
        }
        let tiles = TileReader::new(&*self.shared.store);
        Ok(ConsistencyProof {
            from,
            to,
            old_root: tree::root(&tiles, from)?,
            new_root: tree::root(&tiles, to)?,
            path: if from == to {
                Vec::new()
            } else {
                tree::consistency_path(&tiles, from, to)?
            },
        })
    }

    /// The stored hashes of Merkle tile `(level, index)` of the tree of `size` leaves (the head's
    /// by default), in the C2SP tlog-tiles layout: the full tile (256 hashes) when `width` is
    /// `None`, else its first `width` hashes (a partial tile). `None` when that tile of that width
    /// is not part of the tree of `size` leaves.
    ///
    /// # Errors
    /// [`Error::BeyondHead`] when `size` exceeds the head; [`Error::CorruptTree`].
    pub fn tile(
        &self,
        level: u8,
        index: u64,
        width: Option<u16>,
        size: Option<u64>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let size = size.unwrap_or_else(|| self.head().seq);
        self.check_size(size, "a tree of size")?;
        let width = u64::from(width.unwrap_or(tiles::WIDTH as u16));
        if width == 0 || width > tiles::WIDTH as u64 {
            return Ok(None);
        }
        // The tiles of level L hold the hashes at tree level 8·L: a tree of `size` leaves has
        // size / 256^L of them.
        let level_size = u32::from(level)
            .checked_mul(u32::from(tiles::HEIGHT))
            .and_then(|bits| size.checked_shr(bits))
            .unwrap_or(0);
        let end = index
            .checked_mul(tiles::WIDTH as u64)
            .and_then(|s| s.checked_add(width));
        if end.is_none_or(|end| end > level_size) {
            return Ok(None);
        }
        let Some(stored) = self.shared.store.tile(level, index)? else {
            return Err(Error::CorruptTree(format!(
                "tile {level}/{index} is missing from a tree of {size} leaves"
            )));
        };
        let bytes = usize::try_from(width * 32).unwrap_or(usize::MAX);
        stored
            .get(..bytes)
            .map(|b| Some(b.to_vec()))
            .ok_or_else(|| {
                Error::CorruptTree(format!(
                    "tile {level}/{index} holds {} bytes, the tree needs {bytes}",
                    stored.len()
                ))
            })
    }

    /// The C2SP tlog-tiles entry bundle `index` of the tree of `size` leaves: the bodies (the
    /// Merkle leaves) of records `256·index + 1 ..= 256·index + width`, each after its length as
    /// a big-endian u16. `None` when those records are not all in the tree of `size` leaves.
    ///
    /// # Errors
    /// [`Error::BeyondHead`] when `size` exceeds the head; storage errors; damaged records.
    pub fn entry_bundle(
        &self,
        index: u64,
        width: Option<u16>,
        size: Option<u64>,
    ) -> Result<Option<Vec<u8>>, Error> {
        let size = size.unwrap_or_else(|| self.head().seq);
        self.check_size(size, "a tree of size")?;
        let width = u64::from(width.unwrap_or(tiles::WIDTH as u16));
        if width == 0 || width > tiles::WIDTH as u64 {
            return Ok(None);
        }
        let Some(first) = index.checked_mul(tiles::WIDTH as u64).map(|s| s + 1) else {
            return Ok(None);
        };
        let last = first + width - 1;
        if last > size {
            return Ok(None);
        }
        let mut out = Vec::new();
        walk::walk(
            &*self.shared.store,
            first,
            None,
            End::Seq(last),
            Check::Hashes,
            walk::CHUNK,
            |chunk| {
                for body in chunk.par_map(|_, frame| Ok(frame.body.to_vec()))? {
                    let len = u16::try_from(body.len()).map_err(|_| {
                        Error::Internal(format!("a record body of {} bytes", body.len()))
                    })?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(&body);
                }
                Ok(())
            },
        )?;
        Ok(Some(out))
    }

    // ---- checkpoints -----------------------------------------------------------------------

    /// The checkpoint published for the largest tree the head covers, with its size (one step
    /// of a reverse scan, whatever the number of checkpoints).
    ///
    /// # Errors
    /// On a storage error, or [`Error::CorruptCheckpoint`] when it is not UTF-8.
    pub fn latest_checkpoint(&self) -> Result<Option<(u64, String)>, Error> {
        // Never one beyond the head served: a follower's store may be ahead of its views.
        self.shared
            .store
            .latest_checkpoint(self.head().seq)?
            .map(checkpoint_text)
            .transpose()
    }

    /// The latest published checkpoint if its tree includes record `seq`.
    ///
    /// # Errors
    /// As [`Reader::latest_checkpoint`].
    pub fn checkpoint_covering(&self, seq: u64) -> Result<Option<(u64, String)>, Error> {
        Ok(self.latest_checkpoint()?.filter(|(size, _)| *size >= seq))
    }

    // ---- the ledger's state ----------------------------------------------------------------

    /// Sync counters of the store (fsyncs issued, time spent).
    #[must_use]
    pub fn sync_count(&self) -> u64 {
        self.shared
            .store
            .counters()
            .syncs
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Why the ledger refuses writes, if an earlier write or sync failed.
    #[must_use]
    pub fn poison_reason(&self) -> Option<String> {
        self.shared.poison_reason()
    }

    /// The ledger's metrics.
    #[must_use]
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.shared.metrics
    }

    /// Where the store is, for messages.
    #[must_use]
    pub fn location(&self) -> String {
        self.shared.store.location()
    }
}

fn checkpoint_text((size, value): (u64, crate::store::Value)) -> Result<(u64, String), Error> {
    String::from_utf8(value.to_vec())
        .map(|text| (size, text))
        .map_err(|_| Error::CorruptCheckpoint {
            size,
            reason: "it is not UTF-8 text".into(),
        })
}
