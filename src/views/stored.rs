//! The stored form of the views: one part per present country, one for the regions, one for the
//! sequence folded and the [`Digest`] of the others (the store keeps part `p` under `V` ‖ `p`,
//! `docs/format.md`). Written in the same atomic commit as the records they fold, so a view is
//! never ahead of or behind the log it was written with.
//!
//! Every value starts with [`VIEW_FORMAT`]. Views are derived data: a store whose view format is
//! unknown is simply rebuilt from the log. Views whose parts disagree with their digest were
//! changed outside the ledger: they are refused, never served.

use std::sync::Arc;

use proto_events::codec::{decode_value, encode_value};
use proto_events::values::ParticipationStatus;
use proto_events::{CountryCode, Date};
use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::index::{REGIONS, country_at, country_count, country_index};
use super::state::{Regions, Row, Touched, ViewState};
use crate::error::Error;
use crate::store::{Backend, ViewWrite};

/// Version of the stored view encoding.
pub const VIEW_FORMAT: u8 = 1;
/// Part of the country rows: `c` ‖ country code.
const COUNTRY: u8 = b'c';
/// Part of the region counters: `r`.
const REGION: &[u8] = b"r";
/// Part of the folded sequence and the digest: `s` → format byte ‖ u64 BE ‖ digest (32 bytes;
/// absent in stores written before the digest).
const SEQUENCE: &[u8] = b"s";

#[derive(Serialize, Deserialize)]
struct StoredRow {
    meetings: i64,
    activities: i64,
    by_kind: Vec<i64>,
    participants_total: i64,
    participants_women: i64,
    cases_open: i64,
    cases_closed: i64,
    participation: Option<(ParticipationStatus, Date)>,
    counterparts: Vec<(CountryCode, [i64; 3])>,
}

#[derive(Serialize, Deserialize)]
struct StoredRegions {
    pairs: Vec<(u8, u8, [i64; 3])>,
    interregional: i64,
    counted: i64,
}

fn framed(bytes: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(VIEW_FORMAT);
    out.extend_from_slice(&bytes);
    out
}

fn unframed(bytes: &[u8]) -> Option<&[u8]> {
    match bytes {
        [VIEW_FORMAT, rest @ ..] => Some(rest),
        _ => None,
    }
}

fn country_part(c: CountryCode) -> Vec<u8> {
    let mut part = vec![COUNTRY];
    part.extend_from_slice(c.as_str().as_bytes());
    part
}

/// The writes that store the rows in `touched`, the regions, and the folded sequence of `state`
/// with the digest of every part, which `digest` follows.
///
/// # Errors
/// If encoding fails.
pub fn writes(
    state: &ViewState,
    touched: &Touched,
    digest: &mut Digest,
) -> Result<Vec<ViewWrite>, Error> {
    let mut out = Vec::new();
    for i in touched.iter() {
        let (Some(c), Some(row)) = (country_at(i), state.rows.get(i)) else {
            continue;
        };
        let part = country_part(c);
        if !row.is_present() && row.counterparts.iter().all(|cell| cell == &[0; 3]) {
            out.push(ViewWrite::Delete(part));
            continue;
        }
        let stored = StoredRow {
            meetings: row.meetings,
            activities: row.activities,
            by_kind: row.by_kind.to_vec(),
            participants_total: row.participants_total,
            participants_women: row.participants_women,
            cases_open: row.cases_open,
            cases_closed: row.cases_closed,
            participation: row.participation,
            counterparts: row
                .counterparts
                .iter()
                .enumerate()
                .filter(|(_, cell)| **cell != [0; 3])
                .filter_map(|(j, cell)| Some((country_at(j)?, *cell)))
                .collect(),
        };
        out.push(ViewWrite::Put(part, framed(encode_value(&stored)?)));
    }
    let r = &state.regions;
    let mut pairs = Vec::new();
    for i in 0..REGIONS {
        for j in i..REGIONS {
            if r.pairs[i][j] != [0; 3] {
                pairs.push((i as u8, j as u8, r.pairs[i][j]));
            }
        }
    }
    let regions = StoredRegions {
        pairs,
        interregional: r.interregional,
        counted: r.counted,
    };
    out.push(ViewWrite::Put(
        REGION.to_vec(),
        framed(encode_value(&regions)?),
    ));
    digest.apply(&out);
    let mut sequence = state.as_of.to_be_bytes().to_vec();
    sequence.extend_from_slice(&digest.value());
    out.push(ViewWrite::Put(SEQUENCE.to_vec(), framed(sequence)));
    Ok(out)
}

