//! The index of a sled store (format 2): event ids and stream versions, persisted so that opening
//! a ledger costs the same whatever its length, and memory stays bounded. A small log-structured
//! merge tree:
//!
//! - the **memtable** holds the entries of the records after the last flushed run, in memory;
//!   it is rebuilt at open from those records (the ledger's walk gives them, `index_tail`), so it
//!   needs no durability of its own;
//! - every [`FLUSH_RECORDS`] records, the memtable is written as a sorted, immutable **run**
//!   (`run.rs`) with a membership filter (`store/filter.rs`), in one atomic commit with the manifest
//!   (`M index`: the runs, and the last record they cover, the watermark);
//! - when a tier holds [`FANOUT`] runs, they are merged into one run of the next tier, so a
//!   lookup visits O(log n) runs (and, thanks to the filters, reads almost none of them).
//!
//! ```text
//! M index = 1 ‖ watermark u64 ‖ next run id u64 ‖ runs u32 ‖ runs × (id u64 ‖ tier u8)
//! ```
//!
//! Lookups look in the memtable, then in the runs, newest first. Ids are unique in the log, and
//! a stream's versions rise with the sequence, so the newest run that holds a stream holds its
//! highest version.

mod check;
mod memtable;
mod run;

use std::collections::BinaryHeap;

use proto_events::Stream;
use uuid::Uuid;

use super::keys;
use crate::store::StoreError;
pub use check::{Checker, DigestKey, MergePin};
use memtable::Memtable;
use run::{Builder, Run};

/// Records the memtable holds before it is flushed as a run.
pub const FLUSH_RECORDS: usize = 16 * 1024;
/// Runs of one tier merged into one of the next.
pub const FANOUT: usize = 8;
const MANIFEST_FORMAT: u8 = 1;

/// Keys and values to write, in one atomic batch.
pub type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// When the index flushes and merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Records the memtable holds before it is flushed ([`FLUSH_RECORDS`]).
    pub flush_records: usize,
    /// Runs of a tier merged into one ([`FANOUT`]).
    pub fanout: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            flush_records: FLUSH_RECORDS,
            fanout: FANOUT,
        }
    }
}

impl Tuning {
    /// The default, or what `COOPLEDGER_INDEX_FLUSH` and `COOPLEDGER_INDEX_FANOUT` say (for
    /// tests that need flushes and merges in small ledgers, and for tuning).
    #[must_use]
    pub fn from_env() -> Self {
        let var = |name: &str, default: usize, min: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .map_or(default, |v| v.max(min))
        };
        Tuning {
            flush_records: var("COOPLEDGER_INDEX_FLUSH", FLUSH_RECORDS, 1),
            fanout: var("COOPLEDGER_INDEX_FANOUT", FANOUT, 2),
        }
    }
}

/// See the module documentation.
///
/// Invariants:
/// - the runs cover records `1..=watermark`, each exactly once, and the memtable the records
///   after it (checked at open: `check_coverage`);
/// - every run listed here has all its keys in sled: a merge deletes its inputs' keys and drops
///   them from this list under the store's write lock on the index, so a reader holding the
///   index never finds a listed run's keys gone, and an index check, which reads runs without
///   holding it, pins merges meanwhile (`check::MergePin`).
pub struct Index {
    watermark: u64,
    next_run: u64,
    /// Runs, newest (highest records) first.
    runs: Vec<Run>,
    memtable: Memtable,
    tuning: Tuning,
}

fn manifest_value(watermark: u64, next_run: u64, runs: &[Run]) -> Vec<u8> {
    let mut value = vec![MANIFEST_FORMAT];
    value.extend_from_slice(&watermark.to_be_bytes());
    value.extend_from_slice(&next_run.to_be_bytes());
    value.extend_from_slice(&u32::try_from(runs.len()).unwrap_or(u32::MAX).to_be_bytes());
    for run in runs {
        value.extend_from_slice(&run.id.to_be_bytes());
        value.push(run.tier);
    }
    value
}

