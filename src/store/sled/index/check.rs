//! Checking the persisted index against the log (`verify`): one ordered read of every run,
//! instead of a lookup per record (which visits every run's filter and reads a chunk for each
//! record: at 3M events, most of a `verify`).
//!
//! Runs cover disjoint ranges of records, so each run is checked against its own records. Its
//! entries and the entries its records should have given are compared by digest:
//!
//! ```text
//! digest(run) = Σ SipHash-1-3-128_k(key length u8 ‖ key ‖ sequence u64)   mod 2^128
//! ```
//!
//! over the run's entries on one side, and over each record's two entries (`keys::entry_id`,
//! `keys::entry_version`) on the other, with the entry counts. `k` is drawn at random for each
//! check, after the store was written: whoever wrote it cannot aim at a sum, and two different
//! sets of entries agree with probability about 2^-127.
//!
//! The same read checks what lookups rely on and a digest cannot see: entries in strictly
//! ascending key order within each run and across all of them (no key twice: an event id or a
//! stream version is in the log once), each entry's sequence within its run's records, each
//! data chunk's first key equal to its fence, every entry held by the run's filter (a filter
//! that misses one would let a re-sent event in twice), and the entry count the run's
//! description gives.
//!
//! Records after the watermark are in the memtable, rebuilt from the log at open: they are
//! checked by lookups, as before. Merges, which delete their inputs, wait while a check holds a
//! [`MergePin`]; flushes, which only add runs, go on.

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering};

use siphasher::sip128::{Hasher128, SipHasher13};

use super::super::keys;
use super::Index;
use super::run::Run;
use crate::store::{Backend, IndexCheck, IndexRow, IndexVerdict, StoreError};

/// The key of one check's digests.
#[derive(Debug, Clone, Copy)]
pub struct DigestKey(u64, u64);

impl DigestKey {
    /// A key nobody could know before the check.
    #[must_use]
    pub fn random() -> Self {
        DigestKey(rand::random(), rand::random())
    }

    fn entry(self, key: &[u8], seq: u64) -> u128 {
        let mut h = SipHasher13::new_with_keys(self.0, self.1);
        std::hash::Hasher::write(&mut h, &[u8::try_from(key.len()).unwrap_or(u8::MAX)]);
        std::hash::Hasher::write(&mut h, key);
        std::hash::Hasher::write(&mut h, &seq.to_be_bytes());
        h.finish128().as_u128()
    }

    /// The digest of the two entries a record gives the index.
    fn record(self, row: &IndexRow) -> u128 {
        self.entry(&keys::entry_id(&row.event_id), row.seq)
            .wrapping_add(self.entry(
                &keys::entry_version(&row.stream, row.stream_version),
                row.seq,
            ))
    }
}

/// What the read of one run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The run.
    pub id: u64,
    /// The first record it covers.
    pub first: u64,
    /// The last record it covers.
    pub last: u64,
    /// The entries read.
    pub entries: u64,
    /// Their digest.
    pub digest: u128,
    /// The first thing wrong with it, if any (its entries after that point were not read).
    pub bad: Option<String>,
}

/// Keeps merges from running while it lives (see the module documentation).
pub struct MergePin<'a>(&'a AtomicUsize);

impl<'a> MergePin<'a> {
    /// Pins `count`'s merges. The caller must make sure that no merge is half-way through when
    /// it pins (the store takes the lock its merges hold).
    pub fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        MergePin(count)
    }

    /// Whether any pin holds `count`'s merges.
    pub fn held(count: &AtomicUsize) -> bool {
        count.load(Ordering::SeqCst) > 0
    }
}

impl Drop for MergePin<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads one run's entries in order, checking each; stops at the first fault, kept in its
/// summary.
struct Reader<'a> {
    run: &'a Run,
    chunk: u32,
    entries: std::vec::IntoIter<(Vec<u8>, u64)>,
    previous: Option<Vec<u8>>,
    summary: Summary,
}

impl<'a> Reader<'a> {
    fn new(run: &'a Run) -> Self {
        Reader {
            run,
            chunk: 0,
            entries: Vec::new().into_iter(),
            previous: None,
            summary: Summary {
                id: run.id,
                first: run.first,
                last: run.last,
                entries: 0,
                digest: 0,
                bad: None,
            },
        }
    }

