//! Format 1 → 2 in place (`coopledger migrate`): records stored one per key are packed into
//! blocks. Each step is one atomic, durable batch that deletes a run of single records and puts
//! the blocks holding them, so the store is whole after every step, and a migration stopped at
//! any point (a crash, SIGKILL) continues where it stopped: the records still stored one per key
//! are exactly the ones left to pack. Records keep their bytes: hashes and Merkle leaves do not
//! change.

use std::sync::atomic::Ordering;

use super::{SledStore, blocks, keys};
use crate::store::StoreError;

/// Bytes of records packed per step, unless `COOPLEDGER_MIGRATE_STEP_BYTES` says otherwise
/// (the crash tests make steps small to stop a migration in many places).
const STEP_BYTES: usize = 4 * 1024 * 1024;

fn step_bytes() -> usize {
    std::env::var("COOPLEDGER_MIGRATE_STEP_BYTES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(STEP_BYTES, |v| v.max(1))
}

impl SledStore {
    /// Packs every record stored one per key into blocks, reporting the last sequence packed
    /// after each step; returns how many records were packed.
    ///
    /// # Errors
    /// I/O errors (the store stays whole: run it again to continue).
    pub fn pack_singles(&self, progress: &mut dyn FnMut(u64)) -> Result<u64, StoreError> {
        let db = self.sled();
        let step = step_bytes();
        let mut packed = 0u64;
        loop {
            let mut run: Vec<(u64, sled::IVec)> = Vec::new();
            let mut bytes = 0usize;
            for item in db.scan_prefix([keys::EVENT]) {
                let (key, value) = item?;
                let seq = keys::event_seq(&key).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "a malformed record key of {} bytes; run `coopledger verify`",
                        key.len()
                    ))
                })?;
                if run.last().is_some_and(|(last, _)| seq != last + 1) {
                    break;
                }
                bytes += value.len();
                run.push((seq, value));
                if bytes >= step {
                    break;
                }
            }
            let Some((first, _)) = run.first() else {
                self.singles.store(false, Ordering::Relaxed);
                return Ok(packed);
            };
            let first = *first;
            let mut batch = sled::Batch::default();
            for (seq, _) in &run {
                batch.remove(&keys::event(*seq));
            }
            for (block_first, block) in
                blocks::pack(first, run.iter().map(|(_, v)| &v[..]), self.block_bytes)
            {
                if block.len() > crate::store::MAX_VALUE_LEN {
                    return Err(StoreError::ValueTooLarge { len: block.len() });
                }
                batch.insert(&keys::block(block_first), block);
            }
            crate::failpoint!("store::pack", StoreError::Io);
            db.apply_batch(batch)?;
            self.sync()?;
            packed += run.len() as u64;
            progress(first + run.len() as u64 - 1);
        }
    }
}