impl Index {
    /// Loads the manifest and every run's fences and filter; deletes the keys of runs the
    /// manifest does not list (left by a merge that stopped half-way).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when the manifest or a listed run is damaged.
    pub fn open(db: &sled::Db, tuning: Tuning) -> Result<Index, StoreError> {
        let (watermark, next_run, listed) = match db.get(keys::META_INDEX)? {
            None => (0, 0, Vec::new()),
            Some(value) => parse_manifest(&value)?,
        };
        let mut runs = listed
            .iter()
            .map(|(id, _)| Run::load(db, *id))
            .collect::<Result<Vec<_>, _>>()?;
        runs.sort_by_key(|r| std::cmp::Reverse(r.last));
        check_coverage(&runs, watermark)?;
        // Only the gaps between the listed runs are scanned: reading every key of every run
        // would cost open the whole index (sled reads whole pages, values included).
        let mut orphans = sled::Batch::default();
        let mut any = false;
        let mut ids: Vec<u64> = listed.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let mut from = vec![keys::INDEX];
        for id in ids.into_iter().map(Some).chain([None]) {
            let to = match id {
                Some(id) => keys::run_prefix(id).to_vec(),
                None => vec![keys::INDEX + 1],
            };
            for key in db.range(from.as_slice()..to.as_slice()).keys() {
                orphans.remove(key?);
                any = true;
            }
            // The next gap starts after this run's keys: at the prefix of the next id.
            from = match id.and_then(|id| id.checked_add(1)) {
                Some(next) => keys::run_prefix(next).to_vec(),
                None => break,
            };
        }
        if any {
            // Garbage, not data: applied without a sync of its own (the next commit's covers it).
            db.apply_batch(orphans)?;
        }
        Ok(Index {
            watermark,
            next_run,
            runs,
            memtable: Memtable::after(watermark),
            tuning,
        })
    }

    /// Makes a new, empty index start after record `seq`: that of a scratch store whose records
    /// follow another store's (`store::overlay`), which indexes those before it.
    ///
    /// # Panics
    /// When the index is not empty.
    pub fn start_after(&mut self, seq: u64) {
        assert!(
            self.runs.is_empty() && self.memtable.records() == 0 && self.watermark == 0,
            "only an empty index starts after a record"
        );
        self.watermark = seq;
        self.memtable = Memtable::after(seq);
    }

    /// The last record the runs cover: the ledger gives the index the records after it at open.
    #[must_use]
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Adds the next record to the memtable.
    pub fn insert(&mut self, seq: u64, event_id: Uuid, stream: &Stream, version: u64) {
        self.memtable.insert(seq, event_id, stream, version);
    }

    /// The sequence of an event id.
    ///
    /// # Errors
    /// Damaged runs.
    pub fn seq_of(&self, db: &sled::Db, id: &Uuid) -> Result<Option<u64>, StoreError> {
        if let Some(seq) = self.memtable.seq_of(id) {
            return Ok(Some(seq));
        }
        let key = keys::entry_id(id);
        for run in &self.runs {
            if let Some(seq) = run.get(db, &key)? {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// Every (version, sequence) of a stream, in order.
    ///
    /// # Errors
    /// Damaged runs.
    pub fn stream(&self, db: &sled::Db, stream: &Stream) -> Result<Vec<(u64, u64)>, StoreError> {
        let prefix = keys::entry_stream(stream);
        let mut out = Vec::new();
        // Oldest first, so that versions come out in order.
        for run in self.runs.iter().rev() {
            for (key, seq) in run.prefixed(db, &prefix)? {
                let version = key
                    .get(prefix.len()..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "index run {}: an entry of {} bytes",
                            run.id,
                            key.len()
                        ))
                    })?;
                out.push((version, seq));
            }
        }
        out.extend_from_slice(self.memtable.stream(stream));
        Ok(out)
    }

    /// The sequence of one version of a stream, if indexed (a point lookup, whatever the
    /// stream's length).
    ///
    /// # Errors
    /// Damaged runs.
    pub fn stream_seq(
        &self,
        db: &sled::Db,
        stream: &Stream,
        version: u64,
    ) -> Result<Option<u64>, StoreError> {
        if let Some((_, seq)) = self
            .memtable
            .stream(stream)
            .iter()
            .find(|(v, _)| *v == version)
        {
            return Ok(Some(*seq));
        }
        let prefix = keys::entry_stream(stream);
        let key = keys::entry_version(stream, version);
        for run in &self.runs {
            if let Some(seq) = run.get_filtered(db, &prefix, &key)? {
                return Ok(Some(seq));
            }
        }
        Ok(None)
    }

