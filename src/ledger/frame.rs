//! Record framing and the hash chain.
//!
//! A record's sled value is `hash (32) ‖ prev_hash (32) ‖ body`, where `body` is the stored binary
//! form of `proto_events::codec` and
//!
//! ```text
//! hash = SHA-256(HASH_DOMAIN ‖ prev_hash ‖ sequence as u64 big-endian ‖ body)
//! ```
//!
//! `prev_hash` of sequence 1 is 32 zero bytes. Storing `prev_hash` in the frame lets a single
//! record be checked on its own; walking the log checks that each `prev_hash` is the previous
//! record's `hash`.

use proto_events::Hash;
use proto_events::RecordedEvent;
use proto_events::codec::decode_body;
use sha2::{Digest, Sha256};

use crate::error::Error;

/// Domain separation tag of the record hash.
pub const HASH_DOMAIN: &[u8] = b"coopledger/record/v1\0";
/// Bytes before the body.
pub const FRAME_HEADER: usize = 64;
/// The hash before the first record.
pub const GENESIS: Hash = [0; 32];

/// The chained hash of a record.
#[must_use]
pub fn chain_hash(prev: &Hash, seq: u64, body: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(HASH_DOMAIN);
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(body);
    h.finalize().into()
}

/// Builds a record's stored value.
#[must_use]
pub fn frame(hash: &Hash, prev: &Hash, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + body.len());
    out.extend_from_slice(hash);
    out.extend_from_slice(prev);
    out.extend_from_slice(body);
    out
}

/// A record's stored value, split.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The stored hash.
    pub hash: Hash,
    /// The stored previous hash.
    pub prev: Hash,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Splits a stored value.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if it is shorter than the header.
    pub fn parse(seq: u64, bytes: &'a [u8]) -> Result<Self, Error> {
        let (hash, rest) = bytes
            .split_first_chunk::<32>()
            .ok_or_else(|| short(seq, bytes))?;
        let (prev, body) = rest
            .split_first_chunk::<32>()
            .ok_or_else(|| short(seq, bytes))?;
        Ok(Frame {
            hash: *hash,
            prev: *prev,
            body,
        })
    }

    /// Checks that the stored hash is the chained hash of the content.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the sequence.
    pub fn check(&self, seq: u64) -> Result<(), Error> {
        if chain_hash(&self.prev, seq, self.body) == self.hash {
            Ok(())
        } else {
            Err(Error::Corrupt {
                seq,
                reason: "hash does not match its content".into(),
            })
        }
    }

    /// Checks and decodes the record, verifying its sequence matches its key.
    ///
    /// # Errors
    /// [`Error::Corrupt`] on any mismatch or undecodable body.
    pub fn decode(&self, seq: u64) -> Result<RecordedEvent, Error> {
        self.check(seq)?;
        let mut event = decode_body(self.body).map_err(|e| Error::Corrupt {
            seq,
            reason: e.to_string(),
        })?;
        if event.sequence != seq {
            return Err(Error::Corrupt {
                seq,
                reason: format!("stored under sequence {seq} but says {}", event.sequence),
            });
        }
        event.hash = self.hash;
        event.prev_hash = self.prev;
        Ok(event)
    }
}

fn short(seq: u64, bytes: &[u8]) -> Error {
    Error::Corrupt {
        seq,
        reason: format!(
            "{} bytes, shorter than the {FRAME_HEADER}-byte frame header",
            bytes.len()
        ),
    }
}
