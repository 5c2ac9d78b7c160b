//! C2SP tlog-cosignature, Ed25519 `cosignature/v1`: a witness's note signature on a checkpoint.
//!
//! The signature line is `— <witness name> base64(key id (4) ‖ timestamp (u64 BE) ‖ Ed25519
//! signature (64))`, the key id `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]`, and the signed
//! message `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's note text. Keys are
//! written in the note formats with the algorithm byte 0x04: the private key
//! `PRIVATE+KEY+<name>+<id>+base64(0x04 ‖ seed)`, the verifier key
//! `<name>+<id>+base64(0x04 ‖ public key)`.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use signed_note::{Note, NoteError, Signer, Verifier, VerifierList};

/// The algorithm byte of Ed25519 cosignatures in key ids and verifier keys.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;

/// Why a cosigner key is unusable. Messages never hold key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("witness key: {0}")]
pub struct KeyError(pub String);

fn signed_message(timestamp: u64, text: &[u8]) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(text);
    msg
}

fn key_id(name: &str, key: &ed25519_dalek::VerifyingKey) -> u32 {
    let mut material = vec![ALG_COSIGNATURE_V1];
    material.extend_from_slice(key.as_bytes());
    signed_note::key_id(name, &material)
}

/// A witness's private key, signing `cosignature/v1` at the time it is asked to.
pub struct Cosigner {
    name: String,
    id: u32,
    key: ed25519_dalek::SigningKey,
    /// The POSIX time written into the next cosignature.
    timestamp: std::sync::atomic::AtomicU64,
}

impl Cosigner {
    /// A new key named `name`: (the key, its private key line, its verifier key line).
    ///
    /// # Errors
    /// When `name` cannot name a key.
    pub fn generate(name: &str) -> Result<(String, String), KeyError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(KeyError(format!(
                "{name:?} cannot name a key (no spaces or `+`)"
            )));
        }
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let public = key.verifying_key();
        let id = key_id(name, &public);
        let mut private = vec![ALG_COSIGNATURE_V1];
        private.extend_from_slice(key.as_bytes());
        let mut verifier = vec![ALG_COSIGNATURE_V1];
        verifier.extend_from_slice(public.as_bytes());
        Ok((
            format!("PRIVATE+KEY+{name}+{id:08x}+{}", STANDARD.encode(private)),
            format!("{name}+{id:08x}+{}", STANDARD.encode(verifier)),
        ))
    }

    /// Parses a private key line.
    ///
    /// # Errors
    /// When malformed (the message does not repeat the line).
    pub fn parse(line: &str) -> Result<Cosigner, KeyError> {
        let bad = |why: &str| KeyError(format!("malformed private cosigner key: {why}"));
        let rest = line
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("expected PRIVATE+KEY+NAME+ID+KEY"))?;
        let (name, id, bytes) = split_key(rest).map_err(|why| bad(&why))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad("an Ed25519 seed has 32 bytes"))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        if key_id(&name, &key.verifying_key()) != id {
            return Err(bad("the id does not match the name and key"));
        }
        Ok(Cosigner {
            name,
            id,
            key,
            timestamp: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Reads a private key line from `path`, naming the file and its kind when it is not one.
    ///
    /// # Errors
    /// When unreadable, malformed or of another kind.
    pub fn load(path: &Path) -> Result<Cosigner, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeyError(format!("file {} cannot be read: {e}", path.display())))?;
        let text = text.trim();
        if !text.starts_with("PRIVATE+KEY+") {
            return Err(KeyError(format!(
                "file {} holds no private key",
                path.display()
            )));
        }
        Cosigner::parse(text).map_err(|e| KeyError(format!("file {}: {e}", path.display())))
    }

    /// The verifier of this key.
    #[must_use]
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The witness's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Cosigns the checkpoint `note` (a signed note) at `timestamp`: returns the note with the
    /// cosignature line added.
    ///
    /// # Errors
    /// When `note` is not a signed note.
    pub fn cosign(&self, note: &str, timestamp: u64) -> Result<String, NoteError> {
        let mut note = Note::from_bytes(note.as_bytes())?;
        self.timestamp
            .store(timestamp, std::sync::atomic::Ordering::Relaxed);
        note.add_sigs(&[self])?;
        Ok(String::from_utf8_lossy(&note.to_bytes()).into_owned())
    }
}

