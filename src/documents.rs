//! The JSON documents of the API that are more than a view or an event serialised: the head,
//! a verification, a list of events. One implementation of each, used by the HTTP handlers and
//! by the report (which embeds the documents the page would have fetched), so the two cannot
//! drift apart.

use proto_events::RecordedEvent;
use proto_events::hash::to_hex;
use proto_events::staff::recorded_to_object;
use serde_json::{Value, json};

use crate::error::Error;
use crate::ledger::Reader;

/// `GET /v1/head`: `{"seq", "hash", "recorded_at"}` (`recorded_at` null for an empty log).
#[must_use]
pub fn head(reader: &Reader) -> Value {
    let head = reader.head();
    json!({
        "seq": head.seq,
        "hash": to_hex(&head.hash),
        "recorded_at": (head.seq > 0).then(|| head.recorded_at.to_string()),
    })
}

/// The outcome of a verification (the chain, then the views against a fold of the log) as a
/// document: `{"ok": true, "events", "head_seq", "head_hash"}`, or `{"ok": false, "reason"}`
/// with `first_bad_sequence` when a record is damaged (the second member of the pair is then
/// `false`).
///
/// # Errors
/// Failures other than a failed verification (storage errors).
pub fn verification(reader: &Reader) -> Result<(Value, bool), Error> {
    match reader
        .verify(&mut |_, _| {})
        .and_then(|report| reader.verify_views().map(|()| report))
    {
        Ok(report) => Ok((
            json!({
                "ok": true,
                "events": report.events,
                "head_seq": report.head_seq,
                "head_hash": to_hex(&report.head_hash),
            }),
            true,
        )),
        Err(Error::Corrupt { seq, reason }) => Ok((
            json!({"ok": false, "first_bad_sequence": seq, "reason": reason}),
            false,
        )),
        Err(e @ Error::ViewsDisagree(_)) => {
            Ok((json!({"ok": false, "reason": e.to_string()}), false))
        }
        Err(e) => Err(e),
    }
}

/// A list of recorded events: each its `log --json` object.
#[must_use]
pub fn events(events: &[RecordedEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| Value::Object(recorded_to_object(e)))
            .collect(),
    )
}
