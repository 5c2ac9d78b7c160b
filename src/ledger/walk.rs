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
use crate::store::{RecordKey, Store, Value};

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
    store: &Store,
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
pub fn read_one(store: &Store, seq: u64) -> Result<Raw, Error> {
    let value = store.record(seq)?.ok_or_else(|| missing(seq))?;
    Frame::parse(seq, &value)?.check(seq)?;
    Ok(Raw { seq, value })
}

/// Reads, checks and decodes one record on its own.
///
/// # Errors
/// As [`read_one`], and when its body does not decode.
pub fn read_event(store: &Store, seq: u64) -> Result<RecordedEvent, Error> {
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