impl Signer for Cosigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        use ed25519_dalek::Signer as _;
        let timestamp = self.timestamp.load(std::sync::atomic::Ordering::Relaxed);
        let signature = self.key.try_sign(&signed_message(timestamp, msg))?;
        let mut out = timestamp.to_be_bytes().to_vec();
        out.extend_from_slice(&signature.to_bytes());
        Ok(out)
    }
}

/// `NAME+ID+base64(0x04 ‖ 32 bytes)` → (name, id, the 32 bytes).
fn split_key(text: &str) -> Result<(String, u32, Vec<u8>), String> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected NAME+ID+KEY".into());
    };
    if !signed_note::is_key_name_valid(name) {
        return Err("invalid name".into());
    }
    if id.len() != 8 {
        return Err("the id is not 8 hex digits".into());
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| "the id is not 8 hex digits".to_owned())?;
    let bytes = STANDARD
        .decode(key)
        .map_err(|_| "the key is not base64".to_owned())?;
    match bytes.split_first() {
        Some((&ALG_COSIGNATURE_V1, key)) if key.len() == 32 => {
            Ok((name.to_owned(), id, key.to_vec()))
        }
        Some((&ALG_COSIGNATURE_V1, _)) => Err("an Ed25519 key has 32 bytes".into()),
        _ => Err("not an Ed25519 cosignature/v1 key (algorithm byte 0x04)".into()),
    }
}

/// A witness's verifier key: checks `cosignature/v1` signatures strictly.
#[derive(Clone)]
pub struct CosignatureVerifier {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureVerifier {
    /// Parses a verifier key line `<name>+<id>+base64(0x04 ‖ public key)`.
    ///
    /// # Errors
    /// When malformed, of another algorithm, or its id does not match.
    pub fn parse(line: &str) -> Result<CosignatureVerifier, KeyError> {
        let bad = |why: &str| KeyError(format!("malformed witness verifier key: {why}"));
        if line.starts_with("PRIVATE+KEY+") {
            return Err(KeyError(
                "a private key was given where a witness verifier key is needed".into(),
            ));
        }
        let (name, id, bytes) = split_key(line).map_err(|why| bad(&why))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad("32 bytes"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| bad("not a valid Ed25519 point"))?;
        if key_id(&name, &key) != id {
            return Err(bad("the id does not match the name and key"));
        }
        Ok(CosignatureVerifier { name, id, key })
    }

    /// Reads a verifier key line from `path`, naming the file and its kind when it is not one.
    ///
    /// # Errors
    /// When unreadable, malformed or of another kind.
    pub fn load(path: &Path) -> Result<CosignatureVerifier, KeyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeyError(format!("file {} cannot be read: {e}", path.display())))?;
        let text = text.trim();
        if text.starts_with("PRIVATE+KEY+") {
            return Err(KeyError(format!(
                "file {} holds a private key, where a witness verifier key is needed (the \
                 witness.key.pub file of the witness's directory)",
                path.display()
            )));
        }
        CosignatureVerifier::parse(text)
            .map_err(|e| KeyError(format!("file {}: {e}", path.display())))
    }

    /// The witness's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `note` carries a valid cosignature of this key: `Ok(Some(timestamp))` when it
    /// does, `Ok(None)` when it carries none.
    ///
    /// # Errors
    /// When it carries one that does not verify, or `note` is not a signed note.
    pub fn check(&self, note: &str) -> Result<Option<u64>, NoteError> {
        let parsed = Note::from_bytes(note.as_bytes())?;
        match parsed.verify(&VerifierList::new(vec![Box::new(self.clone())])) {
            Ok((verified, _)) => Ok(verified
                .first()
                .and_then(|s| s.signature().first_chunk::<8>())
                .map(|t| u64::from_be_bytes(*t))),
            Err(NoteError::UnverifiedNote) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Verifier for CosignatureVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some((timestamp, signature)) = sig.split_first_chunk::<8>() else {
            return false;
        };
        let Ok(signature) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        let timestamp = u64::from_be_bytes(*timestamp);
        // C2SP: the timestamp must not exceed 2^63 - 1.
        timestamp <= i64::MAX as u64
            && self
                .key
                .verify_strict(
                    &signed_message(timestamp, msg),
                    &ed25519_dalek::Signature::from_bytes(&signature),
                )
                .is_ok()
    }
}