    fn fail(&mut self, why: String) -> Option<(Vec<u8>, u64)> {
        self.summary.bad.get_or_insert(why);
        None
    }

    fn next(&mut self, db: &sled::Db, key: DigestKey) -> Option<(Vec<u8>, u64)> {
        if self.summary.bad.is_some() {
            return None;
        }
        let (entry, seq) = loop {
            if let Some(entry) = self.entries.next() {
                break entry;
            }
            if self.chunk >= self.run.chunks() {
                if self.summary.entries != self.run.entries {
                    let why = format!(
                        "it holds {} entries, its description says {}",
                        self.summary.entries, self.run.entries
                    );
                    return self.fail(why);
                }
                return None;
            }
            let n = self.chunk;
            self.chunk += 1;
            match self.run.chunk(db, n) {
                Ok(entries) => {
                    if entries.first().map(|(k, _)| k.as_slice()) != self.run.fence(n) {
                        return self.fail(format!("data chunk {n} does not start with its fence"));
                    }
                    self.entries = entries.into_iter();
                }
                Err(StoreError::Corrupt(why)) => return self.fail(why),
                Err(e) => return self.fail(format!("data chunk {n} cannot be read: {e}")),
            }
        };
        let well_formed = match entry.first() {
            Some(1) => entry.len() == 17,
            Some(2) => entry.len() > 10,
            _ => false,
        };
        if !well_formed {
            return self.fail(format!(
                "an entry of {} bytes is neither an event id's nor a stream version's",
                entry.len()
            ));
        }
        if !(self.run.first..=self.run.last).contains(&seq) {
            return self.fail(format!(
                "{} leads to sequence {seq}, outside its records",
                describe(&entry)
            ));
        }
        if self.previous.as_ref().is_some_and(|p| *p >= entry) {
            return self.fail(format!(
                "its entries are out of order at {}",
                describe(&entry)
            ));
        }
        if !self.run.filter_holds(&entry) {
            return self.fail(format!("its filter misses {}", describe(&entry)));
        }
        self.summary.entries += 1;
        self.summary.digest = self.summary.digest.wrapping_add(key.entry(&entry, seq));
        self.previous = Some(entry.clone());
        Some((entry, seq))
    }
}

/// An entry key in words.
fn describe(entry: &[u8]) -> String {
    match entry {
        [1, id @ ..] => uuid::Uuid::from_slice(id).map_or_else(
            |_| "an event id's entry".to_owned(),
            |id| format!("the entry of event id {id}"),
        ),
        _ => "a stream version's entry".to_owned(),
    }
}

/// The runs an index lists at one moment, to be read without holding the index (appends go on
/// meanwhile; a [`MergePin`] keeps their keys).
pub struct Snapshot {
    watermark: u64,
    runs: Vec<Run>,
}

impl Index {
    /// The runs listed now, and the watermark they cover.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            watermark: self.watermark,
            runs: self.runs.clone(),
        }
    }
}

impl Snapshot {
    /// The last record the runs cover.
    #[must_use]
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// Reads every run once, all of them in one key order (a k-way merge), and sums up each
    /// (see the module documentation); what a run's read finds wrong is in its summary.
    pub fn summarise(&self, db: &sled::Db, key: DigestKey) -> Vec<Summary> {
        let mut readers: Vec<Reader<'_>> = self.runs.iter().map(Reader::new).collect();
        let mut heap = BinaryHeap::new();
        for (i, reader) in readers.iter_mut().enumerate() {
            if let Some((entry, _)) = reader.next(db, key) {
                heap.push(std::cmp::Reverse((entry, i)));
            }
        }
        let mut last: Option<(Vec<u8>, usize)> = None;
        while let Some(std::cmp::Reverse((entry, i))) = heap.pop() {
            if let Some((previous, j)) = &last
                && *previous == entry
            {
                let why = format!(
                    "{} is also in index run {}",
                    describe(&entry),
                    readers[*j].run.id
                );
                readers[i].summary.bad.get_or_insert(why);
            }
            if let Some((next, _)) = readers[i].next(db, key) {
                heap.push(std::cmp::Reverse((next, i)));
            }
            last = Some((entry, i));
        }
        let mut summaries: Vec<Summary> = readers.into_iter().map(|r| r.summary).collect();
        summaries.sort_by_key(|s| s.first);
        summaries
    }
}

