//! What a read answers: JSON, or CSV for the tables (`?format=csv`, or `Accept: text/csv`), with
//! an `ETag` naming what the body was made from, so a page that asks again for the same point
//! of history gets `304 Not Modified` and no body.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::table;

/// The form of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `text/csv` (tables only).
    Csv,
}

impl Format {
    fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => table::MEDIA_TYPE,
        }
    }
}

/// The form asked for: `?format=` when given (`json` or `csv`), else CSV when the `Accept`
/// header names `text/csv`, else JSON.
///
/// # Errors
/// 400 for another `format`.
pub fn format(asked: Option<&str>, headers: &HeaderMap) -> Result<Format, ApiError> {
    match asked {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some(other) => Err(ApiError::bad_request(format!(
            "format: {other:?} is not a format (json or csv)"
        ))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let csv = accept
                .split(',')
                .any(|part| part.trim().to_ascii_lowercase().starts_with("text/csv"));
            Ok(if csv { Format::Csv } else { Format::Json })
        }
    }
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// The answer: `body` in `format` with `etag` (a quoted string), or 304 when the client holds
/// it already.
pub fn answer(headers: &HeaderMap, etag: &str, format: Format, body: Bytes) -> Response {
    let tag = HeaderValue::from_str(etag).ok();
    let vary = HeaderValue::from_static("Accept");
    if not_modified(headers, etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Some(tag) = tag {
            response.headers_mut().insert(header::ETAG, tag);
        }
        response.headers_mut().insert(header::VARY, vary);
        return response;
    }
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.media_type()),
        )],
        body,
    )
        .into_response();
    if let Some(tag) = tag {
        response.headers_mut().insert(header::ETAG, tag);
    }
    response.headers_mut().insert(header::VARY, vary);
    response
}

/// A CSV body (no `ETag`: for the listings whose JSON has none either).
pub fn csv(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(table::MEDIA_TYPE),
        )],
        text,
    )
        .into_response()
}
