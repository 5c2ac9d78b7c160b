//! An index run: the sorted entries of a range of records, immutable once written.
//!
//! ```text
//! X ‖ run ‖ 'm'          meta:   1 ‖ tier u8 ‖ first u64 ‖ last u64 ‖ entries u64
//!                                  ‖ data chunks u32 ‖ filter chunks u32 ‖ fence chunks u32
//! X ‖ run ‖ 'd' ‖ n u32  data:   count u32 ‖ count × (key length u8 ‖ key ‖ sequence u64)
//! X ‖ run ‖ 'g' ‖ n u32  fences: count u32 ‖ count × (key length u8 ‖ key): the first key of
//!                                  each data chunk, in order
//! X ‖ run ‖ 'f' ‖ n u32  filter: the next bytes of the run's filter (`store/filter.rs`)
//! ```
//!
//! (all integers big-endian). Entry keys are those of `keys::entry_id` and
//! `keys::entry_version`; the filter holds each id key and each stream prefix once.

use super::super::keys::{self, RunPart};
use crate::store::StoreError;
use crate::store::filter::Filter;

/// Bytes of entries a data chunk holds before the next one starts.
const CHUNK_BYTES: usize = 8 * 1024;
/// Bytes per filter or fence chunk.
const PART_BYTES: usize = 8 * 1024;
const META_FORMAT: u8 = 1;

/// A run's description and what lookups keep in memory of it (fences and filter).
#[derive(Debug, Clone)]
pub struct Run {
    /// Its id (its keys' prefix).
    pub id: u64,
    /// Its tier: 0 for a flushed memtable, one more than its inputs for a merge.
    pub tier: u8,
    /// The first record it covers.
    pub first: u64,
    /// The last record it covers.
    pub last: u64,
    /// Its entries.
    pub entries: u64,
    data_chunks: u32,
    fences: Vec<Vec<u8>>,
    filter: Filter,
}

fn corrupt(run: u64, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("index run {run} is damaged: {what}"))
}

/// Builds a run from entries given in key order, emitting its keys and values as it goes.
pub struct Builder<'a> {
    run: Run,
    chunk: Vec<u8>,
    chunk_count: u32,
    last_prefix: Vec<u8>,
    emit: &'a mut dyn FnMut(Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
}

impl<'a> Builder<'a> {
    /// A builder of run `id` at `tier`, covering records `first..=last`, for `entries` entries.
    pub fn new(
        id: u64,
        tier: u8,
        (first, last): (u64, u64),
        entries: usize,
        emit: &'a mut dyn FnMut(Vec<u8>, Vec<u8>) -> Result<(), StoreError>,
    ) -> Self {
        Builder {
            run: Run {
                id,
                tier,
                first,
                last,
                entries: 0,
                data_chunks: 0,
                fences: Vec::new(),
                filter: Filter::for_keys(entries),
            },
            chunk: Vec::with_capacity(CHUNK_BYTES + 64),
            chunk_count: 0,
            last_prefix: Vec::new(),
            emit,
        }
    }

    /// Adds the next entry (keys strictly ascending).
    ///
    /// # Errors
    /// What `emit` returns.
    pub fn push(&mut self, key: &[u8], seq: u64) -> Result<(), StoreError> {
        match key.first() {
            // A stream entry: its prefix (without the version) goes into the filter once.
            Some(2) if key.len() > 8 => {
                let prefix = &key[..key.len() - 8];
                if prefix != self.last_prefix.as_slice() {
                    self.run.filter.insert(prefix);
                    self.last_prefix = prefix.to_vec();
                }
            }
            _ => self.run.filter.insert(key),
        }
        if self.chunk_count == 0 {
            self.run.fences.push(key.to_vec());
            self.chunk.extend_from_slice(&[0; 4]);
        }
        self.chunk.push(u8::try_from(key.len()).unwrap_or(u8::MAX));
        self.chunk.extend_from_slice(key);
        self.chunk.extend_from_slice(&seq.to_be_bytes());
        self.chunk_count += 1;
        self.run.entries += 1;
        if self.chunk.len() >= CHUNK_BYTES {
            self.flush_chunk()?;
        }
        Ok(())
    }

