//! `GET /v1/feed?from=SEQ`: Server-Sent Events, the sequence as each event's id. History from
//! `from` (or after `Last-Event-ID`), then live appends, with no gap and no duplicate. A client
//! that falls too far behind gets an event `dropped` naming the last sequence sent, and resumes
//! with `Last-Event-ID`. Feeds end when the server shuts down.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use proto_events::staff::recorded_to_object;
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiQuery};
use crate::handle::SubscriptionError;

/// `?from=SEQ`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    from: Option<u64>,
}

pub async fn feed(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FeedQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let resume = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID must be a sequence number"))
        })
        .transpose()?;
    let from = resume.map_or(q.from.unwrap_or(1), |last| last + 1);
    let permit = state.feeds.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_feeds",
            "too many live feeds; retry later",
        )
    })?;
    let subscription = state.ledger.subscribe(from);
    let shutdown = state.shutdown.clone();
    let stream = futures_util::stream::unfold(
        (subscription, shutdown, Some(permit)),
        |(mut sub, mut shutdown, permit)| async move {
            permit.as_ref()?;
            let next = tokio::select! {
                next = sub.next() => next,
                _ = shutdown.wait_for(|stop| *stop) => None,
            };
            // A `dropped` or `error` event is the last of its feed: the permit goes with it.
            let (event, last) = match next {
                Some(Ok(event)) => {
                    let data = serde_json::Value::Object(recorded_to_object(&event)).to_string();
                    let sse = Event::default()
                        .id(event.sequence.to_string())
                        .event("record")
                        .data(data);
                    (sse, false)
                }
                Some(Err(SubscriptionError::Dropped { last })) => (
                    Event::default()
                        .event("dropped")
                        .data(format!("{{\"last\":{last}}}")),
                    true,
                ),
                Some(Err(e)) => (Event::default().event("error").data(e.to_string()), true),
                None => return None,
            };
            Some((
                Ok::<_, Infallible>(event),
                (sub, shutdown, if last { None } else { permit }),
            ))
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}
