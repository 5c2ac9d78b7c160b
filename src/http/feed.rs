//! `GET /v1/feed?from=SEQ`: Server-Sent Events, the sequence as each event's id. History from
//! `from` (or after `Last-Event-ID`), then live appends, with no gap and no duplicate. A client
//! that falls too far behind gets an event `dropped` naming the last sequence sent, and resumes
//! with `Last-Event-ID`. Feeds end when the server shuts down.
//!
//! Each feed has a producer task that reads its subscription (history a page at a time on the
//! blocking threads, see `handle.rs`), renders the events off the async workers when there are
//! many, and fills a bounded send buffer that the connection drains. A client that does not
//! read stalls only its own producer; the connection's write timeout then closes it.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use proto_events::RecordedEvent;
use proto_events::staff::recorded_to_object;
use serde::Deserialize;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use super::AppState;
use super::error::{ApiError, ApiQuery};
use crate::handle::{Subscription, SubscriptionError};

/// Events buffered per feed between its producer and its connection.
const FEED_BUFFER: usize = 1024;
/// Batches up to this size are rendered on the async worker; larger ones (history pages) on
/// a blocking thread.
const RENDER_INLINE: usize = 16;
/// History pages rendered at once across every feed: with the replay readers
/// (`handle::REPLAY_READERS`), what replays may take of the cores is bounded, whatever the
/// number of feeds, and the async workers keep their share.
pub const RENDERERS: usize = 1;

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
    let head = state.ledger.reader().head().seq;
    let from = match resume {
        Some(last) if last > head => {
            return Err(beyond_head(format!(
                "Last-Event-ID {last} is beyond the head: the ledger holds {head} records"
            )));
        }
        Some(last) => last + 1,
        None => q.from.unwrap_or(1),
    };
    if from > head.saturating_add(1) {
        return Err(beyond_head(format!(
            "from={from} is beyond the head: the ledger holds {head} records (a feed starts at most at the next one, {})",
            head + 1
        )));
    }
    let permit = state.feeds.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_feeds",
            "too many live feeds; retry later",
        )
    })?;
    let (tx, rx) = mpsc::channel(FEED_BUFFER);
    tokio::spawn(produce(
        state.ledger.subscribe(from),
        tx,
        state.shutdown.clone(),
        permit,
        state.clone(),
    ));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn beyond_head(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "beyond_head", message)
}

/// Fills the feed's buffer until the subscription ends, the client goes away or the server
/// shuts down. A `dropped` or `error` event is the last of its feed; the feed's permit goes
/// with the producer.
async fn produce(
    mut subscription: Subscription,
    tx: mpsc::Sender<Event>,
    mut shutdown: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
    state: AppState,
) {
    let _permit = permit;
    loop {
        let next = tokio::select! {
            next = subscription.next_batch() => next,
            () = stopped(&mut shutdown) => return,
            () = tx.closed() => return,
        };
        let (events, last) = match next {
            Some(Ok(batch)) => (render(batch, &state.renderers).await, false),
            Some(Err(SubscriptionError::Dropped { last })) => {
                state
                    .metrics
                    .feeds_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let dropped = Event::default()
                    .event("dropped")
                    .data(format!("{{\"last\":{last}}}"));
                (vec![dropped], true)
            }
            Some(Err(e)) => (
                vec![Event::default().event("error").data(e.to_string())],
                true,
            ),
            None => return,
        };
        for event in events {
            tokio::select! {
                sent = tx.send(event) => if sent.is_err() { return },
                () = stopped(&mut shutdown) => return,
            }
        }
        if last {
            return;
        }
    }
}

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The SSE events of `batch`, rendered on a blocking thread (once a renderer is free) when the
/// batch is large.
async fn render(batch: Vec<RecordedEvent>, renderers: &Arc<Semaphore>) -> Vec<Event> {
    if batch.len() <= RENDER_INLINE {
        return batch.iter().map(record).collect();
    }
    let Ok(permit) = Arc::clone(renderers).acquire_owned().await else {
        return Vec::new();
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        batch.iter().map(record).collect()
    })
    .await
    .unwrap_or_else(|e| vec![Event::default().event("error").data(e.to_string())])
}

fn record(event: &RecordedEvent) -> Event {
    let data = serde_json::Value::Object(recorded_to_object(event)).to_string();
    Event::default()
        .id(event.sequence.to_string())
        .event("record")
        .data(data)
}
