//! The index of a sled store in this version of the format: event ids and stream memberships in
//! memory, fed by every commit and, at open, by the ledger's walk over the records.

use proto_events::Stream;
use smallvec::SmallVec;
use uuid::Uuid;

/// foldhash is several times faster than SipHash on the 16-byte ids and short stream names
/// looked up for every appended and loaded event.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Index {
    ids: HashMap<Uuid, u64>,
    streams: HashMap<Stream, SmallVec<[u64; 2]>>,
    last: u64,
}

impl Index {
    /// Adds the next record.
    ///
    /// # Panics
    /// If `seq` does not follow the last record indexed: the index follows the log one record at
    /// a time.
    pub fn insert(&mut self, seq: u64, event_id: Uuid, stream: &Stream, version: u64) {
        assert_eq!(
            seq,
            self.last + 1,
            "index at {} given record {seq}",
            self.last
        );
        self.ids.insert(event_id, seq);
        let seqs = self.streams.entry(stream.clone()).or_default();
        debug_assert_eq!(seqs.len() as u64 + 1, version, "{stream} version {version}");
        seqs.push(seq);
        self.last = seq;
    }

    /// The sequence of an event id.
    pub fn seq_of(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// The sequences of a stream, in order.
    pub fn stream(&self, stream: &Stream) -> &[u64] {
        self.streams.get(stream).map_or(&[], |s| s.as_slice())
    }

    /// The last record indexed.
    pub fn last(&self) -> u64 {
        self.last
    }
}
