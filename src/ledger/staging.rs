//! The writer's view of the log during one group commit: the committed log (the store's index,
//! the catalogue's cached facts), then the group staged before this one while its commit has not
//! returned (an [`Overlay`]), then the records staged so far, with savepoints so that a failing
//! request leaves no trace.
//!
//! The overlay is what lets the writer stage group k+1 while group k commits (the handle's
//! pipeline): k+1 is decided against everything k appends, and is refused whole if k fails.
//! The store and the catalogue may or may not show k yet while k+1 is staged (k's commit
//! publishes it whenever it returns), so a staging fixes the committed head it started from:
//! the store's answers are cut at that head, the overlay stands for what follows it, and a
//! stream the overlay or this group appended to takes its version from the last record staged
//! for it. The catalogue is locked only for each look-up of its cached facts, never across a
//! request, so that a commit can publish while the next group is being staged.

use std::collections::HashSet;
use std::sync::Arc;

use proto_events::{EventType, Hash, Payload, RecordedEvent, Stream};
use uuid::Uuid;

use super::Shared;
use super::catalog::Head;
use super::walk::read_event;
use crate::entity::{StreamFacts, apply_to_facts, is_cached};
use crate::error::Error;

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

/// What the rules need of a correction's or retraction's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Its type.
    pub event_type: EventType,
    /// Whether a retraction of it is in the log or staged.
    pub retracted: bool,
}

/// A group staged before the one being staged, whose commit may not have returned yet: its
/// records and what staging needs to look up in them.
///
/// Invariants: `events` are contiguous from `first`, hashes filled in; `ids`, `streams` and
/// `retracted` index exactly those events; `facts` are the facts of the cached streams after
/// them; `head` is the last of them.
#[derive(Debug)]
pub struct Overlay {
    first: u64,
    events: Arc<Vec<RecordedEvent>>,
    ids: HashMap<Uuid, u64>,
    streams: HashMap<Stream, Vec<u64>>,
    retracted: HashSet<u64>,
    facts: HashMap<Stream, StreamFacts>,
    head: Head,
}

impl Overlay {
    /// The records, in order (what the commit writes and the feed delivers).
    #[must_use]
    pub fn events(&self) -> &Arc<Vec<RecordedEvent>> {
        &self.events
    }

    /// The facts of the country and case streams the records touched (for the catalogue's
    /// cache).
    #[must_use]
    pub fn facts(&self) -> &HashMap<Stream, StreamFacts> {
        &self.facts
    }

    /// The head after the records.
    #[must_use]
    pub fn head(&self) -> Head {
        self.head
    }

    fn event(&self, seq: u64) -> Option<&RecordedEvent> {
        let index = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.events.get(index)
    }
}

/// Where a request started, to roll back to.
pub struct Savepoint {
    records: usize,
    head: Head,
    facts: HashMap<Stream, StreamFacts>,
}

/// See the module documentation.
pub struct Staging {
    shared: Arc<Shared>,
    /// The committed head this staging started from (see the module documentation).
    committed: Head,
    /// The group staged before this one, when the catalogue did not have it at the start.
    below: Option<Arc<Overlay>>,
    /// The sequence this group's records follow (the catalogue's head, or the overlay's).
    base: u64,
    records: Vec<StagedRecord>,
    ids: HashMap<Uuid, u64>,
    /// Committed sequences of event ids already asked of the store (`None`: not recorded).
    known: HashMap<Uuid, Option<u64>>,
    streams: HashMap<Stream, Vec<u64>>,
    /// Committed versions of streams already asked of the store.
    versions: HashMap<Stream, u64>,
    retracted: HashSet<u64>,
    /// Facts of country and case streams as staged so far (also those loaded from the log).
    facts: HashMap<Stream, StreamFacts>,
    head: Head,
}

