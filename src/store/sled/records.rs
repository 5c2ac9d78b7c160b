//! Reading records from the two layouts a store may hold: one key per record (`E`, format 1)
//! and blocks (`B`, format 2). A store written by format 1 and appended to by format 2 holds
//! both; `coopledger migrate` packs the first into the second. Records are read in sequence
//! order whatever the mix: the two key spaces are each in sequence order, and are merged.

use std::iter::Peekable;

use super::blocks::{self, Damaged};
use super::keys;
use crate::store::{RecordKey, StoreError, Value};

type Item = Result<(RecordKey, Value), StoreError>;

/// The records `from..=to` of one layout's key space, in order.
type Space<'a> = Box<dyn Iterator<Item = Item> + Send + 'a>;

/// The one-key-per-record space (format 1) from `from` to `to`.
pub fn singles(db: &sled::Db, from: u64, to: u64) -> Space<'static> {
    let end = if to == u64::MAX {
        vec![keys::EVENT + 1]
    } else {
        keys::event(to + 1).to_vec()
    };
    Box::new(db.range(keys::event(from).to_vec()..end).map(|item| {
        let (key, value) = item?;
        let key = match keys::event_seq(&key) {
            Some(seq) => RecordKey::Seq(seq),
            None => RecordKey::Malformed(key.to_vec()),
        };
        Ok((key, Value::sled(value)))
    }))
}

/// The block space (format 2) from the block holding `from` to `to`.
pub fn packed(db: &sled::Db, from: u64, to: u64) -> Space<'static> {
    // The block holding `from` starts at or before it.
    let start = db
        .range(keys::block(0).to_vec()..=keys::block(from).to_vec())
        .next_back()
        .and_then(Result::ok)
        .and_then(|(key, _)| keys::block_first(&key))
        .unwrap_or(from);
    let end = if to == u64::MAX {
        vec![keys::BLOCK + 1]
    } else {
        keys::block(to + 1).to_vec()
    };
    let blocks = db.range(keys::block(start).to_vec()..end);
    Box::new(
        blocks
            .flat_map(move |item| -> Vec<Item> {
                let (key, value) = match item {
                    Ok(kv) => kv,
                    Err(e) => return vec![Err(e.into())],
                };
                let Some(first) = keys::block_first(&key) else {
                    return vec![Ok((RecordKey::Malformed(key.to_vec()), Value::sled(value)))];
                };
                match blocks::unpack(&Value::sled(value)) {
                    Ok(frames) => frames
                        .into_iter()
                        .zip(first..)
                        .map(|(frame, seq)| Ok((RecordKey::Seq(seq), frame)))
                        .collect(),
                    Err(Damaged(why)) => vec![Ok((
                        RecordKey::Damaged(format!("block of record {first} on: {why}")),
                        Value::owned(Vec::new()),
                    ))],
                }
            })
            .filter(move |item| match item {
                Ok((RecordKey::Seq(seq), _)) => (from..=to).contains(seq),
                _ => true,
            }),
    )
}

/// Both spaces merged in sequence order (a key that names no sequence comes out where it is
/// met, for the walk to name as damage).
pub struct Merged<'a> {
    singles: Peekable<Space<'a>>,
    packed: Peekable<Space<'a>>,
}

impl<'a> Merged<'a> {
    /// Merges the two spaces.
    pub fn new(singles: Space<'a>, packed: Space<'a>) -> Self {
        Merged {
            singles: singles.peekable(),
            packed: packed.peekable(),
        }
    }
}

fn seq_of(item: Option<&Item>) -> Option<u64> {
    match item {
        Some(Ok((RecordKey::Seq(seq), _))) => Some(*seq),
        _ => None,
    }
}

impl Iterator for Merged<'_> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        let single = self.singles.peek();
        let block = self.packed.peek();
        match (single.is_some(), block.is_some()) {
            (false, false) => None,
            (true, false) => self.singles.next(),
            (false, true) => self.packed.next(),
            (true, true) => match (seq_of(single), seq_of(block)) {
                (Some(a), Some(b)) if b < a => self.packed.next(),
                (Some(_), None) => self.packed.next(),
                _ => self.singles.next(),
            },
        }
    }
}

/// One record by sequence: its own key (format 1), or its place in the block holding it.
///
/// # Errors
/// [`StoreError::Corrupt`] when the block holding it is damaged; I/O errors.
pub fn one(db: &sled::Db, seq: u64, singles: bool) -> Result<Option<Value>, StoreError> {
    if singles && let Some(value) = db.get(keys::event(seq))? {
        return Ok(Some(Value::sled(value)));
    }
    let Some(item) = db
        .range(keys::block(0).to_vec()..=keys::block(seq).to_vec())
        .next_back()
    else {
        return Ok(None);
    };
    let (key, value) = item?;
    let Some(first) = keys::block_first(&key) else {
        return Ok(None);
    };
    let Ok(index) = usize::try_from(seq - first) else {
        return Ok(None);
    };
    blocks::nth(&Value::sled(value), index).map_err(|Damaged(why)| {
        StoreError::Corrupt(format!("the block of record {first} on is damaged: {why}"))
    })
}
