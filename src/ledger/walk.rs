//! The walk over the records: the only code that iterates the log.
//!
//! Every reader of a run of records — open-time recovery, pages, verification, the tree check,
//! a store too damaged to open — goes through [`walk`], so every one of them checks the same
//! things, in the same order, and names damage with the same words:
//!
//! 1. the key shape: a key in the record space that is not a record key is damage at the
//!    sequence where a record was expected;
//! 2. contiguity: sequences run `from, from + 1, …` with no gap (a gap is "record N missing");
//! 3. the frame: at least the 64-byte header;
//! 4. the chain: each record's `prev_hash` is the previous record's `hash` (and the first one's
//!    is the hash the caller knows for the record before `from`, when it knows it);
//! 5. optionally, each record's own hash recomputed over its content ([`Check::Hashes`]), in
//!    parallel over each chunk;
//! 6. the end: [`End::At`] requires the walk to end exactly at a known sequence and hash (the
//!    published head); [`End::Stored`] walks to the last stored record.
//!
//! Records come in chunks; [`Chunk::par_map`] applies the caller's work (decoding, leaf hashes)
//! to a chunk's records in parallel, after the hash check, keeping their order.

use proto_events::{Hash, RecordedEvent};
use rayon::prelude::*;

use super::catalog::Head;
use super::frame::{Frame, GENESIS};
use crate::error::Error;
use crate::store::{Backend, RecordKey, Value};

/// Records per chunk unless the caller asks otherwise.
pub const CHUNK: usize = 4096;
/// Below this many records a chunk's work stays on the calling thread.
const PARALLEL_FROM: usize = 256;

/// How much of each record the walk recomputes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Key shape, contiguity, frame header and links only.
    Links,
    /// Also every record's hash over its content.
    Hashes,
}

/// Where the walk must end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Exactly at this sequence, whose record must have this hash.
    At(u64, Hash),
    /// At this sequence (its hash unknown to the caller).
    Seq(u64),
    /// At the last stored record, wherever that is.
    Stored,
}

/// A record as stored: its sequence and its frame.
#[derive(Debug, Clone)]
pub struct Raw {
    /// Its sequence.
    pub seq: u64,
    value: Value,
}

impl Raw {
    /// The record's frame (its header was checked by the walk).
    #[must_use]
    pub fn frame(&self) -> Frame<'_> {
        Frame::parse(self.seq, &self.value)
            .unwrap_or_else(|_| unreachable!("the walk checked the frame of {}", self.seq))
    }

    /// The stored bytes of the frame.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.value
    }
}

/// A run of consecutive records whose keys, contiguity and links are checked.
pub struct Chunk {
    records: Vec<Raw>,
    check: Check,
}

impl Chunk {
    /// The records, in order.
    #[must_use]
    pub fn records(&self) -> &[Raw] {
        &self.records
    }

    /// Applies `f` to every record (after its hash check, with [`Check::Hashes`]), in parallel
    /// for large chunks, and returns the results in order.
    ///
    /// # Errors
    /// The first error in log order: a record whose hash does not match, or `f`'s.
    pub fn par_map<T: Send>(
        &self,
        f: impl Fn(&Raw, Frame<'_>) -> Result<T, Error> + Sync,
    ) -> Result<Vec<T>, Error> {
        let one = |raw: &Raw| {
            let frame = raw.frame();
            if self.check == Check::Hashes {
                frame.check(raw.seq)?;
            }
            f(raw, frame)
        };
        if self.records.len() < PARALLEL_FROM {
            self.records.iter().map(one).collect()
        } else {
            self.records
                .par_iter()
                .with_min_len(PARALLEL_FROM / 2)
                .map(one)
                .collect()
        }
    }

    /// Checks every record's hash (with [`Check::Hashes`]) and nothing else.
    ///
    /// # Errors
    /// The first record whose hash does not match.
    pub fn check(&self) -> Result<(), Error> {
        self.par_map(|_, _| Ok(())).map(drop)
    }
}

/// Where a walk ended: the last record's sequence and hash (0 and the zero hash for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// The last record walked.
    pub seq: u64,
    /// Its hash.
    pub hash: Hash,
}

