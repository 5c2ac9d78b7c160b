//! `POST /v1/events/check`: a dry run of `POST /v1/events`. The body is read, validated and
//! staged exactly as an append would be (every intrinsic rule, then the contextual ones against
//! the ledger, through the single writer), then rolled back: nothing is written. A staff token
//! is needed, as for an append. The dashboard's form shows every problem next to its field with
//! it before anything is recorded.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use proto_events::Stream;
use proto_events::staff::{Mode, parse_text};
use proto_events::values::today_utc;
use serde::Serialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use crate::ledger::Request;

/// What an append of the body would record.
#[derive(Debug, Serialize)]
struct Checked {
    /// Always `true`: an invalid body is answered with the append's error instead.
    valid: bool,
    /// Each event, in order.
    events: Vec<CheckedEvent>,
}

#[derive(Debug, Serialize)]
struct CheckedEvent {
    event_id: Uuid,
    stream: Stream,
    /// Whether an append would record it (`false`: it is already recorded, an idempotent
    /// repeat).
    new: bool,
}

/// Checks the body as an append and writes nothing.
pub async fn check(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let parsed = parse_text(text, Mode::Staff, today_utc()).map_err(ApiError::invalid)?;
    let lines: Vec<usize> = parsed.iter().map(|p| p.position.line).collect();
    let mut request = Request::append(parsed.into_iter().map(|p| p.event).collect());
    request.dry_run = true;
    let head = state.ledger.reader().head().seq;
    let receipts = state.ledger.submit(request).await.map_err(|e| {
        let mut e = ApiError::from(e);
        // The ledger knows positions in the batch; the caller knows lines of its body.
        for v in &mut e.violations {
            if let Some(p) = &mut v.position
                && p.line == 0
            {
                p.line = lines.get(p.index).copied().unwrap_or(0);
            }
        }
        e
    })?;
    let events = receipts
        .into_iter()
        .map(|r| CheckedEvent {
            event_id: r.event_id,
            stream: r.stream,
            new: r.seq > head,
        })
        .collect();
    Ok(Json(Checked {
        valid: true,
        events,
    })
    .into_response())
}
