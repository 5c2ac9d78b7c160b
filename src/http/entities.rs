//! `GET /v1/entities` (the meetings, activities and cases, of one country when asked, newest
//! first, paged) and `GET /v1/entities/{stream}` (one of them as it stands, with its history and
//! what each record changed in the views).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use proto_events::Stream;
use serde::Deserialize;

use super::error::{ApiError, ApiPath, ApiQuery};
use super::representation::{self, Format};
use super::timeline::{country, resolve};
use super::{AppState, blocking};
use crate::documents::{self, MAX_ENTITIES_PAGE};
use crate::table;

/// `?country=CC&offset=N&limit=N`, a point of history, `?format=json|csv`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    country: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    as_of: Option<u64>,
    at: Option<String>,
    on: Option<String>,
    format: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let country = country(q.country.as_deref())?;
    let format = representation::format(q.format.as_deref(), &headers)?;
    let offset = q.offset.unwrap_or(0);
    let limit = match q.limit {
        None => 20,
        Some(0) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_ENTITIES_PAGE}"
            )));
        }
        Some(n) => n.min(MAX_ENTITIES_PAGE),
    };
    let point = resolve(&state, q.as_of, q.at.as_deref(), q.on.as_deref()).await?;
    let tag = representation::tag(point, format);
    if let Some(not_modified) = representation::not_modified(&headers, &tag) {
        return Ok(not_modified);
    }
    let cache = Arc::clone(&state.story);
    let reader = state.ledger.reader().clone();
    let listing = blocking(move || {
        let folder = cache.folder(&reader, point)?;
        documents::entity_list(&reader, &folder, country, offset, limit)
    })
    .await?;
    let total = listing["total"].as_u64().unwrap_or(0);
    let body = match format {
        Format::Json => Bytes::from(listing.to_string()),
        Format::Csv => Bytes::from(documents::entity_list_csv(&listing)?),
    };
    let mut response = representation::answer(format, body, tag);
    if let Ok(value) = HeaderValue::from_str(&total.to_string()) {
        response.headers_mut().insert("x-total-count", value);
    }
    if offset.saturating_add(limit) < usize::try_from(total).unwrap_or(usize::MAX) {
        let mut next = format!("/v1/entities?offset={}&limit={limit}", offset + limit);
        if let Some(c) = country {
            next.push_str(&format!("&country={c}"));
        }
        // Later pages stay at the same point of history.
        next.push_str(&format!("&as_of={}", point.seq));
        if let Some(d) = point.on {
            next.push_str(&format!("&on={d}"));
        }
        if let Ok(link) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, link);
        }
    }
    Ok(response)
}

/// A point of history and `?format=json|csv` (the CSV is the stream's records).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OneQuery {
    as_of: Option<u64>,
    at: Option<String>,
    on: Option<String>,
    format: Option<String>,
}

pub async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(stream): ApiPath<String>,
    ApiQuery(q): ApiQuery<OneQuery>,
) -> Result<Response, ApiError> {
    let stream: Stream = stream
        .parse()
        .map_err(|e| ApiError::bad_request(format!("{e}")))?;
    let format = representation::format(q.format.as_deref(), &headers)?;
    let point = resolve(&state, q.as_of, q.at.as_deref(), q.on.as_deref()).await?;
    let tag = representation::tag(point, format);
    if let Some(not_modified) = representation::not_modified(&headers, &tag) {
        return Ok(not_modified);
    }
    let reader = state.ledger.reader().clone();
    let name = stream.to_string();
    let found = blocking(move || {
        let Some(doc) = documents::entity(&reader, &stream, point)? else {
            return Ok(None);
        };
        let body = match format {
            Format::Json => doc.to_string(),
            Format::Csv => {
                let records: Vec<_> = reader
                    .read_stream(&stream, 1, crate::ledger::MAX_PAGE)?
                    .into_iter()
                    .filter(|e| e.sequence <= point.seq)
                    .collect();
                table::events_csv(&records)?
            }
        };
        Ok(Some(body))
    })
    .await?;
    let body = found.ok_or_else(|| {
        ApiError::not_found(format!("{name} has no record as of sequence {}", point.seq))
    })?;
    Ok(representation::answer(format, Bytes::from(body), tag))
}
