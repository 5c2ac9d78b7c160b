//! The index entries of the records after the last flushed run: in memory, fed by every commit
//! and, at open, by the ledger's walk over those records (the log is their only source, so they
//! need no durability of their own).

use proto_events::Stream;
use smallvec::SmallVec;
use uuid::Uuid;

use super::super::keys;

/// foldhash is several times faster than SipHash on the 16-byte ids and short stream names
/// looked up for every appended and loaded event.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Memtable {
    ids: HashMap<Uuid, u64>,
    /// Each stream's (version, sequence) pairs after the last run, in order.
    streams: HashMap<Stream, SmallVec<[(u64, u64); 2]>>,
    /// The last record the memtable holds (or, when empty, the last one the runs cover).
    last: u64,
    records: usize,
}

impl Memtable {
    /// An empty memtable after `last`, the last record the runs cover.
    #[must_use]
    pub fn after(last: u64) -> Self {
        Memtable {
            last,
            ..Memtable::default()
        }
    }

    /// Adds the next record.
    ///
    /// # Panics
    /// If `seq` does not follow the last record: the index follows the log one record at a time.
    pub fn insert(&mut self, seq: u64, event_id: Uuid, stream: &Stream, version: u64) {
        assert_eq!(
            seq,
            self.last + 1,
            "index at {} given record {seq}",
            self.last
        );
        self.ids.insert(event_id, seq);
        self.streams
            .entry(stream.clone())
            .or_default()
            .push((version, seq));
        self.last = seq;
        self.records += 1;
    }

    /// The sequence of an event id, if held here.
    #[must_use]
    pub fn seq_of(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// A stream's (version, sequence) pairs held here, in order.
    #[must_use]
    pub fn stream(&self, stream: &Stream) -> &[(u64, u64)] {
        self.streams.get(stream).map_or(&[], |s| s.as_slice())
    }

    /// The last record held (or covered before).
    #[must_use]
    pub fn last(&self) -> u64 {
        self.last
    }

    /// The number of records held.
    #[must_use]
    pub fn records(&self) -> usize {
        self.records
    }

    /// The entries of the records up to `cut`, sorted by key, as a run holds them:
    /// (key, sequence).
    #[must_use]
    pub fn sorted_entries(&self, cut: u64) -> Vec<(Vec<u8>, u64)> {
        let mut entries: Vec<(Vec<u8>, u64)> = Vec::with_capacity(2 * self.records);
        entries.extend(
            self.ids
                .iter()
                .filter(|(_, seq)| **seq <= cut)
                .map(|(id, seq)| (keys::entry_id(id).to_vec(), *seq)),
        );
        for (stream, versions) in &self.streams {
            for (version, seq) in versions.iter().filter(|(_, seq)| *seq <= cut) {
                entries.push((keys::entry_version(stream, *version), *seq));
            }
        }
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries
    }

    /// Forgets the records up to `cut` (written as a run).
    pub fn forget_upto(&mut self, cut: u64) {
        self.ids.retain(|_, seq| *seq > cut);
        self.streams.retain(|_, versions| {
            versions.retain(|(_, seq)| *seq > cut);
            !versions.is_empty()
        });
        self.records = usize::try_from(self.last.saturating_sub(cut)).unwrap_or(usize::MAX);
    }
}
