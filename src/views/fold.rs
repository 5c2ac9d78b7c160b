//! Folding the log into views from scratch: for a rebuild, and for views "as of" a sequence, a
//! recording time or a real-world date, computed without touching the current state.
//!
//! Each record is decided by [`change::decide`], the same decision the writer makes append by
//! append; only where the stream's earlier facts come from differs (here: a cache of country and
//! case streams, a cache of the activities scheduled and not yet delivered, and the log for the
//! rare meeting or other activity that is corrected or retracted).

use std::collections::{BTreeMap, VecDeque};

use proto_events::{Date, Fact, Payload, RecordedEvent, Stream};

use super::change::{self, needs_history};
use super::state::{Tracker, ViewState};
use super::timeline::TimelineFolder;
use crate::entity::{StreamFact, StreamFacts, activity_scheduled, is_cached};

/// The most streams a fold keeps the facts of: more than the writer keeps
/// (`entity::MAX_CACHED_STREAMS`), since a fold visits every open case of the log, not only
/// those appended to lately, and each miss reads the stream from the log.
pub const MAX_FOLDED_STREAMS: usize = 131_072;
/// The most scheduled activities a fold keeps the facts of until they are delivered or
/// cancelled (the oldest go first): each delivery of one not kept reads the stream from the log.
pub const MAX_PENDING_ACTIVITIES: usize = 65_536;
use crate::error::Error;

/// Loads the effective facts of a stream from records before a sequence.
pub type Loader<'a> = dyn FnMut(&Stream, u64) -> Result<StreamFacts, Error> + 'a;

/// Folds records, in log order, into a [`ViewState`].
pub struct Folder {
    state: ViewState,
    cache: FoldCache,
    on_or_before: Option<Date>,
    tracker: Tracker,
}

impl Folder {
    /// A folder starting from empty views; with a date, only facts dated on or before it count.
    #[must_use]
    pub fn new(on_or_before: Option<Date>) -> Self {
        Folder {
            state: ViewState::default(),
            cache: FoldCache::default(),
            on_or_before,
            tracker: Tracker::default(),
        }
    }

    /// A folder going on from `state` (views folded up to `state.as_of`, counting only facts
    /// dated on or before `on_or_before` when given): the facts of earlier streams are read
    /// from the log when needed.
    #[must_use]
    pub fn resume(state: ViewState, on_or_before: Option<Date>) -> Self {
        Folder {
            state,
            cache: FoldCache::partial(),
            on_or_before,
            tracker: Tracker::default(),
        }
    }

    /// Folds the next record. `load` is asked for a meeting's or activity's earlier facts only
    /// when it is corrected, retracted or continued.
    ///
    /// # Errors
    /// When `load` fails.
    pub fn apply(&mut self, event: &RecordedEvent, load: &mut Loader<'_>) -> Result<(), Error> {
        self.state.as_of = event.sequence;
        if folds_to_nothing(event) {
            return Ok(());
        }
        let before = self.cache.before(event, load)?;
        let (change, after) = change::decide(event, &before, self.on_or_before);
        self.state.apply(&change, &mut self.tracker);
        match after {
            Some(after) => self.cache.keep(event, after),
            None => self.cache.keep_first(event),
        }
        Ok(())
    }

    /// [`Folder::apply`], also taking the record into `timeline`, a timeline folder at the same
    /// sequence counting the same dates: one decision for both (a page that shows the views and
    /// the timeline at one point folds the log once). The timeline folder's own cache is not
    /// used.
    ///
    /// # Errors
    /// When `load` fails.
    pub fn apply_with_timeline(
        &mut self,
        event: &RecordedEvent,
        load: &mut Loader<'_>,
        timeline: &mut TimelineFolder,
    ) -> Result<(), Error> {
        debug_assert_eq!(timeline.timeline().on, self.on_or_before);
        self.state.as_of = event.sequence;
        if folds_to_nothing(event) {
            timeline.skip(event);
            return Ok(());
        }
        let before = self.cache.before(event, load)?;
        let (change, after) = change::decide(event, &before, self.on_or_before);
        self.state.apply(&change, &mut self.tracker);
        let after = timeline.take(event, &before, &change, after);
        self.cache.keep(event, after);
        Ok(())
    }

    /// Whether folding `event` now would ask `load` for its stream's facts (a reader can
    /// read them ahead).
    #[must_use]
    pub fn would_load(&self, event: &RecordedEvent) -> bool {
        !folds_to_nothing(event) && self.cache.would_load(event)
    }

