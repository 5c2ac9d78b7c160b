//! The Merkle tree's stored hashes, in tiles (the C2SP tlog-tiles data layout, height 8).
//!
//! Tile `(L, N)` holds the hashes at tree level `8·L` with indices `256·N ..` (up to 256 of them,
//! 32 bytes each, concatenated); level-0 tiles hold leaf hashes. A tile is rewritten while it
//! fills up and never after. Every other node's hash is recomputed from the tile below it, so an
//! append stores about 1/256 of a key per event instead of two, and any hash costs one read.
//!
//! Keys: `T` ‖ L (u8) ‖ N (u64 BE). `M tree` holds the number of leaves the tiles cover, written
//! in the same atomic batch as the records (see `docs/format.md`).

use std::collections::HashMap;

use proto_events::Hash;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::store::{Batch, Store, keys};

/// Levels per tile.
pub const HEIGHT: u8 = 8;
/// Hashes per full tile.
pub const WIDTH: usize = 1 << HEIGHT;

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
fn fold(hashes: &[Hash]) -> Hash {
    match hashes {
        [] => [0; 32],
        [one] => *one,
        _ => {
            let half = hashes.len() / 2;
            node_hash(&fold(&hashes[..half]), &fold(&hashes[half..]))
        }
    }
}

fn decode(value: &[u8]) -> Result<Vec<Hash>, Error> {
    if value.is_empty() || !value.len().is_multiple_of(32) || value.len() > WIDTH * 32 {
        return Err(Error::CorruptView(format!(
            "Merkle tile of {} bytes is not 1..=256 hashes",
            value.len()
        )));
    }
    Ok(value
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect())
}

fn encode(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flatten().copied().collect()
}

/// The writer's state of the tree: the last, incomplete tile of every level.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// Leaves covered.
    size: u64,
    /// For each tile level, the hashes of its last incomplete tile.
    partial: Vec<Vec<Hash>>,
    /// Tiles changed since the last `write`: complete ones with their content.
    complete: Vec<(u8, u64, Vec<Hash>)>,
    dirty_partial: Vec<bool>,
}

impl Frontier {
    /// Loads the frontier from the stored tiles and `M tree`.
    ///
    /// # Errors
    /// On a storage error or a malformed tile.
    pub fn load(store: &Store) -> Result<Frontier, Error> {
        let size = match store.get(keys::META_TREE)? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| Error::CorruptView("M tree is not a u64".into()))?,
            ),
            None => 0,
        };
        let mut frontier = Frontier {
            size,
            ..Frontier::default()
        };
        let mut count = size;
        let mut level = 0u8;
        while count > 0 {
            let in_last = (count % WIDTH as u64) as usize;
            let mut partial = Vec::new();
            if in_last > 0 {
                let index = count / WIDTH as u64;
                let value = store.get(&keys::tree(level, index))?.ok_or_else(|| {
                    Error::CorruptView(format!("Merkle tile {level}/{index} missing"))
                })?;
                let mut hashes = decode(&value)?;
                if hashes.len() < in_last {
                    return Err(Error::CorruptView(format!(
                        "Merkle tile {level}/{index} has {} hashes, the tree needs {in_last}",
                        hashes.len()
                    )));
                }
                hashes.truncate(in_last);
                partial = hashes;
            }
            frontier.partial.push(partial);
            frontier.dirty_partial.push(false);
            count /= WIDTH as u64;
            level += 1;
        }
        Ok(frontier)
    }

    /// Leaves covered.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends the next leaf's hash.
    pub fn push(&mut self, leaf: Hash) {
        self.size += 1;
        self.push_at(0, leaf, self.size - 1);
    }

    fn push_at(&mut self, level: u8, hash: Hash, index: u64) {
        let l = usize::from(level);
        while self.partial.len() <= l {
            self.partial.push(Vec::new());
            self.dirty_partial.push(false);
        }
        let tile = index / WIDTH as u64;
        let partial = &mut self.partial[l];
        partial.push(hash);
        if partial.len() == WIDTH {
            let full = std::mem::take(partial);
            self.dirty_partial[l] = false;
            let root = fold(&full);
            self.complete.push((level, tile, full));
            self.push_at(level + 1, root, tile);
        } else {
            self.dirty_partial[l] = true;
        }
    }

    /// Adds the changed tiles and the covered size to `batch`.
    pub fn write(&mut self, batch: &mut Batch) {
        for (level, index, hashes) in self.complete.drain(..) {
            batch.put(keys::tree(level, index), encode(&hashes));
        }
        let mut count = self.size;
        for (l, partial) in self.partial.iter().enumerate() {
            if self.dirty_partial.get(l).copied().unwrap_or(false) && !partial.is_empty() {
                batch.put(keys::tree(l as u8, count / WIDTH as u64), encode(partial));
            }
            count /= WIDTH as u64;
        }
        self.dirty_partial.iter_mut().for_each(|d| *d = false);
        batch.put(keys::META_TREE, self.size.to_be_bytes());
    }
}

/// Reads hashes of the committed tree from the tiles, computing inner nodes on demand and
/// remembering every tile it read for the duration of one proof.
pub struct TileReader<'a> {
    store: &'a Store,
    tiles: parking_lot::Mutex<HashMap<(u8, u64), Vec<Hash>>>,
}

impl<'a> TileReader<'a> {
    /// A reader over `store`.
    #[must_use]
    pub fn new(store: &'a Store) -> Self {
        TileReader {
            store,
            tiles: parking_lot::Mutex::new(HashMap::new()),
        }
    }

    fn tile(&self, level: u8, index: u64) -> Result<Vec<Hash>, Error> {
        if let Some(t) = self.tiles.lock().get(&(level, index)) {
            return Ok(t.clone());
        }
        let value = self
            .store
            .get(&keys::tree(level, index))?
            .ok_or_else(|| Error::NotFound(format!("Merkle tile {level}/{index}")))?;
        let hashes = decode(&value)?;
        self.tiles.lock().insert((level, index), hashes.clone());
        Ok(hashes)
    }

    /// The hash of the complete subtree at tree `level`, `index` (its leaves are
    /// `index·2^level .. (index+1)·2^level`).
    ///
    /// # Errors
    /// When a tile is missing (the subtree is not complete) or malformed.
    pub fn hash(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let tile_level = level / HEIGHT;
        let within = level % HEIGHT;
        let first = index << within;
        let tile = self.tile(tile_level, first / WIDTH as u64)?;
        let start = (first % WIDTH as u64) as usize;
        let end = start + (1usize << within);
        let slice = tile.get(start..end).ok_or_else(|| {
            Error::NotFound(format!("Merkle node {level}/{index} is not complete"))
        })?;
        Ok(fold(slice))
    }
}
