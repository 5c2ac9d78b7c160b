//! Record blocks (format 2): several record frames in one sled value, so that sled's cost, which
//! is per key, is paid once per block instead of once per record.
//!
//! ```text
//! key   = `B` ‖ first sequence (u64 BE)
//! value = 0x02 ‖ count (u16 BE) ‖ count × ( length (u32 BE) ‖ frame )
//! ```
//!
//! Record `i` (from 0) of a block is sequence `first + i`. Frames are byte for byte those of
//! format 1 (`hash ‖ prev_hash ‖ body`). A commit packs its records into blocks of at most
//! [`TARGET_BYTES`] (a single frame larger than that gets a block of its own; every block stays
//! under `MAX_VALUE_LEN`). Blocks are never rewritten.
//!
//! Why 8 KiB: sled keeps the pages it wrote in memory until about eight thousand of them have
//! been written since (its cache capacity does not bound them), so a writer's resident memory
//! grows to about 8,000 × the size of a page: 450 MiB with 64 KiB blocks, 64 MiB with 8 KiB.
//! And a leaf of sixteen values above 8 KiB is larger than a quarter of sled's log segment, which
//! sled writes as a separate blob file (synced by the store: `SledStore::sync`).

use super::super::Value;

/// The block format byte.
pub const BLOCK_FORMAT: u8 = 2;
/// Bytes of frames a block holds before the next one starts (unless `COOPLEDGER_BLOCK_BYTES`
/// says otherwise: for the test that makes sled write blobs).
pub const TARGET_BYTES: usize = 8 * 1024;
/// The most records in one block.
pub const MAX_RECORDS: usize = 4096;
const HEADER: usize = 3;

/// Packs consecutive frames, the first at sequence `first`, into blocks of about `target` bytes
/// of frames: (first sequence, value).
#[must_use]
pub fn pack<'a>(
    first: u64,
    frames: impl IntoIterator<Item = &'a [u8]>,
    target: usize,
) -> Vec<(u64, Vec<u8>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(u64, Vec<u8>, u16)> = None;
    for (seq, frame) in (first..).zip(frames) {
        let full = current.as_ref().is_some_and(|(_, bytes, count)| {
            bytes.len() + 4 + frame.len() > target + HEADER || usize::from(*count) >= MAX_RECORDS
        });
        if full && let Some(done) = current.take() {
            blocks.push(finish(done));
        }
        let (_, bytes, count) = current.get_or_insert_with(|| {
            let mut bytes = Vec::with_capacity(target.min(frame.len() * 64) + HEADER);
            bytes.extend_from_slice(&[BLOCK_FORMAT, 0, 0]);
            (seq, bytes, 0)
        });
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(frame);
        *count += 1;
    }
    if let Some(done) = current {
        blocks.push(finish(done));
    }
    blocks
}

fn finish((first, mut bytes, count): (u64, Vec<u8>, u16)) -> (u64, Vec<u8>) {
    bytes[1..3].copy_from_slice(&count.to_be_bytes());
    (first, bytes)
}

/// Why a block does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged(pub String);

/// The frames of a stored block, in order, each sharing the block's buffer.
///
/// # Errors
/// [`Damaged`] naming what is wrong (format byte, count, a length past the end, trailing bytes).
pub fn unpack(block: &Value) -> Result<Vec<Value>, Damaged> {
    let count = header(block)?;
    let mut frames = Vec::with_capacity(usize::from(count));
    let mut at = HEADER;
    for i in 0..count {
        let (start, end) = bounds(block, at, i, count)?;
        frames.push(
            block
                .slice(start..end)
                .ok_or_else(|| Damaged("a bad slice".into()))?,
        );
        at = end;
    }
    if at != block.len() {
        return Err(Damaged(format!(
            "{} bytes after its {count} records",
            block.len() - at
        )));
    }
    Ok(frames)
}

/// Frame `index` (from 0) of a stored block, sharing its buffer, read without unpacking the
/// others (a point read); `None` past the block's last record. Only the lengths before it are
/// checked: the frame's own hash is its reader's to check.
///
/// # Errors
/// [`Damaged`] as [`unpack`], for the header and the records up to `index`.
pub fn nth(block: &Value, index: usize) -> Result<Option<Value>, Damaged> {
    let count = header(block)?;
    if index >= usize::from(count) {
        return Ok(None);
    }
    let mut at = HEADER;
    for i in 0..count {
        let (start, end) = bounds(block, at, i, count)?;
        if usize::from(i) == index {
            return block
                .slice(start..end)
                .map(Some)
                .ok_or_else(|| Damaged("a bad slice".into()));
        }
        at = end;
    }
    Ok(None)
}

