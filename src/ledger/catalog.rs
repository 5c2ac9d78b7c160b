//! What the ledger keeps in memory of the log: the head, and a bounded cache of the effective
//! facts of country and case streams (consulted by every related append: the rules and the
//! views need them). The index of event ids and streams is the store's ([`Backend`]); the log
//! is the only source of both.
//!
//! [`Backend`]: crate::store::Backend

use proto_events::{Hash, Stream, Timestamp};

use crate::entity::{MAX_CACHED_STREAMS, StreamFacts};

/// foldhash is several times faster than SipHash on the short stream names looked up for every
/// appended event.
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

/// See the module documentation.
#[derive(Debug, Default)]
pub struct Catalog {
    head: Head,
    facts: HashMap<Stream, StreamFacts>,
}

impl Catalog {
    /// A catalogue at `head` with nothing cached.
    #[must_use]
    pub fn at(head: Head) -> Self {
        Catalog {
            head,
            facts: HashMap::default(),
        }
    }

    /// The head.
    #[must_use]
    pub fn head(&self) -> Head {
        self.head
    }

    /// The cached effective facts of a country or case stream, if cached.
    #[must_use]
    pub fn facts(&self, stream: &Stream) -> Option<&StreamFacts> {
        self.facts.get(stream)
    }

    /// Caches the effective facts of a country or case stream as of the head, making room when
    /// the cache is full.
    pub fn cache(&mut self, stream: Stream, facts: StreamFacts) {
        if self.facts.len() >= MAX_CACHED_STREAMS && !self.facts.contains_key(&stream) {
            let evict = self
                .facts
                .keys()
                .find(|s| !matches!(s, Stream::Country(_)))
                .cloned();
            if let Some(evict) = evict {
                self.facts.remove(&evict);
            }
        }
        self.facts.insert(stream, facts);
    }

    /// Moves the head to a committed group's last record.
    ///
    /// # Panics
    /// If `head` goes back: the writer commits groups in order.
    pub fn advance(&mut self, head: Head) {
        assert!(
            head.seq >= self.head.seq,
            "the head goes back from {} to {}",
            self.head.seq,
            head.seq
        );
        self.head = head;
    }
}
