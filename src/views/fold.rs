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
    /// Facts of country and case streams seen so far, at most [`MAX_FOLDED_STREAMS`]; once one
    /// was evicted, a stream not cached is read from the log.
    cache: HashMap<Stream, StreamFacts>,
    /// Cached cases that were closed, oldest first: evicted before any other stream (a closed
    /// case is seldom continued, an open one often is).
    closed: VecDeque<Stream>,
    evicted: bool,
    on_or_before: Option<Date>,
    tracker: Tracker,
}

impl Folder {
    /// A folder starting from empty views; with a date, only facts dated on or before it count.
    #[must_use]
    pub fn new(on_or_before: Option<Date>) -> Self {
        Folder {
            state: ViewState::default(),
            cache: HashMap::new(),
            closed: VecDeque::new(),
            evicted: false,
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
            cache: HashMap::new(),
            closed: VecDeque::new(),
            evicted: true,
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
        let stream = &event.envelope.stream;
        self.state.as_of = event.sequence;
        let cached = is_cached(stream);
        let before = match (needs_history(event), cached) {
            // The first event of a stream has nothing before it.
            (false, _) => StreamFacts::new(),
            (true, _) if event.stream_version == 1 => StreamFacts::new(),
            (true, true) => match self.cache.get(stream) {
                Some(facts) => facts.clone(),
                None if !self.evicted => StreamFacts::new(),
                None => load(stream, event.sequence)?,
            },
            (true, false) => load(stream, event.sequence)?,
        };
        let (change, after) = change::decide(event, &before, self.on_or_before);
        self.state.apply(&change, &mut self.tracker);
        if let Some(after) = after.filter(|_| cached) {
            if self.cache.len() >= MAX_FOLDED_STREAMS && !self.cache.contains_key(stream) {
                self.evict();
            }
            if matches!(event.payload, Payload::Fact(Fact::CaseClosed(_))) {
                self.closed.push_back(stream.clone());
            }
            self.cache.insert(stream.clone(), after);
        }
        Ok(())
    }

    /// Makes room for one stream: a closed case if one is cached, else any stream but a
    /// country's.
    fn evict(&mut self) {
        while let Some(stream) = self.closed.pop_front() {
            if self.cache.remove(&stream).is_some() {
                self.evicted = true;
                return;
            }
        }
        let any = self
            .cache
            .keys()
            .find(|s| !matches!(s, Stream::Country(_)))
            .cloned();
        if let Some(stream) = any {
            self.cache.remove(&stream);
            self.evicted = true;
        }
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
