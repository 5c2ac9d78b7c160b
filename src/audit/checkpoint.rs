//! Signed checkpoints: the C2SP tlog-checkpoint text (origin, tree size, base64 root), signed as
//! a C2SP signed note with Ed25519.
//!
//! Keys use the note formats of `golang.org/x/mod/sumdb/note`: a private key line
//! `PRIVATE+KEY+<name>+<id>+<base64>` and a verifier key line `<name>+<id>+<base64>`. The key's
//! name is the checkpoint's origin. Signatures are checked with `verify_strict`, which refuses
//! the malleable encodings plain Ed25519 verification lets through.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proto_events::Hash;
use signed_note::{Note, Signer, StandardSigner, Verifier, VerifierList};
use tlog_tiles::Checkpoint;

/// Why a key or checkpoint cannot be used. No message ever holds key material: a key file is
/// named by its path and its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A key file is unreadable, malformed or of the other kind.
    #[error("key {0}")]
    Key(String),
    /// The text is not a signed note (no signature block, bad encoding): not a checkpoint at
    /// all, rather than a checkpoint that fails its check.
    #[error("not a signed checkpoint: {0}")]
    NotANote(String),
    /// The note's signature does not verify with the key.
    #[error("signature check failed: {0}")]
    Signature(String),
    /// The checkpoint text is malformed.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
}

/// What kind of key line a text holds, to say which file was given without printing it.
fn key_kind(text: &str) -> &'static str {
    if text.starts_with("PRIVATE+KEY+") {
        "a private key"
    } else if text.splitn(3, '+').count() == 3 && !text.contains(char::is_whitespace) {
        "a verifier key"
    } else {
        "not a key"
    }
}

/// A key error of the text of `path`, named by the file.
fn in_file(path: &Path, e: CheckpointError) -> CheckpointError {
    match e {
        CheckpointError::Key(why) => {
            CheckpointError::Key(format!("file {}: {why}", path.display()))
        }
        other => other,
    }
}

/// Reads a key file, refusing a text of another kind than `want` with a sentence that names the
/// file and the kind it holds (never its content).
fn read_key(path: &Path, want: &str, hint: &str) -> Result<String, CheckpointError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::InvalidData {
            "is not UTF-8 text".to_owned()
        } else {
            format!("cannot be read: {e}")
        };
        CheckpointError::Key(format!("file {} {why}", path.display()))
    })?;
    let text = text.trim().to_owned();
    let kind = key_kind(&text);
    if kind != want {
        let holds = if kind == "not a key" {
            "holds no key line".to_owned()
        } else {
            format!("holds {kind}")
        };
        return Err(CheckpointError::Key(format!(
            "file {} {holds}, where {want} is needed ({hint})",
            path.display()
        )));
    }
    Ok(text)
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

/// A private key able to sign checkpoints, with the signer's memory of the last checkpoint it
/// signed: a key loaded from a file keeps it in the file beside it (`FILE.state`, see
/// [`crate::audit::sign`]); a key parsed from text keeps it in memory for its lifetime.
pub struct Key {
    signer: StandardSigner,
    name: String,
    public: PublicKey,
    path: Option<PathBuf>,
    memory: Mutex<Option<String>>,
}

impl Key {
    /// Reads a private key line from `path`; its state lives in `path` + `.state`.
    ///
    /// # Errors
    /// When unreadable or malformed, or a verifier key.
    pub fn load(path: &Path) -> Result<Key, CheckpointError> {
        let text = read_key(path, "a private key", "the file `keygen --out` wrote")?;
        let mut key = Self::parse(&text).map_err(|e| in_file(path, e))?;
        key.path = Some(path.to_owned());
        Ok(key)
    }

