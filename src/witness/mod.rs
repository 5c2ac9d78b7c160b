//! A witness: a separate party, with its own key and its own state, that cosigns a ledger's
//! checkpoints only when each is consistent with every checkpoint it cosigned before (C2SP
//! tlog-witness, scaled to one log per witness).
//!
//! Whoever controls the ledger's directory can swap in a shortened or forked history, and the
//! ledger's own memory of what it signed with it; the witness's memory is elsewhere. An auditor
//! who requires witness cosignatures (`verify --checkpoint FILE --witness-key K`) accepts only
//! checkpoints that a witness saw extend everything it saw before.
//!
//! [`Witness::add_checkpoint`] takes the C2SP `add-checkpoint` request body — `old <size>`,
//! the consistency proof from that size (base64 hashes, one a line), an empty line, the signed
//! checkpoint — and answers with the cosignature line, or the protocol's refusal
//! ([`WitnessError::status`] gives its HTTP status). Checking the old size and recording the new
//! checkpoint are one step: the directory is locked for as long as a [`Witness`] is open, and the
//! new checkpoint is recorded durably before the cosignature is returned.
//!
//! The directory holds `witness.key` (the private key, mode 0600), `witness.key.pub` (its
//! verifier key, for auditors), `log.pub` (the verifier key of the log it follows) and, once it
//! has cosigned, `checkpoint`: the latest checkpoint it cosigned, the log's signed note with the
//! witness's cosignature line, checked with both keys at every open. See `docs/format.md`.

pub mod cosignature;
pub mod serve;

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::audit::checkpoint::{CheckpointBody, CheckpointError, PublicKey};
use crate::audit::file::write_durably;
use crate::merkle::{MAX_PATH, verify_consistency};
use cosignature::{CosignatureVerifier, Cosigner};

/// The witness's private key in its directory.
pub const KEY_FILE: &str = "witness.key";
/// The witness's verifier key in its directory.
pub const PUBLIC_KEY_FILE: &str = "witness.key.pub";
/// The followed log's verifier key in the witness's directory.
pub const LOG_KEY_FILE: &str = "log.pub";
/// The latest cosigned checkpoint in the witness's directory.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// Why the witness does not cosign, in the terms of C2SP tlog-witness.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The request is malformed, or its old size exceeds the checkpoint's (400).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No signature of the followed log's key verifies (403).
    #[error("the checkpoint is not signed by the log's key: {0}")]
    Forbidden(String),
    /// The checkpoint's origin is not the followed log (404).
    #[error("unknown log {0:?}")]
    UnknownOrigin(String),
    /// The old size is not the size of the latest cosigned checkpoint, or the same size has
    /// another root (409): a fork, or a client behind the witness.
    #[error("conflict with the checkpoint of {latest} records this witness cosigned: {why}")]
    Conflict {
        /// The size of the latest cosigned checkpoint.
        latest: u64,
        /// What conflicts.
        why: String,
    },
    /// The consistency proof does not verify (422): the log is not an extension of what the
    /// witness cosigned.
    #[error("not consistent with the checkpoint of {latest} records this witness cosigned: {why}")]
    Inconsistent {
        /// The size of the latest cosigned checkpoint.
        latest: u64,
        /// What fails.
        why: String,
    },
    /// The witness's own files are missing, damaged, locked or unwritable.
    #[error("witness {0}")]
    State(String),
}

impl WitnessError {
    /// The HTTP status C2SP tlog-witness gives this refusal.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) => 400,
            WitnessError::Forbidden(_) => 403,
            WitnessError::UnknownOrigin(_) => 404,
            WitnessError::Conflict { .. } => 409,
            WitnessError::Inconsistent { .. } => 422,
            WitnessError::State(_) => 500,
        }
    }
}

