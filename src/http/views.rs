//! `GET /v1/countries`, `/v1/countries/{cc}`, `/v1/regions`: the same JSON as the command
//! line's `--json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use proto_events::CountryCode;
use serde::Deserialize;

use super::cache::Document;
use super::error::{ApiError, ApiPath, ApiQuery};
use super::{AppState, blocking};
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

/// The views at the requested point, and whether that is the head's maintained state. The
/// point is resolved against the log (a sequence beyond the head is refused); folds of history
/// run off the async workers and are cached under the resolved point.
async fn state_at(state: &AppState, query: &AsOfQuery) -> Result<(Arc<ViewState>, bool), ApiError> {
    let asked = query.point()?;
    let reader = state.ledger.reader().clone();
    if asked == AsOf::HEAD {
        return Ok((reader.views(), true));
    }
    let point: Resolved = {
        let reader = reader.clone();
        blocking(move || reader.resolve(asked)).await?
    };
    if let Some(folded) = state.cache.fold(point) {
        return Ok((folded, false));
    }
    let folded = blocking(move || reader.views_resolved(point)).await?;
    state.cache.keep(point, Arc::clone(&folded));
    Ok((folded, false))
}

/// The most countries one page holds.
const MAX_COUNTRIES_PAGE: usize = 300;

pub async fn countries(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let (views, _) = state_at(&state, &query).await?;
    let offset = query.offset.unwrap_or(0);
    let limit = query
        .limit
        .unwrap_or(MAX_COUNTRIES_PAGE)
        .min(MAX_COUNTRIES_PAGE);
    let all: Vec<CountryCode> = views.countries().collect();
    let page: Vec<_> = all
        .iter()
        .skip(offset)
        .take(limit)
        .filter_map(|c| views.country_view(*c))
        .collect();
    let mut response = Json(page).into_response();
    let headers = response.headers_mut();
    if let Ok(total) = HeaderValue::from_str(&all.len().to_string()) {
        headers.insert("x-total-count", total);
    }
    if offset.saturating_add(limit) < all.len() {
        let next = format!(
            "</v1/countries?offset={}&limit={limit}{}>; rel=\"next\"",
            offset + limit,
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
) -> Result<Response, ApiError> {
    let country = CountryCode::parse(&cc).ok_or_else(|| {
        ApiError::bad_request(format!("{cc:?} is not an ISO 3166-1 alpha-2 code"))
    })?;
    let (views, head) = state_at(&state, &query).await?;
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
    Ok(json_response(body))
}

fn json_response(body: axum::body::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn regions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let (views, head) = state_at(&state, &query).await?;
    let make = || serde_json::to_vec(&views.interregional_view()).ok();
    let body = if head {
        state.cache.json(&views, Document::Regions, make)
    } else {
        make().map(axum::body::Bytes::from)
    };
    body.map(json_response)
        .ok_or_else(|| ApiError::internal("the inter-regional view cannot be serialised"))
}