impl From<Head> for Tail {
    fn from(head: Head) -> Self {
        Tail {
            seq: head.seq,
            hash: head.hash,
        }
    }
}

/// Walks the records from `from` (1-based) to `end`, in chunks of at most `chunk` records,
/// calling `each` with every chunk in order. `prev` is the hash of record `from - 1` when the
/// caller knows it (always for `from == 1`: the genesis hash), so the first link is checked too.
///
/// # Errors
/// [`Error::Corrupt`] naming the sequence where the walk found damage (see the module
/// documentation); storage errors; the first error `each` returns.
pub fn walk(
    store: &dyn Backend,
    from: u64,
    prev: Option<Hash>,
    end: End,
    check: Check,
    chunk: usize,
    mut each: impl FnMut(Chunk) -> Result<(), Error>,
) -> Result<Tail, Error> {
    let from = from.max(1);
    let mut prev = if from == 1 { Some(GENESIS) } else { prev };
    let last = match end {
        End::At(seq, _) | End::Seq(seq) => seq,
        End::Stored => u64::MAX,
    };
    let mut expected = from;
    let mut tail = Tail {
        seq: from - 1,
        hash: prev.unwrap_or(GENESIS),
    };
    let chunk = chunk.max(1);
    let mut records = Vec::with_capacity(chunk.min(CHUNK));
    if from <= last {
        for item in store.records(from, last) {
            let (key, value) = item?;
            let seq = match key {
                RecordKey::Seq(seq) => seq,
                RecordKey::Malformed(key) => return Err(malformed(expected, key.len())),
                RecordKey::Damaged(why) => {
                    return Err(Error::Corrupt {
                        seq: expected,
                        reason: format!("the stored block holding it is damaged: {why}"),
                    });
                }
            };
            if seq != expected {
                return Err(missing(expected));
            }
            let frame = Frame::parse(seq, &value)?;
            if prev.is_some_and(|p| p != frame.prev) {
                return Err(broken_link(seq));
            }
            prev = Some(frame.hash);
            tail = Tail {
                seq,
                hash: frame.hash,
            };
            records.push(Raw { seq, value });
            expected += 1;
            if records.len() == chunk {
                each(Chunk {
                    records: std::mem::replace(&mut records, Vec::with_capacity(chunk)),
                    check,
                })?;
            }
        }
    }
    if !records.is_empty() {
        each(Chunk { records, check })?;
    }
    match end {
        End::Stored => {}
        End::Seq(seq) | End::At(seq, _) if tail.seq != seq => return Err(missing(expected)),
        End::At(seq, hash) if tail.hash != hash => {
            return Err(Error::Corrupt {
                seq,
                reason: "its hash differs from the ledger's head".into(),
            });
        }
        End::At(..) | End::Seq(_) => {}
    }
    Ok(tail)
}

/// Reads and checks one record on its own: present, well framed, its hash over its content.
///
/// # Errors
/// [`Error::Corrupt`] when absent or damaged; storage errors.
pub fn read_one(store: &dyn Backend, seq: u64) -> Result<Raw, Error> {
    let value = store.record(seq)?.ok_or_else(|| missing(seq))?;
    Frame::parse(seq, &value)?.check(seq)?;
    Ok(Raw { seq, value })
}

/// Reads, checks and decodes one record on its own.
///
/// # Errors
/// As [`read_one`], and when its body does not decode.
pub fn read_event(store: &dyn Backend, seq: u64) -> Result<RecordedEvent, Error> {
    read_one(store, seq)?.frame().decode(seq)
}

/// The damage "record `seq` is missing".
#[must_use]
pub fn missing(seq: u64) -> Error {
    Error::Corrupt {
        seq,
        reason: "record missing from the log".into(),
    }
}

fn malformed(seq: u64, len: usize) -> Error {
    Error::Corrupt {
        seq,
        reason: format!(
            "a malformed key ({len} bytes) is stored in the record space where this record was expected"
        ),
    }
}

