//! `GET /v1/timeline`: the programme (or one country) per year or quarter, from one fold of the
//! log, and the cache of those folds that `/v1/entities` shares.
//!
//! The fold at the head is kept and carried forward: when the head moves, only the new records
//! are folded into it. Folds at other points (a past sequence, a date) are kept under their
//! resolved point, a few at a time, and a later point of the same date is folded on from the
//! latest of them; answers are kept per resolved point too, so a page that asks again costs a
//! lookup, and its `ETag` names the point.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use parking_lot::Mutex;
use proto_events::CountryCode;
use serde::Deserialize;

use super::cache::folds_on_to;
use super::error::{ApiError, ApiQuery};
use super::representation::{self, Format};
use super::views::point;
use super::{AppState, blocking};
use crate::documents;
use crate::ledger::{Reader, Resolved, fold};
use crate::views::timeline::{By, TimelineFolder};

/// Folds kept at points other than the head.
const PAST_FOLDS: usize = 4;
/// Answers kept at once.
const ANSWERS: usize = 512;

/// What an answer was made from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    point: Resolved,
    by: By,
    country: Option<CountryCode>,
    format: Format,
}

/// See the module documentation.
#[derive(Default)]
pub struct StoryCache {
    head: Mutex<Option<Arc<TimelineFolder>>>,
    past: Mutex<Vec<(Resolved, Arc<TimelineFolder>)>>,
    answers: Mutex<HashMap<Key, Bytes>>,
}

impl StoryCache {
    /// The fold at `point`: the head's carried forward, or one kept, or a new one. Blocking.
    ///
    /// # Errors
    /// Storage errors; a record that fails its checks.
    pub fn folder(
        &self,
        reader: &Reader,
        point: Resolved,
    ) -> Result<Arc<TimelineFolder>, crate::Error> {
        let head = reader.head().seq;
        if point.on.is_none() && point.seq == head {
            let mut slot = self.head.lock();
            let current = slot.get_or_insert_with(|| Arc::new(TimelineFolder::new(None)));
            if current.as_of() < point.seq {
                // Only the records after the kept fold are read; a reader still holding the
                // previous snapshot keeps it (copy on write).
                fold::timeline(reader, Arc::make_mut(current), point.seq)?;
            }
            if current.as_of() == point.seq {
                return Ok(Arc::clone(current));
            }
        }
        if let Some(kept) = self.past.lock().iter().find(|(p, _)| *p == point) {
            return Ok(Arc::clone(&kept.1));
        }
        // A later point of a kept fold's date: only the records after it are folded, into a
        // copy (readers may hold the kept one).
        let earlier = self
            .past
            .lock()
            .iter()
            .filter(|(p, _)| folds_on_to(*p, point))
            .max_by_key(|(p, _)| p.seq)
            .map(|(_, kept)| Arc::clone(kept));
        let folded = match earlier {
            Some(kept) => {
                let mut folder = TimelineFolder::clone(&kept);
                fold::timeline(reader, &mut folder, point.seq)?;
                Arc::new(folder)
            }
            None => Arc::new(reader.timeline(point)?),
        };
        let mut past = self.past.lock();
        if past.len() >= PAST_FOLDS {
            past.remove(0);
        }
        past.push((point, Arc::clone(&folded)));
        Ok(folded)
    }

    fn answer(
        &self,
        key: &Key,
        make: impl FnOnce() -> Result<Vec<u8>, crate::Error>,
    ) -> Result<Bytes, crate::Error> {
        if let Some(bytes) = self.answers.lock().get(key) {
            return Ok(bytes.clone());
        }
        let bytes = Bytes::from(make()?);
        let mut answers = self.answers.lock();
        if answers.len() >= ANSWERS {
            answers.clear();
        }
        answers.insert(key.clone(), bytes.clone());
        Ok(bytes)
    }
}

/// Fills the caches a dashboard load needs, in the background when the server starts: the
/// timeline's fold at the head and the kept verification. Failures are left for the requests
/// that need them to report.
pub(crate) async fn warm(state: AppState) {
    let (cache, reader) = (Arc::clone(&state.story), state.ledger.reader().clone());
    let head = Resolved {
        seq: reader.head().seq,
        on: None,
    };
    if head.seq == 0 {
        // An empty ledger has nothing to fold or verify yet: the first requests after the first
        // appends do it, at a head worth keeping.
        return;
    }
    if let Err(e) = blocking(move || cache.folder(&reader, head)).await {
        tracing::warn!(error = %e.message, "could not fold the timeline at start");
    }
    super::verify::warm(&state).await;
}

/// `?by=year|quarter&country=CC`, a point of history, `?format=json|csv`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    by: Option<String>,
    country: Option<String>,
    as_of: Option<u64>,
    at: Option<String>,
    on: Option<String>,
    format: Option<String>,
}

/// Parses a country code of a query.
pub(crate) fn country(code: Option<&str>) -> Result<Option<CountryCode>, ApiError> {
    code.map(|c| {
        CountryCode::parse(c).ok_or_else(|| {
            ApiError::bad_request(format!("country: {c:?} is not an ISO 3166-1 alpha-2 code"))
        })
    })
    .transpose()
}

/// Resolves the point of a query off the async workers.
pub(crate) async fn resolve(
    state: &AppState,
    as_of: Option<u64>,
    at: Option<&str>,
    on: Option<&str>,
) -> Result<Resolved, ApiError> {
    let asked = point(as_of, at, on)?;
    let reader = state.ledger.reader().clone();
    blocking(move || reader.resolve(asked)).await
}

pub async fn timeline(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TimelineQuery>,
) -> Result<Response, ApiError> {
    let by: By =
        q.by.as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| ApiError::bad_request(format!("by: {e}")))?
            .unwrap_or_default();
    let country = country(q.country.as_deref())?;
    let format = representation::format(q.format.as_deref(), &headers)?;
    let point = resolve(&state, q.as_of, q.at.as_deref(), q.on.as_deref()).await?;
    let tag = representation::tag(point, format);
    if let Some(not_modified) = representation::not_modified(&headers, &tag) {
        return Ok(not_modified);
    }
    let key = Key {
        point,
        by,
        country,
        format,
    };
    let cache = Arc::clone(&state.story);
    let reader = state.ledger.reader().clone();
    let body = blocking(move || {
        cache.answer(&key, || {
            let folder = cache.folder(&reader, point)?;
            let view = folder.timeline().view(by, country);
            match format {
                Format::Json => serde_json::to_vec(&view)
                    .map_err(|e| crate::Error::Internal(format!("cannot serialise: {e}"))),
                Format::Csv => documents::timeline_csv(&view).map(String::into_bytes),
            }
        })
    })
    .await?;
    Ok(representation::answer(format, body, tag))
}
