//! The staff form's JSON Schemas, one description in code (`proto_events::schema`) seen three
//! ways: `coopledger schema --json`, the OpenAPI document's request bodies (tested equal, so
//! they cannot drift), and real events, which match them. After a deliberate change of the
//! vocabulary, write the new definitions into `src/http/openapi.json` with
//!
//! ```text
//! UPDATE_OPENAPI=1 cargo test --test it schemas::
//! ```

use std::path::PathBuf;

use assert_cmd::Command;
use coopledger::proto_events::staff::to_staff_object;
use coopledger::proto_events::{EventType, schema};
use serde_json::{Map, Value, json};

const COMPONENTS: &str = "#/components/schemas/";

fn openapi_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/http/openapi.json")
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("coopledger")
        .expect("the binary")
        .env_remove("COOPLEDGER_DB")
        .args(args)
        .output()
        .expect("run coopledger");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8(out.stderr).expect("UTF-8"),
    )
}

/// `coopledger schema --json`, parsed.
fn schema_json(args: &[&str]) -> Value {
    let mut all = vec!["--json", "schema"];
    all.extend_from_slice(args);
    let (code, out, err) = run(&all);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("JSON")
}

fn rewrite_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(r) if key == "$ref" => {
                        if let Some(name) = r.strip_prefix(from) {
                            *r = format!("{to}{name}");
                        }
                    }
                    other => rewrite_refs(other, from, to),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, from, to)),
        _ => {}
    }
}

/// The definitions `coopledger schema --json` prints, with references into the OpenAPI
/// document's components.
fn definitions() -> Map<String, Value> {
    let mut doc = schema_json(&[]);
    assert_eq!(
        doc["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(doc["$ref"], "#/$defs/Submission");
    rewrite_refs(&mut doc, "#/$defs/", COMPONENTS);
    doc["$defs"].as_object().expect("$defs").clone()
}

#[test]
fn the_openapi_request_bodies_are_coopledger_schema_json() {
    let defs = definitions();
    let text = std::fs::read_to_string(openapi_path()).expect("openapi.json");
    let mut doc: Value = serde_json::from_str(&text).expect("openapi parses");
    assert_eq!(
        text,
        coopledger::http::OPENAPI,
        "the served document is the file"
    );
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let components = doc["components"]["schemas"]
            .as_object_mut()
            .expect("schemas");
        for (name, def) in &defs {
            components.insert(name.clone(), def.clone());
        }
        let pretty = serde_json::to_string_pretty(&doc).expect("serialises");
        std::fs::write(openapi_path(), format!("{pretty}\n")).expect("write openapi.json");
        return;
    }
    for t in EventType::ALL {
        assert!(defs.contains_key(t.name()), "{t} has a schema");
    }
    for (name, def) in &defs {
        assert_eq!(
            &doc["components"]["schemas"][name], def,
            "components.schemas.{name} differs from `coopledger schema --json`; \
             regenerate with UPDATE_OPENAPI=1 cargo test --test it schemas::"
        );
    }
    for path in ["/v1/events", "/v1/events/check"] {
        assert_eq!(
            doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"],
            json!({"$ref": format!("{COMPONENTS}Submission")}),
            "POST {path} takes the staff form"
        );
    }
    // A read of history takes one exploded query object: as_of or at (not both), each alone or
    // with on, so a generator never sends a pair the server refuses and a reader of the
    // document sees the rule.
    for path in [
        "/v1/countries",
        "/v1/countries/{cc}",
        "/v1/regions",
        "/v1/timeline",
        "/v1/entities",
        "/v1/entities/{stream}",
    ] {
        let params = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .expect("parameters");
        let point = params
            .iter()
            .find(|p| p["name"] == "point")
            .expect("the point parameter");
        assert_eq!(
            (point["style"].as_str(), point["explode"].as_bool()),
            (Some("form"), Some(true))
        );
        let members: Vec<&str> = point["schema"]["properties"]
            .as_object()
            .expect("members")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(members, ["as_of", "at", "on"], "{path}");
        let rule = jsonschema::validator_for(&point["schema"]).expect("the point's schema");
        for (given, allowed) in [
            (json!({}), true),
            (json!({"as_of": 3}), true),
            (json!({"at": "2026-01-01T00:00:00Z"}), true),
            (json!({"on": "2020-01-01"}), true),
            (json!({"as_of": 3, "on": "2020-01-01"}), true),
            (
                json!({"at": "2026-01-01T00:00:00Z", "on": "2020-01-01"}),
                true,
            ),
            (json!({"as_of": 3, "at": "2026-01-01T00:00:00Z"}), false),
        ] {
            assert_eq!(rule.is_valid(&given), allowed, "{path}: {given}");
        }
        assert!(
            params
                .iter()
                .all(|p| !["as_of", "at", "on"].contains(&p["name"].as_str().unwrap_or(""))),
            "{path}"
        );
    }
    // One type's schema holds what it refers to, and nothing of the others.
    let one = schema_json(&["CountryJoined"]);
    let names: Vec<&str> = one["$defs"]
        .as_object()
        .expect("$defs")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["CountryCode", "CountryJoined"]);
}

