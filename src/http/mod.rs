//! The HTTP API (axum on tokio): the views for an API layer, recorded events, a live feed, and
//! guarded appends. The ledger is embedded: the server process holds the store.
//!
//! Every view body carries `as_of_sequence`; view endpoints take `?as_of=SEQ`, `?at=TIME` or
//! `?on=DATE`. `GET /v1/openapi.json` describes every response. Appends need a `staff` bearer
//! token; reads need a `reader` or `staff` token unless reads are public.

pub mod auth;
mod cache;
mod check;
mod connections;
mod dashboard;
mod entities;
pub mod error;
mod etag;
mod events;
mod feed;
mod headers;
pub mod metrics;
mod proofs;
mod representation;
mod server;
mod signer;
mod timeline;
pub mod tlog;
mod verify;
mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::handle::LedgerHandle;
use auth::Tokens;
use error::ApiError;
pub use server::serve;

/// The OpenAPI 3.1 document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// How the server runs. Every limit has a default; see the README's HTTP section.
#[derive(Clone)]
pub struct Config {
    /// Accepted tokens; `None` disables appends, and reads unless `public_reads`.
    pub tokens: Option<Tokens>,
    /// Whether reads need no token (given on purpose: reads are closed by default).
    pub public_reads: bool,
    /// The largest request body (staff JSON of one batch).
    pub body_limit: usize,
    /// The longest a request may take (the feed excepted).
    pub timeout: Duration,
    /// Requests served at once (the feed excepted); more wait.
    pub concurrency: usize,
    /// Live feeds open at once; more get 503.
    pub max_feeds: usize,
    /// Connections open at once; more are refused with a 503 and closed.
    pub max_connections: usize,
    /// Connections open at once from one client address; more are refused likewise.
    pub max_connections_per_address: usize,
    /// A connection is closed when a request's headers take longer than this to arrive (an
    /// idle keep-alive connection included), or when a response makes no progress for this
    /// long because the client does not read.
    pub idle_timeout: Duration,
    /// How long shutdown waits for requests and feeds in flight before it closes their
    /// connections.
    pub grace: Duration,
    /// The key that signs checkpoints (`POST /v1/checkpoint`, and the schedule).
    pub key: Option<Arc<crate::audit::checkpoint::Key>>,
    /// Sign a checkpoint this often when the head has moved (needs `key`).
    pub checkpoint_every: Option<Duration>,
    /// The one origin a browser may call the API from (CORS); `None`: no CORS headers at all.
    pub cors_origin: Option<HeaderValue>,
    /// A read-only node (`serve --read-only`): writes are answered 421, naming `writer`.
    pub read_only: bool,
    /// The writer node's URL, named to clients that post to a read-only node.
    pub writer: Option<String>,
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
            max_connections: 512,
            max_connections_per_address: 64,
            idle_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            key: None,
            checkpoint_every: None,
            cors_origin: None,
            read_only: false,
            writer: None,
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
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("grace", &self.grace)
            .field("key", &self.key.as_ref().map(|k| k.name().to_owned()))
            .field("checkpoint_every", &self.checkpoint_every)
            .field("cors_origin", &self.cors_origin)
            .field("read_only", &self.read_only)
            .field("writer", &self.writer)
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
    pub(crate) connections: Arc<connections::Connections>,
    /// History pages of feeds rendered at once (`feed::RENDERERS`).
    pub(crate) renderers: Arc<tokio::sync::Semaphore>,
    pub(crate) story: Arc<timeline::StoryCache>,
    pub(crate) verified: Arc<verify::Kept>,
}

impl AppState {
    fn new(ledger: LedgerHandle, config: Config, shutdown: watch::Receiver<bool>) -> AppState {
        AppState {
            ledger,
            feeds: Arc::new(tokio::sync::Semaphore::new(config.max_feeds)),
            cache: Arc::new(cache::ViewCache::default()),
            story: Arc::new(timeline::StoryCache::default()),
            verified: Arc::new(verify::Kept::default()),
            metrics: Arc::new(metrics::HttpMetrics::default()),
            connections: Arc::new(connections::Connections::new(
                config.max_connections,
                config.max_connections_per_address,
            )),
            renderers: Arc::new(tokio::sync::Semaphore::new(feed::RENDERERS)),
            shutdown,
            config: Arc::new(config),
        }
    }
}

/// The router with every route and layer, for `serve` and for tests.
pub fn router(ledger: LedgerHandle, config: Config, shutdown: watch::Receiver<bool>) -> Router {
    app(AppState::new(ledger, config, shutdown))
}

fn app(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
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
        .route("/v1/events/check", axum::routing::post(check::check))
        .route("/v1/events/{id}", get(events::one))
        .route("/v1/streams/{*stream}", get(events::stream))
        .route("/v1/head", get(events::head))
        .route("/v1/verify", get(verify::kept).post(verify::now))
        .route("/v1/checkpoint", get(proofs::checkpoint).post(proofs::sign))
        .route("/v1/proofs/inclusion", get(proofs::inclusion))
        .route("/v1/proofs/consistency", get(proofs::consistency))
        .route("/v1/openapi.json", get(openapi))
        .route("/checkpoint", get(tlog::checkpoint))
        .route("/tile/{*rest}", get(tlog::tile))
        .route("/", get(dashboard::index))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::exposition))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.timeout,
        ))
        .layer(tower::limit::ConcurrencyLimitLayer::new(config.concurrency));
    let app = Router::new()
        .route("/v1/feed", get(feed::feed))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::common,
        ))
        .layer(middleware::from_fn(error::problems));
    // CORS answers preflights before the guard asks for a token; off unless an origin is given.
    let app = match headers::cors(&config) {
        Some(cors) => app.layer(cors),
        None => app,
    };
    app.layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The span of one request: method and path only. The query is left out because the feed's
/// `access_token` travels there.
fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
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
        Some(reason) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("unavailable: {reason}"),
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
