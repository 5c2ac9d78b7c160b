//! Writing events as JSON objects: the staff form of a new event, and the recorded form
//! (`log --json`, `export`, the HTTP API) that [`super::recorded_from_object`] reads back.

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::envelope::{ExpectedVersion, NewEvent, RecordedEvent};
use crate::events::{Fact, Payload};
use crate::hash::to_hex;

fn to_object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        // Every payload struct serialises to an object; anything else would be a defect, and an
        // empty object makes it visible in the output rather than a panic.
        _ => Map::new(),
    }
}

/// The staff JSON fields of a fact: its struct's fields, without `type`.
#[must_use]
pub fn fact_to_object(fact: &Fact) -> Map<String, Value> {
    let mut map = match fact {
        Fact::PartnerRegistered(e) => to_object(e),
        Fact::CountryJoined(e) => to_object(e),
        Fact::ParticipationChanged(e) => to_object(e),
        Fact::MeetingHeld(e) => to_object(e),
        Fact::ActivityScheduled(e) => to_object(e),
        Fact::ActivityDelivered(e) => to_object(e),
        Fact::ActivityCancelled(e) => to_object(e),
        Fact::CaseOpened(e) => to_object(e),
        Fact::CaseCountryAdded(e) => to_object(e),
        Fact::CaseMilestoneRecorded(e) => to_object(e),
        Fact::CaseClosed(e) => to_object(e),
    };
    strip_nulls(&mut map);
    map
}

/// The staff JSON fields of a payload, without `type`.
#[must_use]
pub fn payload_to_object(payload: &Payload) -> Map<String, Value> {
    match payload {
        Payload::Fact(f) => fact_to_object(f),
        Payload::Corrected(c) => {
            let mut map = Map::new();
            map.insert("target".into(), Value::String(c.target.to_string()));
            map.insert(
                "replacement".into(),
                Value::Object(fact_to_object(&c.replacement)),
            );
            map.insert("reason".into(), Value::String(c.reason.clone()));
            map
        }
        Payload::Retracted(r) => {
            let mut map = to_object(r);
            strip_nulls(&mut map);
            map
        }
    }
}

/// Optional fields are written by leaving them out rather than as `null`.
fn strip_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    for value in map.values_mut() {
        if let Value::Object(inner) = value {
            strip_nulls(inner);
        }
    }
}

/// The staff JSON form of a new event (parses back to the same event).
#[must_use]
pub fn to_staff_object(event: &NewEvent) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "type".into(),
        Value::String(event.payload.event_type().name().into()),
    );
    if let Some(id) = event.event_id {
        map.insert("event_id".into(), Value::String(id.to_string()));
    }
    map.insert(
        "recorded_by".into(),
        Value::String(event.recorded_by.clone()),
    );
    if let Some(source) = &event.source {
        map.insert("source".into(), Value::String(source.clone()));
    }
    if event.expected_version != ExpectedVersion::Any {
        map.insert(
            "expected_version".into(),
            serde_json::json!(event.expected_version),
        );
    }
    insert_ids(&mut map, event.correlation_id, event.causation_id);
    map.extend(payload_to_object(&event.payload));
    map
}

fn insert_ids(map: &mut Map<String, Value>, correlation: Option<Uuid>, causation: Option<Uuid>) {
    if let Some(id) = correlation {
        map.insert("correlation_id".into(), Value::String(id.to_string()));
    }
    if let Some(id) = causation {
        map.insert("causation_id".into(), Value::String(id.to_string()));
    }
}

/// The JSON line of a recorded event (`log --json`, `export`, the HTTP API): `seq`, `event_id`,
/// `stream`, `version`, `recorded_at`, `hash`, `prev_hash`, then the staff JSON fields.
#[must_use]
pub fn recorded_to_object(event: &RecordedEvent) -> Map<String, Value> {
    let env = &event.envelope;
    let mut map = Map::new();
    map.insert("seq".into(), Value::from(event.sequence));
    map.insert("event_id".into(), Value::String(env.event_id.to_string()));
    map.insert("stream".into(), Value::String(env.stream.to_string()));
    map.insert("version".into(), Value::from(event.stream_version));
    map.insert(
        "recorded_at".into(),
        Value::String(env.recorded_at.to_string()),
    );
    map.insert("hash".into(), Value::String(to_hex(&event.hash)));
    map.insert("prev_hash".into(), Value::String(to_hex(&event.prev_hash)));
    map.insert("type".into(), Value::String(env.event_type.name().into()));
    map.insert("recorded_by".into(), Value::String(env.recorded_by.clone()));
    if let Some(source) = &env.source {
        map.insert("source".into(), Value::String(source.clone()));
    }
    insert_ids(&mut map, env.correlation_id, env.causation_id);
    map.extend(payload_to_object(&event.payload));
    map
}