/// The record count of a block, after checking its header.
fn header(block: &Value) -> Result<u16, Damaged> {
    let (format, count) = match block.get(..HEADER) {
        Some(&[format, hi, lo]) => (format, u16::from_be_bytes([hi, lo])),
        _ => {
            return Err(Damaged(format!(
                "{} bytes, shorter than a block header",
                block.len()
            )));
        }
    };
    if format != BLOCK_FORMAT {
        return Err(Damaged(format!(
            "block format {format}, not {BLOCK_FORMAT}"
        )));
    }
    if count == 0 {
        return Err(Damaged("a block of no records".into()));
    }
    Ok(count)
}

/// Where the frame of record `i` (of `count`) lies, its length field at `at`.
fn bounds(block: &Value, at: usize, i: u16, count: u16) -> Result<(usize, usize), Damaged> {
    let len = block
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| Damaged(format!("record {i} of {count}: its length is cut off")))?;
    let start = at + 4;
    let end = usize::try_from(len)
        .ok()
        .and_then(|len| start.checked_add(len))
        .filter(|end| *end <= block.len())
        .ok_or_else(|| {
            Damaged(format!(
                "record {i} of {count}: {len} bytes run past the block"
            ))
        })?;
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_is_the_frame_unpack_gives_and_none_past_the_end() {
        let frames: Vec<Vec<u8>> = (0..40u32).map(|i| vec![i as u8; 10 + i as usize]).collect();
        let blocks = pack(1, frames.iter().map(Vec::as_slice), TARGET_BYTES);
        let block = Value::owned(blocks[0].1.clone());
        let all = unpack(&block).expect("unpack");
        for (i, frame) in all.iter().enumerate() {
            let one = nth(&block, i).expect("nth").expect("present");
            assert_eq!(one.to_vec(), frame.to_vec(), "record {i}");
        }
        assert!(nth(&block, all.len()).expect("nth").is_none());
        let mut cut = blocks[0].1.clone();
        cut.truncate(HEADER + 2);
        assert!(
            nth(&Value::owned(cut), 0).is_err(),
            "a cut length is damage"
        );
    }

    #[test]
    fn frames_round_trip_through_blocks_of_bounded_size() {
        let frames: Vec<Vec<u8>> = (0..500u32)
            .map(|i| vec![(i % 251) as u8; 64 + (i as usize * 37) % 900])
            .collect();
        let blocks = pack(10, frames.iter().map(Vec::as_slice), TARGET_BYTES);
        assert!(blocks.len() > 2, "{} blocks", blocks.len());
        let mut seq = 10;
        let mut all = Vec::new();
        for (first, bytes) in &blocks {
            assert_eq!(*first, seq, "blocks follow each other");
            assert!(bytes.len() <= TARGET_BYTES + 4 + 1000);
            let unpacked = unpack(&Value::owned(bytes.clone())).expect("unpack");
            assert_eq!(
                usize::from(u16::from_be_bytes([bytes[1], bytes[2]])),
                unpacked.len()
            );
            seq += unpacked.len() as u64;
            all.extend(unpacked.into_iter().map(|v| v.to_vec()));
        }
        assert_eq!(all, frames);
        // One frame larger than the target gets a block of its own.
        let big = vec![7u8; TARGET_BYTES + 10];
        let blocks = pack(1, [&[1u8; 100][..], &big, &[2u8; 100]], TARGET_BYTES);
        assert_eq!(blocks.iter().map(|b| b.0).collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn damaged_blocks_are_named() {
        let (_, good) = pack(1, [&[1u8; 80][..], &[2u8; 80]], TARGET_BYTES).remove(0);
        for (bytes, says) in [
            (good[..2].to_vec(), "shorter than a block header"),
            ([&[9u8][..], &good[1..]].concat(), "block format 9"),
            ([&good[..3], &good[3..100]].concat(), "run past the block"),
            ([&good[..], &[0u8][..]].concat(), "1 bytes after"),
            (vec![BLOCK_FORMAT, 0, 0], "no records"),
        ] {
            let Err(Damaged(why)) = unpack(&Value::owned(bytes)) else {
                panic!("{says}: parsed")
            };
            assert!(why.contains(says), "{why}");
        }
    }
}
