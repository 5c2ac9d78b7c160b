//! Helpers that build realistic events through the staff JSON form.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
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

/// `n` staff JSON lines of distinct workshops (ids from `id(1_000_000)` on), for bulk inputs.
pub fn activity_lines(n: u64) -> Vec<String> {
    (0..n)
        .map(|i| {
            activity(
                id(1_000_000 + i),
                "workshop",
                &["NG", "GH"],
                &[],
                30,
                "2024-07-16",
            )
            .to_string()
        })
        .collect()
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

/// The staff token of the servers the tests start.
pub const STAFF: &str = "staff-token-0123456789";
/// The reader token of the servers the tests start.
pub const READER: &str = "reader-token-0123456789";

/// The built binary.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_coopledger"))
}

/// Runs the binary on `db`: exit code, stdout, stderr.
pub fn run(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin().arg("--db").arg(db).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary on `db`, asserting success; its stdout.
pub fn run_ok(db: &Path, args: &[&str]) -> String {
    let (code, stdout, stderr) = run(db, args);
    assert_eq!(code, 0, "coopledger {args:?}: {stderr}");
    stdout
}

/// Runs the binary on `db` with `--json`, parsing the one document it prints.
pub fn run_json(db: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run_ok(db, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {out}"))
}

/// A `coopledger serve` child on 127.0.0.1, stopped with SIGTERM when dropped.
pub struct Served {
    child: Child,
    base: String,
}

impl Served {
    /// Serves `db` with the tokens file `tokens`, reads public or not.
    pub fn start(db: &Path, tokens: &Path, public_reads: bool) -> Served {
        Served::start_with(db, tokens, public_reads, &[])
    }

    /// [`Served::start`] with these environment variables set for the server.
    pub fn start_with(
        db: &Path,
        tokens: &Path,
        public_reads: bool,
        env: &[(&str, &str)],
    ) -> Served {
        let mut cmd = bin();
        cmd.envs(env.iter().copied());
        cmd.arg("--db")
            .arg(db)
            .args(["serve", "--addr", "127.0.0.1:0", "--tokens"])
            .arg(tokens);
        if public_reads {
            cmd.arg("--public-reads");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("the URL line");
        let base = first.trim().rsplit(' ').next().expect("url").to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{first}");
        Served { child, base }
    }

    /// Serves `db` with the tests' staff and reader tokens (written next to it).
    pub fn with_tokens(db: &Path) -> Served {
        Served::with_tokens_and(db, &[])
    }

    /// [`Served::with_tokens`] with these environment variables set for the server.
    pub fn with_tokens_and(db: &Path, env: &[(&str, &str)]) -> Served {
        let tokens = db.with_extension("tokens");
        std::fs::write(&tokens, format!("staff {STAFF}\nreader {READER}\n")).expect("tokens");
        Served::start_with(db, &tokens, false, env)
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with the reader token.
    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        client()
            .get(self.url(path))
            .bearer_auth(READER)
            .send()
            .expect("GET")
    }

    /// `GET path` with the reader token, expecting 200 and JSON.
    pub fn json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().expect("JSON")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
