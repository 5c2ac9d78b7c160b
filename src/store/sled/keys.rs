//! The sled key layout, in one place. Every key starts with a one-byte space tag; integers are
//! big-endian so that sled's byte order is numeric order. `docs/format.md` documents each space.

/// Metadata: `M` ‖ name.
pub const META: u8 = b'M';
/// Log records one per key (format 1): `E` ‖ sequence (u64 BE) → record frame.
pub const EVENT: u8 = b'E';
/// Log records packed (format 2): `B` ‖ first sequence (u64 BE) → a block of frames.
pub const BLOCK: u8 = b'B';
/// The persisted index (format 2): `X` ‖ run (u64 BE) ‖ part → a run's chunks, filter, meta.
pub const INDEX: u8 = b'X';
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
/// `M index`: the index's manifest (its runs and the last sequence they cover).
pub const META_INDEX: &[u8] = b"Mindex";
/// `M packed`: during `coopledger migrate`, the last record packed into blocks (u64 BE).
pub const META_PACKED: &[u8] = b"Mpacked";

/// The key of the block whose first record is `first`.
#[must_use]
pub fn block(first: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = BLOCK;
    key[1..].copy_from_slice(&first.to_be_bytes());
    key
}

/// The first sequence in a block key, if it is one.
#[must_use]
pub fn block_first(key: &[u8]) -> Option<u64> {
    match key {
        [BLOCK, rest @ ..] => Some(u64::from_be_bytes(rest.try_into().ok()?)),
        _ => None,
    }
}

/// The index entry key of an event id: `0x01` ‖ the id's 16 bytes.
#[must_use]
pub fn entry_id(id: &uuid::Uuid) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = 1;
    key[1..].copy_from_slice(id.as_bytes());
    key
}

/// The prefix of every index entry of a stream: `0x02` ‖ kind ‖ the stream's own bytes (a
/// country's 2 letters; a partner's slug after its length; an entity's 16-byte id). No prefix
/// of one stream is another stream's prefix.
#[must_use]
pub fn entry_stream(stream: &proto_events::Stream) -> Vec<u8> {
    use proto_events::Stream;
    let mut key = Vec::with_capacity(19);
    key.push(2);
    match stream {
        Stream::Country(c) => {
            key.push(0);
            key.extend_from_slice(c.as_str().as_bytes());
        }
        Stream::Partner(slug) => {
            key.push(1);
            key.push(u8::try_from(slug.len()).unwrap_or(u8::MAX));
            key.extend_from_slice(slug.as_bytes());
        }
        Stream::Meeting(id) => {
            key.push(2);
            key.extend_from_slice(id.as_bytes());
        }
        Stream::Activity(id) => {
            key.push(3);
            key.extend_from_slice(id.as_bytes());
        }
        Stream::Case(id) => {
            key.push(4);
            key.extend_from_slice(id.as_bytes());
        }
    }
    key
}

/// The index entry key of a stream's version: [`entry_stream`] ‖ version (u64 BE).
#[must_use]
pub fn entry_version(stream: &proto_events::Stream, version: u64) -> Vec<u8> {
    let mut key = entry_stream(stream);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

/// What a key of an index run holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPart {
    /// Sorted entries, chunk `n`.
    Data(u32),
    /// The membership filter, chunk `n`.
    Filter(u32),
    /// The first entry key of each data chunk, chunk `n`.
    Fences(u32),
    /// The run's description.
    Meta,
}

/// The key of a part of index run `run`.
#[must_use]
pub fn run(run: u64, part: RunPart) -> Vec<u8> {
    let mut key = Vec::with_capacity(14);
    key.push(INDEX);
    key.extend_from_slice(&run.to_be_bytes());
    match part {
        RunPart::Data(n) => {
            key.push(b'd');
            key.extend_from_slice(&n.to_be_bytes());
        }
        RunPart::Filter(n) => {
            key.push(b'f');
            key.extend_from_slice(&n.to_be_bytes());
        }
        RunPart::Fences(n) => {
            key.push(b'g');
            key.extend_from_slice(&n.to_be_bytes());
        }
        RunPart::Meta => key.push(b'm'),
    }
    key
}

/// The prefix of every key of index run `run`.
#[must_use]
pub fn run_prefix(run: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = INDEX;
    key[1..].copy_from_slice(&run.to_be_bytes());
    key
}

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
