//! The single writer: stages a group of requests ([`Writer::stage_group`]), then writes it as
//! one atomic store commit (records, the views they change, the Merkle tiles they fill, the new
//! head), publishes it and answers each request ([`Staged::commit`]). The two steps may run on
//! two threads, the next group staged while one commits: a group is staged over the one before
//! it whether or not its commit has returned (`staging::Overlay`), committed only once that
//! commit has returned, and refused whole if it failed.
//!
//! Sequence numbers are assigned here, one by one, from the head; never by sled's `generate_id`.

use std::sync::Arc;
use std::time::Instant;

use proto_events::hash::to_hex;
use proto_events::staff::RecordedMeta;
use proto_events::{
    Envelope, NewEvent, Payload, Position, RecordedEvent, Rule, Stream, Timestamp, Violation,
    codec::encode_body, values::utc_date,
};
use uuid::Uuid;

use super::Shared;
use super::catalog::Head;
use super::frame::{FRAME_HEADER, chain_hash, frame};
use super::rules;
use super::staging::{Overlay, StagedRecord, Staging};
use super::tiles::Frontier;
use crate::entity::{StreamFacts, is_cached};
use crate::error::Error;
use crate::merkle::leaf_hash;
use crate::store::{Group, Row, TileWrite, ViewWrite};
use crate::views::change;
use crate::views::digest::Digest;
use crate::views::state::{Touched, Tracker, ViewState};
use crate::views::stored;

/// The largest stored body of one event: 64 KiB less one byte, the most a C2SP tlog-tiles entry
/// bundle can carry (its entries have a big-endian u16 length).
pub const MAX_EVENT_BYTES: usize = 64 * 1024 - 1;
/// The most events in one atomic batch.
pub const MAX_BATCH_EVENTS: usize = 10_000;
/// The most bytes of stored bodies in one atomic batch.
pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;

/// The most records appended without writing the view parts they changed: the stored views lag
/// the head by at most this many records (plus one group), which an open folds on from them.
pub const VIEWS_EVERY: u64 = 4096;

/// When a group writes the view parts changed since they were last written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Views {
    /// With this group: the stored views are at its head.
    Now,
    /// Once [`VIEWS_EVERY`] records have gone by without them (a writer under load: another
    /// group follows at once, and the parts each group rewrote are most of what it wrote).
    WhenDue,
}

/// Requests with fewer events are validated and encoded on the writer's thread alone.
const PARALLEL_FROM: usize = 128;

/// What the ledger answers for each appended event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Receipt {
    /// Global sequence.
    pub seq: u64,
    /// Event id.
    pub event_id: Uuid,
    /// Stream.
    pub stream: Stream,
    /// Stream version.
    pub version: u64,
    /// Chained hash (lower-case hex in JSON).
    #[serde(with = "proto_events::hash::serde_hex")]
    pub hash: proto_events::Hash,
}

impl Receipt {
    fn of(event: &RecordedEvent) -> Self {
        Receipt {
            seq: event.sequence,
            event_id: event.envelope.event_id,
            stream: event.envelope.stream.clone(),
            version: event.stream_version,
            hash: event.hash,
        }
    }
}

/// The answer to each request of a group, and the records committed (durable and published),
/// when anything was.
pub type GroupOutcome = (
    Vec<Result<Vec<Receipt>, Error>>,
    Option<Arc<Vec<RecordedEvent>>>,
);

/// What the writer decided for one event of a request.
enum Outcome {
    /// Already recorded with identical content: its original receipt.
    Existing(Receipt),
    /// Staged by this group at `seq` (its hash is computed after its request is decided).
    Staged {
        seq: u64,
        recorded: Option<RecordedMeta>,
    },
}

/// One event to append, with what an export recorded for it when it is being imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The event.
    pub event: NewEvent,
    /// For `import`: the exported recording time (kept) and sequence and hash (checked when
    /// `verify_hashes` is set).
    pub recorded: Option<RecordedMeta>,
}

