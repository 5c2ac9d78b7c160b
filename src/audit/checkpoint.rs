//! Signed checkpoints: the C2SP tlog-checkpoint text (origin, tree size, base64 root), signed as
//! a C2SP signed note with Ed25519.
//!
//! Keys use the note formats of `golang.org/x/mod/sumdb/note`: a private key line
//! `PRIVATE+KEY+<name>+<id>+<base64>` and a verifier key line `<name>+<id>+<base64>`. The key's
//! name is the checkpoint's origin. Signatures are checked with `verify_strict`, which refuses
//! the malleable encodings plain Ed25519 verification lets through.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proto_events::Hash;
use signed_note::{Note, Signer, StandardSigner, Verifier, VerifierList};
use tlog_tiles::Checkpoint;

/// Why a key or checkpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A key file is unreadable or malformed.
    #[error("key {0}")]
    Key(String),
    /// The note is malformed or its signature does not verify with the key.
    #[error("signature check failed: {0}")]
    Signature(String),
    /// The checkpoint text is malformed.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
}

/// A checkpoint's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    /// The log's origin (the key's name).
    pub origin: String,
    /// Leaves in the tree.
    pub size: u64,
    /// The tree's root.
    pub root: Hash,
}

/// A private key able to sign checkpoints.
pub struct Key {
    signer: StandardSigner,
    name: String,
}

impl Key {
    /// Reads a private key line from `path`.
    ///
    /// # Errors
    /// When unreadable or malformed.
    pub fn load(path: &Path) -> Result<Key, CheckpointError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CheckpointError::Key(format!("{}: {e}", path.display())))?;
        Self::parse(text.trim())
    }

    /// Parses a private key line.
    ///
    /// # Errors
    /// When malformed.
    pub fn parse(skey: &str) -> Result<Key, CheckpointError> {
        let signer = StandardSigner::new(skey).map_err(|e| CheckpointError::Key(e.to_string()))?;
        let name = signer.name().to_owned();
        Ok(Key { signer, name })
    }

    /// The key's name, used as the checkpoint origin.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Signs the checkpoint of a tree of `size` leaves with root `root`.
    ///
    /// # Errors
    /// When the origin is not a valid note key name.
    pub fn sign(&self, size: u64, root: &Hash) -> Result<String, CheckpointError> {
        let checkpoint = Checkpoint::new(&self.name, size, tlog_tiles::Hash(*root), "")
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        let mut note = Note::new(&checkpoint.to_bytes(), &[])
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| CheckpointError::Signature(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| CheckpointError::Malformed(e.to_string()))
    }
}

/// Generates a key pair named `name`: (private key line, verifier key line).
#[must_use]
pub fn generate(name: &str) -> (String, String) {
    signed_note::generate_key(&mut rand_core::OsRng, name)
}

/// Whether `name` can name a key (and so be a checkpoint origin).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    signed_note::is_key_name_valid(name)
}

/// A verifier key that checks Ed25519 signatures strictly.
pub struct PublicKey {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl PublicKey {
    /// Reads a verifier key line from `path`.
    ///
    /// # Errors
    /// When unreadable or malformed.
    pub fn load(path: &Path) -> Result<PublicKey, CheckpointError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CheckpointError::Key(format!("{}: {e}", path.display())))?;
        Self::parse(text.trim())
    }

    /// Parses a verifier key line `<name>+<id>+<base64(0x01 ‖ key)>`.
    ///
    /// # Errors
    /// When malformed, of another algorithm, or its id does not match.
    pub fn parse(vkey: &str) -> Result<PublicKey, CheckpointError> {
        let bad = |why: &str| CheckpointError::Key(format!("verifier key {vkey:?}: {why}"));
        // Names hold no `+`, ids are hex; the base64 key may hold `+` itself.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected NAME+ID+KEY"));
        };
        if !signed_note::is_key_name_valid(name) {
            return Err(bad("invalid name"));
        }
        let id = u32::from_str_radix(id, 16).map_err(|_| bad("the id is not 8 hex digits"))?;
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| bad("the key is not base64"))?;
        let [1, key @ ..] = bytes.as_slice() else {
            return Err(bad("not an Ed25519 key (algorithm byte 1)"));
        };
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| bad("an Ed25519 key has 32 bytes"))?;
        if signed_note::key_id(name, &bytes) != id {
            return Err(bad("the id does not match the name and key"));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map_err(|_| bad("not a valid Ed25519 point"))?;
        Ok(PublicKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Checks a signed checkpoint and returns its content.
    ///
    /// # Errors
    /// When the note, its signature or the checkpoint text is wrong.
    pub fn open(&self, signed: &str) -> Result<CheckpointBody, CheckpointError> {
        // A note ends with exactly one newline; files edited by hand often gain another.
        let signed = format!("{}\n", signed.trim_end_matches('\n'));
        let note = Note::from_bytes(signed.as_bytes())
            .map_err(|e| CheckpointError::Signature(e.to_string()))?;
        let strict = StrictVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key,
        };
        note.verify(&VerifierList::new(vec![Box::new(strict)]))
            .map_err(|e| CheckpointError::Signature(e.to_string()))?;
        let checkpoint = Checkpoint::from_bytes(note.text())
            .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
        if checkpoint.origin() != self.name {
            return Err(CheckpointError::Malformed(format!(
                "origin {:?} is not the key's name {:?}",
                checkpoint.origin(),
                self.name
            )));
        }
        Ok(CheckpointBody {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: checkpoint.hash().0,
        })
    }
}

struct StrictVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl Verifier for StrictVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(bytes) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&bytes))
            .is_ok()
    }
}

/// Reads the content of a checkpoint note without checking its signature (for listing stored
/// checkpoints this ledger signed itself).
///
/// # Errors
/// When malformed.
pub fn parse_unverified(signed: &str) -> Result<CheckpointBody, CheckpointError> {
    let note = Note::from_bytes(signed.as_bytes())
        .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
    let checkpoint = Checkpoint::from_bytes(note.text())
        .map_err(|e| CheckpointError::Malformed(e.to_string()))?;
    Ok(CheckpointBody {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: checkpoint.hash().0,
    })
}
