//! The in-memory catalogue of the log: event ids, stream memberships, per-record metadata, and
//! the effective facts of country and case streams.
//!
//! It is derived data, rebuilt from the records at open and extended at each commit; the log is
//! its only source. Keeping it in memory is what lets an append check idempotency and contextual
//! rules without extra sled writes: the only key an event adds to sled is its record.

use proto_events::{EventType, Hash, Payload, RecordedEvent, Stream, Timestamp};
use smallvec::SmallVec;
use uuid::Uuid;

use crate::entity::{StreamFacts, apply_to_facts, is_cached};

/// Hash maps of the catalogue: foldhash is several times faster than SipHash on the 16-byte ids
/// and short stream names looked up for every appended and loaded event.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// The last record of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its sequence (0 for an empty log).
    pub seq: u64,
    /// Its hash (zeros for an empty log).
    pub hash: Hash,
    /// When it was recorded (the recording clock never goes below it).
    pub recorded_at: Timestamp,
}

impl Default for Head {
    fn default() -> Self {
        Head {
            seq: 0,
            hash: [0; 32],
            recorded_at: Timestamp::UNIX_EPOCH,
        }
    }
}

/// What the catalogue keeps of every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Its type.
    pub event_type: EventType,
    /// Whether a retraction of it is in the log.
    pub retracted: bool,
}

/// The sequences of one stream, in order; its version is their count.
pub type StreamSeqs = SmallVec<[u64; 2]>;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Catalog {
    head: Head,
    ids: HashMap<Uuid, u64>,
    streams: HashMap<Stream, StreamSeqs>,
    metas: Vec<Meta>,
    facts: HashMap<Stream, StreamFacts>,
}

impl Catalog {
    /// The head.
    #[must_use]
    pub fn head(&self) -> Head {
        self.head
    }

    /// The sequence of an event id.
    #[must_use]
    pub fn seq_of(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// The sequences of a stream.
    #[must_use]
    pub fn stream(&self, stream: &Stream) -> &[u64] {
        self.streams.get(stream).map_or(&[], |s| s.as_slice())
    }

    /// The metadata of a record.
    #[must_use]
    pub fn meta(&self, seq: u64) -> Option<Meta> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.metas.get(index).copied()
    }

    /// The effective facts of a cached (country or case) stream.
    #[must_use]
    pub fn facts(&self, stream: &Stream) -> Option<&StreamFacts> {
        self.facts.get(stream)
    }

    /// Adds the next record of the log from its indexing fields only. Valid for records that
    /// are neither retractions nor on a cached stream (those need [`Catalog::record`]); the head's
    /// recording time is left for the caller to set from the last record.
    ///
    /// # Panics
    /// As [`Catalog::record`].
    pub fn record_prefix(&mut self, prefix: &proto_events::codec::Prefix, hash: Hash) {
        assert_eq!(
            prefix.sequence,
            self.head.seq + 1,
            "catalogue at {} given record {}",
            self.head.seq,
            prefix.sequence
        );
        assert!(
            prefix.event_type != EventType::EventRetracted && !is_cached(&prefix.stream),
            "record {} needs a full decode",
            prefix.sequence
        );
        self.ids.insert(prefix.event_id, prefix.sequence);
        self.streams
            .entry(prefix.stream.clone())
            .or_default()
            .push(prefix.sequence);
        self.metas.push(Meta {
            event_type: prefix.event_type,
            retracted: false,
        });
        self.head.seq = prefix.sequence;
        self.head.hash = hash;
    }

    /// Sets the head's recording time (after loading with [`Catalog::record_prefix`]).
    pub fn set_recorded_at(&mut self, at: Timestamp) {
        self.head.recorded_at = at;
    }

    /// Adds the next record of the log.
    ///
    /// # Panics
    /// If `event` is not the next sequence: the writer assigns sequences one by one and the
    /// loader checks contiguity, so anything else is a bug that must not reach the disk.
    pub fn record(&mut self, event: &RecordedEvent) {
        assert_eq!(
            event.sequence,
            self.head.seq + 1,
            "catalogue at {} given record {}",
            self.head.seq,
            event.sequence
        );
        let env = &event.envelope;
        self.ids.insert(env.event_id, event.sequence);
        self.streams
            .entry(env.stream.clone())
            .or_default()
            .push(event.sequence);
        self.metas.push(Meta {
            event_type: env.event_type,
            retracted: false,
        });
        if let Payload::Retracted(r) = &event.payload
            && let Some(target) = self.seq_of(&r.target)
            && let Some(meta) = usize::try_from(target - 1)
                .ok()
                .and_then(|i| self.metas.get_mut(i))
        {
            meta.retracted = true;
        }
        if is_cached(&env.stream) {
            apply_to_facts(self.facts.entry(env.stream.clone()).or_default(), event);
        }
        self.head = Head {
            seq: event.sequence,
            hash: event.hash,
            recorded_at: env.recorded_at,
        };
    }
}