/// An add-checkpoint request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the proof starts from.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<proto_events::Hash>,
    /// The signed checkpoint.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body: `old N`, the proof lines, an empty line, the checkpoint.
    #[must_use]
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parses a request body, strictly (C2SP tlog-witness).
    ///
    /// # Errors
    /// [`WitnessError::BadRequest`] naming the line that is wrong.
    pub fn parse(body: &str) -> Result<AddCheckpoint, WitnessError> {
        let bad = |why: String| WitnessError::BadRequest(why);
        let (old_line, rest) = body
            .split_once('\n')
            .ok_or_else(|| bad("no `old SIZE` line".into()))?;
        let old = old_line
            .strip_prefix("old ")
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .filter(|n| *n == "0" || !n.starts_with('0'))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad(format!("line 1 is not `old SIZE`: {old_line:?}")))?;
        let mut proof = Vec::new();
        let mut rest = rest;
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or_else(|| bad("no empty line before the checkpoint".into()))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PATH - 1 {
                return Err(bad(format!("more than {} proof lines", MAX_PATH - 1)));
            }
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .filter(|h| STANDARD.encode(h) == line)
                .ok_or_else(|| {
                    bad(format!(
                        "proof line {} is not a SHA-256 hash in base64",
                        proof.len() + 2
                    ))
                })?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old,
            proof,
            checkpoint: rest.to_owned(),
        })
    }
}

/// A witness open on its directory (locked while open).
pub struct Witness {
    dir: PathBuf,
    cosigner: Cosigner,
    log: PublicKey,
    latest: Option<CheckpointBody>,
    _lock: std::fs::File,
}

fn state_error(what: &str, path: &Path, e: impl std::fmt::Display) -> WitnessError {
    WitnessError::State(format!("{what} {}: {e}", path.display()))
}