/// Loads the stored views and their digest; `None` when absent or of an unknown view format
/// (rebuild then).
///
/// # Errors
/// On a storage error, or [`Error::CorruptView`] for a value that does not decode, a negative
/// counter, or parts that disagree with the stored digest.
pub fn load(store: &dyn Backend) -> Result<Option<(ViewState, Digest)>, Error> {
    let Some(sequence) = store.view_part(SEQUENCE)? else {
        return Ok(None);
    };
    let (seq, stored_digest): (&[u8], Option<&[u8]>) = match unframed(&sequence) {
        Some(b) if b.len() == 8 => (b, None),
        Some(b) if b.len() == 40 => {
            let (seq, digest) = b.split_at(8);
            (seq, Some(digest))
        }
        _ => return Ok(None),
    };
    let Some(seq) = <[u8; 8]>::try_from(seq).ok() else {
        return Ok(None);
    };
    let mut parts = Vec::new();
    for item in store.view_parts(&[]) {
        let (part, value) = item?;
        if part != SEQUENCE {
            parts.push((part, value));
        }
    }
    let digest = Digest::of(parts.iter().map(|(p, v)| (p.as_slice(), &v[..])));
    if let Some(stored) = stored_digest
        && stored != digest.value().as_slice()
    {
        return Err(Error::CorruptView(
            "the stored views differ from their digest: they were changed outside the ledger \
             (`coopledger verify` compares them with the log; `coopledger rebuild` refolds them)"
                .into(),
        ));
    }
    let mut state = ViewState {
        as_of: u64::from_be_bytes(seq),
        ..ViewState::default()
    };
    let corrupt =
        |what: &str, e: &dyn std::fmt::Display| Error::CorruptView(format!("{what}: {e}"));
    if let Some(bytes) = store.view_part(REGION)? {
        let Some(body) = unframed(&bytes) else {
            return Ok(None);
        };
        let stored: StoredRegions = decode_value(body).map_err(|e| corrupt("regions", &e))?;
        let mut regions = Regions {
            interregional: stored.interregional,
            counted: stored.counted,
            ..Regions::default()
        };
        for (i, j, cell) in stored.pairs {
            if let Some(slot) = regions
                .pairs
                .get_mut(usize::from(i))
                .and_then(|r| r.get_mut(usize::from(j)))
            {
                *slot = cell;
            }
        }
        state.regions = regions;
    }
    for item in store.view_parts(&[COUNTRY]) {
        let (part, value) = item?;
        let code = part
            .get(1..)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(CountryCode::parse);
        let (Some(code), Some(body)) = (code, unframed(&value)) else {
            return Err(corrupt("country row key", &format_args!("{part:?}")));
        };
        let stored: StoredRow = decode_value(body).map_err(|e| corrupt(code.as_str(), &e))?;
        let mut row = Row {
            meetings: stored.meetings,
            activities: stored.activities,
            participants_total: stored.participants_total,
            participants_women: stored.participants_women,
            cases_open: stored.cases_open,
            cases_closed: stored.cases_closed,
            participation: stored.participation,
            ..Row::default()
        };
        for (slot, n) in row.by_kind.iter_mut().zip(stored.by_kind) {
            *slot = n;
        }
        if !stored.counterparts.is_empty() {
            row.counterparts = vec![[0; 3]; country_count()];
            for (other, cell) in stored.counterparts {
                if let Some(slot) = row.counterparts.get_mut(country_index(other)) {
                    *slot = cell;
                }
            }
        }
        if let Some(slot) = state.rows.get_mut(country_index(code)) {
            *slot = Arc::new(row);
        }
    }
    if let Some(bad) = state.negative_counter() {
        return Err(Error::CorruptView(bad));
    }
    Ok(Some((state, digest)))
}
