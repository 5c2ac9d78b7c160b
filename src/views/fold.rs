//! Folding the log into views from scratch: for a rebuild, and for views "as of" a sequence, a
//! recording time or a real-world date, computed without touching the current state.
//!
//! Each record is decided by [`change::decide`], the same decision the writer makes append by
//! append; only where the stream's earlier facts come from differs (here: a cache of country and
//! case streams, and the log for the rare meeting or activity that is corrected, retracted or
//! continued).

use std::collections::HashMap;

use proto_events::{Date, RecordedEvent, Stream};

use super::change::{self, needs_history};
use super::state::{Tracker, ViewState};
use crate::entity::{MAX_CACHED_STREAMS, StreamFacts, is_cached};
use crate::error::Error;

/// Loads the effective facts of a stream from records before a sequence.
pub type Loader<'a> = dyn FnMut(&Stream, u64) -> Result<StreamFacts, Error> + 'a;

/// Folds records, in log order, into a [`ViewState`].
pub struct Folder {
    state: ViewState,
    /// Facts of country and case streams seen so far, at most [`MAX_CACHED_STREAMS`]; once one
    /// was evicted, a stream not cached is read from the log.
    cache: HashMap<Stream, StreamFacts>,
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
            (false, _) => StreamFacts::new(),
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
            if self.cache.len() >= MAX_CACHED_STREAMS && !self.cache.contains_key(stream) {
                let evict = self
                    .cache
                    .keys()
                    .find(|s| !matches!(s, Stream::Country(_)))
                    .cloned();
                if let Some(evict) = evict {
                    self.cache.remove(&evict);
                    self.evicted = true;
                }
            }
            self.cache.insert(stream.clone(), after);
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
