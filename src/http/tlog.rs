//! The C2SP tlog-tiles read API, so that existing transparency-log tools (monitors, witnesses,
//! auditors) can follow the ledger: `GET /checkpoint` (the latest signed checkpoint),
//! `GET /tile/<L>/<N>[.p/<W>]` (Merkle tiles of height 8) and `GET /tile/entries/<N>[.p/<W>]`
//! (entry bundles: each record body after its length as a big-endian u16).
//!
//! `<N>` is in the spec's path encoding (`x001/x234/067`); paths are parsed and checked for
//! their one canonical form by `tlog_tiles::Tile::from_path`. A path that is not a tile path is
//! 400; a tile the tree does not hold (yet) is 404. The data is the tree of the head; a tile's
//! content at a path never changes (a partial tile `.p/W` is the first W hashes of the full one
//! for ever), so tiles are cached as immutable, the checkpoint for a few seconds only.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tlog_tiles::Tile;

use super::error::ApiError;
use super::{AppState, blocking};
use crate::ledger::tiles::{HEIGHT, WIDTH};

/// The highest tile level the spec allows.
const MAX_LEVEL: u8 = 63;

/// How long a tile may be cached: it never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// How long the checkpoint may be cached: the log grows.
const CHECKPOINT_CACHE: &str = "public, max-age=5";

/// `GET /checkpoint`: the latest signed checkpoint, as `text/plain; charset=utf-8`.
pub async fn checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let reader = state.ledger.reader().clone();
    let latest = blocking(move || reader.latest_checkpoint()).await?;
    let Some((_, note)) = latest else {
        return Err(ApiError::not_found(
            "no checkpoint has been signed (run `coopledger checkpoint --key FILE`)",
        ));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, CHECKPOINT_CACHE),
        ],
        note,
    )
        .into_response())
}

/// What a tile path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRequest {
    /// The tile level, or `None` for an entry bundle.
    pub level: Option<u8>,
    /// The tile's index in its level.
    pub index: u64,
    /// The width of a partial tile; `None` for a full one.
    pub width: Option<u16>,
}

/// Parses the part of a tile path after `/tile/`: `<L>/<N>[.p/<W>]` or
/// `entries/<N>[.p/<W>]`, in their one canonical form.
///
/// # Errors
/// A sentence naming what is wrong.
pub fn parse_tile_path(rest: &str) -> Result<TileRequest, String> {
    let bad = || {
        format!(
            "/tile/{rest} is not a tile path: expected /tile/<L>/<N>[.p/<W>] or \
             /tile/entries/<N>[.p/<W>], N in 3-digit elements (x001/x234/067), L 0..=63, W 1..=255"
        )
    };
    // `Tile::from_path` panics on a level above 63 or a width of 0: refused here first.
    let level_ok = rest.starts_with("entries/")
        || rest
            .split('/')
            .next()
            .and_then(|l| l.parse::<u8>().ok())
            .is_some_and(|l| l <= MAX_LEVEL);
    let width_ok = rest
        .rsplit_once(".p/")
        .is_none_or(|(_, w)| w.parse::<u32>().is_ok_and(|w| w >= 1));
    if !level_ok || !width_ok {
        return Err(bad());
    }
    let (spec_path, entries) = match rest.strip_prefix("entries/") {
        Some(n) => (format!("tile/{HEIGHT}/data/{n}"), true),
        None => (format!("tile/{HEIGHT}/{rest}"), false),
    };
    let tile = Tile::from_path(&spec_path).map_err(|_| bad())?;
    if tile.height() != HEIGHT {
        return Err(bad());
    }
    let width = u16::try_from(tile.width()).map_err(|_| bad())?;
    Ok(TileRequest {
        level: (!entries).then_some(tile.level()),
        index: tile.level_index(),
        width: (usize::from(width) < WIDTH).then_some(width),
    })
}

/// `GET /tile/{*rest}`: a Merkle tile or an entry bundle of the head's tree.
pub async fn tile(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    let request = parse_tile_path(&rest).map_err(ApiError::bad_request)?;
    let reader = state.ledger.reader().clone();
    let bytes = blocking(move || match request.level {
        Some(level) => reader.tile(level, request.index, request.width, None),
        None => reader.entry_bundle(request.index, request.width, None),
    })
    .await?;
    let Some(bytes) = bytes else {
        return Err(ApiError::not_found(format!(
            "/tile/{rest} is not in the tree of the head"
        )));
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_in_their_canonical_form_only() {
        let ok = |p: &str| parse_tile_path(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        let full = |level, index| TileRequest {
            level,
            index,
            width: None,
        };
        assert_eq!(ok("0/000"), full(Some(0), 0));
        assert_eq!(ok("1/x001/x234/067"), full(Some(1), 1_234_067));
        assert_eq!(ok("entries/x001/234"), full(None, 1234));
        assert_eq!(
            ok("0/005.p/17"),
            TileRequest {
                level: Some(0),
                index: 5,
                width: Some(17)
            }
        );
        assert_eq!(ok("63/000"), full(Some(63), 0));
        for bad in [
            "",
            "0",
            "0/",
            "0/5",
            "0/05",
            "0/0005",
            "00/000",
            "64/000",
            "0/x000/005",
            "0/001/002",
            "0/x001",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/017",
            "0/000.p/",
            "0/000.p",
            "-1/000",
            "a/000",
            "entries/5",
            "entries",
            "entries/000/",
            "0/000/",
            "0/000.p/1/2",
            " 0/000",
            "0/+01",
            "data/000",
            "255/000",
            "64/000.p/1",
            "0/000.p/00",
            "entries/000.p/0",
        ] {
            assert!(parse_tile_path(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
