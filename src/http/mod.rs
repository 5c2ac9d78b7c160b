//! The HTTP API (axum on tokio): the views for an API layer, recorded events, a live feed, and
//! guarded appends. The ledger is embedded: the server process holds the store.
//!
//! Every view body carries `as_of_sequence`; view endpoints take `?as_of=SEQ`, `?at=TIME` or
//! `?on=DATE`. `GET /v1/openapi.json` describes every response. Appends need a `staff` bearer
//! token; reads need a `reader` or `staff` token unless reads are public.

pub mod auth;
mod cache;
mod dashboard;
mod entities;
pub mod error;
mod events;
mod feed;
pub mod metrics;
mod proofs;
mod representation;
mod timeline;
mod verify;
mod views;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::handle::LedgerHandle;
use auth::Tokens;
use error::ApiError;

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How the server runs.
#[derive(Clone)]
pub struct Config {
    /// Accepted tokens; `None` disables appends (and leaves reads open).
    pub tokens: Option<Tokens>,
    /// Whether reads need no token.
    pub public_reads: bool,
    /// The largest request body (staff JSON of one batch).
    pub body_limit: usize,
    /// The longest a request may take (the feed excepted).
    pub timeout: Duration,
    /// Requests served at once (the feed excepted); more wait.
    pub concurrency: usize,
    /// Live feeds open at once; more get 503.
    pub max_feeds: usize,
    /// The key that signs checkpoints of the head on `GET /v1/checkpoint`.
    pub key: Option<std::sync::Arc<crate::audit::checkpoint::Key>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tokens: None,
            public_reads: false,
            body_limit: 32 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            concurrency: 512,
            max_feeds: 256,
            key: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("tokens", &self.tokens.is_some())
            .field("public_reads", &self.public_reads)
            .field("body_limit", &self.body_limit)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("max_feeds", &self.max_feeds)
            .field("key", &self.key.as_ref().map(|k| k.name().to_owned()))
            .finish()
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) ledger: LedgerHandle,
    pub(crate) config: Arc<Config>,
    pub(crate) metrics: Arc<metrics::HttpMetrics>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) feeds: Arc<tokio::sync::Semaphore>,
    pub(crate) cache: Arc<cache::ViewCache>,
    pub(crate) story: Arc<timeline::StoryCache>,
    pub(crate) verified: Arc<verify::Kept>,
}

/// The router with every route and layer, for `serve` and for tests.
pub fn router(ledger: LedgerHandle, config: Config, shutdown: watch::Receiver<bool>) -> Router {
    let state = AppState {
        ledger,
        feeds: Arc::new(tokio::sync::Semaphore::new(config.max_feeds)),
        cache: Arc::new(cache::ViewCache::default()),
        story: Arc::new(timeline::StoryCache::default()),
        verified: Arc::new(verify::Kept::default()),
        metrics: Arc::new(metrics::HttpMetrics::default()),
        shutdown,
        config: Arc::new(config.clone()),
    };
    // The first page load should not pay for the timeline's fold and the head's verification.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(timeline::warm(state.clone()));
    }
    let api = Router::new()
        .route("/v1/countries", get(views::countries))
        .route("/v1/countries/{cc}", get(views::country))
        .route("/v1/regions", get(views::regions))
        .route("/v1/timeline", get(timeline::timeline))
        .route("/v1/entities", get(entities::list))
        .route("/v1/entities/{*stream}", get(entities::one))
        .route("/v1/events", get(events::list).post(events::append))
        .route("/v1/events/{id}", get(events::one))
        .route("/v1/streams/{*stream}", get(events::stream))
        .route("/v1/head", get(events::head))
        .route("/v1/verify", get(verify::kept).post(verify::now))
        .route("/v1/checkpoint", get(proofs::checkpoint))
        .route("/v1/proofs/inclusion", get(proofs::inclusion))
        .route("/v1/proofs/consistency", get(proofs::consistency))
        .route("/v1/openapi.json", get(openapi))
        .route("/", get(dashboard::index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::exposition))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.timeout,
        ))
        .layer(tower::limit::ConcurrencyLimitLayer::new(config.concurrency));
    Router::new()
        .route("/v1/feed", get(feed::feed))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request: method and path only. The query is left out because the feed's
/// `access_token` travels there.
fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}

/// Serves on `listener` until `shutdown` resolves; then stops accepting, ends live feeds, lets
/// in-flight requests (appends included) finish, and closes the ledger's writer once the last
/// append is durable.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: TcpListener,
    ledger: LedgerHandle,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let app = router(ledger.clone(), config, stopped);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests; finishing those in flight");
        let _ = stop.send(true);
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await?;
    ledger.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Authentication, authorisation and request metrics, before any handler runs.
async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let query_token = auth::take_feed_token(&mut request);
    let response = match auth::authorise(
        &state.config,
        request.method(),
        request.uri().path(),
        request.headers(),
        query_token.as_deref(),
    ) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    };
    state
        .metrics
        .record(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Runs `f` off the async workers (reads of the store, folds, verification).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::Error> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))?
        .map_err(ApiError::from)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.ledger.reader().poison_reason() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unavailable: {reason}\n"),
        )
            .into_response(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint (see /v1/openapi.json)")
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "internal error",
    )
    .into_response()
}