impl Staging {
    /// Starts staging on top of the committed log and, if the catalogue does not have it yet,
    /// the group staged before (`below`; ignored when the catalogue has it).
    ///
    /// # Panics
    /// When `below` neither follows the catalogue's head nor is covered by it: the writer
    /// stages one group over at most one uncommitted group.
    #[must_use]
    pub fn new(shared: &Arc<Shared>, below: Option<Arc<Overlay>>) -> Self {
        let committed = shared.catalog.read().head();
        let below = below.filter(|b| {
            assert!(
                b.first == committed.seq + 1 || b.head.seq <= committed.seq,
                "group {}..={} staged below is neither after head {} nor under it",
                b.first,
                b.head.seq,
                committed.seq
            );
            b.first == committed.seq + 1
        });
        let head = below.as_ref().map_or(committed, |b| b.head);
        Staging {
            shared: Arc::clone(shared),
            committed,
            below,
            base: head.seq,
            records: Vec::new(),
            ids: HashMap::default(),
            known: HashMap::default(),
            streams: HashMap::default(),
            versions: HashMap::default(),
            retracted: HashSet::new(),
            facts: HashMap::default(),
            head,
        }
    }

    /// The head including staged records.
    #[must_use]
    pub fn head(&self) -> Head {
        self.head
    }

    /// Asks the store for the committed sequences of `ids` at once (one round trip for a whole
    /// request), so that [`Staging::seq_of`] answers them from memory.
    ///
    /// # Errors
    /// Storage errors.
    pub fn prefetch_ids(&mut self, ids: &[Uuid]) -> Result<(), Error> {
        let missing: Vec<Uuid> = ids
            .iter()
            .filter(|id| !self.known.contains_key(id))
            .copied()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let committed = self.committed.seq;
        for (id, seq) in missing.iter().zip(self.shared.store.seqs_of(&missing)?) {
            self.known.insert(*id, seq.filter(|s| *s <= committed));
        }
        Ok(())
    }

    /// Notes an id the ledger just made up: it is new, nothing to look up.
    pub fn known_new(&mut self, id: Uuid) {
        self.known.insert(id, None);
    }

    /// The sequence of an event id, committed or staged.
    ///
    /// # Errors
    /// Storage errors.
    pub fn seq_of(&mut self, id: &Uuid) -> Result<Option<u64>, Error> {
        if let Some(seq) = self.ids.get(id) {
            return Ok(Some(*seq));
        }
        if let Some(seq) = self.below.as_ref().and_then(|b| b.ids.get(id)) {
            return Ok(Some(*seq));
        }
        self.prefetch_ids(std::slice::from_ref(id))?;
        Ok(self.known.get(id).copied().flatten())
    }

    /// The committed sequences of a stream, then those of the overlay, then its staged ones.
    fn stream_seqs(&self, stream: &Stream) -> Result<Vec<u64>, Error> {
        let mut seqs = self.shared.store.stream_seqs(stream, 1, usize::MAX)?;
        let committed = self.committed.seq;
        seqs.retain(|s| *s <= committed);
        if let Some(below) = self.below.as_ref().and_then(|b| b.streams.get(stream)) {
            seqs.extend_from_slice(below);
        }
        if let Some(staged) = self.streams.get(stream) {
            seqs.extend_from_slice(staged);
        }
        Ok(seqs)
    }

    /// Asks the store for the committed versions of `streams` at once, so that
    /// [`Staging::version`] answers them from memory.
    ///
    /// # Errors
    /// Storage errors.
    pub fn prefetch_versions(&mut self, streams: &[Stream]) -> Result<(), Error> {
        let missing: Vec<Stream> = streams
            .iter()
            .filter(|s| !self.versions.contains_key(*s))
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let versions = self.shared.store.stream_versions(&missing)?;
        self.versions.extend(missing.into_iter().zip(versions));
        Ok(())
    }

    /// The current version of a stream.
    ///
    /// # Errors
    /// Storage errors.
    pub fn version(&mut self, stream: &Stream) -> Result<u64, Error> {
        let last = self
            .streams
            .get(stream)
            .or_else(|| self.below.as_ref().and_then(|b| b.streams.get(stream)))
            .and_then(|seqs| seqs.last());
        if let Some(seq) = last {
            return self.staged(*seq).map(|e| e.stream_version).ok_or_else(|| {
                Error::Internal(format!("record {seq} of {stream} is staged but not found"))
            });
        }
        match self.versions.get(stream) {
            Some(version) => Ok(*version),
            None => {
                let version = self.shared.store.stream_version(stream)?;
                self.versions.insert(stream.clone(), version);
                Ok(version)
            }
        }
    }