/// A validator for `name` in the OpenAPI document's components.
fn validator(name: &str) -> jsonschema::Validator {
    let mut doc: Value = serde_json::from_str(coopledger::http::OPENAPI).expect("openapi parses");
    doc["$ref"] = json!(format!("{COMPONENTS}{name}"));
    doc["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    jsonschema::validator_for(&doc).expect("compiles")
}

#[test]
fn every_event_of_the_story_and_a_synthetic_programme_matches_its_schema() {
    let submission = validator("Submission");
    let story = coopledger::story::events().expect("the story");
    let programme = coopledger::synth::Synth::new(7).programme(2_000);
    let mut seen = std::collections::BTreeSet::new();
    for event in story.iter().chain(&programme) {
        let object = Value::Object(to_staff_object(event));
        let errors: Vec<String> = submission
            .iter_errors(&object)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{object}: {errors:#?}");
        seen.insert(event.payload.event_type());
    }
    assert!(seen.len() >= 10, "most types are covered: {seen:?}");
    for t in EventType::ALL {
        let example = Value::Object(schema::example(t));
        assert!(submission.is_valid(&example), "{t}'s example");
        assert!(
            validator(t.name()).is_valid(&example),
            "{t}'s example, its own schema"
        );
    }
    let batch = json!([
        schema::example(EventType::CountryJoined),
        schema::example(EventType::CaseOpened)
    ]);
    assert!(submission.is_valid(&batch), "an array of events");
}

#[test]
fn the_schemas_refuse_what_the_parser_refuses_field_by_field() {
    let submission = validator("Submission");
    let base = schema::example(EventType::ActivityDelivered);
    let broken: Vec<(&str, Value)> = vec![
        ("an unknown field", json!({"colour": "red"})),
        ("an unknown kind", json!({"kind": "trainnig"})),
        (
            "a country code that is not one",
            json!({"beneficiaries": ["GH", "XX"]}),
        ),
        ("a country twice", json!({"beneficiaries": ["GH", "GH"]})),
        (
            "a date that is not YYYY-MM-DD",
            json!({"start": "03/03/2026"}),
        ),
        (
            "too many participants",
            json!({"participants": {"total": 100_001}}),
        ),
        (
            "a nil id",
            json!({"activity_id": "00000000-0000-0000-0000-000000000000"}),
        ),
        ("an empty title", json!({"title": ""})),
        ("another type's name", json!({"type": "MeetingHeld"})),
    ];
    assert!(submission.is_valid(&Value::Object(base.clone())));
    for (what, change) in broken {
        let mut object = base.clone();
        for (k, v) in change.as_object().expect("an object") {
            object.insert(k.clone(), v.clone());
        }
        assert!(
            !submission.is_valid(&Value::Object(object)),
            "{what} is refused"
        );
    }
    let mut missing = base.clone();
    missing.remove("pillar");
    assert!(
        !submission.is_valid(&Value::Object(missing)),
        "a missing field is refused"
    );
}

#[test]
fn schema_in_words_names_every_field_and_an_unknown_type_exits_2() {
    let (code, out, _) = run(&["schema"]);
    assert_eq!(code, 0);
    for t in EventType::ALL {
        assert!(out.contains(t.name()), "{t} is listed");
    }
    let (code, out, _) = run(&["schema", "ActivityDelivered"]);
    assert_eq!(code, 0);
    for field in [
        "participants.women",
        "venue.city",
        "institutions",
        "investigative_case_forum",
    ] {
        assert!(out.contains(field), "{field} in:\n{out}");
    }
    let (code, _, err) = run(&["schema", "ActivityDone"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ActivityDelivered"),
        "the known types are named: {err}"
    );
}
