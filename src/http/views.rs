//! `GET /v1/countries`, `/v1/countries/{cc}`, `/v1/regions`: the same JSON as the command
//! line's `--json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use proto_events::CountryCode;
use serde::Deserialize;

use super::cache::Document;
use super::error::{ApiError, ApiPath, ApiQuery};
use super::{AppState, blocking, etag};
use crate::ledger::{AsOf, Resolved};
use crate::views::ViewState;

/// `?as_of=SEQ`, `?at=TIME` or `?on=DATE` (at most one).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    as_of: Option<u64>,
    at: Option<String>,
    on: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

impl AsOfQuery {
    fn point(&self) -> Result<AsOf, ApiError> {
        match (self.as_of, &self.at, &self.on) {
            (None, None, None) => Ok(AsOf::HEAD),
            (Some(seq), None, None) => Ok(AsOf::sequence(seq)),
            (None, Some(at), None) => at
                .parse()
                .map(AsOf::time)
                .map_err(|e| ApiError::bad_request(format!("at: not an RFC 3339 time ({e})"))),
            (None, None, Some(on)) => on
                .parse()
                .map(AsOf::date)
                .map_err(|e| ApiError::bad_request(format!("on: not a YYYY-MM-DD date ({e})"))),
            _ => Err(ApiError::bad_request(
                "give at most one of as_of, at and on",
            )),
        }
    }
}

/// The views a read answers with: at the head's maintained state or folded at a point.
struct Point {
    views: Arc<ViewState>,
    /// Whether these are the head's maintained views (whose JSON is cached per head).
    head: bool,
    /// The validator of the point.
    tag: HeaderValue,
}

/// The views at the requested point, or a 304 when the client's copy is of the same point. The
/// point is resolved against the log (a sequence beyond the head is refused) and compared with
/// `If-None-Match` before any fold; folds of history run off the async workers and are cached
/// under the resolved point.
async fn state_at(
    state: &AppState,
    query: &AsOfQuery,
    request: &HeaderMap,
) -> Result<Result<Point, Response>, ApiError> {
    let asked = query.point()?;
    let reader = state.ledger.reader().clone();
    if asked == AsOf::HEAD {
        let views = reader.views();
        let tag = etag::at(views.as_of);
        if etag::fresh(request, &tag) {
            return Ok(Err(etag::not_modified(tag)));
        }
        return Ok(Ok(Point {
            views,
            head: true,
            tag,
        }));
    }
    let point: Resolved = {
        let reader = reader.clone();
        blocking(move || reader.resolve(asked)).await?
    };
    let tag = etag::of(point);
    if etag::fresh(request, &tag) {
        return Ok(Err(etag::not_modified(tag)));
    }
    let views = match state.cache.fold(point) {
        Some(folded) => folded,
        None => {
            let folded = blocking(move || reader.views_resolved(point)).await?;
            state.cache.keep(point, Arc::clone(&folded));
            folded
        }
    };
    Ok(Ok(Point {
        views,
        head: false,
        tag,
    }))
}

/// The most countries one page holds.
const MAX_COUNTRIES_PAGE: usize = 300;

pub async fn countries(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let offset = query.offset.unwrap_or(0);
    let limit = match query.limit {
        None => MAX_COUNTRIES_PAGE,
        Some(0) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_COUNTRIES_PAGE}"
            )));
        }
        Some(n) => n.min(MAX_COUNTRIES_PAGE),
    };
    let Point { views, tag, .. } = match state_at(&state, &query, &request).await? {
        Ok(point) => point,
        Err(not_modified) => return Ok(not_modified),
    };
    let all: Vec<CountryCode> = views.countries().collect();
    let page: Vec<_> = all
        .iter()
        .skip(offset)
        .take(limit)
        .filter_map(|c| views.country_view(*c))
        .collect();
    let mut response = etag::tagged(Json(page).into_response(), tag);
    let headers = response.headers_mut();
    if let Ok(total) = HeaderValue::from_str(&all.len().to_string()) {
        headers.insert("x-total-count", total);
    }
    let next = offset.saturating_add(limit);
    if next < all.len() {
        let next = format!(
            "</v1/countries?offset={next}&limit={limit}{}>; rel=\"next\"",
            pin(&views)
        );
        if let Ok(link) = HeaderValue::from_str(&next) {
            headers.insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// Later pages of the same listing stay at the same sequence.
fn pin(views: &ViewState) -> String {
    format!("&as_of={}", views.as_of)
}

pub async fn country(
    State(state): State<AppState>,
    ApiPath(cc): ApiPath<String>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let country = CountryCode::parse(&cc).ok_or_else(|| {
        ApiError::bad_request(format!("{cc:?} is not an ISO 3166-1 alpha-2 code"))
    })?;
    let Point { views, head, tag } = match state_at(&state, &query, &request).await? {
        Ok(point) => point,
        Err(not_modified) => return Ok(not_modified),
    };
    let make = || {
        views
            .country_view(country)
            .and_then(|v| serde_json::to_vec(&v).ok())
    };
    let body = if head {
        state.cache.json(&views, Document::Country(country), make)
    } else {
        make().map(axum::body::Bytes::from)
    };
    let body = body.ok_or_else(|| {
        ApiError::not_found(format!(
            "{country} ({}) has never joined nor been involved in anything as of sequence {}",
            country.name(),
            views.as_of
        ))
    })?;
    Ok(etag::tagged(json_response(body), tag))
}

fn json_response(body: axum::body::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn regions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let Point { views, head, tag } = match state_at(&state, &query, &request).await? {
        Ok(point) => point,
        Err(not_modified) => return Ok(not_modified),
    };
    let make = || serde_json::to_vec(&views.interregional_view()).ok();
    let body = if head {
        state.cache.json(&views, Document::Regions, make)
    } else {
        make().map(axum::body::Bytes::from)
    };
    body.map(|b| etag::tagged(json_response(b), tag))
        .ok_or_else(|| ApiError::internal("the inter-regional view cannot be serialised"))
}