    /// A record of this group or of the overlay.
    fn staged(&self, seq: u64) -> Option<&RecordedEvent> {
        match seq.checked_sub(self.base + 1) {
            Some(index) => self
                .records
                .get(usize::try_from(index).ok()?)
                .map(|r| &r.event),
            None => self.below.as_ref()?.event(seq),
        }
    }

    /// A committed or staged record.
    ///
    /// # Errors
    /// When the stored record cannot be read or fails its checks.
    pub fn record(&self, seq: u64) -> Result<RecordedEvent, Error> {
        match self.staged(seq) {
            Some(staged) => Ok(staged.clone()),
            None => read_event(&*self.shared.store, seq),
        }
    }

    /// What the rules need of a correction's or retraction's target at `seq`.
    ///
    /// # Errors
    /// When the record cannot be read.
    pub fn target(&mut self, seq: u64) -> Result<Target, Error> {
        let record = self.record(seq)?;
        let event_type = record.envelope.event_type;
        let retracted = self.retracted.contains(&seq)
            || self
                .below
                .as_ref()
                .is_some_and(|b| b.retracted.contains(&seq))
            || (event_type.is_fact()
                && self
                    .facts(&record.envelope.stream)?
                    .iter()
                    .any(|f| f.seq == seq && f.fact.is_none()));
        Ok(Target {
            event_type,
            retracted,
        })
    }

    /// The effective facts of a stream as staged so far.
    ///
    /// # Errors
    /// When a record of the stream cannot be read.
    pub fn facts(&mut self, stream: &Stream) -> Result<StreamFacts, Error> {
        if let Some(facts) = self.facts.get(stream) {
            return Ok(facts.clone());
        }
        if let Some(facts) = self.below.as_ref().and_then(|b| b.facts.get(stream)) {
            return Ok(facts.clone());
        }
        if let Some(facts) = self.shared.catalog.read().facts(stream) {
            return Ok(facts.clone());
        }
        let mut facts = StreamFacts::new();
        for seq in self.stream_seqs(stream)? {
            apply_to_facts(&mut facts, &self.record(seq)?);
        }
        let staged = self.streams.contains_key(stream)
            || self
                .below
                .as_ref()
                .is_some_and(|b| b.streams.contains_key(stream));
        if is_cached(stream) && !staged {
            // Read from the log once for this group; the commit caches it.
            self.facts.insert(stream.clone(), facts.clone());
        }
        Ok(facts)
    }

    /// Makes room for `n` more records (a request's events), so that a large batch is not
    /// moved each time the staging grows.
    pub fn reserve(&mut self, n: usize) {
        self.records.reserve(n);
        self.ids.reserve(n);
        self.streams.reserve(n);
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
        let start = usize::try_from(first.saturating_sub(self.base + 1)).unwrap_or(usize::MAX);
        self.records.get_mut(start..).unwrap_or_default()
    }

    /// The hash of the record before sequence `seq` (committed or staged).
    #[must_use]
    pub fn hash_before(&self, seq: u64) -> Hash {
        match self.staged(seq.saturating_sub(1)) {
            Some(event) => event.hash,
            None => self.committed.hash,
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

    /// Whether no record is staged.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The staged records' frames, in order, and the records as an overlay for the next group.
    #[must_use]
    pub fn into_parts(self) -> (Vec<Vec<u8>>, Overlay) {
        let facts = self
            .facts
            .into_iter()
            .filter(|(stream, _)| is_cached(stream))
            .collect();
        let (events, frames): (Vec<RecordedEvent>, Vec<Vec<u8>>) =
            self.records.into_iter().map(|r| (r.event, r.frame)).unzip();
        let overlay = Overlay {
            first: self.base + 1,
            events: Arc::new(events),
            ids: self.ids,
            streams: self.streams,
            retracted: self.retracted,
            facts,
            head: self.head,
        };
        (frames, overlay)
    }

    /// The staged record of a sequence, if staged here or in the overlay (for idempotent
    /// receipts).
    #[must_use]
    pub fn staged_event(&self, seq: u64) -> Option<&RecordedEvent> {
        self.staged(seq)
    }

    /// The sequence a retraction retracts, if its target is known.
    ///
    /// # Errors
    /// Storage errors.
    pub fn retraction_target(&mut self, payload: &Payload) -> Result<Option<u64>, Error> {
        match payload {
            Payload::Retracted(r) => self.seq_of(&r.target),
            _ => Ok(None),
        }
    }
}
