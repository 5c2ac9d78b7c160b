//! The stored record layout, written from `docs/format.md` (not from the store's code), for
//! tests that change a store through sled as someone who controls the directory would.
//!
//! Records live one per key (`E` ‖ seq → frame, format 1) or in blocks (`B` ‖ first seq →
//! `0x02` ‖ count u16 BE ‖ count × (length u32 BE ‖ frame), format 2). [`rewrite`] loads every
//! record, lets the caller change, remove or add frames, and stores the result back in blocks,
//! one block per run of consecutive sequences.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use coopledger::store::sled::keys;

/// Every stored record's frame, by sequence.
pub fn frames(db: &sled::Db) -> BTreeMap<u64, Vec<u8>> {
    let mut out = BTreeMap::new();
    for item in db.scan_prefix([keys::EVENT]) {
        let (key, value) = item.expect("scan E");
        if key.len() == 9 {
            let seq = u64::from_be_bytes(key[1..].try_into().expect("u64"));
            out.insert(seq, value.to_vec());
        }
    }
    for item in db.scan_prefix([keys::BLOCK]) {
        let (key, value) = item.expect("scan B");
        assert_eq!(key.len(), 9, "a block key");
        let first = u64::from_be_bytes(key[1..].try_into().expect("u64"));
        assert_eq!(value[0], 2, "block format 2");
        let count = u16::from_be_bytes([value[1], value[2]]);
        let mut at = 3;
        for i in 0..u64::from(count) {
            let len = u32::from_be_bytes(value[at..at + 4].try_into().expect("len")) as usize;
            out.insert(first + i, value[at + 4..at + 4 + len].to_vec());
            at += 4 + len;
        }
        assert_eq!(at, value.len(), "nothing after the records");
    }
    out
}

/// One record's frame.
pub fn frame(db: &sled::Db, seq: u64) -> Vec<u8> {
    frames(db).remove(&seq).expect("the record is stored")
}

/// Loads every record, applies `change`, and stores them back in blocks (deleting every record
/// key first), then flushes.
pub fn rewrite(db: &sled::Db, change: impl FnOnce(&mut BTreeMap<u64, Vec<u8>>)) {
    let mut all = frames(db);
    change(&mut all);
    let mut batch = sled::Batch::default();
    for space in [keys::EVENT, keys::BLOCK] {
        for key in db.scan_prefix([space]).keys() {
            batch.remove(key.expect("key"));
        }
    }
    let mut run: Vec<(u64, Vec<u8>)> = Vec::new();
    let flush = |run: &mut Vec<(u64, Vec<u8>)>, batch: &mut sled::Batch| {
        let Some((first, _)) = run.first() else {
            return;
        };
        let mut value = vec![2u8];
        value.extend_from_slice(&(run.len() as u16).to_be_bytes());
        for (_, frame) in run.iter() {
            value.extend_from_slice(&(frame.len() as u32).to_be_bytes());
            value.extend_from_slice(frame);
        }
        let mut key = vec![keys::BLOCK];
        key.extend_from_slice(&first.to_be_bytes());
        batch.insert(key, value);
        run.clear();
    };
    for (seq, frame) in all {
        let follows = run.last().is_some_and(|(last, _)| seq == last + 1);
        if !follows || run.len() == 256 {
            flush(&mut run, &mut batch);
        }
        run.push((seq, frame));
    }
    flush(&mut run, &mut batch);
    db.apply_batch(batch).expect("apply");
    db.flush().expect("flush");
}

/// Opens a store's sled database, waiting for a lock a just-closed ledger is releasing.
pub fn open(dir: &Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir) {
            return db;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sled::open(dir).expect("open sled")
}

/// Turns a store into one format 1 wrote: records one per key, no persisted index, the
/// marker saying 1.
pub fn to_format_1(dir: &Path) {
    let db = open(dir);
    let all = frames(&db);
    let mut batch = sled::Batch::default();
    for space in [keys::BLOCK, keys::INDEX] {
        for key in db.scan_prefix([space]).keys() {
            batch.remove(key.expect("key"));
        }
    }
    batch.remove(keys::META_INDEX);
    for (seq, frame) in all {
        batch.insert(&keys::event(seq), frame);
    }
    db.apply_batch(batch).expect("apply");
    db.flush().expect("flush");
    drop(db);
    let marker = dir.join(coopledger::store::sled::MARKER_FILE);
    let text = std::fs::read_to_string(&marker).expect("marker");
    std::fs::write(&marker, text.replace("format = 2", "format = 1")).expect("marker");
}

/// How many records are stored one per key, and how many blocks there are.
pub fn layout_counts(dir: &Path) -> (usize, usize) {
    let db = open(dir);
    (
        db.scan_prefix([keys::EVENT]).count(),
        db.scan_prefix([keys::BLOCK]).count(),
    )
}