impl Witness {
    /// Creates a witness named `name` in `dir` (missing or empty) following the log whose
    /// verifier key is `log_key`: writes its key pair and a copy of the log's key. Returns the
    /// witness's verifier key line.
    ///
    /// # Errors
    /// [`WitnessError::State`] when `dir` holds files, or a key is unusable.
    pub fn init(dir: &Path, name: &str, log_key: &Path) -> Result<String, WitnessError> {
        PublicKey::load(log_key).map_err(|e| WitnessError::State(e.to_string()))?;
        let log_line =
            std::fs::read_to_string(log_key).map_err(|e| state_error("cannot read", log_key, e))?;
        if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
            return Err(WitnessError::State(format!(
                "directory {} is not empty; a witness is created in a new directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| state_error("cannot create", dir, e))?;
        let (private, public) =
            Cosigner::generate(name).map_err(|e| WitnessError::State(e.to_string()))?;
        let key_path = dir.join(KEY_FILE);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        {
            use std::io::Write;
            let mut file = options
                .open(&key_path)
                .map_err(|e| state_error("cannot write", &key_path, e))?;
            writeln!(file, "{private}")
                .and_then(|()| file.sync_all())
                .map_err(|e| state_error("cannot write", &key_path, e))?;
        }
        for (file, text) in [
            (PUBLIC_KEY_FILE, format!("{public}\n")),
            (LOG_KEY_FILE, format!("{}\n", log_line.trim())),
        ] {
            let path = dir.join(file);
            write_durably(&path, text.as_bytes())
                .map_err(|e| state_error("cannot write", &path, e))?;
        }
        Ok(public)
    }

    /// Opens the witness in `dir`: locks it, loads its keys and checks its latest cosigned
    /// checkpoint with the log's key and its own.
    ///
    /// # Errors
    /// [`WitnessError::State`] when a file is missing or damaged, or another process holds the
    /// witness.
    pub fn open(dir: &Path) -> Result<Witness, WitnessError> {
        let key_path = dir.join(KEY_FILE);
        let lock = std::fs::File::open(&key_path)
            .map_err(|e| state_error("has no key: cannot open", &key_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(WitnessError::State(format!(
                    "{} is held by another witness process",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(state_error("cannot lock", &key_path, e));
            }
        }
        let cosigner = Cosigner::load(&key_path).map_err(|e| WitnessError::State(e.to_string()))?;
        let log = PublicKey::load(&dir.join(LOG_KEY_FILE))
            .map_err(|e| WitnessError::State(e.to_string()))?;
        let path = dir.join(CHECKPOINT_FILE);
        let latest = match std::fs::read_to_string(&path) {
            Ok(text) => Some(Self::check_state(&cosigner, &log, &text).map_err(|e| {
                state_error("state is damaged: the latest cosigned checkpoint", &path, e)
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(state_error("cannot read", &path, e)),
        };
        Ok(Witness {
            dir: dir.to_owned(),
            cosigner,
            log,
            latest,
            _lock: lock,
        })
    }

    fn check_state(
        cosigner: &Cosigner,
        log: &PublicKey,
        text: &str,
    ) -> Result<CheckpointBody, String> {
        let body = log.open(text).map_err(|e| e.to_string())?;
        match cosigner.verifier().check(text) {
            Ok(Some(_)) => Ok(body),
            Ok(None) => Err("it carries no cosignature of this witness".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The latest checkpoint this witness cosigned.
    #[must_use]
    pub fn latest(&self) -> Option<&CheckpointBody> {
        self.latest.as_ref()
    }

    /// The latest cosigned checkpoint's file (the log's note with the cosignature).
    #[must_use]
    pub fn checkpoint_path(&self) -> PathBuf {
        self.dir.join(CHECKPOINT_FILE)
    }

    /// The witness's verifier.
    #[must_use]
    pub fn verifier(&self) -> CosignatureVerifier {
        self.cosigner.verifier()
    }

    /// C2SP `add-checkpoint`: checks the request against the latest cosigned checkpoint,
    /// records the new one durably and returns the cosignature line.
    ///
    /// # Errors
    /// The protocol's refusals ([`WitnessError`]); nothing is recorded then.
    pub fn add_checkpoint(&mut self, request: &AddCheckpoint) -> Result<String, WitnessError> {
        let new = self.open_checkpoint(&request.checkpoint)?;
        let latest_size = self.latest.as_ref().map_or(0, |c| c.size);
        if request.old > new.size {
            return Err(WitnessError::BadRequest(format!(
                "the old size {} exceeds the checkpoint's {}",
                request.old, new.size
            )));
        }
        if request.old != latest_size {
            return Err(WitnessError::Conflict {
                latest: latest_size,
                why: format!("the request starts from {} records", request.old),
            });
        }
        self.check_extends(request, &new)?;
        let now = jiff::Timestamp::now().as_second().max(0).cast_unsigned();
        let cosigned = self
            .cosigner
            .cosign(&request.checkpoint, now)
            .map_err(|e| WitnessError::BadRequest(format!("the checkpoint: {e}")))?;
        let path = self.checkpoint_path();
        write_durably(&path, cosigned.as_bytes())
            .map_err(|e| state_error("cannot record the checkpoint in", &path, e))?;
        self.latest = Some(new);
        let line = cosigned
            .lines()
            .rev()
            .find(|l| l.starts_with(&format!("— {} ", self.cosigner.name())))
            .unwrap_or_default();
        Ok(format!("{line}\n"))
    }

    fn open_checkpoint(&self, note: &str) -> Result<CheckpointBody, WitnessError> {
        let origin = crate::audit::checkpoint::parse_unverified(note)
            .map(|c| c.origin)
            .map_err(|e| WitnessError::BadRequest(format!("the checkpoint: {e}")))?;
        if origin != self.log.name() {
            return Err(WitnessError::UnknownOrigin(origin));
        }
        self.log.open(note).map_err(|e| match e {
            CheckpointError::Malformed(_) => WitnessError::BadRequest(e.to_string()),
            e => WitnessError::Forbidden(e.to_string()),
        })
    }

    fn check_extends(
        &self,
        request: &AddCheckpoint,
        new: &CheckpointBody,
    ) -> Result<(), WitnessError> {
        let Some(latest) = &self.latest else {
            // Trust on first use: the first checkpoint a witness sees starts its history.
            return if request.proof.is_empty() {
                Ok(())
            } else {
                Err(WitnessError::BadRequest(
                    "a proof from size 0 must be empty".into(),
                ))
            };
        };
        if latest.size == new.size {
            return if latest.root == new.root && request.proof.is_empty() {
                Ok(())
            } else {
                Err(WitnessError::Conflict {
                    latest: latest.size,
                    why: "the same size with another root: a fork".into(),
                })
            };
        }
        if latest.size == 0 {
            return Ok(());
        }
        verify_consistency(
            latest.size,
            new.size,
            &latest.root,
            &new.root,
            &request.proof,
        )
        .map_err(|e| WitnessError::Inconsistent {
            latest: latest.size,
            why: format!("the proof to {} records fails: {e}", new.size),
        })
    }
}
