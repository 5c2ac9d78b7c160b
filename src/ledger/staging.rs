//! The writer's view of the log during one group commit: the committed catalogue plus the
//! records staged so far, with savepoints so that a failing request leaves no trace.

use std::collections::HashSet;

use proto_events::{Hash, Payload, RecordedEvent, Stream};
use uuid::Uuid;

use super::catalog::{Catalog, Head, Meta, StreamSeqs};
use super::walk::read_event;
use crate::entity::{StreamFacts, apply_to_facts, is_cached};
use crate::error::Error;
use crate::store::Store;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A record ready to be written.
#[derive(Debug, Clone)]
pub struct StagedRecord {
    /// The event, hashes filled in.
    pub event: RecordedEvent,
    /// Its stored value.
    pub frame: Vec<u8>,
    /// For a retraction, the sequence it retracts.
    pub retracts: Option<u64>,
}

/// Where a request started, to roll back to.
pub struct Savepoint {
    records: usize,
    head: Head,
    facts: HashMap<Stream, StreamFacts>,
}

/// See the module documentation.
pub struct Staging<'c> {
    catalog: &'c Catalog,
    store: &'c Store,
    records: Vec<StagedRecord>,
    ids: HashMap<Uuid, u64>,
    streams: HashMap<Stream, StreamSeqs>,
    retracted: HashSet<u64>,
    facts: HashMap<Stream, StreamFacts>,
    head: Head,
}

impl<'c> Staging<'c> {
    /// Starts staging on top of the committed catalogue.
    #[must_use]
    pub fn new(catalog: &'c Catalog, store: &'c Store) -> Self {
        Staging {
            catalog,
            store,
            records: Vec::new(),
            ids: HashMap::default(),
            streams: HashMap::default(),
            retracted: HashSet::new(),
            facts: HashMap::default(),
            head: catalog.head(),
        }
    }

    /// The head including staged records.
    #[must_use]
    pub fn head(&self) -> Head {
        self.head
    }

    /// The sequence of an event id, committed or staged.
    #[must_use]
    pub fn seq_of(&self, id: &Uuid) -> Option<u64> {
        self.ids
            .get(id)
            .copied()
            .or_else(|| self.catalog.seq_of(id))
    }

    /// The current version of a stream.
    #[must_use]
    pub fn version(&self, stream: &Stream) -> u64 {
        let staged = self.streams.get(stream).map_or(0, |s| s.len());
        (self.catalog.stream(stream).len() + staged) as u64
    }

    fn stream_seqs(&self, stream: &Stream) -> Vec<u64> {
        let mut seqs = self.catalog.stream(stream).to_vec();
        if let Some(staged) = self.streams.get(stream) {
            seqs.extend_from_slice(staged);
        }
        seqs
    }

    fn staged(&self, seq: u64) -> Option<&StagedRecord> {
        let committed = self.catalog.head().seq;
        let index = usize::try_from(seq.checked_sub(committed + 1)?).ok()?;
        self.records.get(index)
    }

    /// Metadata of a committed or staged record.
    #[must_use]
    pub fn meta(&self, seq: u64) -> Option<Meta> {
        if let Some(staged) = self.staged(seq) {
            return Some(Meta {
                event_type: staged.event.envelope.event_type,
                retracted: self.retracted.contains(&seq),
            });
        }
        self.catalog.meta(seq).map(|m| Meta {
            retracted: m.retracted || self.retracted.contains(&seq),
            ..m
        })
    }

    /// A committed or staged record.
    ///
    /// # Errors
    /// When the stored record cannot be read or fails its checks.
    pub fn record(&self, seq: u64) -> Result<RecordedEvent, Error> {
        match self.staged(seq) {
            Some(staged) => Ok(staged.event.clone()),
            None => read_event(self.store, seq),
        }
    }

    /// The effective facts of a stream as staged so far.
    ///
    /// # Errors
    /// When a record of the stream cannot be read.
    pub fn facts(&self, stream: &Stream) -> Result<StreamFacts, Error> {
        if is_cached(stream) {
            let facts = self
                .facts
                .get(stream)
                .or_else(|| self.catalog.facts(stream))
                .cloned()
                .unwrap_or_default();
            return Ok(facts);
        }
        let mut facts = StreamFacts::new();
        for seq in self.stream_seqs(stream) {
            apply_to_facts(&mut facts, &self.record(seq)?);
        }
        Ok(facts)
    }

    /// Records a staged event; `facts` is its stream's new fact list when the stream is cached.
    pub fn push(&mut self, record: StagedRecord, facts: Option<StreamFacts>) {
        let env = &record.event.envelope;
        assert_eq!(
            record.event.sequence,
            self.head.seq + 1,
            "staging at {} given record {}",
            self.head.seq,
            record.event.sequence
        );
        self.ids.insert(env.event_id, record.event.sequence);
        self.streams
            .entry(env.stream.clone())
            .or_default()
            .push(record.event.sequence);
        if let Some(target) = record.retracts {
            self.retracted.insert(target);
        }
        if let Some(facts) = facts {
            self.facts.insert(env.stream.clone(), facts);
        }
        self.head = Head {
            seq: record.event.sequence,
            hash: record.event.hash,
            recorded_at: env.recorded_at,
        };
        self.records.push(record);
    }

    /// The records staged from sequence `first` on (those of the current request), to fill in
    /// their bodies and hashes.
    pub fn records_from(&mut self, first: u64) -> &mut [StagedRecord] {
        let committed = self.catalog.head().seq;
        let start = usize::try_from(first.saturating_sub(committed + 1)).unwrap_or(usize::MAX);
        self.records.get_mut(start..).unwrap_or_default()
    }

    /// The hash of the record before sequence `seq` (committed or staged).
    #[must_use]
    pub fn hash_before(&self, seq: u64) -> Hash {
        match self.staged(seq.saturating_sub(1)) {
            Some(record) => record.event.hash,
            None => self.catalog.head().hash,
        }
    }

    /// Sets the head's hash once the current request's chain is computed.
    pub fn set_head_hash(&mut self, hash: Hash) {
        self.head.hash = hash;
    }

    /// Marks the start of a request.
    #[must_use]
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            records: self.records.len(),
            head: self.head,
            facts: self.facts.clone(),
        }
    }

    /// Undoes everything staged since `savepoint`.
    pub fn rollback(&mut self, savepoint: Savepoint) {
        while self.records.len() > savepoint.records {
            let Some(record) = self.records.pop() else {
                break;
            };
            let env = &record.event.envelope;
            self.ids.remove(&env.event_id);
            if let Some(seqs) = self.streams.get_mut(&env.stream) {
                seqs.pop();
                if seqs.is_empty() {
                    self.streams.remove(&env.stream);
                }
            }
            if let Some(target) = record.retracts {
                self.retracted.remove(&target);
            }
        }
        self.head = savepoint.head;
        self.facts = savepoint.facts;
    }

    /// The staged records, in order.
    #[must_use]
    pub fn into_records(self) -> Vec<StagedRecord> {
        self.records
    }

    /// The staged record of a sequence, if staged (for idempotent receipts).
    #[must_use]
    pub fn staged_event(&self, seq: u64) -> Option<&RecordedEvent> {
        self.staged(seq).map(|s| &s.event)
    }

    /// Whether the payload retracts something (helper for callers building records).
    #[must_use]
    pub fn retraction_target(&self, payload: &Payload) -> Option<u64> {
        match payload {
            Payload::Retracted(r) => self.seq_of(&r.target),
            _ => None,
        }
    }
}
