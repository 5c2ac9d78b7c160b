//! The RFC 6962 / RFC 9162 Merkle tree, as pure functions: leaf and node hashes, roots, the proof
//! types and their verification. No storage: the ledger keeps the tree's hashes in tiles
//! (`ledger::tiles`) and generates proofs from them (`ledger::tree`); verifiers need only this.
//!
//! Leaf `i` of the ledger's tree is the body of record `i + 1` (the stored binary form, without
//! the record frame's hashes): `leaf hash = SHA-256(0x00 ‖ body)`, `node = SHA-256(0x01 ‖ l ‖ r)`.
//! Verification follows the iterative algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2, which need
//! nothing but the proof.

use proto_events::Hash;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The most hashes a proof of a tree of up to 2^64 leaves can hold.
pub const MAX_PATH: usize = 64;

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The proof's numbers are impossible (index past the size, sizes out of order, …).
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The hashes do not combine to the claimed root(s).
    #[error("the proof does not lead to the claimed root")]
    Mismatch,
}

/// The root of the empty tree: `SHA-256("")`.
#[must_use]
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// `SHA-256(0x00 ‖ leaf)`: RFC 6962's leaf hash.
#[must_use]
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(leaf)
        .finalize()
        .into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: RFC 6962's node hash.
#[must_use]
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of a complete subtree over `hashes` (a power of two of them).
pub fn subtree_root(hashes: &[Hash]) -> Hash {
    match hashes {
        [] => [0; 32],
        [one] => *one,
        _ => {
            let half = hashes.len() / 2;
            node_hash(
                &subtree_root(&hashes[..half]),
                &subtree_root(&hashes[half..]),
            )
        }
    }
}

/// Computes the root of a growing tree with O(log n) memory (the RFC 6962 root of all pushed
/// leaves), independently of the tiles.
#[derive(Default)]
pub struct RootAccumulator {
    /// Complete subtrees on the right edge, largest first: (height, hash).
    stack: Vec<(u32, Hash)>,
}

impl RootAccumulator {
    /// Adds the next leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut item = (0u32, leaf);
        while let Some(&(height, left)) = self.stack.last() {
            if height != item.0 {
                break;
            }
            self.stack.pop();
            item = (height + 1, node_hash(&left, &item.1));
        }
        self.stack.push(item);
    }

    /// The root of every leaf pushed so far.
    #[must_use]
    pub fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, mut hash)) = iter.next() else {
            return empty_root();
        };
        for &(_, left) in iter {
            hash = node_hash(&left, &hash);
        }
        hash
    }
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
///
/// # Errors
/// [`ProofError`] when it does not hold.
pub fn verify_inclusion(
    leaf_index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::Malformed(format!(
            "leaf index {leaf_index} is not below the tree size {tree_size}"
        )));
    }
    if path.len() > MAX_PATH {
        return Err(ProofError::Malformed(format!(
            "{} hashes in a path",
            path.len()
        )));
    }
    let (mut f, mut s) = (leaf_index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in path {
        if s == 0 {
            return Err(ProofError::Malformed(
                "the path is longer than the tree is deep".into(),
            ));
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && r == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// Checks a consistency proof between trees of `first` and `second` leaves (RFC 9162 §2.1.4.2).
///
/// # Errors
/// [`ProofError`] when it does not hold.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if first == 0 || first > second {
        return Err(ProofError::Malformed(format!(
            "no consistency proof from {first} to {second} leaves"
        )));
    }
    if path.len() > MAX_PATH {
        return Err(ProofError::Malformed(format!(
            "{} hashes in a path",
            path.len()
        )));
    }
    if first == second {
        return if path.is_empty() && first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    if path.is_empty() {
        return Err(ProofError::Malformed(
            "an empty path between different sizes".into(),
        ));
    }
    let mut hashes: Vec<Hash> = Vec::with_capacity(path.len() + 1);
    if first.is_power_of_two() {
        hashes.push(*first_root);
    }
    hashes.extend_from_slice(path);
    let (mut f, mut s) = (first - 1, second - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if s == 0 {
            return Err(ProofError::Malformed(
                "the path is longer than the tree is deep".into(),
            ));
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if fr == *first_root && sr == *second_root && s == 0 {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// A hash in a proof: exactly 64 lower-case hex digits, the one form the ledger writes. A
/// verifier accepts one encoding of each value, so no two texts of a proof mean the same.
fn proof_hash(text: &str) -> Option<Hash> {
    let lower = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lower.then(|| proto_events::hash::parse_hex(text)).flatten()
}

/// `#[serde(with = "hex_one")]`: a hash as lower-case hex.
mod hex_one {
    use proto_events::Hash;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
        proto_events::hash::serde_hex::serialize(hash, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = String::deserialize(d)?;
        super::proof_hash(&text).ok_or_else(|| {
            de::Error::custom(format_args!("not a SHA-256 in lower-case hex: {text:?}"))
        })
    }
}

/// `#[serde(with = "hex_list")]`: hashes as lower-case hex strings.
mod hex_list {
    use proto_events::Hash;
    use proto_events::hash::to_hex;
    use serde::{Deserialize, Deserializer, Serializer, de};

    pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(to_hex))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        if texts.len() > super::MAX_PATH {
            return Err(de::Error::custom(format_args!(
                "{} hashes in a path",
                texts.len()
            )));
        }
        texts
            .iter()
            .map(|t| {
                super::proof_hash(t).ok_or_else(|| {
                    de::Error::custom(format_args!("not a SHA-256 in lower-case hex: {t:?}"))
                })
            })
            .collect()
    }
}

/// An inclusion proof, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The leaf's index (the record's sequence minus one).
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// `SHA-256(0x00 ‖ body)`.
    #[serde(with = "hex_one")]
    pub leaf_hash: Hash,
    /// The audit path, leaf to root.
    #[serde(with = "hex_list")]
    pub path: Vec<Hash>,
    /// The root of the tree of `tree_size` leaves.
    #[serde(with = "hex_one")]
    pub root: Hash,
}

impl InclusionProof {
    /// Checks the proof on its own.
    ///
    /// # Errors
    /// [`ProofError`] when it does not hold.
    pub fn verify(&self) -> Result<(), ProofError> {
        verify_inclusion(
            self.leaf_index,
            self.tree_size,
            &self.leaf_hash,
            &self.path,
            &self.root,
        )
    }
}

/// A consistency proof, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The older root.
    #[serde(with = "hex_one")]
    pub old_root: Hash,
    /// The newer root.
    #[serde(with = "hex_one")]
    pub new_root: Hash,
    /// The proof's hashes.
    #[serde(with = "hex_list")]
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof on its own.
    ///
    /// # Errors
    /// [`ProofError`] when it does not hold.
    pub fn verify(&self) -> Result<(), ProofError> {
        verify_consistency(
            self.from,
            self.to,
            &self.old_root,
            &self.new_root,
            &self.path,
        )
    }
}
