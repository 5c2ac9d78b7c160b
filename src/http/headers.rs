//! Headers every response carries, and CORS.
//!
//! - `X-Content-Type-Options: nosniff` on every response.
//! - `Cache-Control`, unless the handler chose one: `no-store` for errors, appends, the feed,
//!   `/metrics` and `/healthz`; `private, no-cache` for reads that need a token (a browser may
//!   keep them for its own user and revalidate with `If-None-Match`; no shared cache may keep
//!   them); `no-cache` for reads made public with `--public-reads`.
//! - CORS only with `--cors-origin ORIGIN`: that one origin may read and append (with a
//!   token); without it, no CORS header is ever sent, so browsers keep other sites out.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{AppState, Config};

/// Middleware: the common headers above.
pub async fn common(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let uncacheable = matches!(request.uri().path(), "/metrics" | "/healthz" | "/v1/feed");
    let mut response = next.run(request).await;
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        let policy = if !read || uncacheable || status.is_client_error() || status.is_server_error()
        {
            "no-store"
        } else if state.config.public_reads {
            "no-cache"
        } else {
            "private, no-cache"
        };
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// The CORS layer for `--cors-origin`, or `None`.
pub fn cors(config: &Config) -> Option<CorsLayer> {
    let origin = config.cors_origin.clone()?;
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list([origin]))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::LINK,
                header::LOCATION,
                header::WWW_AUTHENTICATE,
                HeaderName::from_static("x-total-count"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
