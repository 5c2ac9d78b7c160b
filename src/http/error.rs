//! Errors as HTTP responses: RFC 9457 problem details (`application/problem+json`).
//!
//! Body: `{"type": "about:blank", "title": REASON, "status": CODE, "detail": TEXT, "error": KIND,
//! "violations": [...]}`. `error` is a stable, snake_case kind for programs; `violations` (for
//! `invalid` and `conflict`) have the structure of [`proto_events::Violation`]: position (index
//! and line), event id, field path, rule, offending value. [`problems`] turns any error response
//! the framework makes itself (405, a body over the limit, a rejected extractor) into the same
//! form, so no error body is ever framework text.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use proto_events::Violation;
use serde::Serialize;

use crate::error::Error;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// A stable, snake_case kind.
    pub kind: &'static str,
    /// A human-readable message (the problem's `detail`).
    pub message: String,
    /// Rule violations, for invalid input and conflicts.
    pub violations: Vec<Violation>,
    /// Headers that go with the error (`WWW-Authenticate` on a 401).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind_uri: &'static str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    error: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    violations: &'a [Violation],
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
            violations: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// 500: something that is not the client's fault.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 400: a malformed query or path.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 with the violations of the staff input.
    pub fn invalid(violations: Vec<Violation>) -> Self {
        Self::with_violations(StatusCode::UNPROCESSABLE_ENTITY, "invalid", violations)
    }

    fn with_violations(status: StatusCode, kind: &'static str, violations: Vec<Violation>) -> Self {
        let mut e = ApiError::new(status, kind, summary(&violations));
        e.violations = violations;
        e
    }

    /// The same error with one more header.
    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

fn summary(violations: &[Violation]) -> String {
    let first = violations
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    match violations.len() {
        0 => "invalid input".into(),
        1 => first,
        n => format!("{first} (and {} more)", n - 1),
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(v) => ApiError::invalid(v),
            Error::Conflict(v) => ApiError::with_violations(StatusCode::CONFLICT, "conflict", v),
            Error::Limit(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "limit", m),
            Error::NotFound(m) => ApiError::not_found(m),
            Error::BeyondHead { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "beyond_head", e.to_string())
            }
            Error::BadArgument(m) => ApiError::bad_request(m),
            Error::Poisoned(_) | Error::Closed | Error::ReadOnly => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            Error::Corrupt { .. }
            | Error::CorruptView(_)
            | Error::CorruptTree(_)
            | Error::CorruptCheckpoint { .. }
            | Error::ViewsDisagree(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corrupt", e.to_string())
            }
            Error::Signing(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "signing", e.to_string())
            }
            Error::Internal(_) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
            }
            other => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "storage",
                other.to_string(),
            ),
        }
    }
}

impl ApiError {
    /// The problem details document of this error.
    #[must_use]
    pub fn body(&self) -> Vec<u8> {
        let problem = Problem {
            kind_uri: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: &self.message,
            error: self.kind,
            violations: &self.violations,
        };
        serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let bytes = self.body();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            bytes,
        )
            .into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// Middleware: an error response without a JSON body (made by the framework: a 405, a body
/// over the limit, a timeout, all empty or plain text) becomes problem details, keeping its
/// status and headers (`Allow` on a 405). JSON answers are the handlers' own (problems, and the
/// verification report of a failed `/v1/verify`) and pass unchanged.
pub async fn problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| {
            let t = t.as_bytes();
            t.starts_with(b"application/json") || t == PROBLEM_JSON.as_bytes()
        });
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let (kind, message) = framework_problem(status);
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut problem = ApiError::new(status, kind, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let (mut new_parts, body): (_, Body) = problem.into_parts();
    new_parts.extensions = parts.extensions;
    Response::from_parts(new_parts, body)
}

/// The kind and message of an error the framework answered by itself.
fn framework_problem(status: StatusCode) -> (&'static str, String) {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this endpoint does not take that method (see the Allow header and /v1/openapi.json)"
                .into(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "limit",
            "the request body is larger than the server's limit".into(),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request took longer than the server allows".into(),
        ),
        StatusCode::NOT_FOUND => (
            "not_found",
            "no such endpoint (see /v1/openapi.json)".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request's Content-Type is not accepted here".into(),
        ),
        s if s.is_server_error() => ("internal", "internal error".into()),
        s => (
            "bad_request",
            format!(
                "the request was refused: {}",
                s.canonical_reason().unwrap_or("bad request")
            ),
        ),
    }
}

/// `Query<T>` whose rejection is an [`ApiError`] (problem details), not axum's plain text.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| ApiQuery(value))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// `Path<T>` whose rejection is an [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}

/// The request body, read within the server's limit (`Config::body_limit`): a larger one is a
/// 413 problem naming the limit, refused before any of it is parsed.
pub struct ApiBody(pub axum::body::Bytes);

impl axum::extract::FromRequest<super::AppState> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &super::AppState) -> Result<Self, ApiError> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(ApiBody)
            .map_err(|e| {
                let status = e.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "limit",
                        format!(
                            "the request body is larger than the server's limit of {} bytes",
                            state.config.body_limit
                        ),
                    )
                } else {
                    ApiError::new(status, "bad_request", e.body_text())
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn answer(app: Router, path: &str) -> (StatusCode, String, String) {
        let response = app
            .layer(axum::middleware::from_fn(problems))
            .oneshot(
                Request::builder()
                    .uri(path)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        let status = response.status();
        let media = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, media, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn framework_text_becomes_a_problem_and_json_documents_pass_unchanged() {
        let app = Router::new()
            .route(
                "/text",
                get(|| async { (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded") }),
            )
            .route(
                "/report",
                get(|| async {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        axum::Json(serde_json::json!({"ok": false, "first_bad_sequence": 3})),
                    )
                }),
            );
        let (status, media, body) = answer(app.clone(), "/text").await;
        assert_eq!(
            (status, media.as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, PROBLEM_JSON)
        );
        assert!(
            body.contains("\"error\":\"limit\"") && !body.contains("length limit"),
            "{body}"
        );
        let (status, media, body) = answer(app, "/report").await;
        assert_eq!(
            (status, media.as_str(), body.as_str()),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "application/json",
                r#"{"ok":false,"first_bad_sequence":3}"#
            )
        );
    }
}