    /// Parses a private key line (its state then lives in memory only).
    ///
    /// # Errors
    /// When malformed (the message does not repeat the line).
    pub fn parse(skey: &str) -> Result<Key, CheckpointError> {
        let bad = |e: &dyn std::fmt::Display| {
            CheckpointError::Key(format!("malformed private key ({e})"))
        };
        // signed_note's own messages speak of a "verifier key" here: said in our words.
        let signer = StandardSigner::new(skey).map_err(|e| {
            bad(&match e {
                signed_note::SignerError::Alg => "not an Ed25519 key (algorithm byte 1)",
                signed_note::SignerError::Id => "the id does not match the name and key",
                _ => "expected PRIVATE+KEY+NAME+ID+KEY",
            })
        })?;
        let name = signer.name().to_owned();
        // The line was checked by the signer: its last field is base64(0x01 ‖ seed).
        // The base64 may hold `+` itself: the key is everything after the fourth `+`.
        let seed = skey
            .splitn(5, '+')
            .nth(4)
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|bytes| <[u8; 33]>::try_from(bytes).ok())
            .ok_or_else(|| bad(&"not an Ed25519 seed"))?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&seed[1..]);
        let key = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key();
        let public = PublicKey {
            name: name.clone(),
            id: signer.key_id(),
            key,
        };
        Ok(Key {
            signer,
            name,
            public,
            path: None,
            memory: Mutex::new(None),
        })
    }

    /// The verifier key of this key.
    #[must_use]
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key file, for a key loaded from one.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The file of the signer's state (`FILE.state`), for a key loaded from a file.
    #[must_use]
    pub fn state_path(&self) -> Option<PathBuf> {
        self.path.as_ref().map(|p| {
            let mut s = p.as_os_str().to_owned();
            s.push(".state");
            PathBuf::from(s)
        })
    }

    /// The state kept in memory by a key that has no file.
    pub(crate) fn memory(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
#[derive(Clone)]
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
        let text = read_key(
            path,
            "a verifier key",
            "the .pub file `keygen` wrote beside the private key",
        )?;
        Self::parse(&text)
            .map_err(|e| CheckpointError::Key(format!("file {}: {e}", path.display())))
    }

    /// Parses a verifier key line `<name>+<id>+<base64(0x01 ‖ key)>`.
    ///
    /// # Errors
    /// When malformed, of another algorithm, or its id does not match.
    pub fn parse(vkey: &str) -> Result<PublicKey, CheckpointError> {
        // The line is not repeated: a private key given by mistake must never be printed.
        let bad = |why: &str| CheckpointError::Key(format!("malformed verifier key: {why}"));
        if vkey.starts_with("PRIVATE+KEY+") {
            return Err(CheckpointError::Key(
                "a private key was given where a verifier key is needed".into(),
            ));
        }
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

    /// The key's name (the origin of the checkpoints it verifies).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a signed checkpoint and returns its content.
    ///
    /// # Errors
    /// When the note, its signature or the checkpoint text is wrong.
    pub fn open(&self, signed: &str) -> Result<CheckpointBody, CheckpointError> {
        // A note ends with exactly one newline; files edited by hand often gain another.
        let signed = format!("{}\n", signed.trim_end_matches('\n'));
        let note = Note::from_bytes(signed.as_bytes()).map_err(|e| {
            // A checkpoint text whose signature lines are damaged or missing is a checkpoint
            // that fails its check; anything else is not a checkpoint at all.
            let text = signed
                .split("\n\n")
                .next()
                .unwrap_or_default()
                .trim_end_matches('\n');
            if Checkpoint::from_bytes(format!("{text}\n").as_bytes()).is_ok() {
                CheckpointError::Signature(format!(
                    "its signature lines are damaged or missing ({e})"
                ))
            } else {
                CheckpointError::NotANote(e.to_string())
            }
        })?;
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
        let body = CheckpointBody {
            origin: checkpoint.origin().to_owned(),
            size: checkpoint.size(),
            root: checkpoint.hash().0,
        };
        body.check_empty_root()?;
        Ok(body)
    }
}

impl CheckpointBody {
    /// Refuses a tree of no leaves whose root is not the empty tree's: no consistency proof
    /// starts from size 0, so such a checkpoint would vouch for a root nothing can check.
    ///
    /// # Errors
    /// [`CheckpointError::Malformed`].
    pub fn check_empty_root(&self) -> Result<(), CheckpointError> {
        if self.size == 0 && self.root != crate::merkle::empty_root() {
            return Err(CheckpointError::Malformed(format!(
                "a tree of 0 leaves has the root {}, not {}",
                proto_events::hash::to_hex(&self.root),
                proto_events::hash::to_hex(&crate::merkle::empty_root())
            )));
        }
        Ok(())
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
