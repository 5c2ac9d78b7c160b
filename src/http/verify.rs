//! `GET /v1/verify` answers the last verification, kept with the head it reached and the time
//! it ran; `POST /v1/verify` (staff) verifies the chain again when the head has moved since.
//! A verification reads the whole log, so it runs at most once per head whoever asks: readers
//! never make the server recompute the chain.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::{AppState, blocking};
use crate::documents;

/// The last verification: the head it reached, whether the chain held, its document.
#[derive(Debug, Clone)]
struct Verified {
    head: u64,
    ok: bool,
    document: Value,
}

/// See the module documentation.
#[derive(Default)]
pub struct Kept {
    // An async lock held while a verification runs, so that requests arriving meanwhile wait for
    // its result instead of starting another.
    last: tokio::sync::Mutex<Option<Verified>>,
}

impl Kept {
    /// The kept verification; a new one first when none is kept, or when `again` and the head
    /// moved since the kept one.
    async fn get(&self, state: &AppState, again: bool) -> Result<Verified, ApiError> {
        let mut last = self.last.lock().await;
        let head = state.ledger.reader().head().seq;
        if let Some(kept) = last.as_ref()
            && (!again || kept.head == head)
        {
            return Ok(kept.clone());
        }
        let reader = state.ledger.reader().clone();
        let (document, ok) = blocking(move || documents::verification(&reader)).await?;
        let verified = Verified {
            head: document["head_seq"].as_u64().unwrap_or(head),
            ok,
            document,
        };
        *last = Some(verified.clone());
        Ok(verified)
    }
}

/// Runs the first verification, when none is kept (the server's start).
pub(crate) async fn warm(state: &AppState) {
    let kept = std::sync::Arc::clone(&state.verified);
    if let Err(e) = kept.get(state, false).await {
        tracing::warn!(error = %e.message, "could not verify the chain at start");
    }
}

fn answer(v: Verified) -> Response {
    let status = if v.ok {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    (status, Json(v.document)).into_response()
}

/// `GET /v1/verify`: the kept verification (the first one runs on the first request).
pub async fn kept(State(state): State<AppState>) -> Result<Response, ApiError> {
    let kept = std::sync::Arc::clone(&state.verified);
    Ok(answer(kept.get(&state, false).await?))
}

/// `POST /v1/verify` (staff): verify now, unless the kept verification is of the current head.
pub async fn now(State(state): State<AppState>) -> Result<Response, ApiError> {
    let kept = std::sync::Arc::clone(&state.verified);
    Ok(answer(kept.get(&state, true).await?))
}