fn broken_link(seq: u64) -> Error {
    Error::Corrupt {
        seq,
        reason: "previous-hash link does not match the record before it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::frame::{chain_hash, frame};
    use crate::store::sled::{SledStore, keys};
    use crate::store::{Group, Row};

    /// A store holding `n` chained records with arbitrary bodies (the walk decodes nothing
    /// unless asked), stored one per key as format 1 did (so that the tests below can change
    /// single records), and the hash of each.
    fn chained(dir: &std::path::Path, n: u64) -> Vec<Hash> {
        drop(SledStore::open(dir).expect("store"));
        let db = sled::open(dir).expect("sled");
        let mut prev = GENESIS;
        let mut hashes = Vec::new();
        for seq in 1..=n {
            let body = format!("body of record {seq}").into_bytes();
            let hash = chain_hash(&prev, seq, &body);
            db.insert(keys::event(seq), frame(&hash, &prev, &body))
                .expect("insert");
            hashes.push(hash);
            prev = hash;
        }
        db.insert(keys::META_HEAD, keys::head_value(n, &prev).as_slice())
            .expect("head");
        db.flush().expect("flush");
        hashes
    }

    /// The same, committed through the store (format 2: blocks).
    fn committed(dir: &std::path::Path, n: u64) -> Vec<Hash> {
        let store = SledStore::open(dir).expect("store");
        let mut prev = GENESIS;
        let mut frames = Vec::new();
        let mut hashes = Vec::new();
        for seq in 1..=n {
            let body = format!("body of record {seq}").into_bytes();
            let hash = chain_hash(&prev, seq, &body);
            frames.push((seq, frame(&hash, &prev, &body)));
            hashes.push(hash);
            prev = hash;
        }
        let streams: Vec<proto_events::Stream> = (1..=n)
            .map(|seq| proto_events::Stream::Partner(format!("partner-{seq}")))
            .collect();
        let group = Group {
            records: frames
                .iter()
                .zip(&streams)
                .map(|((seq, f), stream)| Row {
                    seq: *seq,
                    event_id: uuid::Uuid::from_u64_pair(7, *seq),
                    stream,
                    stream_version: 1,
                    recorded_at: proto_events::Timestamp::UNIX_EPOCH,
                    event_type: proto_events::EventType::PartnerRegistered,
                    frame: f,
                })
                .collect(),
            head: Some((n, prev)),
            ..Group::default()
        };
        store.commit(&group).expect("commit");
        hashes
    }

    /// Changes the sled database under a closed store, as someone with the directory could.
    fn tamper(dir: &std::path::Path, change: impl FnOnce(&sled::Db)) {
        // sled lets go of its lock a moment after the store is dropped; under load, longer.
        let mut tries = 0;
        let db = loop {
            match sled::open(dir) {
                Ok(db) => break db,
                Err(e) if tries < 500 && e.to_string().contains("could not acquire lock") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("sled: {e:?}"),
            }
        };
        change(&db);
        db.flush().expect("flush");
    }

    fn walk_all(dir: &std::path::Path, end: End, check: Check) -> Result<(Tail, u64), Error> {
        let store = SledStore::open_existing(dir).expect("store");
        let mut seen = 0;
        let tail = walk(&store, 1, None, end, check, 3, |chunk| {
            assert!(
                chunk.records().len() <= 3,
                "chunks hold at most the asked size"
            );
            seen += chunk.records().len() as u64;
            chunk.check()
        })?;
        Ok((tail, seen))
    }

    fn corrupt_at(result: Result<(Tail, u64), Error>) -> (u64, String) {
        match result {
            Err(Error::Corrupt { seq, reason }) => (seq, reason),
            other => panic!("expected damage, got {other:?}"),
        }
    }

    #[test]
    fn an_intact_log_is_walked_to_its_end_in_chunks() {
        let dir = tempfile::tempdir().expect("dir");
        let hashes = chained(dir.path(), 10);
        let (tail, seen) =
            walk_all(dir.path(), End::At(10, hashes[9]), Check::Hashes).expect("walk");
        assert_eq!((tail.seq, tail.hash, seen), (10, hashes[9], 10));
        let (tail, _) = walk_all(dir.path(), End::Stored, Check::Links).expect("walk");
        assert_eq!(tail.seq, 10);
        // The head names another hash, or a sequence the log does not reach.
        assert_eq!(
            corrupt_at(walk_all(dir.path(), End::At(10, [1; 32]), Check::Links)).0,
            10
        );
        assert_eq!(
            corrupt_at(walk_all(dir.path(), End::Seq(11), Check::Links)).0,
            11
        );
    }

    #[test]
    fn a_gap_a_malformed_key_and_a_broken_link_are_named_where_they_are() {
        let dir = tempfile::tempdir().expect("dir");
        chained(dir.path(), 10);
        tamper(dir.path(), |db| {
            db.remove(keys::event(4)).expect("remove");
        });
        let (seq, reason) = corrupt_at(walk_all(dir.path(), End::Stored, Check::Links));
        assert_eq!(seq, 4, "{reason}");
        assert!(reason.contains("missing"), "{reason}");

        let dir = tempfile::tempdir().expect("dir");
        chained(dir.path(), 10);
        tamper(dir.path(), |db| {
            let mut key = keys::event(7).to_vec();
            key.pop();
            key.extend_from_slice(&[7, 0]);
            db.insert(key, b"x".to_vec()).expect("insert");
        });
        let (seq, reason) = corrupt_at(walk_all(dir.path(), End::Stored, Check::Links));
        assert_eq!(
            seq, 8,
            "a key sorting after record 7 is where record 8 was expected"
        );
        assert!(reason.contains("malformed key (10 bytes)"), "{reason}");

        let dir = tempfile::tempdir().expect("dir");
        chained(dir.path(), 10);
        tamper(dir.path(), |db| {
            let key = keys::event(6);
            let mut value = db.get(key).expect("get").expect("record").to_vec();
            value[40] ^= 1; // in prev_hash
            db.insert(key, value).expect("insert");
        });
        let (seq, reason) = corrupt_at(walk_all(dir.path(), End::Stored, Check::Links));
        assert_eq!(seq, 6, "{reason}");
        assert!(reason.contains("previous-hash link"), "{reason}");
    }

    #[test]
    fn a_changed_body_is_found_only_when_hashes_are_checked() {
        let dir = tempfile::tempdir().expect("dir");
        chained(dir.path(), 10);
        tamper(dir.path(), |db| {
            let key = keys::event(9);
            let mut value = db.get(key).expect("get").expect("record").to_vec();
            *value.last_mut().expect("a body") ^= 1;
            db.insert(key, value).expect("insert");
        });
        walk_all(dir.path(), End::Stored, Check::Links).expect("links alone cannot tell");
        let (seq, reason) = corrupt_at(walk_all(dir.path(), End::Stored, Check::Hashes));
        assert_eq!(seq, 9, "{reason}");
        assert!(reason.contains("hash does not match"), "{reason}");
    }

    #[test]
    fn a_walk_from_the_middle_checks_its_first_link_when_told_the_hash_before() {
        let dir = tempfile::tempdir().expect("dir");
        let hashes = chained(dir.path(), 10);
        let store = SledStore::open_existing(dir.path()).expect("store");
        let tail = walk(
            &store,
            5,
            Some(hashes[3]),
            End::Seq(10),
            Check::Hashes,
            4,
            |c| c.check(),
        )
        .expect("walk");
        assert_eq!(tail.seq, 10);
        match walk(
            &store,
            5,
            Some([9; 32]),
            End::Seq(10),
            Check::Links,
            4,
            |_| Ok(()),
        ) {
            Err(Error::Corrupt { seq: 5, .. }) => {}
            other => panic!("the first link is checked: {other:?}"),
        }
    }

    #[test]
    fn records_in_blocks_walk_the_same_and_a_damaged_block_is_named() {
        let dir = tempfile::tempdir().expect("dir");
        let hashes = committed(dir.path(), 10);
        let (tail, seen) =
            walk_all(dir.path(), End::At(10, hashes[9]), Check::Hashes).expect("walk");
        assert_eq!((tail.seq, seen), (10, 10));
        tamper(dir.path(), |db| {
            let key = keys::block(1);
            let mut value = db.get(key).expect("get").expect("the block").to_vec();
            value.truncate(value.len() - 5);
            db.insert(key, value).expect("insert");
        });
        let (seq, reason) = corrupt_at(walk_all(dir.path(), End::Stored, Check::Links));
        assert_eq!(seq, 1, "{reason}");
        assert!(
            reason.contains("block") && reason.contains("damaged"),
            "{reason}"
        );
    }
}
