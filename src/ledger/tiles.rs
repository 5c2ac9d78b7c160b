//! The Merkle tree's stored hashes, in tiles (the C2SP tlog-tiles data layout, height 8): the
//! writer's frontier, which extends them in the same group as the records, and the reader of
//! the committed tiles.
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

use crate::error::Error;
use crate::merkle::subtree_root;
use crate::store::{Backend, TileWrite};

/// Levels per tile.
pub const HEIGHT: u8 = 8;
/// Hashes per full tile.
pub const WIDTH: usize = 1 << HEIGHT;

fn decode(level: u8, index: u64, value: &[u8]) -> Result<Vec<Hash>, Error> {
    if value.is_empty() || !value.len().is_multiple_of(32) || value.len() > WIDTH * 32 {
        return Err(Error::CorruptTree(format!(
            "tile {level}/{index} is {} bytes, not 1..=256 hashes",
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
    pub fn load(store: &dyn Backend) -> Result<Frontier, Error> {
        let size = store.tree_size()?;
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
                let value = store.tile(level, index)?.ok_or_else(|| {
                    Error::CorruptTree(format!(
                        "tile {level}/{index} is missing (the tree covers {size} leaves)"
                    ))
                })?;
                let mut hashes = decode(level, index, &value)?;
                if hashes.len() < in_last {
                    return Err(Error::CorruptTree(format!(
                        "tile {level}/{index} has {} hashes, the tree needs {in_last}",
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
            let root = subtree_root(&full);
            self.complete.push((level, tile, full));
            self.push_at(level + 1, root, tile);
        } else {
            self.dirty_partial[l] = true;
        }
    }

    /// The tiles changed since the last call (complete ones and the growing last tile of each
    /// level), for the group that also writes the leaves' records.
    pub fn take_writes(&mut self) -> Vec<TileWrite> {
        let mut writes: Vec<TileWrite> = self
            .complete
            .drain(..)
            .map(|(level, index, hashes)| TileWrite {
                level,
                index,
                hashes: encode(&hashes),
            })
            .collect();
        let mut count = self.size;
        for (l, partial) in self.partial.iter().enumerate() {
            if self.dirty_partial.get(l).copied().unwrap_or(false) && !partial.is_empty() {
                writes.push(TileWrite {
                    level: l as u8,
                    index: count / WIDTH as u64,
                    hashes: encode(partial),
                });
            }
            count /= WIDTH as u64;
        }
        self.dirty_partial.iter_mut().for_each(|d| *d = false);
        writes
    }
}

/// Reads hashes of the committed tree from the tiles, computing inner nodes on demand and
/// remembering every tile it read for the duration of one proof.
pub struct TileReader<'a> {
    store: &'a dyn Backend,
    tiles: parking_lot::Mutex<HashMap<(u8, u64), Vec<Hash>>>,
}

impl<'a> TileReader<'a> {
    /// A reader over `store`.
    #[must_use]
    pub fn new(store: &'a dyn Backend) -> Self {
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
            .tile(level, index)?
            .ok_or_else(|| Error::CorruptTree(format!("tile {level}/{index} is missing")))?;
        let hashes = decode(level, index, &value)?;
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
            Error::CorruptTree(format!(
                "node {level}/{index} is not complete in tile {tile_level}/{}",
                first / WIDTH as u64
            ))
        })?;
        Ok(subtree_root(slice))
    }
}
