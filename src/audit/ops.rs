//! The ledger's audit operations: roots, proofs, receipts, signed checkpoints and the full
//! recomputation of the tree.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proto_events::Hash;
use proto_events::staff::recorded_to_object;
use uuid::Uuid;

use super::checkpoint::{Key, parse_unverified};
use super::proof::{self, ConsistencyProof, InclusionProof, verify_consistency};
use super::receipt::Receipt;
use super::tiles::{TileReader, leaf_hash};
use crate::error::Error;
use crate::ledger::frame::Frame;
use crate::ledger::{Ledger, Reader};
use crate::store::{Batch, keys};

impl Reader {
    fn tiles(&self) -> TileReader<'_> {
        TileReader::new(&self.shared.store)
    }

    fn check_size(&self, size: u64) -> Result<u64, Error> {
        let head = self.head().seq;
        if size > head {
            return Err(Error::NotFound(format!(
                "a tree of {size} leaves: the log holds {head} records"
            )));
        }
        Ok(size)
    }

    /// The Merkle root of the first `size` records.
    ///
    /// # Errors
    /// When `size` exceeds the head, or the tiles are missing or corrupt.
    pub fn merkle_root(&self, size: u64) -> Result<Hash, Error> {
        let size = self.check_size(size)?;
        proof::root(&self.tiles(), size)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records (the head's by default).
    ///
    /// # Errors
    /// When `seq` is not in `1..=size` or `size` exceeds the head.
    pub fn inclusion_proof(&self, seq: u64, size: Option<u64>) -> Result<InclusionProof, Error> {
        let size = self.check_size(size.unwrap_or_else(|| self.head().seq))?;
        if seq == 0 || seq > size {
            return Err(Error::NotFound(format!(
                "record {seq} in a tree of {size} records"
            )));
        }
        let tiles = self.tiles();
        let record = self
            .get_seq(seq)?
            .ok_or_else(|| Error::NotFound(format!("record {seq}")))?;
        let value = self
            .shared
            .store
            .get(&keys::event(seq))?
            .ok_or_else(|| Error::NotFound(format!("record {seq}")))?;
        let body = Frame::parse(seq, &value)?.body;
        debug_assert_eq!(record.sequence, seq);
        Ok(InclusionProof {
            leaf_index: seq - 1,
            tree_size: size,
            leaf_hash: leaf_hash(body),
            path: proof::inclusion_path(&tiles, seq - 1, size)?,
            root: proof::root(&tiles, size)?,
        })
    }

    /// The consistency proof between the trees of `from` and `to` records.
    ///
    /// # Errors
    /// When the sizes are not `1 ≤ from ≤ to ≤ head`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof, Error> {
        let to = self.check_size(to)?;
        if from == 0 || from > to {
            return Err(Error::NotFound(format!(
                "a consistency proof from {from} to {to} records (need 1 ≤ from ≤ to)"
            )));
        }
        let tiles = self.tiles();
        Ok(ConsistencyProof {
            from,
            to,
            old_root: proof::root(&tiles, from)?,
            new_root: proof::root(&tiles, to)?,
            path: if from == to {
                Vec::new()
            } else {
                proof::consistency_path(&tiles, from, to)?
            },
        })
    }

    /// Every checkpoint this ledger has signed, by tree size.
    ///
    /// # Errors
    /// On a storage error.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, Error> {
        let mut out = Vec::new();
        for item in self.shared.store.prefix(&[keys::CHECKPOINT]) {
            let (key, value) = item?;
            let size = key
                .get(1..9)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes);
            out.push((size, String::from_utf8_lossy(&value).into_owned()));
        }
        Ok(out)
    }

    /// The latest checkpoint signed for a tree that includes record `seq`.
    ///
    /// # Errors
    /// On a storage error.
    pub fn checkpoint_covering(&self, seq: u64) -> Result<Option<String>, Error> {
        Ok(self
            .checkpoints()?
            .into_iter()
            .rev()
            .find(|(size, _)| *size >= seq)
            .map(|(_, note)| note))
    }

    /// A receipt for an event under a signed checkpoint (whose tree must include the event).
    ///
    /// # Errors
    /// When the event is unknown or the checkpoint's tree does not include it.
    pub fn receipt(&self, event_id: &Uuid, checkpoint: &str) -> Result<Receipt, Error> {
        let event = self
            .get(event_id)?
            .ok_or_else(|| Error::NotFound(format!("event {event_id}")))?;
        let body = parse_unverified(checkpoint).map_err(|e| Error::NotFound(e.to_string()))?;
        let proof = self.inclusion_proof(event.sequence, Some(body.size))?;
        let value = self
            .shared
            .store
            .get(&keys::event(event.sequence))?
            .ok_or_else(|| Error::NotFound(format!("record {}", event.sequence)))?;
        let record = STANDARD.encode(Frame::parse(event.sequence, &value)?.body);
        Ok(Receipt {
            event: recorded_to_object(&event),
            record,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Recomputes the whole tree from the records and compares it with the stored tiles: every
    /// leaf must be its record's hash (the first differing record is named) and the root of the
    /// recomputed tree must be the stored one. Returns the root.
    ///
    /// # Errors
    /// [`Error::Corrupt`] naming the first record whose leaf differs.
    pub fn verify_tree(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<Hash, Error> {
        let head = self.head().seq;
        let tiles = self.tiles();
        let mut roots = RootAccumulator::default();
        for item in self
            .shared
            .store
            .range(&keys::event(1), &keys::event(head + 1))
        {
            let (key, value) = item?;
            let seq = keys::event_seq(&key).unwrap_or(0);
            let leaf = leaf_hash(Frame::parse(seq, &value)?.body);
            let stored = tiles.hash(0, seq - 1).map_err(|e| Error::Corrupt {
                seq,
                reason: format!("its Merkle leaf is unreadable: {e}"),
            })?;
            if stored != leaf {
                return Err(Error::Corrupt {
                    seq,
                    reason: "its Merkle leaf is not the hash of the record".into(),
                });
            }
            roots.push(leaf);
            if seq.is_multiple_of(65_536) {
                progress(seq, head);
            }
        }
        let root = roots.root();
        let stored = proof::root(&tiles, head)?;
        if root != stored {
            return Err(Error::Corrupt {
                seq: head,
                reason:
                    "the stored Merkle tree's root differs from the one recomputed from the records"
                        .into(),
            });
        }
        progress(head, head);
        Ok(root)
    }
}

/// Computes the root of a growing tree with O(log n) memory (the RFC 6962 root of all pushed
/// leaves), independently of the tiles.
#[derive(Default)]
struct RootAccumulator {
    /// Complete subtrees on the right edge, largest first: (height, hash).
    stack: Vec<(u32, Hash)>,
}

impl RootAccumulator {
    fn push(&mut self, leaf: Hash) {
        let mut item = (0u32, leaf);
        while let Some(&(height, left)) = self.stack.last() {
            if height != item.0 {
                break;
            }
            self.stack.pop();
            item = (height + 1, super::tiles::node_hash(&left, &item.1));
        }
        self.stack.push(item);
    }

    fn root(&self) -> Hash {
        let mut iter = self.stack.iter().rev();
        let Some(&(_, mut hash)) = iter.next() else {
            return proof::empty_root();
        };
        for &(_, left) in iter {
            hash = super::tiles::node_hash(&left, &hash);
        }
        hash
    }
}

impl Ledger {
    /// Signs a checkpoint of the current head with `key` and stores it. Refuses when the tree is
    /// not consistent with the latest checkpoint already signed: a history rewritten since then
    /// is never signed over.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when inconsistent; storage errors.
    pub fn sign_checkpoint(&mut self, key: &Key) -> Result<String, Error> {
        let reader = self.reader();
        if let Some(reason) = reader.poison_reason() {
            return Err(Error::Poisoned(reason));
        }
        let size = reader.head().seq;
        let root = reader.merkle_root(size)?;
        if let Some((_, latest)) = reader.checkpoints()?.pop() {
            let old = parse_unverified(&latest).map_err(|e| Error::CorruptView(e.to_string()))?;
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
                if old.root != proof::empty_root() {
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
            .map_err(|e| Error::Limit(e.to_string()))?;
        let mut batch = Batch::default();
        batch.put(keys::checkpoint(size), signed.as_bytes());
        let store = &reader.shared.store;
        let written = store.apply(batch).and_then(|()| store.sync());
        if let Err(e) = written {
            reader.shared.poison(&e.to_string());
            return Err(e.into());
        }
        tracing::info!(size, "checkpoint signed");
        Ok(signed)
    }
}
