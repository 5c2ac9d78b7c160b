//! Errors as HTTP responses: a status and a JSON body naming what is wrong.
//!
//! Body: `{"error": KIND, "message": TEXT, "violations": [...]}` where violations (for `invalid`
//! and `conflict`) have the structure of [`proto_events::Violation`]: position (index and line),
//! event id, field path, rule, offending value.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use proto_events::Violation;
use serde::Serialize;

use crate::error::Error;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// A stable, snake_case kind.
    pub kind: &'static str,
    /// A human-readable message.
    pub message: String,
    /// Rule violations, for invalid input and conflicts.
    pub violations: Vec<Violation>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
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
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "invalid",
            message: summary(&violations),
            violations,
        }
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
            Error::Conflict(v) => ApiError {
                status: StatusCode::CONFLICT,
                kind: "conflict",
                message: summary(&v),
                violations: v,
            },
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: self.kind,
            message: &self.message,
            violations: &self.violations,
        };
        (self.status, axum::Json(body)).into_response()
    }
}

/// `Query<T>` whose rejection is an [`ApiError`] (a JSON body), not axum's plain text.
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
