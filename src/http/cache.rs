//! Caches for the view endpoints: the JSON of the current head's views (rebuilt only when the
//! head moves), and views folded "as of" a point (a fold reads the whole log; a dashboard asks
//! for the same years again and again).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use parking_lot::Mutex;
use proto_events::CountryCode;

use crate::ledger::AsOf;
use crate::views::ViewState;

/// Folded views kept at once (each up to ~2 MB).
const FOLDS: usize = 16;
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
    /// Folds, most recent last: (point, head sequence when folded, state).
    folds: Mutex<Vec<(AsOf, u64, Arc<ViewState>)>>,
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

    /// A fold at `point` done while the head was `head`, if kept. A fold at a sequence never
    /// changes; a fold at a time or date stands only while the head does.
    pub fn fold(&self, point: AsOf, head: u64) -> Option<Arc<ViewState>> {
        let mut folds = self.folds.lock();
        let at = folds.iter().position(|(p, h, _)| {
            *p == point && (matches!(point, AsOf::Sequence(_)) || *h == head)
        })?;
        let entry = folds.remove(at);
        let state = Arc::clone(&entry.2);
        folds.push(entry);
        Some(state)
    }

    /// Keeps a fold.
    pub fn keep(&self, point: AsOf, head: u64, state: Arc<ViewState>) {
        let mut folds = self.folds.lock();
        folds.retain(|(p, _, _)| *p != point);
        if folds.len() >= FOLDS {
            folds.remove(0);
        }
        folds.push((point, head, state));
    }
}