/// One atomic batch.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The events, appended all or none.
    pub events: Vec<Pending>,
    /// For imports: refuse the batch unless every event reproduces its exported sequence and hash.
    pub verify_hashes: bool,
    /// Validate only: the request is staged and answered as an append would be (every rule,
    /// contextual ones included), then rolled back at once; nothing of it is written and no
    /// other request sees it.
    pub dry_run: bool,
}

impl Request {
    /// A plain append of `events`.
    #[must_use]
    pub fn append(events: Vec<NewEvent>) -> Self {
        Request {
            events: events
                .into_iter()
                .map(|event| Pending {
                    event,
                    recorded: None,
                })
                .collect(),
            verify_hashes: false,
            dry_run: false,
        }
    }
}

/// A group being staged: requests are staged into it as they come ([`Writer::stage`]) until it
/// is closed ([`Writer::close`]).
pub struct Open {
    staging: Staging,
    results: Vec<Result<Vec<Receipt>, Error>>,
    events: usize,
    started: Instant,
}

impl Open {
    /// A group staged on top of the committed log and of `below`, the group staged before it,
    /// if its commit has not been published yet.
    #[must_use]
    pub fn new(shared: &Arc<Shared>, below: Option<Arc<Overlay>>) -> Open {
        Open {
            staging: Staging::new(shared, below),
            results: Vec::new(),
            events: 0,
            started: Instant::now(),
        }
    }

    /// The events of the requests staged so far (those refused included).
    #[must_use]
    pub fn events(&self) -> usize {
        self.events
    }
}

/// A group staged and closed: each request's answer, and what the store is to write for those
/// that succeeded.
pub struct Staged {
    results: Vec<Result<Vec<Receipt>, Error>>,
    write: Option<Write>,
    started: Instant,
}

/// What one group writes, owned (it may be committed on another thread).
struct Write {
    overlay: Arc<Overlay>,
    /// The records' frames, in the overlay's order.
    frames: Vec<Vec<u8>>,
    /// The views after the group, to publish with it.
    views: Arc<ViewState>,
    view_writes: Vec<ViewWrite>,
    tiles: Vec<TileWrite>,
    tree_size: Option<u64>,
}

impl Staged {
    fn answer(results: Vec<Result<Vec<Receipt>, Error>>, started: Instant) -> Staged {
        Staged {
            results,
            write: None,
            started,
        }
    }

    /// Whether the group has records to write.
    #[must_use]
    pub fn has_records(&self) -> bool {
        self.write.is_some()
    }

    /// The records staged, for the next group to be staged over while this one commits.
    #[must_use]
    pub fn overlay(&self) -> Option<Arc<Overlay>> {
        self.write.as_ref().map(|w| Arc::clone(&w.overlay))
    }

    /// Writes the group in one store commit (one sync) and publishes it: the catalogue's head,
    /// cached facts and the views move together. Returns each request's answer and, when
    /// anything was committed, the committed records. Groups are committed in the order they
    /// were staged, each once the one below it has returned.
    pub fn commit(self, shared: &Shared) -> GroupOutcome {
        let Staged {
            results,
            write,
            started,
        } = self;
        if let Some(reason) = shared.poison_reason() {
            // A poisoned ledger writes nothing, and what was decided over the group whose
            // commit failed is not acknowledged.
            return (refuse(results, &reason), None);
        }
        let Some(write) = write else {
            return (results, None);
        };
        let events = write.overlay.events();
        let group = Group {
            records: events
                .iter()
                .zip(&write.frames)
                .map(|(event, frame)| Row {
                    seq: event.sequence,
                    event_id: event.envelope.event_id,
                    stream: &event.envelope.stream,
                    stream_version: event.stream_version,
                    recorded_at: event.envelope.recorded_at,
                    event_type: event.envelope.event_type,
                    frame,
                })
                .collect(),
            views: write.view_writes,
            head: Some((write.overlay.head().seq, write.overlay.head().hash)),
            tiles: write.tiles,
            tree_size: write.tree_size,
            ..Group::default()
        };
        let sync = match shared.store.commit(&group) {
            Ok(sync) => sync,
            Err(e) => {
                // Fail-stop, whatever the error (even a limit the store refused before writing:
                // the frontier has moved on), and nothing of this group is acknowledged. The
                // writer's views return to what is published when it next stages.
                let reason = e.to_string();
                shared.poison(&reason);
                return (refuse(results, &reason), None);
            }
        };
        tracing::debug!(
            events = events.len(),
            sync_us = sync.as_micros() as u64,
            head = write.overlay.head().seq,
            "group commit"
        );
        shared.metrics.record_group(events.len() as u64, sync);
        {
            // The head and the views move together, under the catalogue's lock: a reader sees
            // both before the group or both after it.
            let mut catalog = shared.catalog.write();
            for (stream, facts) in write.overlay.facts() {
                catalog.cache(stream.clone(), facts.clone());
            }
            catalog.advance(write.overlay.head());
            *shared.views.write() = write.views;
        }
        shared.metrics.record_commit(started.elapsed());
        (results, Some(Arc::clone(events)))
    }
}

