//! Recorded events (the `log --json` lines, or CSV), the head, and guarded appends.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use proto_events::staff::{Mode, parse_text, recorded_to_object};
use proto_events::values::today_utc;
use proto_events::{EventType, Stream};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::{ApiError, ApiPath, ApiQuery};
use super::representation::{self, Format};
use super::{AppState, blocking};
use crate::ledger::MAX_PAGE;
use crate::{documents, table};

/// `?from=SEQ&limit=N&reverse=true&type=T`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    from: Option<u64>,
    limit: Option<usize>,
    reverse: Option<bool>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    format: Option<String>,
}

/// `?format=json|csv`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    format: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let format = representation::format(q.format.as_deref(), &headers)?;
    let event_type = q
        .event_type
        .as_deref()
        .map(|t| {
            EventType::from_name(t)
                .ok_or_else(|| ApiError::bad_request(format!("unknown event type {t:?}")))
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(100).min(MAX_PAGE);
    let reverse = q.reverse.unwrap_or(false);
    let reader = state.ledger.reader().clone();
    let head = reader.head().seq;
    let from = q.from.unwrap_or(if reverse { head } else { 1 });
    let (events, next) = blocking(move || {
        let mut out = Vec::new();
        let mut next = from;
        while out.len() < limit {
            let page = if reverse {
                if next == 0 {
                    break;
                }
                reader.read_backward(next, 1_000)?
            } else {
                reader.read_forward(next, 1_000)?
            };
            let Some(last) = page.last().map(|e| e.sequence) else {
                break;
            };
            next = if reverse {
                last.saturating_sub(1)
            } else {
                last + 1
            };
            for e in page {
                if out.len() < limit && event_type.is_none_or(|t| e.envelope.event_type == t) {
                    out.push(e);
                }
            }
        }
        let next = out.last().map(|e| {
            if reverse {
                e.sequence.saturating_sub(1)
            } else {
                e.sequence + 1
            }
        });
        Ok((out, next))
    })
    .await?;
    let mut response = match format {
        Format::Json => Json(documents::events(&events)).into_response(),
        Format::Csv => representation::csv(table::events_csv(&events)?),
    };
    let more = next.is_some_and(|n| if reverse { n > 0 } else { n <= head });
    if let (true, Some(n)) = (more && events.len() == limit, next) {
        let mut link = format!("</v1/events?from={n}&limit={limit}");
        if reverse {
            link.push_str("&reverse=true");
        }
        if let Some(t) = &q.event_type {
            link.push_str(&format!("&type={t}"));
        }
        link.push_str(">; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

pub async fn one(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a UUID")))?;
    let reader = state.ledger.reader().clone();
    let event = blocking(move || reader.get(&id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    Ok(Json(Value::Object(recorded_to_object(&event))).into_response())
}

pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(stream): ApiPath<String>,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    let format = representation::format(q.format.as_deref(), &headers)?;
    let stream: Stream = stream
        .parse()
        .map_err(|e| ApiError::bad_request(format!("{e}")))?;
    let reader = state.ledger.reader().clone();
    let events = blocking(move || reader.read_stream(&stream, 1, MAX_PAGE)).await?;
    Ok(match format {
        Format::Json => Json(documents::events(&events)).into_response(),
        Format::Csv => representation::csv(table::events_csv(&events)?),
    })
}

pub async fn head(State(state): State<AppState>) -> Response {
    Json(documents::head(state.ledger.reader())).into_response()
}

/// `POST /v1/events`: staff JSON (object, array or JSONL) as one atomic batch.
pub async fn append(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let parsed = parse_text(text, Mode::Staff, today_utc()).map_err(ApiError::invalid)?;
    let lines: Vec<usize> = parsed.iter().map(|p| p.position.line).collect();
    let events = parsed.into_iter().map(|p| p.event).collect();
    let receipts = state.ledger.append(events).await.map_err(|e| {
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
    Ok(Json(receipts).into_response())
}