    fn flush_chunk(&mut self) -> Result<(), StoreError> {
        if self.chunk_count == 0 {
            return Ok(());
        }
        self.chunk[..4].copy_from_slice(&self.chunk_count.to_be_bytes());
        let value = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES + 64));
        (self.emit)(
            keys::run(self.run.id, RunPart::Data(self.run.data_chunks)),
            value,
        )?;
        self.run.data_chunks += 1;
        self.chunk_count = 0;
        Ok(())
    }

    /// Writes the last chunk, the fences, the filter and the meta; returns the run.
    ///
    /// # Errors
    /// What `emit` returns.
    pub fn finish(mut self) -> Result<Run, StoreError> {
        self.flush_chunk()?;
        let id = self.run.id;
        let mut fence_chunks = 0u32;
        let mut part = vec![0; 4];
        let mut count = 0u32;
        for fence in &self.run.fences {
            part.push(u8::try_from(fence.len()).unwrap_or(u8::MAX));
            part.extend_from_slice(fence);
            count += 1;
            if part.len() >= PART_BYTES {
                part[..4].copy_from_slice(&count.to_be_bytes());
                (self.emit)(keys::run(id, RunPart::Fences(fence_chunks)), part)?;
                fence_chunks += 1;
                part = vec![0; 4];
                count = 0;
            }
        }
        if count > 0 {
            part[..4].copy_from_slice(&count.to_be_bytes());
            (self.emit)(keys::run(id, RunPart::Fences(fence_chunks)), part)?;
            fence_chunks += 1;
        }
        let mut filter_chunks = 0u32;
        for piece in self.run.filter.bytes().chunks(PART_BYTES) {
            (self.emit)(
                keys::run(id, RunPart::Filter(filter_chunks)),
                piece.to_vec(),
            )?;
            filter_chunks += 1;
        }
        let mut meta = vec![META_FORMAT, self.run.tier];
        meta.extend_from_slice(&self.run.first.to_be_bytes());
        meta.extend_from_slice(&self.run.last.to_be_bytes());
        meta.extend_from_slice(&self.run.entries.to_be_bytes());
        meta.extend_from_slice(&self.run.data_chunks.to_be_bytes());
        meta.extend_from_slice(&filter_chunks.to_be_bytes());
        meta.extend_from_slice(&fence_chunks.to_be_bytes());
        (self.emit)(keys::run(id, RunPart::Meta), meta)?;
        Ok(self.run)
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The keys listed in a chunk of `count` (key length, key[, sequence]) items.
fn parse_items(bytes: &[u8], with_seq: bool) -> Option<Vec<(Vec<u8>, u64)>> {
    let count = be_u32(bytes, 0)?;
    let mut at = 4;
    let mut out = Vec::with_capacity(usize::try_from(count).ok()?);
    for _ in 0..count {
        let len = usize::from(*bytes.get(at)?);
        let key = bytes.get(at + 1..at + 1 + len)?.to_vec();
        at += 1 + len;
        let seq = if with_seq {
            let seq = be_u64(bytes, at)?;
            at += 8;
            seq
        } else {
            0
        };
        out.push((key, seq));
    }
    (at == bytes.len()).then_some(out)
}

/// Scans the (key, sequence) items of a data chunk in order without copying them: `each` is
/// given every item until it returns `false` (lookups stop once past their key).
///
/// `None` when an item before that point is malformed, or, for a scan to the end, when bytes
/// follow the last item.
fn scan_items(bytes: &[u8], mut each: impl FnMut(&[u8], u64) -> bool) -> Option<()> {
    let count = be_u32(bytes, 0)?;
    let mut at = 4;
    for _ in 0..count {
        let len = usize::from(*bytes.get(at)?);
        let key = bytes.get(at + 1..at + 1 + len)?;
        at += 1 + len;
        let seq = be_u64(bytes, at)?;
        at += 8;
        if !each(key, seq) {
            return Some(());
        }
    }
    (at == bytes.len()).then_some(())
}

impl Run {
    /// Loads run `id`'s description, fences and filter.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] naming what is missing or malformed.
    pub fn load(db: &sled::Db, id: u64) -> Result<Run, StoreError> {
        let meta = db
            .get(keys::run(id, RunPart::Meta))?
            .ok_or_else(|| corrupt(id, "its description is missing"))?;
        let field = || corrupt(id, format!("a description of {} bytes", meta.len()));
        if meta.len() != 2 + 24 + 12 || meta.first() != Some(&META_FORMAT) {
            return Err(field());
        }
        let tier = meta[1];
        let (first, last, entries) = (
            be_u64(&meta, 2).ok_or_else(field)?,
            be_u64(&meta, 10).ok_or_else(field)?,
            be_u64(&meta, 18).ok_or_else(field)?,
        );
        let data_chunks = be_u32(&meta, 26).ok_or_else(field)?;
        let filter_chunks = be_u32(&meta, 30).ok_or_else(field)?;
        let fence_chunks = be_u32(&meta, 34).ok_or_else(field)?;
        let mut filter = Vec::new();
        for n in 0..filter_chunks {
            let part = db
                .get(keys::run(id, RunPart::Filter(n)))?
                .ok_or_else(|| corrupt(id, format!("filter chunk {n} is missing")))?;
            filter.extend_from_slice(&part);
        }
        let filter = Filter::from_bytes(filter).map_err(|e| corrupt(id, e))?;
        let mut fences = Vec::new();
        for n in 0..fence_chunks {
            let part = db
                .get(keys::run(id, RunPart::Fences(n)))?
                .ok_or_else(|| corrupt(id, format!("fence chunk {n} is missing")))?;
            let items = parse_items(&part, false)
                .ok_or_else(|| corrupt(id, format!("fence chunk {n} is malformed")))?;
            fences.extend(items.into_iter().map(|(key, _)| key));
        }
        if fences.len() != usize::try_from(data_chunks).unwrap_or(usize::MAX) {
            return Err(corrupt(
                id,
                format!("{} fences for {data_chunks} chunks", fences.len()),
            ));
        }
        Ok(Run {
            id,
            tier,
            first,
            last,
            entries,
            data_chunks,
            fences,
            filter,
        })
    }

    /// Data chunk `n`'s entries.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when missing or malformed.
    pub fn chunk(&self, db: &sled::Db, n: u32) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        let bytes = self.chunk_bytes(db, n)?;
        parse_items(&bytes, true)
            .ok_or_else(|| corrupt(self.id, format!("data chunk {n} is malformed")))
    }

    fn chunk_bytes(&self, db: &sled::Db, n: u32) -> Result<sled::IVec, StoreError> {
        db.get(keys::run(self.id, RunPart::Data(n)))?
            .ok_or_else(|| corrupt(self.id, format!("data chunk {n} is missing")))
    }

    /// [`scan_items`] over data chunk `n`.
    fn scan(
        &self,
        db: &sled::Db,
        n: u32,
        each: impl FnMut(&[u8], u64) -> bool,
    ) -> Result<(), StoreError> {
        scan_items(&self.chunk_bytes(db, n)?, each)
            .ok_or_else(|| corrupt(self.id, format!("data chunk {n} is malformed")))
    }

    /// The number of data chunks.
    #[must_use]
    pub fn chunks(&self) -> u32 {
        self.data_chunks
    }

    /// The first key of data chunk `n`, as its fence says.
    #[must_use]
    pub fn fence(&self, n: u32) -> Option<&[u8]> {
        self.fences.get(usize::try_from(n).ok()?).map(Vec::as_slice)
    }

    /// Whether the filter holds an entry, as lookups ask it: an event id's entry itself, a
    /// stream version's by its stream's prefix (the entry without its version).
    #[must_use]
    pub fn filter_holds(&self, entry: &[u8]) -> bool {
        match entry {
            [2, ..] if entry.len() > 8 => self.filter.may_contain(&entry[..entry.len() - 8]),
            _ => self.filter.may_contain(entry),
        }
    }

    /// The chunk whose key range may hold `key` (the last one whose fence is at most `key`).
    fn chunk_for(&self, key: &[u8]) -> Option<u32> {
        let after = self.fences.partition_point(|fence| fence.as_slice() <= key);
        u32::try_from(after.checked_sub(1)?).ok()
    }

    /// The sequence of an exact key (an event id's entry), if the run holds it.
    ///
    /// # Errors
    /// Damaged chunks.
    pub fn get(&self, db: &sled::Db, key: &[u8]) -> Result<Option<u64>, StoreError> {
        self.get_filtered(db, key, key)
    }

    /// The sequence of an exact key whose filter entry is `filtered` (a stream version's
    /// entry: the filter holds its stream's prefix), if the run holds it.
    ///
    /// # Errors
    /// Damaged chunks.
    pub fn get_filtered(
        &self,
        db: &sled::Db,
        filtered: &[u8],
        key: &[u8],
    ) -> Result<Option<u64>, StoreError> {
        if !self.filter.may_contain(filtered) {
            return Ok(None);
        }
        let Some(n) = self.chunk_for(key) else {
            return Ok(None);
        };
        // Keys are in order: the scan stops at the key or past it.
        let mut found = None;
        self.scan(db, n, |k, seq| {
            if k == key {
                found = Some(seq);
            }
            k < key
        })?;
        Ok(found)
    }

    /// Every entry whose key starts with `prefix` (a stream's versions), in order.
    ///
    /// # Errors
    /// Damaged chunks.
    pub fn prefixed(
        &self,
        db: &sled::Db,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
        if !self.filter.may_contain(prefix) {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut n = self.chunk_for(prefix).unwrap_or(0);
        while n < self.data_chunks {
            let mut past = false;
            self.scan(db, n, |key, seq| {
                if key.starts_with(prefix) {
                    out.push((key.to_vec(), seq));
                } else if key > prefix {
                    past = true;
                }
                !past
            })?;
            if past {
                break;
            }
            n += 1;
        }
        Ok(out)
    }

    /// Every key of this run (to delete it after a merge).
    #[must_use]
    pub fn all_keys(&self, db: &sled::Db) -> Vec<Vec<u8>> {
        db.scan_prefix(keys::run_prefix(self.id))
            .keys()
            .filter_map(Result::ok)
            .map(|k| k.to_vec())
            .collect()
    }
}

/// A data chunk's entries (for tests that tamper with one).
#[cfg(test)]
pub(super) fn parse_for_tests(bytes: &[u8]) -> Vec<(Vec<u8>, u64)> {
    parse_items(bytes, true).expect("a data chunk")
}

/// A data chunk of these entries, as [`Builder`] lays it out (for tests that tamper with one).
#[cfg(test)]
pub(super) fn chunk_for_tests(entries: &[(Vec<u8>, u64)]) -> Vec<u8> {
    let mut out = u32::try_from(entries.len())
        .expect("count")
        .to_be_bytes()
        .to_vec();
    for (key, seq) in entries {
        out.push(u8::try_from(key.len()).expect("short key"));
        out.extend_from_slice(key);
        out.extend_from_slice(&seq.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_round_trips_and_answers_lookups() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        let stream = proto_events::Stream::Partner("interpol".into());
        let mut entries: Vec<(Vec<u8>, u64)> = (1..=5_000u64)
            .map(|seq| {
                (
                    keys::entry_id(&uuid::Uuid::from_u64_pair(9, seq)).to_vec(),
                    seq,
                )
            })
            .collect();
        entries.extend((1..=3_000u64).map(|v| (keys::entry_version(&stream, v), v * 2)));
        entries.sort();
        let mut writes = Vec::new();
        let mut emit = |k: Vec<u8>, v: Vec<u8>| {
            writes.push((k, v));
            Ok(())
        };
        let mut builder = Builder::new(7, 0, (1, 5_000), entries.len(), &mut emit);
        for (key, seq) in &entries {
            builder.push(key, *seq).expect("push");
        }
        let built = builder.finish().expect("finish");
        for (k, v) in writes {
            db.insert(k, v).expect("insert");
        }
        let run = Run::load(&db, 7).expect("load");
        assert_eq!((run.first, run.last, run.entries), (1, 5_000, 8_000));
        assert_eq!(run.fences, built.fences);
        assert!(run.chunks() > 1);
        for seq in [1u64, 2_500, 5_000] {
            let key = keys::entry_id(&uuid::Uuid::from_u64_pair(9, seq));
            assert_eq!(run.get(&db, &key).expect("get"), Some(seq));
        }
        let absent = keys::entry_id(&uuid::Uuid::from_u64_pair(9, 9_999));
        assert_eq!(run.get(&db, &absent).expect("get"), None);
        let versions = run
            .prefixed(&db, &keys::entry_stream(&stream))
            .expect("prefixed");
        assert_eq!(versions.len(), 3_000);
        assert_eq!(versions.last().map(|(_, s)| *s), Some(6_000));
        let other = proto_events::Stream::Partner("interpo".into());
        assert!(
            run.prefixed(&db, &keys::entry_stream(&other))
                .expect("prefixed")
                .is_empty(),
            "a shorter slug is another stream"
        );
    }
}