/// Every answer that was a success becomes "not written: the ledger stopped".
fn refuse(
    results: Vec<Result<Vec<Receipt>, Error>>,
    reason: &str,
) -> Vec<Result<Vec<Receipt>, Error>> {
    results
        .into_iter()
        .map(|r| r.and_then(|_| Err(Error::Poisoned(reason.to_owned()))))
        .collect()
}

/// The writer's own state: the working copy of the views, ahead of the published one while a
/// group is staged.
pub struct Writer {
    views: ViewState,
    /// The digest of the stored view parts, following every commit.
    digest: Digest,
    tracker: Tracker,
    /// The Merkle tree's frontier; `None` when the ledger runs without the tree.
    tree: Option<Frontier>,
    /// Whether the views were reset after a failed commit.
    failed: bool,
    /// Records appended since the view parts were last written.
    views_behind: u64,
}

impl Writer {
    /// A writer continuing from `views`.
    #[must_use]
    pub fn new(views: ViewState, tree: Option<Frontier>) -> Self {
        Writer {
            views,
            digest: Digest::default(),
            tracker: Tracker::with_undo(),
            tree,
            failed: false,
            views_behind: 0,
        }
    }

    /// Stages `requests` into the open group, each all-or-nothing on its own; their answers
    /// are given when the group is committed.
    pub fn stage(&mut self, shared: &Shared, open: &mut Open, requests: Vec<Request>) {
        open.events += requests.iter().map(|r| r.events.len()).sum::<usize>();
        if let Some(refused) = shared.refuse_writes() {
            if !self.failed && matches!(refused, Error::Poisoned(_)) {
                // A commit failed (maybe on the pipeline's other thread, with this writer's
                // views already past it): they return to what is published, which matches the
                // committed catalogue. Nothing is written after a failure.
                self.failed = true;
                self.views = (**shared.views.read()).clone();
                self.tracker = Tracker::with_undo();
            }
            open.results.extend(requests.iter().map(|_| {
                Err(match &refused {
                    Error::Poisoned(reason) => Error::Poisoned(reason.clone()),
                    _ => Error::ReadOnly,
                })
            }));
            return;
        }
        let staging = &mut open.staging;
        // What these requests ask of the store, asked at once (one round trip on PostgreSQL
        // instead of one per request and per event). A failure here is left for each
        // request's own look-up to report.
        let given: Vec<Uuid> = requests
            .iter()
            .flat_map(|r| r.events.iter().filter_map(|p| p.event.event_id))
            .collect();
        let streams: Vec<Stream> = requests
            .iter()
            .flat_map(|r| r.events.iter().filter_map(|p| p.event.payload.stream()))
            .collect();
        if let Err(e) = staging
            .prefetch_ids(&given)
            .and_then(|()| staging.prefetch_versions(&streams))
        {
            tracing::debug!(error = %e, "the group's look-up failed; each request asks again");
        }
        for request in requests {
            let dry_run = request.dry_run;
            let staged = self.stage_or_roll_back(staging, request, dry_run);
            open.results.push(staged);
        }
    }