/// The sled store's [`IndexCheck`]: the runs' summaries, read when the check starts, against
/// the digests of the records fed.
pub struct Checker<'a> {
    store: &'a dyn Backend,
    _pin: MergePin<'a>,
    key: DigestKey,
    watermark: u64,
    /// Oldest first.
    runs: Vec<Summary>,
    /// The run the next record belongs to.
    at: usize,
    next: u64,
    digest: u128,
    entries: u64,
}

impl<'a> Checker<'a> {
    /// A check of `runs` (read with `key`, up to `watermark`); `store` looks up the records
    /// after it.
    pub fn new(
        store: &'a dyn Backend,
        pin: MergePin<'a>,
        key: DigestKey,
        watermark: u64,
        runs: Vec<Summary>,
    ) -> Self {
        Checker {
            store,
            _pin: pin,
            key,
            watermark,
            runs,
            at: 0,
            next: 1,
            digest: 0,
            entries: 0,
        }
    }
}

impl IndexCheck for Checker<'_> {
    fn feed(&mut self, rows: &[IndexRow]) -> Result<IndexVerdict, StoreError> {
        if let Some(first) = rows.first() {
            assert_eq!(
                first.seq, self.next,
                "an index check is fed the log in order"
            );
            self.next += rows.len() as u64;
        }
        // The records after the watermark are the memtable's: looked up.
        let runs_end = rows.partition_point(|row| row.seq <= self.watermark);
        let (covered, after) = rows.split_at(runs_end);
        for row in covered {
            let Some(run) = self.runs.get(self.at) else {
                return Err(StoreError::Corrupt(format!(
                    "no index run covers record {} (the watermark is {})",
                    row.seq, self.watermark
                )));
            };
            self.digest = self.digest.wrapping_add(self.key.record(row));
            self.entries += 2;
            if row.seq < run.last {
                continue;
            }
            let why = match &run.bad {
                Some(why) => Some(why.clone()),
                None if run.entries != self.entries => Some(format!(
                    "it holds {} entries, its records give {}",
                    run.entries, self.entries
                )),
                None if run.digest != self.digest => Some(
                    "its entries are not those of its records (their digests differ)".to_owned(),
                ),
                None => None,
            };
            if let Some(why) = why {
                let named = format!("index run {}", run.id);
                let reason = if why.starts_with(&named) {
                    why
                } else {
                    format!("{named}: {why}")
                };
                return Ok(IndexVerdict::Range {
                    first: run.first,
                    last: run.last,
                    reason,
                });
            }
            self.at += 1;
            self.digest = 0;
            self.entries = 0;
        }
        self.store.check_index(after).map(IndexVerdict::of)
    }
}

#[cfg(test)]
mod tests {
    use proto_events::Stream;
    use uuid::Uuid;

    use super::super::Tuning;
    use super::super::tests::maintain;
    use super::*;
    use crate::store::sled::keys::RunPart;

    /// An index of `n` records (a few streams continued, most new), flushed and merged into
    /// several tiers, with the rows it was given.
    fn built(db: &sled::Db, n: u64) -> (Index, Vec<IndexRow>) {
        let tuning = Tuning {
            flush_records: 10,
            fanout: 3,
        };
        let mut index = Index::open(db, tuning).expect("open");
        let mut rows = Vec::new();
        let mut versions = std::collections::HashMap::new();
        for seq in 1..=n {
            let stream = if seq % 3 == 0 {
                Stream::Partner(format!("p{}", seq % 4))
            } else {
                Stream::Partner(format!("own-{seq}"))
            };
            let version = versions.entry(stream.clone()).or_insert(0u64);
            *version += 1;
            let row = IndexRow {
                seq,
                event_id: Uuid::from_u64_pair(seq.wrapping_mul(0x9e37_79b9_7f4a_7c15), seq),
                stream,
                stream_version: *version,
            };
            index.insert(row.seq, row.event_id, &row.stream, row.stream_version);
            rows.push(row);
            maintain(db, &mut index);
        }
        assert!(index.runs.iter().any(|r| r.tier >= 1), "merges happened");
        (index, rows)
    }