    /// The version of a stream (0 when it does not exist).
    ///
    /// # Errors
    /// Damaged runs.
    pub fn stream_version(&self, db: &sled::Db, stream: &Stream) -> Result<u64, StoreError> {
        if let Some((version, _)) = self.memtable.stream(stream).last() {
            return Ok(*version);
        }
        let prefix = keys::entry_stream(stream);
        for run in &self.runs {
            let found = run.prefixed(db, &prefix)?;
            if let Some((key, _)) = found.last() {
                return key
                    .get(prefix.len()..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("index run {}: a short entry", run.id))
                    });
            }
        }
        Ok(0)
    }

    /// Whether the memtable is due to be flushed.
    #[must_use]
    pub fn flush_due(&self) -> bool {
        self.memtable.records() >= self.tuning.flush_records
    }

    /// The writes that flush the memtable's oldest records (as many as a flush holds) as a run
    /// of tier 0
    /// (and the manifest that lists it), and the run. Nothing changes in memory until
    /// [`Index::flushed`].
    ///
    /// # Errors
    /// Never in practice (the writes are collected in memory).
    pub fn flush(&self) -> Result<(Writes, Run), StoreError> {
        let cut = self
            .memtable
            .last()
            .min(self.watermark + self.tuning.flush_records as u64);
        let entries = self.memtable.sorted_entries(cut);
        let mut writes: Writes = Vec::new();
        let mut emit = |k: Vec<u8>, v: Vec<u8>| {
            writes.push((k, Some(v)));
            Ok(())
        };
        let range = (self.watermark + 1, cut);
        let mut builder = Builder::new(self.next_run, 0, range, entries.len(), &mut emit);
        for (key, seq) in &entries {
            builder.push(key, *seq)?;
        }
        let run = builder.finish()?;
        let mut runs: Vec<Run> = self.runs.clone();
        runs.insert(0, run.clone());
        writes.push((
            keys::META_INDEX.to_vec(),
            Some(manifest_value(run.last, self.next_run + 1, &runs)),
        ));
        Ok((writes, run))
    }

    /// Takes a durable flush into account: the run joins the others, the memtable forgets what
    /// it holds.
    pub fn flushed(&mut self, run: Run) {
        self.watermark = run.last;
        self.next_run = run.id + 1;
        self.memtable.forget_upto(run.last);
        self.runs.insert(0, run);
    }

    /// The runs of the lowest tier that holds as many as a merge takes, if any: they are due to
    /// be merged.
    #[must_use]
    pub fn merge_due(&self) -> Option<Vec<u64>> {
        let top = self.runs.iter().map(|r| r.tier).max()?;
        (0..=top).find_map(|tier| {
            let ids: Vec<u64> = self
                .runs
                .iter()
                .filter(|r| r.tier == tier)
                .map(|r| r.id)
                .collect();
            (ids.len() >= self.tuning.fanout).then_some(ids)
        })
    }

    /// Merges the runs `ids` (consecutive in records) into one run of the next tier, writing its
    /// keys through `write` in batches as it goes (the new run is invisible until the manifest
    /// lists it); returns the final writes (the manifest, and the deletion of the merged runs'
    /// keys) and the new run.
    ///
    /// # Errors
    /// Damaged runs; what `write` returns.
    pub fn merge(
        &self,
        db: &sled::Db,
        ids: &[u64],
        write: &mut dyn FnMut(Writes) -> Result<(), StoreError>,
    ) -> Result<(Writes, Run), StoreError> {
        let inputs: Vec<&Run> = self.runs.iter().filter(|r| ids.contains(&r.id)).collect();
        let tier = inputs.iter().map(|r| r.tier).max().unwrap_or(0) + 1;
        let first = inputs.iter().map(|r| r.first).min().unwrap_or(0);
        let last = inputs.iter().map(|r| r.last).max().unwrap_or(0);
        let entries: u64 = inputs.iter().map(|r| r.entries).sum();
        let mut pending: Writes = Vec::new();
        let mut emit = |k: Vec<u8>, v: Vec<u8>| -> Result<(), StoreError> {
            pending.push((k, Some(v)));
            if pending.len() >= 64 {
                write(std::mem::take(&mut pending))?;
            }
            Ok(())
        };
        let mut builder = Builder::new(
            self.next_run,
            tier,
            (first, last),
            usize::try_from(entries).unwrap_or(usize::MAX),
            &mut emit,
        );
        // A k-way merge: each input's chunks are read in order; the smallest key goes next.
        let mut cursors: Vec<Cursor<'_>> = inputs.iter().map(|run| Cursor::new(run)).collect();
        let mut heap = BinaryHeap::new();
        for (i, cursor) in cursors.iter_mut().enumerate() {
            if let Some((key, seq)) = cursor.next(db)? {
                heap.push(std::cmp::Reverse((key, seq, i)));
            }
        }
        while let Some(std::cmp::Reverse((key, seq, i))) = heap.pop() {
            builder.push(&key, seq)?;
            if let Some((key, seq)) = cursors[i].next(db)? {
                heap.push(std::cmp::Reverse((key, seq, i)));
            }
        }
        let run = builder.finish()?;
        write(pending)?;
        let mut runs: Vec<Run> = self
            .runs
            .iter()
            .filter(|r| !ids.contains(&r.id))
            .cloned()
            .collect();
        runs.push(run.clone());
        runs.sort_by_key(|r| std::cmp::Reverse(r.last));
        let mut last_writes: Writes = vec![(
            keys::META_INDEX.to_vec(),
            Some(manifest_value(self.watermark, self.next_run + 1, &runs)),
        )];
        for input in inputs {
            last_writes.extend(input.all_keys(db).into_iter().map(|k| (k, None)));
        }
        Ok((last_writes, run))
    }

    /// Takes a durable merge into account.
    pub fn merged(&mut self, ids: &[u64], run: Run) {
        self.runs.retain(|r| !ids.contains(&r.id));
        self.next_run = run.id + 1;
        self.runs.push(run);
        self.runs.sort_by_key(|r| std::cmp::Reverse(r.last));
    }
}