    /// Ends the open group: what the store is to write for it (see [`Staged::commit`]).
    pub fn close(&mut self, shared: &Shared, open: Open, views: Views) -> Staged {
        let Open {
            staging,
            results,
            started,
            ..
        } = open;
        if staging.is_empty() || self.failed {
            return Staged::answer(results, started);
        }
        let (frames, overlay) = staging.into_parts();
        match self.prepare(overlay, frames, views) {
            Ok(write) => Staged {
                results,
                write: Some(write),
                started,
            },
            Err(e) => {
                // Fail-stop, as for a failed write: the frontier or the digest may have moved on.
                let reason = e.to_string();
                shared.poison(&reason);
                Staged::answer(refuse(results, &reason), started)
            }
        }
    }

    /// Stages one request within its savepoint; rolls it back when it fails, or when it is only
    /// a check (`roll_back`).
    fn stage_or_roll_back(
        &mut self,
        staging: &mut Staging,
        request: Request,
        roll_back: bool,
    ) -> Result<Vec<Receipt>, Error> {
        let savepoint = staging.savepoint();
        self.tracker.begin();
        let staged = self.stage_request(staging, request).and_then(|receipts| {
            // Every counter counts effective things: a negative one is a bug, never written.
            match self.views.negative_counter_in(&self.tracker.touched) {
                Some(bad) => Err(Error::Internal(format!("an append would leave {bad}"))),
                None => Ok(receipts),
            }
        });
        if staged.is_err() || roll_back {
            staging.rollback(savepoint);
            self.tracker.rollback(&mut self.views);
        }
        staged
    }

