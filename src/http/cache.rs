//! Caches for the view endpoints: the JSON of the current head's views (serialised once per
//! head), and views folded at other points of history (a fold reads the whole log; a dashboard
//! asks for the same points again and again).
//!
//! Folds are kept under their *resolved* point (a sequence the log has reached, and a date):
//! the views there never change, whatever is appended later, and views as of the same date at
//! a later head are folded on from the latest of them (only the records appended since). A point as asked (`as_of=5`,
//! `at=…`, the head) is resolved against the log first, and refused when beyond the head.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use parking_lot::Mutex;
use proto_events::CountryCode;

use crate::ledger::Resolved;
use crate::views::ViewState;

/// Folded views kept at once (each up to ~2 MB).
const FOLDS: usize = 16;
/// The most records a kept fold is folded on by to answer a later point of the same date
/// (views as of a date, asked again after appends); further behind, the log is folded anew.
pub const FOLD_ON_AT_MOST: u64 = 65_536;
/// Whether a fold kept at `kept` is folded on to answer `point`: the same date, a sequence
/// before it, at most [`FOLD_ON_AT_MOST`] records behind.
pub fn folds_on_to(kept: Resolved, point: Resolved) -> bool {
    kept.on == point.on && kept.seq < point.seq && point.seq - kept.seq <= FOLD_ON_AT_MOST
}

/// JSON documents kept for one head.
const DOCUMENTS: usize = 1024;

/// Which document of a view state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Document {
    /// One country's view.
    Country(CountryCode),
    /// The inter-regional view.
    Regions,
}

/// See the module documentation.
#[derive(Default)]
pub struct ViewCache {
    /// (head sequence, document) → JSON, for the head's own views only.
    json: Mutex<(u64, HashMap<Document, Bytes>)>,
    /// Folds, most recently used last.
    folds: Mutex<Vec<(Resolved, Arc<ViewState>)>>,
}

impl ViewCache {
    /// The JSON of `document` of the head's views `state`, serialised once per head.
    pub fn json(
        &self,
        state: &ViewState,
        document: Document,
        make: impl FnOnce() -> Option<Vec<u8>>,
    ) -> Option<Bytes> {
        {
            let cache = self.json.lock();
            if cache.0 == state.as_of
                && let Some(bytes) = cache.1.get(&document)
            {
                return Some(bytes.clone());
            }
        }
        let bytes = Bytes::from(make()?);
        let mut cache = self.json.lock();
        if cache.0 != state.as_of || cache.1.len() >= DOCUMENTS {
            *cache = (state.as_of, HashMap::new());
        }
        cache.1.insert(document, bytes.clone());
        Some(bytes)
    }

    /// The fold at `point`, if kept.
    pub fn fold(&self, point: Resolved) -> Option<Arc<ViewState>> {
        let mut folds = self.folds.lock();
        let at = folds.iter().position(|(p, _)| *p == point)?;
        let entry = folds.remove(at);
        let state = Arc::clone(&entry.1);
        folds.push(entry);
        Some(state)
    }

    /// The latest fold kept of the same date as `point` and before it, to fold on from when it
    /// is at most [`FOLD_ON_AT_MOST`] records behind.
    pub fn earlier(&self, point: Resolved) -> Option<Arc<ViewState>> {
        self.folds
            .lock()
            .iter()
            .filter(|(p, _)| folds_on_to(*p, point))
            .max_by_key(|(p, _)| p.seq)
            .map(|(_, state)| Arc::clone(state))
    }

    /// Keeps a fold.
    pub fn keep(&self, point: Resolved, state: Arc<ViewState>) {
        let mut folds = self.folds.lock();
        folds.retain(|(p, _)| *p != point);
        if folds.len() >= FOLDS {
            folds.remove(0);
        }
        folds.push((point, state));
    }
}