    /// The verdict of a whole check, fed in uneven chunks; lookups of the records after the
    /// watermark are left out (they need a store: the integration tests cover them).
    fn verdict(db: &sled::Db, index: &Index, rows: &[IndexRow]) -> IndexVerdict {
        let key = DigestKey::random();
        let runs = index.snapshot().summarise(db, key);
        let covered = &rows[..usize::try_from(index.watermark()).expect("small")];
        let scratch = tempfile::tempdir().expect("dir");
        let store = crate::store::sled::SledStore::open(scratch.path())
            .expect("an empty store for the lookups");
        let pins = AtomicUsize::new(0);
        let mut check = Checker::new(&store, MergePin::new(&pins), key, index.watermark(), runs);
        for part in covered.chunks(7) {
            let found = check.feed(part).expect("feed");
            if found != IndexVerdict::Agrees {
                return found;
            }
        }
        IndexVerdict::Agrees
    }

    /// Rewrites data chunk `n` of run `id` through `change`.
    fn rewrite(db: &sled::Db, id: u64, n: u32, change: impl FnOnce(&mut Vec<(Vec<u8>, u64)>)) {
        let key = keys::run(id, RunPart::Data(n));
        let value = db.get(&key).expect("get").expect("chunk");
        let mut entries = super::super::run::parse_for_tests(&value);
        change(&mut entries);
        db.insert(key, super::super::run::chunk_for_tests(&entries))
            .expect("insert");
    }

    #[test]
    fn an_honest_index_agrees_through_every_tier() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        let (index, rows) = built(&db, 200);
        assert_eq!(verdict(&db, &index, &rows), IndexVerdict::Agrees);
    }

    #[test]
    fn two_swapped_sequences_are_found_by_the_digest_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        let (index, rows) = built(&db, 200);
        let run = index.runs.iter().max_by_key(|r| r.entries).expect("a run");
        // Keys stay in order, sequences stay within the run: only what they lead to changes.
        rewrite(&db, run.id, 0, |entries| {
            let (a, b) = (entries[0].1, entries[1].1);
            entries[0].1 = b;
            entries[1].1 = a;
        });
        match verdict(&db, &index, &rows) {
            IndexVerdict::Range {
                first,
                last,
                reason,
            } => {
                assert_eq!((first, last), (run.first, run.last));
                assert!(reason.contains("digests differ"), "{reason}");
            }
            other => panic!("the swap went unseen: {other:?}"),
        }
    }

    #[test]
    fn a_missing_entry_an_extra_one_and_a_blind_filter_are_named() {
        type Tamper = fn(&mut Vec<(Vec<u8>, u64)>);
        let cases: [(Tamper, &str); 2] = [
            (
                |entries| {
                    entries.remove(1);
                },
                "entries",
            ),
            (
                |entries| {
                    let (key, seq) = entries[0].clone();
                    entries.insert(1, (key, seq));
                },
                "out of order",
            ),
        ];
        for (tamper, says) in cases {
            let dir = tempfile::tempdir().expect("dir");
            let db = sled::open(dir.path()).expect("sled");
            let (index, rows) = built(&db, 120);
            let run = index.runs.first().expect("a run");
            rewrite(&db, run.id, 0, tamper);
            match verdict(&db, &index, &rows) {
                IndexVerdict::Range { reason, .. } => assert!(reason.contains(says), "{reason}"),
                other => panic!("unseen ({says}): {other:?}"),
            }
        }
        // A filter with every bit cleared answers "absent" for every key of its run.
        let dir = tempfile::tempdir().expect("dir");
        let db = sled::open(dir.path()).expect("sled");
        let (index, rows) = built(&db, 120);
        let run = index.runs.first().expect("a run");
        let filter = keys::run(run.id, RunPart::Filter(0));
        let len = db.get(&filter).expect("get").expect("filter").len();
        db.insert(filter, vec![0u8; len]).expect("insert");
        let reloaded = Index::open(&db, index.tuning).expect("reopen");
        match verdict(&db, &reloaded, &rows) {
            IndexVerdict::Range { reason, .. } => {
                assert!(reason.contains("filter misses"), "{reason}");
            }
            other => panic!("a blind filter went unseen: {other:?}"),
        }
    }
}
