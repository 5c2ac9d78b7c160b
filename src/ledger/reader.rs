//! Reads of the log: pages forward and backward, streams, single events, verification. Every
//! record returned has had its hash checked; pages also check the chain between records. Reads
//! stop at the published head, so a reader never sees part of a batch.

use std::sync::Arc;

use proto_events::{Hash, RecordedEvent, Stream, Timestamp};
use uuid::Uuid;

use super::Shared;
use super::catalog::Head;
use super::frame::{Frame, GENESIS};
use crate::entity::{StreamFacts, apply_to_facts};
use crate::error::Error;
use crate::store::{Store, keys};
use crate::views::state::ViewState;

/// The most records one read returns.
pub const MAX_PAGE: usize = 10_000;

/// Reads and checks one record from the store.
///
/// # Errors
/// [`Error::NotFound`] if absent, [`Error::Corrupt`] if it fails its checks.
pub fn read_record(store: &Store, seq: u64) -> Result<RecordedEvent, Error> {
    let value = store
        .get(&keys::event(seq))?
        .ok_or_else(|| Error::NotFound(format!("record {seq}")))?;
    Frame::parse(seq, &value)?.decode(seq)
}

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

    /// Checks and decodes records `from..=to`, which must all exist. The scan and the chain
    /// links are checked in order on this thread while the records already scanned are hashed
    /// and decoded, the costly part, on the other cores.
    fn scan(&self, from: u64, to: u64) -> Result<Vec<RecordedEvent>, Error> {
        const CHUNK: usize = 512;
        let store = &self.shared.store;
        let (done, results) =
            std::sync::mpsc::channel::<(usize, Result<Vec<RecordedEvent>, Error>)>();
        let mut chunks = 0usize;
        let scanned = rayon::scope(|scope| -> Result<(), Error> {
            let mut expected = from;
            let mut prev: Option<Hash> = None;
            let mut chunk = Vec::with_capacity(CHUNK);
            let mut flush = |chunk: Vec<(u64, crate::store::Value)>| {
                let done = done.clone();
                let index = chunks;
                chunks += 1;
                scope.spawn(move |_| {
                    let decoded = chunk
                        .iter()
                        .map(|(seq, value)| Frame::parse(*seq, value)?.decode(*seq))
                        .collect();
                    // The receiver outlives the scope, so this cannot fail.
                    let _ = done.send((index, decoded));
                });
            };
            for item in store.range(&keys::event(from), &keys::event(to + 1)) {
                let (key, value) = item?;
                let seq = keys::event_seq(&key).ok_or_else(|| Error::Corrupt {
                    seq: expected,
                    reason: "malformed record key".into(),
                })?;
                if seq != expected {
                    return Err(missing(expected));
                }
                let frame = Frame::parse(seq, &value)?;
                if prev.is_some_and(|p| p != frame.prev) {
                    return Err(broken_chain(seq));
                }
                prev = Some(frame.hash);
                chunk.push((seq, value));
                if chunk.len() == CHUNK {
                    flush(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)));
                }
                expected += 1;
            }
            if !chunk.is_empty() {
                flush(chunk);
            }
            if expected != to + 1 {
                return Err(missing(expected));
            }
            Ok(())
        });
        drop(done);
        scanned?;
        let mut parts: Vec<(usize, Vec<RecordedEvent>)> = Vec::with_capacity(chunks);
        for (index, decoded) in results {
            parts.push((index, decoded?));
        }
        parts.sort_unstable_by_key(|(index, _)| *index);
        let mut out = Vec::with_capacity((to - from + 1) as usize);
        for (_, part) in parts {
            out.extend(part);
        }
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
        read_record(&self.shared.store, seq).map(Some)
    }

    /// One record by event id.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn get(&self, id: &Uuid) -> Result<Option<RecordedEvent>, Error> {
        let seq = {
            let catalog = self.shared.catalog.read();
            catalog.seq_of(id).filter(|s| *s <= catalog.head().seq)
        };
        seq.map_or(Ok(None), |s| self.get_seq(s))
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
        let seqs: Vec<u64> = {
            let catalog = self.shared.catalog.read();
            let skip = usize::try_from(from_version.max(1) - 1).unwrap_or(usize::MAX);
            catalog
                .stream(stream)
                .iter()
                .skip(skip)
                .take(limit.min(MAX_PAGE))
                .copied()
                .collect()
        };
        seqs.into_iter()
            .map(|seq| read_record(&self.shared.store, seq))
            .collect()
    }

    /// The version of a stream (0 if it does not exist).
    #[must_use]
    pub fn stream_version(&self, stream: &Stream) -> u64 {
        self.shared.catalog.read().stream(stream).len() as u64
    }

    /// The effective facts of a stream from its records before sequence `before`.
    ///
    /// # Errors
    /// On a storage error or a record that fails its checks.
    pub fn stream_facts_before(&self, stream: &Stream, before: u64) -> Result<StreamFacts, Error> {
        let seqs: Vec<u64> = self
            .shared
            .catalog
            .read()
            .stream(stream)
            .iter()
            .copied()
            .take_while(|s| *s < before)
            .collect();
        let mut facts = StreamFacts::new();
        for seq in seqs {
            apply_to_facts(&mut facts, &read_record(&self.shared.store, seq)?);
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
            let event = read_record(&self.shared.store, mid)?;
            if event.envelope.recorded_at <= at {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    }

    /// Recomputes the whole chain from the first record to the published head, checking every
    /// hash, every link and every body, and the stored head; names the first bad sequence.
    /// `progress` is called with (records checked, total) every 65,536 records.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the first bad sequence; storage errors.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, Error> {
        let head = self.head();
        let store = &self.shared.store;
        let mut prev = GENESIS;
        let mut expected = 1u64;
        for item in store.range(&keys::event(1), &keys::event(head.seq.saturating_add(1))) {
            let (key, value) = item?;
            let seq = keys::event_seq(&key).unwrap_or(0);
            if seq != expected {
                return Err(missing(expected));
            }
            let frame = Frame::parse(seq, &value)?;
            if frame.prev != prev {
                return Err(broken_chain(seq));
            }
            frame.decode(seq)?;
            prev = frame.hash;
            if seq.is_multiple_of(65_536) {
                progress(seq, head.seq);
            }
            expected += 1;
        }
        if expected != head.seq + 1 {
            return Err(missing(expected));
        }
        if prev != head.hash {
            return Err(Error::Corrupt {
                seq: head.seq,
                reason: "last record's hash differs from the ledger head".into(),
            });
        }
        check_stored_head(store, head)?;
        progress(head.seq, head.seq);
        tracing::info!(events = head.seq, "verify ok");
        Ok(VerifyReport {
            events: head.seq,
            head_seq: head.seq,
            head_hash: head.hash,
        })
    }

    /// The current views (a consistent snapshot: never a half-applied batch).
    #[must_use]
    pub fn views(&self) -> Arc<ViewState> {
        Arc::clone(&self.shared.views.read())
    }

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

    /// The directory of the store.
    #[must_use]
    pub fn dir(&self) -> &std::path::Path {
        self.shared.store.dir()
    }
}

