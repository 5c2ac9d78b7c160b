//! Validators for conditional reads (`ETag`, `If-None-Match` → 304).
//!
//! The log is append-only, so what a read answers at a point of history never changes: the
//! point itself is the validator. Views and event lists at the head are tagged with the head's
//! sequence, views as of a point with the resolved sequence (and date), one event with its own
//! sequence; a CSV answer adds `-csv` (`representation.rs`). Tags are weak (`W/"…"`): the same
//! point gives the same document, but the bytes may differ between releases of the server.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ledger::Resolved;

/// The tag of a read at `seq` (counting facts dated on or before `on`, when given).
#[must_use]
pub fn of(point: Resolved) -> HeaderValue {
    tag(point, None)
}

/// The tag of another representation (`variant`, e.g. `csv`) of the read at `point`: one URL
/// answers JSON or CSV, and a validator names one of them.
#[must_use]
pub fn variant(point: Resolved, variant: &str) -> HeaderValue {
    tag(point, Some(variant))
}

fn tag(point: Resolved, variant: Option<&str>) -> HeaderValue {
    let mut text = format!("W/\"s{}", point.seq);
    if let Some(on) = point.on {
        text.push_str(&format!("-on{on}"));
    }
    if let Some(variant) = variant {
        text.push('-');
        text.push_str(variant);
    }
    text.push('"');
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("W/\"\""))
}

/// The tag of a read at sequence `seq` of the log.
#[must_use]
pub fn at(seq: u64) -> HeaderValue {
    of(Resolved { seq, on: None })
}

/// Whether the request's `If-None-Match` names `tag` (weak comparison, RFC 9110 §13.1.2) or
/// is `*`.
#[must_use]
pub fn fresh(request: &HeaderMap, tag: &HeaderValue) -> bool {
    let ours = opaque(tag.as_bytes());
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|theirs| theirs == b"*" || opaque(theirs) == ours)
}

fn opaque(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// 304 Not Modified, with the tag.
#[must_use]
pub fn not_modified(tag: HeaderValue) -> Response {
    (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response()
}

/// `response` with its tag.
#[must_use]
pub fn tagged(mut response: Response, tag: HeaderValue) -> Response {
    response.headers_mut().insert(header::ETAG, tag);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_star() {
        let tag = at(5);
        assert_eq!(tag, "W/\"s5\"");
        let mut headers = HeaderMap::new();
        assert!(!fresh(&headers, &tag));
        for (sent, expected) in [
            ("W/\"s5\"", true),
            ("\"s5\"", true),
            ("W/\"s4\", W/\"s5\"", true),
            ("*", true),
            ("W/\"s50\"", false),
            ("W/\"s4\"", false),
        ] {
            headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static(sent));
            assert_eq!(fresh(&headers, &tag), expected, "{sent}");
        }
        let csv = variant(Resolved { seq: 5, on: None }, "csv");
        assert_eq!(csv, "W/\"s5-csv\"");
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"s5\""));
        assert!(!fresh(&headers, &csv), "the JSON's tag is not the CSV's");
    }
}