    /// Stages one request. Intrinsic validation and encoding, the costly parts, run in parallel;
    /// the decisions that depend on order (ids, versions, contextual rules, views) run one event
    /// at a time; the hash chain is computed last, in order, since bodies do not contain it.
    fn stage_request(
        &mut self,
        staging: &mut Staging,
        request: Request,
    ) -> Result<Vec<Receipt>, Error> {
        use rayon::prelude::*;
        if request.events.len() > MAX_BATCH_EVENTS {
            return Err(Error::Limit(format!(
                "{} events in one batch, at most {MAX_BATCH_EVENTS}",
                request.events.len()
            )));
        }
        staging.reserve(request.events.len());
        let first_seq = staging.head().seq + 1;
        let now = Timestamp::now().max(staging.head().recorded_at);
        // Ids the ledger makes up (UUIDv7, 74 random bits) are new; the others are looked up at
        // once, for idempotency.
        let given: Vec<Uuid> = request
            .events
            .iter()
            .filter_map(|p| p.event.event_id)
            .collect();
        staging.prefetch_ids(&given)?;
        let ids: Vec<Uuid> = request
            .events
            .iter()
            .map(|p| {
                p.event.event_id.unwrap_or_else(|| {
                    let id = Uuid::now_v7();
                    staging.known_new(id);
                    id
                })
            })
            .collect();
        let day_of = |p: &Pending| utc_date(p.recorded.as_ref().map_or(now, |m| m.recorded_at));
        let validate = |p: &Pending| proto_events::validate::validate(&p.event, day_of(p));
        // Small requests stay on this thread: waking the pool costs more than they do.
        let checked: Vec<Vec<Violation>> = if request.events.len() < PARALLEL_FROM {
            request.events.iter().map(validate).collect()
        } else {
            request
                .events
                .par_iter()
                .with_min_len(64)
                .map(validate)
                .collect()
        };
        let mut outcomes = Vec::with_capacity(request.events.len());
        // Every event is decided, even after one fails, so that all the problems of a batch are
        // reported at once (later ones may follow from earlier ones); nothing of it is written.
        let mut refused: Vec<Violation> = Vec::new();
        for (index, ((pending, event_id), violations)) in
            request.events.into_iter().zip(ids).zip(checked).enumerate()
        {
            match self.decide(staging, pending, event_id, violations, now) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e @ (Error::Invalid(_) | Error::Conflict(_))) => {
                    refused.extend(with_position(e, index).violations().iter().cloned());
                }
                Err(other) => return Err(other),
            }
        }
        if !refused.is_empty() {
            return Err(Error::from_violations(refused));
        }
        let mut prev = staging.hash_before(first_seq);
        let staged = staging.records_from(first_seq);
        let encode = |r: &StagedRecord| encode_body(&r.event).map_err(Error::from);
        let bodies: Vec<Result<Vec<u8>, Error>> = if staged.len() < PARALLEL_FROM {
            staged.iter().map(encode).collect()
        } else {
            staged.par_iter().with_min_len(64).map(encode).collect()
        };
        let mut bytes = 0usize;
        for (record, body) in staged.iter_mut().zip(bodies) {
            let body = body?;
            if body.len() > MAX_EVENT_BYTES {
                return Err(Error::Limit(format!(
                    "event {} is {} bytes stored, at most {MAX_EVENT_BYTES}",
                    record.event.envelope.event_id,
                    body.len()
                )));
            }
            bytes += body.len();
            let event = &mut record.event;
            event.prev_hash = prev;
            event.hash = chain_hash(&prev, event.sequence, &body);
            record.frame = frame(&event.hash, &prev, &body);
            prev = event.hash;
        }
        if bytes > MAX_BATCH_BYTES {
            return Err(Error::Limit(format!(
                "batch exceeds {MAX_BATCH_BYTES} bytes of stored events"
            )));
        }
        staging.set_head_hash(prev);
        let mut receipts = Vec::with_capacity(outcomes.len());
        for (index, outcome) in outcomes.into_iter().enumerate() {
            let receipt = match outcome {
                Outcome::Existing(receipt) => receipt,
                Outcome::Staged { seq, recorded } => {
                    let event = staging.staged_event(seq).ok_or_else(|| {
                        Error::Internal(format!("record {seq} was staged but is not found"))
                    })?;
                    if let Some(meta) = &recorded {
                        check_import(meta, event, request.verify_hashes)
                            .map_err(|v| {
                                Error::from_violations(vec![with_id(v, event.envelope.event_id)])
                            })
                            .map_err(|e| with_position(e, index))?;
                    }
                    Receipt::of(event)
                }
            };
            receipts.push(receipt);
        }
        Ok(receipts)
    }

    /// Decides one event against the ledger's state: idempotency, stream, version, contextual
    /// rules, views. A new event is staged with its body and hash still to be computed.
    fn decide(
        &mut self,
        staging: &mut Staging,
        pending: Pending,
        event_id: Uuid,
        mut violations: Vec<Violation>,
        now: Timestamp,
    ) -> Result<Outcome, Error> {
        let Pending { event, recorded } = pending;
        let invalid = |v: Violation| Error::from_violations(vec![with_id(v, event_id)]);
        if let Some(seq) = staging.seq_of(&event_id)? {
            return idempotent(staging, seq, &event, event_id);
        }
        let head = staging.head();
        let recorded_at = recording_time(head, recorded.as_ref(), now).map_err(invalid)?;
        let validated_on = utc_date(recorded.as_ref().map_or(now, |m| m.recorded_at));
        if utc_date(recorded_at) != validated_on {
            // The head's clock was ahead of ours by a day boundary: judge by the real day.
            violations = proto_events::validate::validate(&event, utc_date(recorded_at));
        }
        let stream = match rules::resolve_stream(staging, &event.payload)? {
            Ok(stream) => stream,
            Err(v) => {
                violations.push(v);
                return Err(Error::from_violations(with_ids(violations, event_id)));
            }
        };
        let current = staging.version(&stream)?;
        violations.extend(rules::check_version(event.expected_version, current));
        let old_facts = facts_before(staging, &stream, &event.payload, current)?;
        violations.extend(rules::check(
            staging,
            &event.payload,
            &stream,
            current,
            &old_facts,
        )?);
        if !violations.is_empty() {
            return Err(Error::from_violations(with_ids(violations, event_id)));
        }
        let retracts = staging.retraction_target(&event.payload)?;
        let seq = head.seq + 1;
        let recorded_event = RecordedEvent {
            sequence: seq,
            stream_version: current + 1,
            envelope: Envelope {
                event_id,
                stream: stream.clone(),
                event_type: event.payload.event_type(),
                schema_version: event.payload.event_type().schema_version(),
                recorded_by: event.recorded_by,
                recorded_at,
                source: event.source,
                correlation_id: event.correlation_id,
                causation_id: event.causation_id,
            },
            payload: event.payload,
            prev_hash: [0; 32],
            hash: [0; 32],
        };
        let (view_change, new_facts) = change::decide(&recorded_event, &old_facts, None);
        self.views.apply(&view_change, &mut self.tracker);
        let cached = is_cached(&stream);
        staging.push(
            StagedRecord {
                event: recorded_event,
                frame: Vec::new(),
                retracts,
            },
            new_facts.filter(|_| cached),
        );
        Ok(Outcome::Staged { seq, recorded })
    }

    /// What the store is to write for the records of `overlay`: the tiles they fill, the new
    /// head, and the view parts changed since they were last written, when `views` says so or
    /// [`VIEWS_EVERY`] records have gone by. The working views move on to after them.
    fn prepare(
        &mut self,
        overlay: Overlay,
        frames: Vec<Vec<u8>>,
        views: Views,
    ) -> Result<Write, Error> {
        let head = overlay.head();
        self.views.as_of = head.seq;
        self.views_behind += frames.len() as u64;
        let view_writes = if views == Views::Now || self.views_behind >= VIEWS_EVERY {
            self.take_view_writes()?
        } else {
            Vec::new()
        };
        let (mut tiles, mut tree_size) = (Vec::new(), None);
        if let Some(tree) = &mut self.tree {
            // Leaves are the record bodies; the tiles they fill go into the same group. A failed
            // write poisons the ledger, so the frontier never needs rolling back.
            for frame in &frames {
                tree.push(leaf_hash(frame.get(FRAME_HEADER..).unwrap_or_default()));
            }
            tiles = tree.take_writes();
            tree_size = Some(tree.size());
        }
        Ok(Write {
            overlay: Arc::new(overlay),
            frames,
            views: Arc::new(self.views.clone()),
            view_writes,
            tiles,
            tree_size,
        })
    }

    /// The working views (equal to the published ones between groups).
    #[must_use]
    pub fn views(&self) -> &ViewState {
        &self.views
    }

    /// The writes that store every view part changed since the views were last written (and
    /// their sequence); none when they are written up to the head.
    ///
    /// # Errors
    /// If encoding fails.
    pub fn take_view_writes(&mut self) -> Result<Vec<ViewWrite>, Error> {
        if self.views_behind == 0 {
            return Ok(Vec::new());
        }
        let writes = stored::writes(&self.views, &self.tracker.touched, &mut self.digest)?;
        self.tracker = Tracker::with_undo();
        self.views_behind = 0;
        Ok(writes)
    }

    /// Replaces the working views and the digest of their stored parts (at open, after a
    /// rebuild).
    pub fn set_views(&mut self, views: ViewState, digest: Digest) {
        self.views = views;
        self.digest = digest;
        self.tracker = Tracker::with_undo();
        self.views_behind = 0;
    }

    /// Replaces the working views with `views`, folded on from stored ones (whose parts'
    /// digest is `digest`) over the records after them: every part is written with the next
    /// group, since the tail may have changed any of them.
    pub fn set_views_ahead_of_stored(&mut self, views: ViewState, digest: Digest) {
        self.set_views(views, digest);
        self.tracker.touched = Touched::all();
        self.views_behind = VIEWS_EVERY;
    }
}