    /// The folded views.
    ///
    /// # Errors
    /// [`Error::Internal`] when a counter went negative (a bug: folding only adds what it
    /// subtracts).
    pub fn finish(self) -> Result<ViewState, Error> {
        match self.state.negative_counter() {
            Some(bad) => Err(Error::Internal(format!("a fold left {bad}"))),
            None => Ok(self.state),
        }
    }
}

/// Whether a record changes nothing a fold makes, whatever came before it: a case's milestone,
/// which no view, timeline or entity reads (a correction replaces a milestone by a milestone,
/// so a correction of one changes nothing either, and finds nothing kept to change). Folding
/// it would copy and compare the case's facts for nothing.
#[must_use]
pub fn folds_to_nothing(event: &RecordedEvent) -> bool {
    matches!(event.payload, Payload::Fact(Fact::CaseMilestoneRecorded(_)))
}

/// The facts of the streams a fold has met: of the country and case streams, at most
/// [`MAX_FOLDED_STREAMS`]; of the activities scheduled and not yet delivered or cancelled, at
/// most [`MAX_PENDING_ACTIVITIES`], the latest scheduled. (Keeping the meetings and activities
/// met lately too, for their corrections, cost more in copies than the reads it saved.)
///
/// Invariants: a kept stream's facts are those of every record of it folded so far (each
/// record of a kept stream passes through [`FoldCache::keep`]), except a case's milestones,
/// which neither the views nor the timeline read (and a correction replaces a milestone by a
/// milestone). A country or case not kept has no facts while none was ever evicted and the
/// fold began at the first record; otherwise, and for a meeting or an activity not kept, its
/// facts are read from the log.
#[derive(Debug, Clone)]
pub struct FoldCache {
    capacity: usize,
    facts: foldhash::HashMap<Stream, StreamFacts>,
    /// Kept cases that were closed, oldest first: evicted before any other stream (a closed
    /// case is seldom continued, an open one often is).
    closed: VecDeque<Stream>,
    evicted: bool,
    /// Activities scheduled and not yet delivered or cancelled.
    pending: Recent,
}

/// What a [`FoldCache`] knows of a stream's facts before a record.
enum Kept<'a> {
    /// The record needs none, or the stream has none.
    Nothing,
    Facts(&'a StreamFacts),
    /// Not kept: they are in the log.
    Unknown,
}

/// Streams' facts, at most `capacity` of them: the one kept first goes first.
#[derive(Debug, Clone)]
struct Recent {
    capacity: usize,
    /// Each stream's facts, with the tick it was first kept at.
    facts: foldhash::HashMap<Stream, (u64, StreamFacts)>,
    /// The streams by the tick they were first kept at.
    order: BTreeMap<u64, Stream>,
    tick: u64,
}

impl Recent {
    fn new(capacity: usize) -> Self {
        Recent {
            capacity,
            facts: foldhash::HashMap::default(),
            order: BTreeMap::new(),
            tick: 0,
        }
    }

    fn get(&self, stream: &Stream) -> Option<&StreamFacts> {
        self.facts.get(stream).map(|(_, facts)| facts)
    }

    fn put(&mut self, stream: &Stream, facts: StreamFacts) {
        if let Some((_, kept)) = self.facts.get_mut(stream) {
            *kept = facts;
            return;
        }
        if self.facts.len() >= self.capacity
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.facts.remove(&oldest);
        }
        if self.capacity == 0 {
            return;
        }
        self.tick += 1;
        self.order.insert(self.tick, stream.clone());
        self.facts.insert(stream.clone(), (self.tick, facts));
    }

    fn remove(&mut self, stream: &Stream) {
        if let Some((tick, _)) = self.facts.remove(stream) {
            self.order.remove(&tick);
        }
    }
}

impl Default for FoldCache {
    /// A cache for a fold from the first record.
    fn default() -> Self {
        FoldCache {
            capacity: MAX_FOLDED_STREAMS,
            facts: foldhash::HashMap::default(),
            closed: VecDeque::new(),
            evicted: false,
            pending: Recent::new(MAX_PENDING_ACTIVITIES),
        }
    }
}

impl FoldCache {
    /// A cache for a fold that starts after the first record: what it has not met may exist.
    #[must_use]
    pub fn partial() -> Self {
        FoldCache {
            evicted: true,
            ..FoldCache::default()
        }
    }