/// Reads one run's entries in order, a chunk at a time.
struct Cursor<'a> {
    run: &'a Run,
    chunk: u32,
    entries: std::vec::IntoIter<(Vec<u8>, u64)>,
}

impl<'a> Cursor<'a> {
    fn new(run: &'a Run) -> Self {
        Cursor {
            run,
            chunk: 0,
            entries: Vec::new().into_iter(),
        }
    }

    fn next(&mut self, db: &sled::Db) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        loop {
            if let Some(entry) = self.entries.next() {
                return Ok(Some(entry));
            }
            if self.chunk >= self.run.chunks() {
                return Ok(None);
            }
            self.entries = self.run.chunk(db, self.chunk)?.into_iter();
            self.chunk += 1;
        }
    }
}

/// A manifest: the watermark, the next run id, the runs (id, tier).
type Manifest = (u64, u64, Vec<(u64, u8)>);

fn parse_manifest(value: &[u8]) -> Result<Manifest, StoreError> {
    let bad = || {
        StoreError::Corrupt(format!(
            "the index manifest (M index) is malformed ({} bytes)",
            value.len()
        ))
    };
    if value.first() != Some(&MANIFEST_FORMAT) {
        return Err(bad());
    }
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_be_bytes(value.get(at..at + 8)?.try_into().ok()?))
    };
    let watermark = u64_at(1).ok_or_else(bad)?;
    let next_run = u64_at(9).ok_or_else(bad)?;
    let count = value
        .get(17..21)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(bad)?;
    let mut runs = Vec::new();
    let mut at = 21;
    for _ in 0..count {
        let id = u64_at(at).ok_or_else(bad)?;
        let tier = *value.get(at + 8).ok_or_else(bad)?;
        runs.push((id, tier));
        at += 9;
    }
    if at != value.len() {
        return Err(bad());
    }
    Ok((watermark, next_run, runs))
}

