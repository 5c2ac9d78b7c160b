//! Folding the log into views from scratch: for a rebuild, and for views "as of" a sequence, a
//! recording time or a real-world date, computed without touching the current state.
//!
//! Each record is decided by [`change::decide`], the same decision the writer makes append by
//! append; only where the stream's earlier facts come from differs (here: a cache of country and
//! case streams, and the log for the rare meeting or activity that is corrected, retracted or
//! continued).

use std::collections::{HashMap, VecDeque};

use proto_events::{Date, Fact, Payload, RecordedEvent, Stream};

use super::change::{self, needs_history};
use super::state::{Tracker, ViewState};
use crate::entity::{StreamFacts, is_cached};

/// The most streams a fold keeps the facts of: more than the writer keeps
/// (`entity::MAX_CACHED_STREAMS`), since a fold visits every open case of the log, not only
/// those appended to lately, and each miss reads the stream from the log.
pub const MAX_FOLDED_STREAMS: usize = 65_536;
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

    /// A folder going on from `state` (views folded up to `state.as_of`, every fact counting):
    /// the facts of earlier streams are read from the log when needed.
    #[must_use]
    pub fn resume(state: ViewState) -> Self {
        Folder {
            state,
            cache: FoldCache::partial(),
            on_or_before: None,
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
        let before = self.cache.before(event, load)?;
        let (change, after) = change::decide(event, &before, self.on_or_before);
        self.state.apply(&change, &mut self.tracker);
        if let Some(after) = after {
            self.cache.keep(event, after);
        }
        Ok(())
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

/// The facts of the country and case streams a fold has met, at most [`MAX_FOLDED_STREAMS`]
/// of them; once one was evicted (or when the fold did not start at the first record), a
/// stream not kept is read from the log.
#[derive(Debug, Clone)]
pub struct FoldCache {
    capacity: usize,
    facts: HashMap<Stream, StreamFacts>,
    /// Kept cases that were closed, oldest first: evicted before any other stream (a closed
    /// case is seldom continued, an open one often is).
    closed: VecDeque<Stream>,
    evicted: bool,
}

impl Default for FoldCache {
    /// A cache for a fold from the first record.
    fn default() -> Self {
        FoldCache {
            capacity: MAX_FOLDED_STREAMS,
            facts: HashMap::new(),
            closed: VecDeque::new(),
            evicted: false,
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
    /// `load`; for a meeting or an activity (not kept), read by `load`.
    ///
    /// # Errors
    /// When `load` fails.
    pub fn before(
        &self,
        event: &RecordedEvent,
        load: &mut Loader<'_>,
    ) -> Result<StreamFacts, Error> {
        let stream = &event.envelope.stream;
        if !needs_history(event) || event.stream_version == 1 {
            return Ok(StreamFacts::new());
        }
        if !is_cached(stream) {
            return load(stream, event.sequence);
        }
        match self.facts.get(stream) {
            Some(facts) => Ok(facts.clone()),
            None if !self.evicted => Ok(StreamFacts::new()),
            None => load(stream, event.sequence),
        }
    }

    /// Keeps the facts of `event`'s stream after it, if it is a stream kept in memory.
    pub fn keep(&mut self, event: &RecordedEvent, after: StreamFacts) {
        let stream = &event.envelope.stream;
        if !is_cached(stream) {
            return;
        }
        if self.facts.len() >= self.capacity && !self.facts.contains_key(stream) {
            self.evict();
        }
        if matches!(event.payload, Payload::Fact(Fact::CaseClosed(_))) {
            self.closed.push_back(stream.clone());
        }
        self.facts.insert(stream.clone(), after);
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
        let mut folder = Folder::new(None);
        folder.cache.capacity = capacity;
        let mut loads = 0;
        let mut load = |stream: &Stream, before: u64| -> Result<StreamFacts, Error> {
            loads += 1;
            Ok(facts_before(log, stream, before))
        };
        for e in log {
            folder.apply(e, &mut load).expect("fold");
        }
        (folder.finish().expect("no negative counter"), loads)
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
}