    /// The effective facts of `event`'s stream before it, as far as deciding it needs them
    /// ([`needs_history`]): none for a fact that starts its stream or a stream's first event;
    /// for a country or a case, those kept, or none when none was ever evicted, or read by
    /// `load`; for a meeting or an activity, those kept (a pending activity), or read by `load`.
    ///
    /// # Errors
    /// When `load` fails.
    pub fn before(
        &self,
        event: &RecordedEvent,
        load: &mut Loader<'_>,
    ) -> Result<StreamFacts, Error> {
        match self.kept(event) {
            Kept::Nothing => Ok(StreamFacts::new()),
            Kept::Facts(facts) => Ok(facts.clone()),
            Kept::Unknown => load(&event.envelope.stream, event.sequence),
        }
    }

    /// Whether [`FoldCache::before`] would read `event`'s stream from the log now.
    #[must_use]
    pub fn would_load(&self, event: &RecordedEvent) -> bool {
        matches!(self.kept(event), Kept::Unknown)
    }

    fn kept(&self, event: &RecordedEvent) -> Kept<'_> {
        let stream = &event.envelope.stream;
        if !needs_history(event) || event.stream_version == 1 {
            return Kept::Nothing;
        }
        if !is_cached(stream) {
            return self.pending.get(stream).map_or(Kept::Unknown, Kept::Facts);
        }
        match self.facts.get(stream) {
            Some(facts) => Kept::Facts(facts),
            None if !self.evicted => Kept::Nothing,
            None => Kept::Unknown,
        }
    }

    /// Keeps the facts of `event`'s stream after it (`after`).
    pub fn keep(&mut self, event: &RecordedEvent, after: StreamFacts) {
        let stream = &event.envelope.stream;
        if matches!(stream, Stream::Partner(_)) {
            return;
        }
        if !is_cached(stream) {
            self.keep_entity(stream, after);
            return;
        }
        if self.facts.len() >= self.capacity && !self.facts.contains_key(stream) {
            self.evict();
        }
        if matches!(event.payload, Payload::Fact(Fact::CaseClosed(_))) {
            self.closed.push_back(stream.clone());
        }
        let mut after = after;
        after.retain(|f| !matches!(f.fact, Some(Fact::CaseMilestoneRecorded(_))));
        self.facts.insert(stream.clone(), after);
    }

    /// Keeps the facts of an activity scheduled by `event` (its stream's first record, whose
    /// decision did not need the stream's facts, [`needs_history`]).
    pub fn keep_first(&mut self, event: &RecordedEvent) {
        if let Payload::Fact(fact @ Fact::ActivityScheduled(_)) = &event.payload {
            let first = StreamFact {
                seq: event.sequence,
                event_id: event.envelope.event_id,
                fact: Some(fact.clone()),
            };
            self.pending.put(&event.envelope.stream, vec![first]);
        }
    }

    /// Keeps a meeting's or an activity's facts while it is a scheduled activity; forgets them
    /// once it is not.
    fn keep_entity(&mut self, stream: &Stream, after: StreamFacts) {
        if activity_scheduled(&after) {
            self.pending.put(stream, after);
        } else {
            self.pending.remove(stream);
        }
    }

    /// Makes room for one stream: a closed case if one is kept, else any stream but a
    /// country's.
    fn evict(&mut self) {
        while let Some(stream) = self.closed.pop_front() {
            if self.facts.remove(&stream).is_some() {
                self.evicted = true;
                return;
            }
        }
        let any = self
            .facts
            .keys()
            .find(|s| !matches!(s, Stream::Country(_)))
            .cloned();
        if let Some(stream) = any {
            self.facts.remove(&stream);
            self.evicted = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::views::change::tests::{facts_before, id, log};

    /// Folds `log` with a cache of `capacity` streams; returns the views and how many times the
    /// log was read for a stream's facts.
    fn fold(log: &[RecordedEvent], capacity: usize) -> (ViewState, usize) {
        fold_with(log, capacity, MAX_PENDING_ACTIVITIES)
    }

    /// [`fold`] with room for `pending` scheduled activities.
    fn fold_with(log: &[RecordedEvent], capacity: usize, pending: usize) -> (ViewState, usize) {
        let mut folder = Folder::new(None);
        folder.cache.capacity = capacity;
        folder.cache.pending = Recent::new(pending);
        let loads = std::cell::Cell::new(0);
        let mut load = |stream: &Stream, before: u64| -> Result<StreamFacts, Error> {
            loads.set(loads.get() + 1);
            Ok(facts_before(log, stream, before))
        };
        for e in log {
            // What a read-ahead is told to read is what the fold then asks for.
            let foretold = folder.would_load(e);
            let earlier = loads.get();
            folder.apply(e, &mut load).expect("fold");
            assert_eq!(
                loads.get() > earlier,
                foretold,
                "would_load foretells the read of record {}",
                e.sequence
            );
        }
        (folder.finish().expect("no negative counter"), loads.get())
    }

    #[test]
    fn a_fold_that_evicts_streams_gives_the_views_of_one_that_keeps_them_all() {
        // Twelve cases opened, then each continued and every third closed, then continued
        // again: with room for three streams, most are evicted and read back.
        let mut values = Vec::new();
        let mut n = 0;
        let mut next = || {
            n += 1;
            id(n)
        };
        let countries = [["PT", "GW"], ["ES", "CV"], ["BR", "GH"]];
        for case in 0..12u64 {
            let pair = countries[(case % 3) as usize];
            values.push(
                json!({"type": "CaseOpened", "recorded_by": "t", "event_id": next(),
                "case_id": id(1000 + case), "codename": "C", "case_type": "other",
                "countries": pair, "lead": pair[0], "opened_on": "2017-03-01"}),
            );
        }
        for (round, added) in ["VE", "NG"].into_iter().enumerate() {
            for case in 0..12u64 {
                values.push(json!({"type": "CaseCountryAdded", "recorded_by": "t",
                    "event_id": next(), "case_id": id(1000 + case),
                    "country": added, "added_on": "2018-05-01"}));
                if round == 0 && case % 3 == 0 {
                    values.push(json!({"type": "CaseClosed", "recorded_by": "t",
                        "event_id": next(), "case_id": id(1000 + case),
                        "closed_on": "2019-10-15", "outcome": "convicted"}));
                }
            }
        }
        let log = log(&values);
        let (all, none_read) = fold(&log, MAX_FOLDED_STREAMS);
        assert_eq!(
            none_read, 0,
            "a cache with room for every stream never reads the log"
        );
        let (evicting, read) = fold(&log, 3);
        assert!(
            read > 0,
            "the small cache evicted streams and read them back"
        );
        assert_eq!(evicting, all);
    }

    #[test]
    fn scheduled_activities_are_kept_until_delivered_and_the_others_read_from_the_log() {
        // Twelve activities scheduled, then each delivered, then every second delivery corrected
        // to add a country: with room for every pending activity, only the corrections read the
        // log; with room for four, the deliveries of the eight scheduled first do too. The views
        // are the same.
        let mut values = Vec::new();
        let activity = |kind: &str, event: u64, activity: u64, countries: &[&str]| {
            json!({"type": kind, "recorded_by": "t", "event_id": id(event),
                "activity_id": id(activity), "kind": "training", "title": "Training",
                "pillar": "capacity_building", "start": "2019-04-14", "end": "2019-04-15",
                "venue": "virtual", "beneficiaries": countries, "other_countries": [],
                "participants": {"total": 20, "women": 8}})
        };
        for a in 0..12u64 {
            let mut scheduled = activity("ActivityScheduled", 1 + a, 1000 + a, &["GH", "NG"]);
            let fields = scheduled.as_object_mut().expect("object");
            for delivered_only in ["pillar", "other_countries", "participants"] {
                fields.remove(delivered_only);
            }
            values.push(scheduled);
        }
        for a in 0..12u64 {
            values.push(activity(
                "ActivityDelivered",
                100 + a,
                1000 + a,
                &["GH", "NG"],
            ));
        }
        for a in (0..12u64).step_by(2) {
            let mut replacement = activity("ActivityDelivered", 0, 1000 + a, &["GH", "NG", "ES"]);
            let fields = replacement.as_object_mut().expect("object");
            for envelope in ["type", "recorded_by", "event_id"] {
                fields.remove(envelope);
            }
            values.push(json!({"type": "EventCorrected", "recorded_by": "t",
                "event_id": id(200 + a), "target": id(100 + a), "reason": "Spain took part",
                "replacement": replacement}));
        }
        let log = log(&values);
        let (all, read) = fold(&log, MAX_FOLDED_STREAMS);
        assert_eq!(
            read, 6,
            "only the six corrections of delivered activities read the log"
        );
        let (evicting, read) = fold_with(&log, MAX_FOLDED_STREAMS, 4);
        assert_eq!(
            read,
            6 + 8,
            "and the deliveries of the eight scheduled first"
        );
        assert_eq!(evicting, all);
        let spain = all
            .country_view(proto_events::CountryCode::parse("ES").expect("ES"))
            .map(|v| v.activities.total);
        assert_eq!(
            spain,
            Some(6),
            "six corrected deliveries with Spain in them"
        );
    }
}