/// The facts of `stream` before an event, as the rules and views need them. A fact that starts
/// its stream has none; a cached stream's come from memory; others are read from the log.
fn facts_before(
    staging: &mut Staging,
    stream: &Stream,
    payload: &Payload,
    current: u64,
) -> Result<StreamFacts, Error> {
    if current == 0 || matches!(stream, Stream::Partner(_)) {
        return Ok(StreamFacts::new());
    }
    let fact = payload.as_fact();
    let delivery = matches!(fact, Some(proto_events::Fact::ActivityDelivered(_)));
    if !is_cached(stream) && !delivery && fact.is_some_and(proto_events::Fact::starts_stream) {
        // The event will be refused (its stream exists); no need to read the stream. (A
        // delivery may follow its schedule: its stream is read.)
        return Ok(StreamFacts::new());
    }
    staging.facts(stream)
}

/// The recording time: the later of the clock and the head (never decreasing), or for an
/// import the exported time, which must not go back either, nor be ahead of the clock (the
/// ledger's clock follows the head: a time in the future would stamp every later append).
fn recording_time(
    head: Head,
    recorded: Option<&RecordedMeta>,
    now: Timestamp,
) -> Result<Timestamp, Violation> {
    match recorded {
        Some(meta) if meta.recorded_at > Timestamp::now() => Err(Violation::new(
            "recorded_at",
            Rule::RecordedInFuture,
            format_args!("{} is in the future", meta.recorded_at),
        )),
        Some(meta) if meta.recorded_at < head.recorded_at => Err(Violation::new(
            "recorded_at",
            Rule::RecordedAtBeforeHead,
            format_args!(
                "{} is before the head's {}",
                meta.recorded_at, head.recorded_at
            ),
        )),
        Some(meta) => Ok(meta.recorded_at),
        None => Ok(now.max(head.recorded_at)),
    }
}

