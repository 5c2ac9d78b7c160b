//! The sled key layout, in one place. Every key starts with a one-byte space tag; integers are
//! big-endian so that sled's byte order is numeric order. `docs/format.md` documents each space.

/// Metadata: `M` ‖ name.
pub const META: u8 = b'M';
/// Log records: `E` ‖ sequence (u64 BE) → record frame.
pub const EVENT: u8 = b'E';
/// View state: `V` ‖ view tag ‖ …
pub const VIEW: u8 = b'V';
/// Merkle tree tiles: `T` ‖ tile level (u8) ‖ tile index (u64 BE) → up to 256 hashes.
pub const TREE: u8 = b'T';
/// Signed checkpoints: `K` ‖ tree size (u64 BE) → checkpoint text.
pub const CHECKPOINT: u8 = b'K';

/// `M head`: sequence (u64 BE) ‖ hash (32 bytes) of the last record.
pub const META_HEAD: &[u8] = b"Mhead";
/// `M tree`: the number of leaves the Merkle tiles cover (u64 BE).
pub const META_TREE: &[u8] = b"Mtree";

/// The key of the record with sequence `seq`.
#[must_use]
pub fn event(seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = EVENT;
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence in a record key, if it is one.
#[must_use]
pub fn event_seq(key: &[u8]) -> Option<u64> {
    match key {
        [EVENT, rest @ ..] => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// The key of a part of the stored views: `V` ‖ part (the part names are the views' own,
/// `crate::views::stored`).
#[must_use]
pub fn view(part: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + part.len());
    key.push(VIEW);
    key.extend_from_slice(part);
    key
}

/// The part name in a view key.
#[must_use]
pub fn view_part(key: &[u8]) -> &[u8] {
    key.get(1..).unwrap_or_default()
}

/// The value of `M head`: sequence (u64 BE) ‖ hash (32 bytes).
#[must_use]
pub fn head_value(seq: u64, hash: &[u8; 32]) -> [u8; 40] {
    let mut value = [0u8; 40];
    value[..8].copy_from_slice(&seq.to_be_bytes());
    value[8..].copy_from_slice(hash);
    value
}

/// The sequence and hash in a value of `M head`, if well formed.
#[must_use]
pub fn parse_head_value(value: &[u8]) -> Option<(u64, [u8; 32])> {
    let (seq, hash) = value.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*seq), <[u8; 32]>::try_from(hash).ok()?))
}

/// The key of a Merkle tile.
#[must_use]
pub fn tree(level: u8, index: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[0] = TREE;
    key[1] = level;
    key[2..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The key of a stored checkpoint.
#[must_use]
pub fn checkpoint(size: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = CHECKPOINT;
    key[1..].copy_from_slice(&size.to_be_bytes());
    key
}

/// The tree size in a checkpoint key, if it is one.
#[must_use]
pub fn checkpoint_size(key: &[u8]) -> Option<u64> {
    match key {
        [CHECKPOINT, rest @ ..] => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_numerically_and_round_trip() {
        assert!(event(255) < event(256));
        assert!(event(u64::MAX - 1) < event(u64::MAX));
        assert_eq!(event_seq(&event(42)), Some(42));
        assert_eq!(event_seq(b"Mhead"), None);
        assert_eq!(
            event_seq(&event(7)[..8]),
            None,
            "a short record key is not a record key"
        );
        assert_eq!(checkpoint_size(&checkpoint(9)), Some(9));
        let head = head_value(5, &[7; 32]);
        assert_eq!(parse_head_value(&head), Some((5, [7; 32])));
        assert_eq!(parse_head_value(&head[..39]), None);
    }
}