/// Checks the `M head` key, and the witness file outside sled, against the head derived from
/// the records: a log shorter than what was once made durable has lost its tail.
pub(crate) fn check_stored_head(store: &Store, head: Head) -> Result<(), Error> {
    if let Some((seq, hash)) = store.read_witness()? {
        if seq > head.seq {
            return Err(Error::Corrupt {
                seq: head.seq + 1,
                reason: format!(
                    "records {}..={seq} are missing: they were durable once, so the store's data file is damaged",
                    head.seq + 1
                ),
            });
        }
        if seq > 0 {
            let value = store.get(&keys::event(seq))?.ok_or_else(|| missing(seq))?;
            if Frame::parse(seq, &value)?.hash != hash {
                return Err(Error::Corrupt {
                    seq,
                    reason: "its hash differs from the one recorded when it was made durable"
                        .into(),
                });
            }
        }
    }
    let stored = store.get(keys::META_HEAD)?;
    let matches = match stored.as_deref() {
        None => head.seq == 0,
        Some(bytes) => {
            bytes.len() == 40
                && bytes.get(..8) == Some(&head.seq.to_be_bytes()[..])
                && bytes.get(8..) == Some(&head.hash[..])
        }
    };
    if matches {
        Ok(())
    } else {
        Err(Error::Corrupt {
            seq: head.seq,
            reason:
                "the stored head does not match the last record (records removed or rewritten?)"
                    .into(),
        })
    }
}

fn missing(seq: u64) -> Error {
    Error::Corrupt {
        seq,
        reason: "record missing from the log".into(),
    }
}

fn broken_chain(seq: u64) -> Error {
    Error::Corrupt {
        seq,
        reason: "previous-hash link does not match the record before it".into(),
    }
}
