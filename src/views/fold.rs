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
use crate::entity::{StreamFacts, is_cached};
use crate::error::Error;

/// Loads the effective facts of a stream from records before a sequence.
pub type Loader<'a> = dyn FnMut(&Stream, u64) -> Result<StreamFacts, Error> + 'a;

/// Folds records, in log order, into a [`ViewState`].
pub struct Folder {
    state: ViewState,
    cache: HashMap<Stream, StreamFacts>,
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
        let stream = &event.envelope.stream;
        self.state.as_of = event.sequence;
        let before = if !needs_history(event) {
            StreamFacts::new()
        } else if is_cached(stream) {
            self.cache.get(stream).cloned().unwrap_or_default()
        } else {
            load(stream, event.sequence)?
        };
        let (change, after) = change::decide(event, &before, self.on_or_before);
        self.state.apply(&change, &mut self.tracker);
        if let Some(after) = after.filter(|_| is_cached(stream)) {
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
