//! `GET /v1/countries`, `/v1/countries/{cc}`, `/v1/regions`: the same JSON as the command
//! line's `--json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use proto_events::CountryCode;
use serde::Deserialize;

use super::AppState;
use super::cache::Document;
use super::error::{ApiError, ApiPath, ApiQuery};
use crate::ledger::AsOf;
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
            (None, None, None) => Ok(AsOf::Head),
            (Some(seq), None, None) => Ok(AsOf::Sequence(seq)),
            (None, Some(at), None) => at
                .parse()
                .map(AsOf::Time)
                .map_err(|e| ApiError::bad_request(format!("at: not an RFC 3339 time ({e})"))),
            (None, None, Some(on)) => on
                .parse()
                .map(AsOf::Date)
                .map_err(|e| ApiError::bad_request(format!("on: not a YYYY-MM-DD date ({e})"))),
            _ => Err(ApiError::bad_request(
                "give at most one of as_of, at and on",
            )),
        }
    }
}

/// The views at the requested point; folds of history run off the async threads.
async fn state_at(state: &AppState, query: &AsOfQuery) -> Result<Arc<ViewState>, ApiError> {
    let point = query.point()?;
    let reader = state.ledger.reader().clone();
    if point == AsOf::Head {
        return Ok(reader.views());
    }
    let head = reader.head().seq;
    if let Some(folded) = state.cache.fold(point, head) {
        return Ok(folded);
    }
    let folded = tokio::task::spawn_blocking(move || reader.views_at(point))
        .await
        .map_err(|e| ApiError::bad_request(format!("as-of fold failed: {e}")))?
        .map_err(ApiError::from)?;
    state.cache.keep(point, head, Arc::clone(&folded));
    Ok(folded)
}

/// The most countries one page holds.
const MAX_COUNTRIES_PAGE: usize = 300;

pub async fn countries(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let views = state_at(&state, &query).await?;
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
    if offset + limit < all.len() {
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
    let views = state_at(&state, &query).await?;
    let make = || {
        views
            .country_view(country)
            .and_then(|v| serde_json::to_vec(&v).ok())
    };
    let body = if query.point()? == AsOf::Head {
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
    let views = state_at(&state, &query).await?;
    let make = || serde_json::to_vec(&views.interregional_view()).ok();
    let body = if query.point()? == AsOf::Head {
        state.cache.json(&views, Document::Regions, make)
    } else {
        make().map(axum::body::Bytes::from)
    };
    body.map(json_response)
        .ok_or_else(|| ApiError::bad_request("the inter-regional view cannot be serialised"))
}
