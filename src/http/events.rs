//! Recorded events (the `log --json` lines, or CSV), the head, and guarded appends.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use proto_events::staff::{Mode, parse_text, recorded_to_object};
use proto_events::values::today_utc;
use proto_events::{EventType, RecordedEvent, Stream};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::{ApiBody, ApiError, ApiPath, ApiQuery};
use super::representation::{self, Format};
use super::{AppState, blocking, etag};
use crate::error::Error;
use crate::ledger::{MAX_PAGE, Resolved};
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
    request: HeaderMap,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let format = representation::format(q.format.as_deref(), &request)?;
    let event_type = q
        .event_type
        .as_deref()
        .map(|t| {
            EventType::from_name(t)
                .ok_or_else(|| ApiError::bad_request(format!("unknown event type {t:?}")))
        })
        .transpose()?;
    let limit = match q.limit {
        None => 100,
        Some(0) => {
            return Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        Some(n) => n.min(MAX_PAGE),
    };
    let reverse = q.reverse.unwrap_or(false);
    let reader = state.ledger.reader().clone();
    // The page is of the log as it stands now: records appended meanwhile are left out, so the
    // body is exactly what its tag names.
    let head = reader.head().seq;
    let tag = representation::tag(
        Resolved {
            seq: head,
            on: None,
        },
        format,
    );
    if let Some(not_modified) = representation::not_modified(&request, &tag) {
        return Ok(not_modified);
    }
    let from = match q.from {
        Some(from) if reverse => from.min(head),
        Some(from) => from,
        None if reverse => head,
        None => 1,
    };
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
                if next > head {
                    break;
                }
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
                if e.sequence > head {
                    break;
                }
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
    let mut response = representation::tagged(events_in(format, &events)?, tag);
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
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let id: Uuid = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("{id:?} is not a UUID")))?;
    let reader = state.ledger.reader().clone();
    let event = blocking(move || reader.get(&id))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    // A recorded event never changes: its own sequence is its validator.
    let tag = etag::at(event.sequence);
    if etag::fresh(&request, &tag) {
        return Ok(etag::not_modified(tag));
    }
    Ok(etag::tagged(
        Json(Value::Object(recorded_to_object(&event))).into_response(),
        tag,
    ))
}

pub async fn stream(
    State(state): State<AppState>,
    request: HeaderMap,
    ApiPath(stream): ApiPath<String>,
    ApiQuery(q): ApiQuery<StreamQuery>,
) -> Result<Response, ApiError> {
    let format = representation::format(q.format.as_deref(), &request)?;
    let stream: Stream = stream
        .parse()
        .map_err(|e| ApiError::bad_request(format!("{e}")))?;
    let reader = state.ledger.reader().clone();
    let head = reader.head().seq;
    let tag = representation::tag(
        Resolved {
            seq: head,
            on: None,
        },
        format,
    );
    if let Some(not_modified) = representation::not_modified(&request, &tag) {
        return Ok(not_modified);
    }
    let mut events = blocking(move || reader.read_stream(&stream, 1, MAX_PAGE)).await?;
    events.retain(|e| e.sequence <= head);
    Ok(representation::tagged(events_in(format, &events)?, tag))
}

/// A list of events as JSON (the `log --json` objects) or CSV.
fn events_in(format: Format, events: &[RecordedEvent]) -> Result<Response, ApiError> {
    Ok(match format {
        Format::Json => Json(documents::events(events)).into_response(),
        Format::Csv => representation::csv(table::events_csv(events)?),
    })
}

pub async fn head(State(state): State<AppState>, request: HeaderMap) -> Response {
    let reader = state.ledger.reader();
    let tag = etag::at(reader.head().seq);
    if etag::fresh(&request, &tag) {
        return etag::not_modified(tag);
    }
    etag::tagged(Json(documents::head(reader)).into_response(), tag)
}

/// `POST /v1/events`: staff JSON (object, array or JSONL) as one atomic batch. The body was
/// read within the limit before anything is parsed, and the parse runs off the async workers.
/// 201 with the `Location` of the first event recorded; 200 when every event was already
/// recorded (an idempotent repeat).
pub async fn append(
    State(state): State<AppState>,
    ApiBody(body): ApiBody,
) -> Result<Response, ApiError> {
    let parsed = blocking(move || {
        let text = std::str::from_utf8(&body)
            .map_err(|e| Error::BadArgument(format!("the body is not UTF-8: {e}")))?;
        parse_text(text, Mode::Staff, today_utc()).map_err(Error::Invalid)
    })
    .await?;
    let lines: Vec<usize> = parsed.iter().map(|p| p.position.line).collect();
    let events = parsed.into_iter().map(|p| p.event).collect();
    // A receipt above the head as it stood before is a record this request made (or one an
    // identical request made at the same moment).
    let before = state.ledger.reader().head().seq;
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
    let created = receipts
        .iter()
        .find(|r| r.seq > before)
        .and_then(|r| HeaderValue::from_str(&format!("/v1/events/{}", r.event_id)).ok());
    Ok(match created {
        Some(location) => (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(receipts),
        )
            .into_response(),
        None => Json(receipts).into_response(),
    })
}
