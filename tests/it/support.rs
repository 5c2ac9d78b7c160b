//! Helpers that build realistic events through the staff JSON form.

#![allow(dead_code)]

use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::{NewEvent, values::today_utc};
use serde_json::{Value, json};
use uuid::Uuid;

/// Parses staff JSON objects into events, panicking with the violations if any is invalid.
pub fn events(values: &[Value]) -> Vec<NewEvent> {
    let text: String = values.iter().map(|v| format!("{v}\n")).collect();
    parse_text(&text, Mode::Staff, today_utc())
        .unwrap_or_else(|v| panic!("invalid test events: {v:#?}"))
        .into_iter()
        .map(|p| p.event)
        .collect()
}

/// One event from a staff JSON object.
pub fn event(value: Value) -> NewEvent {
    events(&[value]).remove(0)
}

/// A deterministic UUID for tests (v7 layout, counter in the low bits).
pub fn id(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_f0a1_7c2e_7a10, 0x8b3e_0000_0000_0000 | n)
}

pub fn joined(country: &str, on: &str) -> Value {
    json!({"type": "CountryJoined", "recorded_by": "test", "country": country,
           "joined_on": on, "participation": "beneficiary"})
}

pub fn meeting(meeting_id: Uuid, countries: &[&str], start: &str) -> Value {
    json!({"type": "MeetingHeld", "recorded_by": "test", "meeting_id": meeting_id,
           "kind": "network_meeting", "title": "Network meeting", "start": start, "end": start,
           "venue": {"city": "Rio de Janeiro", "country": "BR"}, "countries": countries})
}

pub fn activity(
    activity_id: Uuid,
    kind: &str,
    beneficiaries: &[&str],
    others: &[&str],
    total: u32,
    start: &str,
) -> Value {
    json!({"type": "ActivityDelivered", "recorded_by": "test", "activity_id": activity_id,
           "kind": kind, "title": "Activity", "pillar": "capacity_building",
           "start": start, "end": start, "venue": "virtual",
           "beneficiaries": beneficiaries, "other_countries": others,
           "participants": {"total": total, "women": total / 3}})
}

pub fn case_opened(case_id: Uuid, countries: &[&str], lead: &str, on: &str) -> Value {
    json!({"type": "CaseOpened", "recorded_by": "test", "case_id": case_id, "codename": "LIONFISH",
           "case_type": "post_seizure_investigation", "countries": countries, "lead": lead,
           "opened_on": on})
}

pub fn with_id(mut value: Value, event_id: Uuid) -> Value {
    value["event_id"] = json!(event_id);
    value
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}
