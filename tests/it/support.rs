//! Helpers that build realistic events through the staff JSON form.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use coopledger::http;
use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::{CountryCode, NewEvent, values::today_utc};
use reqwest::blocking::Client;
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

/// An HTTP client with a timeout, so a hung server fails the test instead of stalling it.
pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Validates `body` against the response schema the OpenAPI document gives for
/// `method path status` (JSON Schema 2020-12, references resolved within the document): the
/// `application/json` schema, or the `application/problem+json` one of an error.
pub fn check_schema(path_template: &str, method: &str, status: u16, body: &Value) {
    let doc: Value = serde_json::from_str(http::OPENAPI).expect("openapi parses");
    let escaped = path_template.replace('~', "~0").replace('/', "~1");
    let content = format!("/paths/{escaped}/{method}/responses/{status}/content");
    let media = ["application~1json", "application~1problem+json"]
        .into_iter()
        .find(|m| doc.pointer(&format!("{content}/{m}/schema")).is_some());
    let Some(media) = media else {
        panic!("the OpenAPI document has no JSON schema for {method} {path_template} {status}")
    };
    check_against(
        doc,
        &format!("{content}/{media}/schema"),
        body,
        &format!("{method} {path_template} {status}"),
    );
}

/// Checks a response against the OpenAPI document: its Content-Type is the one documented for
/// `method path status`, and its JSON body matches the schema. Returns the status and body.
pub fn check_response(
    response: reqwest::blocking::Response,
    path_template: &str,
    method: &str,
) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body: Value = response.json().expect("a JSON body");
    let doc: Value = serde_json::from_str(http::OPENAPI).expect("openapi parses");
    let escaped = path_template.replace('~', "~0").replace('/', "~1");
    let content = format!(
        "/paths/{escaped}/{method}/responses/{}/content/{}",
        status.as_u16(),
        media.replace('~', "~0").replace('/', "~1")
    );
    assert!(
        doc.pointer(&content).is_some(),
        "the OpenAPI document has no {media} answer for {method} {path_template} {status}: {body}"
    );
    check_schema(path_template, method, status.as_u16(), &body);
    (status, body)
}

/// Checks an error body against the problem details schema (for answers no path documents,
/// such as a 405 or a refused connection).
pub fn check_problem(body: &Value) {
    let doc: Value = serde_json::from_str(http::OPENAPI).expect("openapi parses");
    check_against(doc, "/components/schemas/Error", body, "a problem");
}

fn check_against(mut doc: Value, pointer: &str, body: &Value, what: &str) {
    // A JSON pointer inside a URI fragment must percent-encode the braces of path templates.
    doc["$ref"] = json!(format!(
        "#{}",
        pointer.replace('{', "%7B").replace('}', "%7D")
    ));
    doc["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    let validator = jsonschema::validator_for(&doc).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the OpenAPI document: {errors:#?}\n{body:#}"
    );
}

/// The keys of a JSON object.
pub fn object_keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Whether `value` is a SHA-256 hash written as 64 lower-case hex digits.
pub fn is_hash(value: &Value) -> bool {
    value.as_str().is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A country code from its two letters, panicking on a typo in the test.
pub fn cc(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap_or_else(|| panic!("{code} is a country code"))
}

/// The seed of the property tests: `PROPTEST_RNG_SEED` when set, else one random seed per run
/// (printed by the tests that use it, so a failure can be replayed).
pub fn seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| {
        std::env::var("PROPTEST_RNG_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(rand::random)
    })
}
