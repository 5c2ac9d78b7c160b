//! `coopledger witness serve`: the witness's C2SP tlog-witness HTTP API, so that a log (or
//! anyone holding its checkpoints) can submit them, and auditors can fetch the latest cosigned
//! one:
//!
//! - `POST /add-checkpoint`: the request body of [`AddCheckpoint`]; 200 with the cosignature
//!   line, or the protocol's refusal: 400, 403, 404, 409 (with the latest cosigned size as
//!   `text/x.tlog.size`) or 422, each with a sentence;
//! - `GET /checkpoint`: the latest cosigned checkpoint (404 before the first).
//!
//! Requests are decided one at a time (the witness checks the old size and records the new
//! checkpoint as one step), off the async workers: recording syncs a file.

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;

use super::{AddCheckpoint, Witness, WitnessError};

/// The largest request body: a checkpoint with its signatures and a proof of 63 hashes fit in
/// a few KiB.
pub const MAX_BODY: usize = 64 * 1024;

type Shared = Arc<Mutex<Witness>>;

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn refusal(e: &WitnessError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match e {
        WitnessError::Conflict { latest, .. } => {
            text(status, "text/x.tlog.size", format!("{latest}\n"))
        }
        e => text(status, "text/plain; charset=utf-8", format!("{e}\n")),
    }
}

async fn add_checkpoint(State(witness): State<Shared>, body: Bytes) -> Response {
    let Ok(body) = String::from_utf8(body.to_vec()) else {
        return refusal(&WitnessError::BadRequest("the body is not UTF-8".into()));
    };
    let request = match AddCheckpoint::parse(&body) {
        Ok(request) => request,
        Err(e) => return refusal(&e),
    };
    let decided = tokio::task::spawn_blocking(move || {
        let mut witness = witness
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        witness.add_checkpoint(&request)
    })
    .await;
    match decided {
        Ok(Ok(line)) => text(StatusCode::OK, "text/plain; charset=utf-8", line),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "refused to cosign");
            refusal(&e)
        }
        Err(e) => refusal(&WitnessError::State(format!("the decision failed: {e}"))),
    }
}

async fn checkpoint(State(witness): State<Shared>) -> Response {
    let path = witness
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .checkpoint_path();
    // One small file: read off the async workers like the add-checkpoint decision.
    let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(&path)).await;
    let read = read.unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    match read {
        Ok(note) => text(StatusCode::OK, "text/plain; charset=utf-8", note),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "this witness has cosigned no checkpoint yet\n".into(),
        ),
        Err(e) => refusal(&WitnessError::State(format!(
            "cannot read the checkpoint: {e}"
        ))),
    }
}

/// The witness's router.
pub fn router(witness: Witness) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/checkpoint", get(checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(30),
        ))
        .with_state(Arc::new(Mutex::new(witness)))
}

/// Serves the witness on `listener` until `shutdown` resolves.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    witness: Witness,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown)
        .await
}
