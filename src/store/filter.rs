//! A blocked Bloom filter: the membership filter of each sled index run (`sled/index/run.rs`),
//! so that a key absent from a run (the common case: every new event id, every new stream)
//! costs one cache line per run instead of a read of the run; and the PostgreSQL writer's
//! filters of the event ids and streams in its table (`postgres/mod.rs`), so that a new id or
//! stream costs no query.
//!
//! ```text
//! (h1, h2) = SipHash-1-3-128(key) with keys (0x636f6f706c656467, 0x65722066696c7472)
//! block    = (h1 × blocks) >> 64            one 512-bit block of the filter
//! bits     = 7 positions in it: bits 0..9, 9..18, …, 54..63 of h2, each mod 512
//! ```
//!
//! Stored as `bits / 8` bytes (a whole number of 64-byte blocks), in chunks; about 10 bits per
//! key (a false positive rate of about 1.5 %). The hash is fixed by this format: a filter written
//! today must answer the same tomorrow.

use siphasher::sip128::{Hasher128, SipHasher13};

/// Bytes per block (one cache line).
const BLOCK: usize = 64;
/// Probes per key.
const PROBES: u32 = 7;
/// Bits per key the filter is sized for.
const BITS_PER_KEY: usize = 10;
const KEY0: u64 = 0x636f_6f70_6c65_6467;
const KEY1: u64 = 0x6572_2066_696c_7472;

/// A filter being built or loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    bytes: Vec<u8>,
}

fn hash(key: &[u8]) -> (u64, u64) {
    let mut h = SipHasher13::new_with_keys(KEY0, KEY1);
    std::hash::Hasher::write(&mut h, key);
    let h = h.finish128();
    (h.h1, h.h2)
}

impl Filter {
    /// An empty filter sized for `keys` keys.
    #[must_use]
    pub fn for_keys(keys: usize) -> Self {
        let blocks = (keys * BITS_PER_KEY).div_ceil(BLOCK * 8).max(1);
        Filter {
            bytes: vec![0; blocks * BLOCK],
        }
    }

    /// A filter from its stored bytes.
    ///
    /// # Errors
    /// When they are not a whole number of blocks.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(BLOCK) {
            return Err(format!(
                "a filter of {} bytes, not a whole number of {BLOCK}-byte blocks",
                bytes.len()
            ));
        }
        Ok(Filter { bytes })
    }

    /// The stored bytes.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn positions(&self, key: &[u8]) -> (usize, [u32; PROBES as usize]) {
        let (h1, h2) = hash(key);
        let blocks = (self.bytes.len() / BLOCK) as u128;
        let block = ((u128::from(h1) * blocks) >> 64) as usize;
        let bits = std::array::from_fn(|i| ((h2 >> (9 * i as u32)) & 0x1ff) as u32);
        (block * BLOCK, bits)
    }

    /// Adds a key.
    pub fn insert(&mut self, key: &[u8]) {
        let (base, bits) = self.positions(key);
        for bit in bits {
            if let Some(byte) = self.bytes.get_mut(base + (bit / 8) as usize) {
                *byte |= 1 << (bit % 8);
            }
        }
    }

    /// Whether the key may have been added (never false for one that was).
    #[must_use]
    pub fn may_contain(&self, key: &[u8]) -> bool {
        let (base, bits) = self.positions(key);
        bits.iter().all(|bit| {
            self.bytes
                .get(base + (bit / 8) as usize)
                .is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
        })
    }
}

/// Keys per filter of a [`Growing`] one.
const SEGMENT_KEYS: usize = 1 << 20;

/// A filter that grows with its keys: a new [`Filter`] for each [`SEGMENT_KEYS`] keys
/// (1.25 MiB each), asked in turn.
#[derive(Debug, Clone, Default)]
pub struct Growing {
    segments: Vec<Filter>,
    /// Keys in the last segment.
    last: usize,
}

impl Growing {
    /// Adds a key.
    pub fn insert(&mut self, key: &[u8]) {
        if self.segments.is_empty() || self.last >= SEGMENT_KEYS {
            self.segments.push(Filter::for_keys(SEGMENT_KEYS));
            self.last = 0;
        }
        if let Some(segment) = self.segments.last_mut() {
            segment.insert(key);
            self.last += 1;
        }
    }

    /// Whether the key may have been added (never false for one that was).
    #[must_use]
    pub fn may_contain(&self, key: &[u8]) -> bool {
        self.segments.iter().any(|s| s.may_contain(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_filter_keeps_every_key_across_segments() {
        let mut filter = Growing::default();
        assert!(!filter.may_contain(b"anything"), "empty");
        let n = SEGMENT_KEYS as u32 + 1_000;
        for i in 0..n {
            filter.insert(&i.to_be_bytes());
        }
        assert_eq!(filter.segments.len(), 2);
        assert!((0..n).all(|i| filter.may_contain(&i.to_be_bytes())));
        let false_positives = (n..n + 100_000)
            .filter(|i| filter.may_contain(&i.to_be_bytes()))
            .count();
        assert!(false_positives < 5_000, "{false_positives} of 100,000");
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut filter = Filter::for_keys(10_000);
        for i in 0..10_000u32 {
            filter.insert(&i.to_be_bytes());
        }
        assert!((0..10_000u32).all(|i| filter.may_contain(&i.to_be_bytes())));
        let false_positives = (10_000..110_000u32)
            .filter(|i| filter.may_contain(&i.to_be_bytes()))
            .count();
        assert!(false_positives < 3_000, "{false_positives} of 100,000");
        let stored = Filter::from_bytes(filter.bytes().to_vec()).expect("stored");
        assert_eq!(stored, filter);
        assert!(Filter::from_bytes(vec![0; 65]).is_err());
    }

    #[test]
    fn the_hash_is_the_documented_one() {
        // A filter written by any build must answer the same in every later one.
        let (h1, h2) = hash(b"coopledger");
        let mut again = SipHasher13::new_with_keys(KEY0, KEY1);
        std::hash::Hasher::write(&mut again, b"coopledger");
        let again = again.finish128();
        assert_eq!((h1, h2), (again.h1, again.h2));
        assert_eq!(format!("{h1:016x}{h2:016x}"), KNOWN);
    }

    const KNOWN: &str = "8cc0ad4c36f2fad962bf720063a3e390";
}
