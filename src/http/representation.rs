//! What a read answers: JSON, or CSV for the tables (`?format=csv`, or `Accept: text/csv`),
//! tagged with the validator of the point of history it was made from (`etag.rs`), so a page
//! that asks again for the same point gets `304 Not Modified` and no body. Both forms of a URL
//! vary on `Accept`, and their tags differ.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::etag;
use crate::ledger::Resolved;
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

/// The validator of the read at `point` in `format`.
#[must_use]
pub fn tag(point: Resolved, format: Format) -> HeaderValue {
    match format {
        Format::Json => etag::of(point),
        Format::Csv => etag::variant(point, "csv"),
    }
}

/// The 304 to answer when the request holds `tag` already.
#[must_use]
pub fn not_modified(request: &HeaderMap, tag: &HeaderValue) -> Option<Response> {
    etag::fresh(request, tag).then(|| vary(etag::not_modified(tag.clone())))
}

/// `body` (already in `format`) with its `tag`.
#[must_use]
pub fn answer(format: Format, body: Bytes, tag: HeaderValue) -> Response {
    tagged(untagged(format, body), tag)
}

/// `response` with its `tag`.
#[must_use]
pub fn tagged(response: Response, tag: HeaderValue) -> Response {
    vary(etag::tagged(response, tag))
}

/// A CSV body, to be tagged by its caller.
#[must_use]
pub fn csv(text: String) -> Response {
    untagged(Format::Csv, Bytes::from(text))
}

fn untagged(format: Format, body: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.media_type()),
        )],
        body,
    )
        .into_response()
}

fn vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}
