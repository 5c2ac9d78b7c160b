//! The digest of the stored views, kept with them so that a view part changed outside the ledger
//! is found when the views are loaded.
//!
//! `digest = Σ SHA-256(len(part) as u32 BE ‖ part ‖ value)  (mod 2^256)` over every stored part
//! but the sequence part, which holds the digest. A sum lets the writer update the digest from
//! the parts a commit touches (subtract a part's old hash, add its new one) instead of hashing
//! every part at every commit.
//!
//! The digest detects damage and naive tampering; it is no proof (whoever controls the directory
//! can recompute it). `verify` is the proof: it refolds the views from the log and compares.

use std::collections::HashMap;

use proto_events::Hash;
use sha2::{Digest as _, Sha256};

use crate::store::ViewWrite;

/// See the module documentation. Keeps the hash of every part, to subtract it when the part
/// changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Digest {
    sum: [u64; 4],
    parts: HashMap<Vec<u8>, Hash>,
}

fn part_hash(part: &[u8], value: &[u8]) -> Hash {
    let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
    Sha256::new()
        .chain_update(len.to_be_bytes())
        .chain_update(part)
        .chain_update(value)
        .finalize()
        .into()
}

/// A hash as a 256-bit number, most significant word first.
fn words(hash: &Hash) -> [u64; 4] {
    std::array::from_fn(|i| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hash[i * 8..i * 8 + 8]);
        u64::from_be_bytes(word)
    })
}

impl Digest {
    /// The digest of `parts` (the sequence part among them is skipped by the caller).
    pub fn of<'a>(parts: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let mut digest = Digest::default();
        for (part, value) in parts {
            digest.put(part, value);
        }
        digest
    }

    fn put(&mut self, part: &[u8], value: &[u8]) {
        self.delete(part);
        let hash = part_hash(part, value);
        self.add(&hash, false);
        self.parts.insert(part.to_vec(), hash);
    }

    fn delete(&mut self, part: &[u8]) {
        if let Some(old) = self.parts.remove(part) {
            self.add(&old, true);
        }
    }

    /// Adds (or with `negate`, subtracts) a hash, modulo 2^256.
    fn add(&mut self, hash: &Hash, negate: bool) {
        let mut other = words(hash);
        if negate {
            // Two's complement: !x + 1.
            for w in &mut other {
                *w = !*w;
            }
            let mut carry = true;
            for w in other.iter_mut().rev() {
                let (sum, overflow) = w.overflowing_add(u64::from(carry));
                *w = sum;
                carry = overflow;
            }
        }
        let mut carry = false;
        for (w, o) in self.sum.iter_mut().zip(other).rev() {
            let (sum, a) = w.overflowing_add(o);
            let (sum, b) = sum.overflowing_add(u64::from(carry));
            *w = sum;
            carry = a || b;
        }
    }

    /// Follows a commit's writes of view parts (all but the sequence part, which the caller
    /// leaves out).
    pub fn apply(&mut self, writes: &[ViewWrite]) {
        for write in writes {
            match write {
                ViewWrite::ClearAll => *self = Digest::default(),
                ViewWrite::Put(part, value) => self.put(part, value),
                ViewWrite::Delete(part) => self.delete(part),
            }
        }
    }

    /// The digest's value.
    #[must_use]
    pub fn value(&self) -> Hash {
        let mut out = [0u8; 32];
        for (i, w) in self.sum.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sum_follows_puts_and_deletes_in_any_order() {
        let parts: Vec<(Vec<u8>, Vec<u8>)> = (0..40u8)
            .map(|i| (vec![b'c', i], vec![i; usize::from(i) + 1]))
            .collect();
        let all = Digest::of(parts.iter().map(|(p, v)| (p.as_slice(), v.as_slice())));
        let reversed = Digest::of(
            parts
                .iter()
                .rev()
                .map(|(p, v)| (p.as_slice(), v.as_slice())),
        );
        assert_eq!(all.value(), reversed.value());
        // Incrementally: every part written twice (the first value replaced), some deleted.
        let mut incremental = Digest::default();
        let mut writes: Vec<ViewWrite> = parts
            .iter()
            .map(|(p, _)| ViewWrite::Put(p.clone(), b"old".to_vec()))
            .collect();
        writes.push(ViewWrite::Put(b"gone".to_vec(), b"x".to_vec()));
        writes.extend(
            parts
                .iter()
                .map(|(p, v)| ViewWrite::Put(p.clone(), v.clone())),
        );
        writes.push(ViewWrite::Delete(b"gone".to_vec()));
        incremental.apply(&writes);
        assert_eq!(incremental.value(), all.value());
        // One changed byte changes it.
        let mut changed = parts.clone();
        changed[7].1[0] ^= 1;
        let changed = Digest::of(changed.iter().map(|(p, v)| (p.as_slice(), v.as_slice())));
        assert_ne!(changed.value(), all.value());
        incremental.apply(&[ViewWrite::ClearAll]);
        assert_eq!(incremental.value(), [0; 32]);
    }
}
