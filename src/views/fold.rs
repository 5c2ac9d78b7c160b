//! Folding the log into views from scratch: for a rebuild, and for views "as of" a sequence, a
//! recording time or a real-world date, computed without touching the current state.

use std::collections::HashMap;

use proto_events::{Date, RecordedEvent, Stream};

use super::state::{Tracker, ViewState};
use crate::entity::{StreamFacts, apply_to_facts, is_cached};
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
        if matches!(stream, Stream::Partner(_)) {
            return Ok(());
        }
        let old = if is_cached(stream) {
            self.cache.get(stream).cloned().unwrap_or_default()
        } else if event.stream_version == 1 {
            if let Some(fact) = event.payload.as_fact() {
                self.state
                    .add_new_entity(fact, self.on_or_before, &mut self.tracker);
            }
            return Ok(());
        } else {
            load(stream, event.sequence)?
        };
        let mut new = old.clone();
        apply_to_facts(&mut new, event);
        self.state
            .apply_change(stream, &old, &new, self.on_or_before, &mut self.tracker);
        if is_cached(stream) {
            self.cache.insert(stream.clone(), new);
        }
        Ok(())
    }

    /// The folded views.
    #[must_use]
    pub fn finish(self) -> ViewState {
        self.state
    }
}