fn check_import(
    meta: &RecordedMeta,
    event: &RecordedEvent,
    verify_hashes: bool,
) -> Result<(), Violation> {
    if !verify_hashes {
        // Unverified, the exported sequence, time and hash would be taken on trust.
        return Err(Violation::new(
            "seq",
            Rule::ExportNotVerified,
            "the line has the recorded fields of an export; import it with --verify-hashes (it \
             must reproduce its sequence and hash), or remove seq, stream, version, recorded_at, \
             prev_hash and hash to record it as a new event",
        ));
    }
    if meta.sequence != event.sequence || meta.stream_version != event.stream_version {
        return Err(Violation::new(
            "seq",
            Rule::ImportMismatch,
            format_args!(
                "exported as {}/v{}, imported as {}/v{}",
                meta.sequence, meta.stream_version, event.sequence, event.stream_version
            ),
        ));
    }
    if meta.hash != event.hash {
        return Err(Violation::new(
            "hash",
            Rule::ImportMismatch,
            format_args!(
                "exported {}, recomputed {}",
                to_hex(&meta.hash),
                to_hex(&event.hash)
            ),
        ));
    }
    Ok(())
}

/// An event id already recorded: the original receipt if the content is identical, else a
/// conflict.
fn idempotent(staging: &Staging, seq: u64, event: &NewEvent, id: Uuid) -> Result<Outcome, Error> {
    let original = match staging.staged_event(seq) {
        Some(e) => e.clone(),
        None => staging.record(seq)?,
    };
    let env = &original.envelope;
    let same = env.recorded_by == event.recorded_by
        && env.source == event.source
        && env.correlation_id == event.correlation_id
        && env.causation_id == event.causation_id
        && original.payload == event.payload;
    if same && staging.staged_event(seq).is_some() {
        // Staged by this group: its hash is known once its request is hashed.
        Ok(Outcome::Staged {
            seq,
            recorded: None,
        })
    } else if same {
        Ok(Outcome::Existing(Receipt::of(&original)))
    } else {
        Err(Error::Conflict(vec![with_id(
            Violation::new(
                "event_id",
                Rule::EventIdReused,
                format_args!("{id} is already recorded at sequence {seq} with other content"),
            ),
            id,
        )]))
    }
}

fn with_id(mut v: Violation, id: Uuid) -> Violation {
    v.event_id = Some(id);
    v
}

fn with_ids(violations: Vec<Violation>, id: Uuid) -> Vec<Violation> {
    violations.into_iter().map(|v| with_id(v, id)).collect()
}

/// Sets the position (index in the batch) of every violation that has none.
fn with_position(e: Error, index: usize) -> Error {
    let fix = |vs: Vec<Violation>| {
        vs.into_iter()
            .map(|mut v| {
                v.position.get_or_insert(Position { index, line: 0 });
                v
            })
            .collect()
    };
    match e {
        Error::Invalid(vs) => Error::Invalid(fix(vs)),
        Error::Conflict(vs) => Error::Conflict(fix(vs)),
        other => other,
    }
}