/// The runs must cover records 1..=watermark exactly, each once.
fn check_coverage(runs: &[Run], watermark: u64) -> Result<(), StoreError> {
    let mut next = 1u64;
    for run in runs.iter().rev() {
        if run.first != next || run.last < run.first {
            return Err(StoreError::Corrupt(format!(
                "index run {} covers records {}..={}, record {next} was expected first",
                run.id, run.first, run.last
            )));
        }
        next = run.last + 1;
    }
    if next != watermark + 1 {
        return Err(StoreError::Corrupt(format!(
            "the index runs cover records up to {}, the manifest says {watermark}",
            next - 1
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn apply(db: &sled::Db, writes: Writes) {
        let mut batch = sled::Batch::default();
        for (k, v) in writes {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        db.apply_batch(batch).expect("apply");
    }

    /// Flushes and merges until nothing is due, as the store does after a commit.
    pub(super) fn maintain(db: &sled::Db, index: &mut Index) {
        while index.flush_due() {
            let (writes, run) = index.flush().expect("flush");
            apply(db, writes);
            index.flushed(run);
            while let Some(ids) = index.merge_due() {
                let (writes, run) = index
                    .merge(db, &ids, &mut |part| {
                        apply(db, part);
                        Ok(())
                    })
                    .expect("merge");
                apply(db, writes);
                index.merged(&ids, run);
            }
        }
    }

    fn check(
        db: &sled::Db,
        index: &Index,
        ids: &BTreeMap<u64, Uuid>,
        streams: &BTreeMap<Stream, Vec<u64>>,
    ) {
        for (seq, id) in ids {
            assert_eq!(index.seq_of(db, id).expect("seq_of"), Some(*seq), "{id}");
        }
        assert_eq!(
            index
                .seq_of(db, &Uuid::from_u64_pair(u64::MAX, 1))
                .expect("seq_of"),
            None
        );
        for (stream, seqs) in streams {
            let got: Vec<u64> = index
                .stream(db, stream)
                .expect("stream")
                .into_iter()
                .map(|(_, s)| s)
                .collect();
            assert_eq!(&got, seqs, "{stream}");
            let versions: Vec<u64> = index
                .stream(db, stream)
                .expect("stream")
                .into_iter()
                .map(|(v, _)| v)
                .collect();
            assert_eq!(
                versions,
                (1..=seqs.len() as u64).collect::<Vec<_>>(),
                "{stream}"
            );
            assert_eq!(
                index.stream_version(db, stream).expect("version"),
                seqs.len() as u64
            );
        }
        assert_eq!(
            index
                .stream_version(db, &Stream::Partner("never".into()))
                .expect("version"),
            0
        );
    }

    #[test]
    fn lookups_agree_with_a_model_through_flushes_merges_and_reopens() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        let tuning = Tuning {
            flush_records: 37,
            fanout: 3,
        };
        let mut index = Index::open(&db, tuning).expect("open");
        let mut ids = BTreeMap::new();
        let mut streams: BTreeMap<Stream, Vec<u64>> = BTreeMap::new();
        let pool: Vec<Stream> = (0..23)
            .map(|i| Stream::Partner(format!("p{i:02}")))
            .collect();
        for seq in 1..=1_500u64 {
            let id = Uuid::from_u64_pair(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15), seq);
            // Most records start a stream of their own; some continue one of a few.
            let stream = if seq % 4 == 0 {
                pool[(seq % 23) as usize].clone()
            } else {
                Stream::Partner(format!("own-{seq}"))
            };
            let seqs = streams.entry(stream.clone()).or_default();
            seqs.push(seq);
            index.insert(seq, id, &stream, seqs.len() as u64);
            ids.insert(seq, id);
            maintain(&db, &mut index);
            if seq % 250 == 0 {
                check(&db, &index, &ids, &streams);
                // Reopen: the runs are read back; the memtable's records come from the "log".
                let watermark = index.watermark();
                let mut again = Index::open(&db, tuning).expect("reopen");
                assert_eq!(again.watermark(), watermark);
                for s in watermark + 1..=seq {
                    let stream = streams
                        .iter()
                        .find(|(_, v)| v.contains(&s))
                        .map(|(k, _)| k.clone())
                        .expect("stream");
                    let version = streams[&stream]
                        .iter()
                        .position(|x| *x == s)
                        .expect("version") as u64
                        + 1;
                    again.insert(s, ids[&s], &stream, version);
                }
                check(&db, &again, &ids, &streams);
                index = again;
            }
        }
        assert!(
            index.runs.iter().any(|r| r.tier >= 2),
            "merges happened: {:?}",
            index.runs.iter().map(|r| r.tier).collect::<Vec<_>>()
        );
        assert!(
            index.runs.len() <= 3 * 4,
            "runs stay few: {}",
            index.runs.len()
        );
    }

    #[test]
    fn runs_a_manifest_does_not_list_are_deleted_at_open() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        db.insert(keys::run(42, keys::RunPart::Meta), b"half a merge".to_vec())
            .expect("insert");
        let index = Index::open(&db, Tuning::default()).expect("open");
        assert_eq!(index.watermark(), 0);
        assert!(
            db.scan_prefix([keys::INDEX]).next().is_none(),
            "the orphan is gone"
        );
    }
}
