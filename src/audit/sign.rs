//! Signing checkpoints: a checkpoint of the head is signed only over a tree consistent with the
//! latest one published, so a history rewritten since then is never signed over. The ledger
//! stores the signed note ([`Ledger::publish_checkpoint`]); everything else goes through the
//! ledger's public reading API.

use super::checkpoint::{Key, parse_unverified};
use crate::error::Error;
use crate::ledger::Ledger;
use crate::merkle::{empty_root, verify_consistency};

/// Signs a checkpoint of the current head with `key` and publishes it. Refuses when the tree is
/// not consistent with the latest checkpoint already published.
///
/// # Errors
/// [`Error::Corrupt`] when inconsistent; [`Error::Signing`]; storage errors.
pub fn sign_checkpoint(ledger: &mut Ledger, key: &Key) -> Result<String, Error> {
    let reader = ledger.reader();
    if let Some(reason) = reader.poison_reason() {
        return Err(Error::Poisoned(reason));
    }
    let size = reader.head().seq;
    let root = reader.merkle_root(size)?;
    if let Some((stored_size, latest)) = reader.latest_checkpoint()? {
        let old = parse_unverified(&latest).map_err(|e| Error::CorruptCheckpoint {
            size: stored_size,
            reason: e.to_string(),
        })?;
        let inconsistent = |why: String| Error::Corrupt {
            seq: old.size,
            reason: format!(
                "refusing to sign: the log is not consistent with the checkpoint of {} records: {why}",
                old.size
            ),
        };
        if old.size > size {
            return Err(inconsistent(format!("the log now holds only {size}")));
        }
        if old.size == 0 {
            // Every tree extends the empty one; its root must still be the empty root.
            if old.root != empty_root() {
                return Err(inconsistent(
                    "it signs a non-empty root for an empty tree".into(),
                ));
            }
        } else {
            let proof = reader.consistency_proof(old.size, size)?;
            if proof.old_root != old.root {
                return Err(inconsistent(
                    "its root differs from the tree's root at that size".into(),
                ));
            }
            verify_consistency(old.size, size, &old.root, &root, &proof.path)
                .map_err(|e| inconsistent(e.to_string()))?;
        }
    }
    let signed = key
        .sign(size, &root)
        .map_err(|e| Error::Signing(e.to_string()))?;
    ledger.publish_checkpoint(size, signed.clone())?;
    tracing::info!(size, "checkpoint signed");
    Ok(signed)
}
