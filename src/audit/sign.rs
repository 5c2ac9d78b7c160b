//! Signing checkpoints. A checkpoint of the head is signed only over a tree consistent with
//! every checkpoint the key remembers signing and with the latest one the ledger published, so
//! a history rewritten or shortened since then is never signed over.
//!
//! The signer's memory lives with the key, not in the ledger directory: whoever controls the
//! directory can swap in a shorter log (exported, cut and re-imported with its hashes), but not
//! make the key forget. A key loaded from `FILE` keeps the last checkpoint it signed in
//! `FILE.state` (the signed note, checked with the key at every use), replaced durably *before*
//! the checkpoint is published; the key file is locked meanwhile, so two processes signing with
//! one key take turns.

use super::checkpoint::{CheckpointBody, Key, parse_unverified};
use super::file::write_durably;
use crate::error::Error;
use crate::ledger::{Ledger, Reader};
use crate::merkle::{empty_root, verify_consistency};

/// Signs a checkpoint of the current head with `key` and publishes it. Refuses when the tree is
/// not consistent with the last checkpoint the key signed (its state) or with the latest one
/// the ledger published.
///
/// # Errors
/// [`Error::Corrupt`] when inconsistent; [`Error::Signing`] (a damaged or unwritable state
/// included); storage errors.
pub fn sign_checkpoint(ledger: &mut Ledger, key: &Key) -> Result<String, Error> {
    let reader = ledger.reader();
    if let Some(reason) = reader.poison_reason() {
        return Err(Error::Poisoned(reason));
    }
    let _lock = lock(key)?;
    let size = reader.head().seq;
    let root = reader.merkle_root(size)?;
    if let Some(remembered) = remembered(key)? {
        let state = key
            .state_path()
            .map_or_else(|| "in memory".to_owned(), |p| p.display().to_string());
        check_extends(
            &reader,
            size,
            &root,
            &remembered,
            &format!("this key signed (its state {state})"),
        )?;
    }
    if let Some((stored_size, latest)) = reader.latest_checkpoint()? {
        let old = parse_unverified(&latest).map_err(|e| Error::CorruptCheckpoint {
            size: stored_size,
            reason: e.to_string(),
        })?;
        check_extends(&reader, size, &root, &old, "the ledger published")?;
    }
    let signed = key
        .sign(size, &root)
        .map_err(|e| Error::Signing(e.to_string()))?;
    remember(key, &signed)?;
    ledger.publish_checkpoint(size, signed.clone())?;
    tracing::info!(size, "checkpoint signed");
    Ok(signed)
}

/// An exclusive lock on the key file for one signing (none for a key that has no file).
fn lock(key: &Key) -> Result<Option<std::fs::File>, Error> {
    let Some(path) = key.path() else {
        return Ok(None);
    };
    let file = std::fs::File::open(path)
        .and_then(|f| f.lock().map(|()| f))
        .map_err(|e| Error::Signing(format!("cannot lock the key file {}: {e}", path.display())))?;
    Ok(Some(file))
}

/// The last checkpoint the key signed, checked with the key itself.
fn remembered(key: &Key) -> Result<Option<CheckpointBody>, Error> {
    let (text, from) = match key.state_path() {
        None => match key.memory().clone() {
            Some(text) => (text, "the key's memory".to_owned()),
            None => return Ok(None),
        },
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => (text, format!("the signer's state {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Signing(format!(
                    "cannot read the signer's state {}: {e}; refusing to sign",
                    path.display()
                )));
            }
        },
    };
    key.public().open(&text).map(Some).map_err(|e| {
        Error::Signing(format!(
            "{from} is damaged ({e}); refusing to sign: restore it from a backup, or from the \
             latest checkpoint this key signed"
        ))
    })
}

/// Makes the key remember `signed`, durably, before anyone sees it.
fn remember(key: &Key, signed: &str) -> Result<(), Error> {
    match key.state_path() {
        None => {
            *key.memory() = Some(signed.to_owned());
            Ok(())
        }
        Some(path) => write_durably(&path, signed.as_bytes()).map_err(|e| {
            Error::Signing(format!(
                "cannot record the checkpoint in the signer's state: {e}; nothing was published"
            ))
        }),
    }
}

/// Refuses unless the tree of `size` leaves with `root` extends `old`.
fn check_extends(
    reader: &Reader,
    size: u64,
    root: &proto_events::Hash,
    old: &CheckpointBody,
    signed_by: &str,
) -> Result<(), Error> {
    let inconsistent = |why: String| Error::Corrupt {
        seq: old.size,
        reason: format!(
            "refusing to sign: the log is not consistent with the checkpoint of {} records {signed_by}: {why}",
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
        return Ok(());
    }
    let proof = reader.consistency_proof(old.size, size)?;
    if proof.old_root != old.root {
        return Err(inconsistent(
            "its root differs from the tree's root at that size".into(),
        ));
    }
    verify_consistency(old.size, size, &old.root, root, &proof.path)
        .map_err(|e| inconsistent(e.to_string()))
}
