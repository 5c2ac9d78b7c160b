//! `coopledger migrate`: brings a ledger to this build's format in place, verified.
//!
//! 1. The log is verified as it stands (every hash, link, the head and the witness): damage is
//!    named, never migrated.
//! 2. The store moves its records to the current layout (sled: packs records stored one per key
//!    into blocks), one atomic step at a time.
//! 3. The index is written from the records (sled: a run every 16,384 records), so the next
//!    open reads only what the index does not cover.
//! 4. The ledger is opened and verified again: the same sequences, hashes and Merkle root.
//!
//! Every step is resumable: run it again after an interruption (a crash, SIGKILL) and it goes
//! on from where it stopped; nothing is acknowledged half-done, since nothing is appended.

use proto_events::Hash;

use super::recover::{load_catalog, verify_log};
use super::{Ledger, Options, VerifyReport};
use crate::error::Error;
use crate::store::{self, Access, Location};

/// What a migration did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Records moved to the current layout.
    pub moved: u64,
    /// The head, verified before and after (the same).
    pub head: VerifyReport,
    /// The Merkle root of the whole log, recomputed from the records after the migration and
    /// equal to the stored tree's.
    pub root: Hash,
}

/// Migrates the ledger at `location`; `progress` hears (step, records done, records in all).
///
/// # Errors
/// [`Error::Corrupt`] (and the other verification errors) when the ledger is damaged, before
/// or after; storage errors.
pub fn migrate(
    location: &Location,
    progress: &mut dyn FnMut(&'static str, u64, u64),
) -> Result<MigrateReport, Error> {
    let before = verify_log(location, &mut |done| progress("verify", done, 0))?;
    let total = before.head_seq;
    let moved = {
        let store = store::open(location, Access::Write)?;
        let moved = store.migrate_layout(&mut |done| progress("pack", done, total))?;
        load_catalog(&*store, true)?;
        while store.maintain()? {}
        moved
    };
    let ledger = Ledger::open_at(location, Options::default())?;
    let reader = ledger.reader();
    let after = reader.verify(&mut |done, total| progress("check", done, total))?;
    if after != before {
        return Err(Error::Internal(format!(
            "the log changed in migration: head {} before, {} after",
            before.head_seq, after.head_seq
        )));
    }
    let root = reader.verify_tree(&mut |done, total| progress("tree", done, total))?;
    reader.verify_views()?;
    Ok(MigrateReport {
        moved,
        head: after,
        root,
    })
}
