//! `GET /`: the dashboard page (`crate::dashboard`), readable without a token: it holds no data
//! and asks for a token itself when the API answers 401.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub async fn index() -> Response {
    let csp = HeaderValue::from_static(crate::dashboard::served_csp());
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, csp),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        crate::dashboard::served_page(),
    )
        .into_response()
}
