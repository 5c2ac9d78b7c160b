//! Proof generation over the stored tiles: RFC 6962 §2.1 `MTH`, `PATH` and `SUBPROOF`. Each
//! hash is one tile read (inner nodes of a tile are recomputed from the tile below), so a proof
//! costs O(log n) reads. Verification is in [`crate::merkle`].

use proto_events::Hash;

use super::tiles::TileReader;
use crate::error::Error;
use crate::merkle::{empty_root, node_hash};

fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n > 1, "split of {n}");
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[a:b])` for `a < b`.
fn mth(tiles: &TileReader<'_>, a: u64, b: u64) -> Result<Hash, Error> {
    let n = b - a;
    if n.is_power_of_two() && a.is_multiple_of(n) {
        return tiles.hash(n.trailing_zeros() as u8, a / n);
    }
    let k = largest_power_of_two_below(n);
    Ok(node_hash(&mth(tiles, a, a + k)?, &mth(tiles, a + k, b)?))
}

/// The root of the tree of the first `size` leaves.
///
/// # Errors
/// When the tiles do not cover `size` leaves.
pub fn root(tiles: &TileReader<'_>, size: u64) -> Result<Hash, Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    mth(tiles, 0, size)
}

/// RFC 6962 `PATH(index, D[0:size])`.
///
/// # Errors
/// When the tiles do not cover `size` leaves.
pub fn inclusion_path(tiles: &TileReader<'_>, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
    fn path(
        tiles: &TileReader<'_>,
        m: u64,
        a: u64,
        b: u64,
        out: &mut Vec<Hash>,
    ) -> Result<(), Error> {
        if b - a == 1 {
            return Ok(());
        }
        let k = largest_power_of_two_below(b - a);
        if m < a + k {
            path(tiles, m, a, a + k, out)?;
            out.push(mth(tiles, a + k, b)?);
        } else {
            path(tiles, m, a + k, b, out)?;
            out.push(mth(tiles, a, a + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    path(tiles, index, 0, size, &mut out)?;
    Ok(out)
}

/// RFC 6962 `PROOF(m, D[0:n])` for `0 < m ≤ n`.
///
/// # Errors
/// When the tiles do not cover `n` leaves.
pub fn consistency_path(tiles: &TileReader<'_>, m: u64, n: u64) -> Result<Vec<Hash>, Error> {
    fn sub(
        tiles: &TileReader<'_>,
        m: u64,
        a: u64,
        b: u64,
        complete: bool,
        out: &mut Vec<Hash>,
    ) -> Result<(), Error> {
        if m == b {
            if !complete {
                out.push(mth(tiles, a, b)?);
            }
            return Ok(());
        }
        let k = largest_power_of_two_below(b - a);
        if m <= a + k {
            sub(tiles, m, a, a + k, complete, out)?;
            out.push(mth(tiles, a + k, b)?);
        } else {
            sub(tiles, m, a + k, b, false, out)?;
            out.push(mth(tiles, a, a + k)?);
        }
        Ok(())
    }
    let mut out = Vec::new();
    sub(tiles, m, 0, n, true, &mut out)?;
    Ok(out)
}
