//! The HTTP API over real HTTP on 127.0.0.1:0: every endpoint, every access case, the feed while
//! appending, graceful shutdown with appends in flight, and every response checked against the
//! OpenAPI document the server publishes.

use std::io::{BufRead, BufReader};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coopledger::http::{self, Config, auth::Tokens};
use coopledger::{Ledger, LedgerHandle};
use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::support::*;

const STAFF: &str = "staff-token-0123456789";
const READER: &str = "reader-token-0123456789";

struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    fn start(config: Config) -> Server {
        let dir = tempdir();
        let mut server = Self::start_in(dir.path(), config);
        server._dir = Some(dir);
        server
    }

    fn start_in(path: &std::path::Path, config: Config) -> Server {
        Self::start_with(LedgerHandle::create(path).expect("open"), config)
    }

    fn start_with(handle: LedgerHandle, config: Config) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = runtime.spawn(http::serve(listener, handle, config, async {
            let _ = stopped.await;
        }));
        Server {
            base,
            runtime,
            stop: Some(stop),
            done: Some(done),
            _dir: None,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Graceful shutdown; returns once the server and the ledger's writer have stopped.
    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            self.runtime
                .block_on(done)
                .expect("server task")
                .expect("server result");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn tokens() -> Tokens {
    Tokens::parse("test", &format!("staff {STAFF}\nreader {READER}\n")).expect("tokens")
}

fn guarded() -> Config {
    Config {
        tokens: Some(tokens()),
        ..Config::default()
    }
}

fn get(server: &Server, path: &str, token: Option<&str>) -> Response {
    let mut request = client().get(server.url(path));
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().expect("GET")
}

fn post(server: &Server, body: &str, token: Option<&str>) -> Response {
    let mut request = client()
        .post(server.url("/v1/events"))
        .body(body.to_owned());
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    request.send().expect("POST")
}

fn jsonl(values: &[Value]) -> String {
    values.iter().map(|v| format!("{v}\n")).collect()
}

fn json_of(response: Response, path_template: &str, method: &str) -> (StatusCode, Value) {
    check_response(response, path_template, method)
}

fn story() -> Vec<Value> {
    vec![
        with_id(joined("CV", "2016-07-21"), id(1)),
        with_id(joined("GH", "2016-07-21"), id(2)),
        with_id(meeting(id(100), &["CV", "GH", "BR"], "2017-09-12"), id(3)),
        with_id(
            activity(
                id(101),
                "workshop",
                &["GH", "NG"],
                &["ES"],
                30,
                "2018-07-16",
            ),
            id(4),
        ),
        with_id(
            case_opened(id(102), &["GH", "PT"], "GH", "2019-01-10"),
            id(5),
        ),
    ]
}

fn seeded() -> Server {
    let server = Server::start(guarded());
    let response = post(&server, &jsonl(&story()), Some(STAFF));
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{}",
        response.text().unwrap_or_default()
    );
    server
}

#[test]
fn every_read_endpoint_answers_what_the_openapi_document_says() {
    let server = seeded();
    let r = Some(READER);
    let (status, countries) = json_of(get(&server, "/v1/countries", r), "/v1/countries", "get");
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = countries
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["country"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["BR", "CV", "ES", "GH", "NG", "PT"]);
    let page = get(&server, "/v1/countries?limit=2&offset=2", r);
    assert_eq!(page.headers()["x-total-count"], "6");
    let link = page.headers()["link"].to_str().expect("link").to_owned();
    assert!(
        link.contains("offset=4") && link.contains("as_of=5"),
        "{link}"
    );
    let (_, page) = json_of(page, "/v1/countries", "get");
    assert_eq!(page.as_array().map(Vec::len), Some(2));
    assert_eq!(page[0]["country"], "ES");

    let (status, gh) = json_of(
        get(&server, "/v1/countries/gh", r),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gh["participation"]["joined_on"], "2016-07-21");
    assert_eq!(gh["counterparts"]["ES"]["activities"], 1);
    assert_eq!(gh["as_of_sequence"], 5);
    let (status, _) = json_of(
        get(&server, "/v1/countries/US", r),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = json_of(
        get(&server, "/v1/countries/XX", r),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, then) = json_of(
        get(&server, "/v1/countries/GH?as_of=2", r),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(
        (then["meetings"].as_u64(), then["as_of_sequence"].as_u64()),
        (Some(0), Some(2))
    );
    let (_, on) = json_of(
        get(&server, "/v1/countries/GH?on=2018-01-01", r),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(
        (on["meetings"].as_u64(), on["activities"]["total"].as_u64()),
        (Some(1), Some(0))
    );
    // A sequence and a time exclude each other; either combines with a date (tests/it/story.rs).
    let (status, _) = json_of(
        get(
            &server,
            "/v1/countries/GH?as_of=1&at=2026-01-01T00:00:00Z",
            r,
        ),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, regions) = json_of(get(&server, "/v1/regions", r), "/v1/regions", "get");
    assert_eq!(regions["interregional"]["events"], 3);
    assert_eq!(regions["as_of_sequence"], 5);

    let (_, events) = json_of(
        get(&server, "/v1/events?from=2&limit=2", r),
        "/v1/events",
        "get",
    );
    let seqs: Vec<u64> = events
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert_eq!(seqs, [2, 3]);
    let (_, newest) = json_of(
        get(
            &server,
            "/v1/events?reverse=true&limit=1&type=CaseOpened",
            r,
        ),
        "/v1/events",
        "get",
    );
    assert_eq!(newest[0]["seq"], 5);
    let (_, one) = json_of(
        get(&server, &format!("/v1/events/{}", id(4)), r),
        "/v1/events/{id}",
        "get",
    );
    assert_eq!(
        (one["seq"].as_u64(), one["type"].as_str()),
        (Some(4), Some("ActivityDelivered"))
    );
    let (status, _) = json_of(
        get(&server, &format!("/v1/events/{}", id(99)), r),
        "/v1/events/{id}",
        "get",
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, stream) = json_of(
        get(&server, "/v1/streams/country/GH", r),
        "/v1/streams/{kind}/{id}",
        "get",
    );
    assert_eq!(stream.as_array().map(Vec::len), Some(1));
    let (status, _) = json_of(
        get(&server, "/v1/streams/planet/mars", r),
        "/v1/streams/{kind}/{id}",
        "get",
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, head) = json_of(get(&server, "/v1/head", r), "/v1/head", "get");
    assert_eq!(head["seq"], 5);
    let (_, verify) = json_of(get(&server, "/v1/verify", r), "/v1/verify", "get");
    assert_eq!(
        (verify["ok"].as_bool(), verify["events"].as_u64()),
        (Some(true), Some(5))
    );
    assert_eq!(verify["head_hash"], head["hash"]);

    let health = get(&server, "/healthz", None);
    assert_eq!(
        (health.status(), health.text().expect("text")),
        (StatusCode::OK, "ok\n".to_owned())
    );
    let metrics = get(&server, "/metrics", r).text().expect("metrics");
    for name in [
        "coopledger_events_appended_total 5",
        "coopledger_group_commit_events_bucket",
        "coopledger_sync_seconds_bucket",
        "coopledger_http_requests_total{route=\"/v1/countries/{cc}\",status=\"200\"}",
        "coopledger_http_request_seconds_bucket{route=\"/v1/regions\"",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}:\n{metrics}");
    }
    let openapi: Value = get(&server, "/v1/openapi.json", None)
        .json()
        .expect("openapi");
    assert_eq!(openapi["openapi"], "3.1.0");
    let (status, _) = json_of(get(&server, "/v1/nowhere", r), "/v1/events/{id}", "get");
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn appends_are_receipted_invalid_input_is_422_and_conflicts_409() {
    let server = Server::start(guarded());
    let first = post(&server, &jsonl(&story()), Some(STAFF));
    assert_eq!(
        first.headers()["location"],
        format!("/v1/events/{}", id(1)).as_str(),
        "the Location of the first event recorded"
    );
    let (status, receipts) = json_of(first, "/v1/events", "post");
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(receipts.as_array().map(Vec::len), Some(5));
    let repeat = post(&server, &jsonl(&story()), Some(STAFF));
    assert!(repeat.headers().get("location").is_none(), "nothing new");
    let (status, again) = json_of(repeat, "/v1/events", "post");
    assert_eq!(status, StatusCode::OK, "a pure idempotent repeat");
    assert_eq!(again, receipts, "re-sending returns the original receipts");
    let location = get(&server, &format!("/v1/events/{}", id(1)), Some(READER));
    assert_eq!(location.status(), StatusCode::OK, "the Location resolves");
    let bad = json!([
        {"type": "CountryJoined", "recorded_by": "t", "country": "BR", "joined_on": "2016-01-01", "participation": "beneficiary"},
        {"type": "MeetingHeld", "recorded_by": "t", "meeting_id": id(200), "kind": "network_meeting", "title": "",
         "start": "2019-05-02", "end": "2019-05-01", "venue": "virtual", "countries": ["BR"]}
    ]);
    let (status, body) = json_of(
        post(
            &server,
            &serde_json::to_string_pretty(&bad).expect("json"),
            Some(STAFF),
        ),
        "/v1/events",
        "post",
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let rules: Vec<&str> = body["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["rule"].as_str())
        .collect();
    assert_eq!(rules, ["empty_text", "start_after_end"], "{body:#}");
    assert_eq!(body["violations"][0]["position"]["index"], 1);
    assert!(
        body["violations"][0]["position"]["line"].as_u64() > Some(1),
        "the line of the second element"
    );
    let closed = json!({"type": "CaseClosed", "recorded_by": "t", "case_id": id(300), "closed_on": "2019-02-01", "outcome": "unknown"});
    let (status, body) = json_of(
        post(
            &server,
            &jsonl(&[joined("BR", "2016-01-01"), closed]),
            Some(STAFF),
        ),
        "/v1/events",
        "post",
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (
            body["violations"][0]["rule"].as_str(),
            body["violations"][0]["position"]["line"].as_u64()
        ),
        (Some("case_not_open"), Some(2))
    );
    let reused = with_id(joined("BR", "2016-01-01"), id(1));
    let (status, body) = json_of(
        post(&server, &jsonl(&[reused]), Some(STAFF)),
        "/v1/events",
        "post",
    );
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["violations"][0]["rule"], "event_id_reused");
    let mut stale = joined("BR", "2016-01-01");
    stale["expected_version"] = json!(3);
    let (status, body) = json_of(
        post(&server, &jsonl(&[stale]), Some(STAFF)),
        "/v1/events",
        "post",
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );
    let (status, _) = json_of(
        post(&server, "{not json", Some(STAFF)),
        "/v1/events",
        "post",
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, head) = json_of(get(&server, "/v1/head", Some(READER)), "/v1/head", "get");
    assert_eq!(
        head["seq"], 5,
        "nothing of the refused requests was written"
    );
}

#[test]
fn every_access_case() {
    let server = Server::start(guarded());
    let body = jsonl(&[joined("CV", "2016-07-21")]);
    for (token, expected, challenge) in [
        (None, 401, Some(r#"Bearer realm="coopledger""#)),
        (
            Some("not-a-known-token-000"),
            401,
            Some(r#"Bearer realm="coopledger", error="invalid_token""#),
        ),
        (Some(READER), 403, None),
    ] {
        let response = post(&server, &body, token);
        assert_eq!(response.status().as_u16(), expected, "POST with {token:?}");
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok()),
            challenge,
            "POST with {token:?}"
        );
        let (_, problem) = json_of(response, "/v1/events", "post");
        assert_eq!(problem["status"], expected);
    }
    for (token, expected) in [
        (None, 401),
        (Some("not-a-known-token-000"), 401),
        (Some(READER), 200),
        (Some(STAFF), 200),
    ] {
        assert_eq!(
            get(&server, "/v1/head", token).status().as_u16(),
            expected,
            "GET with {token:?}"
        );
    }
    assert_eq!(
        get(&server, "/v1/head", Some(READER))
            .json::<Value>()
            .expect("json")["seq"],
        0,
        "nothing written"
    );
    assert_eq!(
        post(&server, &body, Some(STAFF)).status(),
        StatusCode::CREATED
    );

    let public = Server::start(Config {
        tokens: Some(tokens()),
        public_reads: true,
        ..Config::default()
    });
    assert_eq!(get(&public, "/v1/countries", None).status(), StatusCode::OK);
    assert_eq!(
        post(&public, &body, None).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(&public, &body, Some(READER)).status(),
        StatusCode::FORBIDDEN
    );

    // Closed by default (issue 13): without tokens, reads are refused unless made public on
    // purpose, and appends always are.
    let closed = Server::start(Config::default());
    for path in ["/v1/countries", "/v1/head", "/v1/feed", "/metrics"] {
        let response = get(&closed, path, None);
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        let problem: Value = response.json().expect("json");
        assert_eq!(problem["error"], "reads_disabled", "{path}: {problem}");
        check_problem(&problem);
    }
    assert_eq!(get(&closed, "/healthz", None).status(), StatusCode::OK);
    assert_eq!(get(&closed, "/", None).status(), StatusCode::OK);
    let open = Server::start(Config {
        public_reads: true,
        ..Config::default()
    });
    assert_eq!(get(&open, "/v1/countries", None).status(), StatusCode::OK);
    let refused = post(&open, &body, Some(STAFF));
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json::<Value>().expect("json")["error"],
        "appends_disabled"
    );
    assert_eq!(
        get(&open, "/v1/head", None).json::<Value>().expect("json")["seq"],
        0
    );
}

/// Reads SSE `record` events from a feed response until `count` have arrived.
fn read_feed(response: Response, count: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    let mut reader = BufReader::new(response);
    let mut line = String::new();
    while ids.len() < count {
        line.clear();
        let n = reader.read_line(&mut line).expect("feed line");
        assert!(n > 0, "the feed ended after {} events", ids.len());
        if let Some(id) = line.trim_end().strip_prefix("id: ") {
            ids.push(id.parse().expect("sequence id"));
        }
    }
    ids
}

#[test]
fn the_feed_delivers_history_then_live_appends_with_no_gap_and_resumes() {
    let server = seeded();
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let url = server.url("/v1/events");
            std::thread::spawn(move || {
                let mut synth = coopledger::synth::Synth::new(500 + w);
                for _ in 0..25 {
                    let text = serde_json::Value::Object(
                        coopledger::proto_events::staff::to_staff_object(&synth.activity()),
                    )
                    .to_string();
                    let r = client()
                        .post(&url)
                        .bearer_auth(STAFF)
                        .body(text)
                        .send()
                        .expect("post");
                    assert_eq!(r.status(), StatusCode::CREATED);
                }
            })
        })
        .collect();
    let feed = client()
        .get(server.url("/v1/feed?from=1"))
        .bearer_auth(READER)
        .send()
        .expect("feed");
    assert_eq!(feed.status(), StatusCode::OK);
    assert_eq!(feed.headers()["content-type"], "text/event-stream");
    let ids = read_feed(feed, 105);
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(
        ids,
        (1..=105).collect::<Vec<u64>>(),
        "every sequence once, in order"
    );
    let resumed = client()
        .get(server.url("/v1/feed"))
        .bearer_auth(READER)
        .header("Last-Event-ID", "100")
        .send()
        .expect("resume");
    assert_eq!(read_feed(resumed, 5), vec![101, 102, 103, 104, 105]);
    assert_eq!(
        get(&server, "/v1/feed", None).status(),
        StatusCode::UNAUTHORIZED
    );
}

#[test]
fn shutdown_lets_appends_in_flight_finish_durably_and_refuses_new_ones() {
    let dir = tempdir();
    let mut server = Server::start_in(dir.path(), guarded());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u64)
        .map(|w| {
            let url = server.url("/v1/events");
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut synth = coopledger::synth::Synth::new(900 + w);
                let mut acked = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let event = synth.activity();
                    let text = serde_json::Value::Object(
                        coopledger::proto_events::staff::to_staff_object(&event),
                    )
                    .to_string();
                    match client().post(&url).bearer_auth(STAFF).body(text).send() {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            acked.push(event.event_id.expect("id"))
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    server.shutdown();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().expect("writer"))
        .collect();
    assert!(!acked.is_empty(), "appends were in flight");
    assert!(
        client().get(server.url("/healthz")).send().is_err(),
        "no new requests after shutdown"
    );
    let ledger = Ledger::create(dir.path()).expect("the store is released and reopens");
    let reader = ledger.reader();
    for id in &acked {
        assert!(
            reader.get(id).expect("read").is_some(),
            "acknowledged {id} lost"
        );
    }
    assert_eq!(
        reader.head().seq,
        acked.len() as u64,
        "nothing unacknowledged written"
    );
    reader.verify(&mut |_, _| {}).expect("verify");
}

#[test]
fn the_binary_serves_and_stops_on_sigterm() {
    let dir = tempdir();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("staff {STAFF}\nreader {READER}\n")).expect("tokens");
    let db = dir.path().join("ledger");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .arg("--db")
        .arg(&db)
        .args(["--create", "serve", "--addr", "127.0.0.1:0", "--tokens"])
        .arg(&tokens)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the URL line");
    let base = first.trim().rsplit(' ').next().expect("url").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let posted = client()
        .post(format!("{base}/v1/events"))
        .bearer_auth(STAFF)
        .body(jsonl(&story()))
        .send()
        .expect("post");
    assert_eq!(posted.status(), StatusCode::CREATED);
    // The command line works through the server while it holds the store.
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["--server", &base, "--token", READER, "verify"])
        .output()
        .expect("verify via server");
    assert!(
        String::from_utf8_lossy(&cli.stdout).starts_with("ok: 5 events, head 5 "),
        "{cli:?}"
    );
    let local = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .arg("--db")
        .arg(&db)
        .arg("verify")
        .output()
        .expect("verify locally");
    assert_eq!(local.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert!(
        stderr.contains("in use") && stderr.contains("--server"),
        "{stderr}"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit:?}");
    let ledger = Ledger::create(&db).expect("reopen after the server stopped");
    assert_eq!(ledger.reader().head().seq, 5);
}

/// Regression (issue 12): an as-of point beyond the head was answered with the head's views and
/// cached under the requested point, so the same request kept its stale answer after the log
/// grew. Beyond the head is a 400; once the log has reached the point, the answer is the views
/// there.
#[test]
fn an_as_of_beyond_the_head_is_refused_and_never_cached() {
    let server = Server::start(guarded());
    let first = [
        with_id(joined("CV", "2016-07-21"), id(1)),
        with_id(joined("GH", "2016-07-21"), id(2)),
    ];
    assert_eq!(
        post(&server, &jsonl(&first), Some(STAFF)).status(),
        StatusCode::CREATED
    );
    for path in [
        "/v1/regions?as_of=5",
        "/v1/countries?as_of=5",
        "/v1/countries/GH?as_of=5",
    ] {
        let response = get(&server, path, Some(READER));
        let status = response.status();
        let body: Value = response.json().expect("a JSON body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "beyond_head", "{path}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|m| m.contains("sequence 5") && m.contains("holds 2 records")),
            "{path}: {body}"
        );
    }
    let more = [
        with_id(joined("NG", "2016-07-21"), id(3)),
        with_id(meeting(id(100), &["CV", "GH", "BR"], "2017-09-12"), id(4)),
        with_id(joined("BR", "2016-07-21"), id(5)),
        with_id(joined("AR", "2016-07-21"), id(6)),
    ];
    assert_eq!(
        post(&server, &jsonl(&more), Some(STAFF)).status(),
        StatusCode::CREATED
    );
    let (status, regions) = json_of(
        get(&server, "/v1/regions?as_of=5", Some(READER)),
        "/v1/regions",
        "get",
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(regions["as_of_sequence"], 5, "{regions}");
    let (_, gh) = json_of(
        get(&server, "/v1/countries/GH?as_of=5", Some(READER)),
        "/v1/countries/{cc}",
        "get",
    );
    assert_eq!(gh["as_of_sequence"], 5);
    assert_eq!(gh["meetings"], 1, "the meeting at 4 is in the views at 5");
    // A time in the future is beyond the head too.
    let response = get(&server, "/v1/regions?at=2999-01-01T00:00:00Z", Some(READER));
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Issue 15 §4 and 13.10: every error is RFC 9457 problem details, with no framework text in
/// any body: an unknown path, a method a path does not take, a rejected query, a body over the
/// limit, a request over the time limit. Each says nosniff and no-store.
#[test]
fn every_error_is_problem_details_never_framework_text() {
    let server = Server::start(Config {
        timeout: Duration::from_secs(1),
        body_limit: 64 * 1024,
        ..guarded()
    });
    let check = |response: Response, status: StatusCode, kind: &str| {
        assert_eq!(response.status(), status, "{kind}");
        assert_eq!(
            header(&response, "content-type"),
            Some("application/problem+json"),
            "{kind}"
        );
        assert_eq!(header(&response, "x-content-type-options"), Some("nosniff"));
        assert_eq!(
            header(&response, "cache-control"),
            Some("no-store"),
            "{kind}"
        );
        let body: Value = response.json().expect("a JSON problem");
        check_problem(&body);
        assert_eq!(
            (body["error"].as_str(), body["status"].as_u64()),
            (Some(kind), Some(u64::from(status.as_u16()))),
            "{body}"
        );
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], status.canonical_reason().expect("reason"));
        body
    };
    let deleted = client()
        .delete(server.url("/v1/head"))
        .bearer_auth(READER)
        .send()
        .expect("DELETE");
    assert_eq!(header(&deleted, "allow"), Some("GET,HEAD"));
    check(
        deleted,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    check(
        get(&server, "/v1/nowhere", Some(READER)),
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let rejected = check(
        get(&server, "/v1/events?from=minus-one", Some(READER)),
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert!(
        rejected["detail"]
            .as_str()
            .is_some_and(|d| d.contains("from")),
        "{rejected}"
    );
    let large = check(
        post(&server, &" ".repeat(64 * 1024 + 1), Some(STAFF)),
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit",
    );
    assert!(
        large["detail"]
            .as_str()
            .is_some_and(|d| d.contains("65536")),
        "the limit is named: {large}"
    );
    // A body announced but never sent: the request runs out of time.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut slow = std::net::TcpStream::connect(&address).expect("connect");
    use std::io::{Read, Write};
    write!(
        slow,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {STAFF}\r\nContent-Length: 100\r\n\r\n{{"
    )
    .expect("a partial body");
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"error\"") {
        let n = slow.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408")
            && answer.contains("application/problem+json")
            && answer.contains("\"error\":\"timeout\""),
        "{answer}"
    );
    let (_, head) = json_of(get(&server, "/v1/head", Some(READER)), "/v1/head", "get");
    assert_eq!(head["seq"], 0, "nothing was written");
}

/// Issue 13.10: the extractor's own 2 MiB default refused ~4,800 events with a plain-text 413
/// though the documented limit is 32 MiB. `--server append` of an 8,000-event file succeeds,
/// as a local append does.
#[test]
fn server_append_of_an_8000_event_file_succeeds_like_a_local_append() {
    let dir = tempdir();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("staff {STAFF}\nreader {READER}\n")).expect("tokens");
    let mut synth = coopledger::synth::Synth::new(8_000);
    let file = dir.path().join("eight-thousand.jsonl");
    let text: String = (0..8_000)
        .map(|_| {
            format!(
                "{}\n",
                Value::Object(coopledger::proto_events::staff::to_staff_object(
                    &synth.activity()
                ))
            )
        })
        .collect();
    assert!(text.len() > 2 * 1024 * 1024, "{} bytes", text.len());
    std::fs::write(&file, &text).expect("file");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .arg("--db")
        .arg(dir.path().join("ledger"))
        .args(["--create", "serve", "--addr", "127.0.0.1:0", "--tokens"])
        .arg(&tokens)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the URL line");
    let base = first.trim().rsplit(' ').next().expect("url").to_owned();
    let appended = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["--server", &base, "--token", STAFF, "append"])
        .arg(&file)
        .output()
        .expect("append via server");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        appended.status.success(),
        "{}",
        String::from_utf8_lossy(&appended.stderr)
    );
    let receipts = String::from_utf8_lossy(&appended.stdout).lines().count();
    assert_eq!(receipts, 8_000, "one receipt per event");
}

/// Issue 15 §4: 201 Created with the Location of what was recorded, 200 for a pure repeat (in
/// `appends_are_receipted…`), and conditional reads: every read carries a validator of the
/// point of history it answers and a 304 while that point stands.
#[test]
fn reads_carry_a_validator_and_answer_304_while_their_point_stands() {
    let server = seeded();
    let fetch = |path: &str, tag: Option<&str>| {
        let mut request = client().get(server.url(path)).bearer_auth(READER);
        if let Some(tag) = tag {
            request = request.header("if-none-match", tag);
        }
        request.send().expect("GET")
    };
    let event = format!("/v1/events/{}", id(2));
    let cases = [
        ("/v1/countries", "W/\"s5\""),
        ("/v1/countries/GH", "W/\"s5\""),
        ("/v1/regions", "W/\"s5\""),
        ("/v1/events?limit=3", "W/\"s5\""),
        ("/v1/streams/country/GH", "W/\"s5\""),
        ("/v1/head", "W/\"s5\""),
        ("/v1/regions?as_of=3", "W/\"s3\""),
        ("/v1/countries/GH?on=2018-01-01", "W/\"s5-on2018-01-01\""),
        (event.as_str(), "W/\"s2\""),
    ];
    for (path, expected) in cases {
        let first = fetch(path, None);
        assert_eq!(first.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&first, "etag"), Some(expected), "{path}");
        assert_eq!(
            header(&first, "cache-control"),
            Some("private, no-cache"),
            "{path}: a read that needs a token"
        );
        let again = fetch(path, Some(expected));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header(&again, "etag"), Some(expected), "{path}");
        assert!(again.text().expect("body").is_empty(), "{path}");
        assert_eq!(
            fetch(path, Some("W/\"s4\", \"s99\"")).status(),
            StatusCode::OK,
            "{path}: another point"
        );
    }
    let posted = post(&server, &jsonl(&[joined("BR", "2016-07-21")]), Some(STAFF));
    assert_eq!(posted.status(), StatusCode::CREATED);
    for (path, old) in cases {
        let moved = !path.contains("as_of") && !path.starts_with("/v1/events/");
        let answer = fetch(path, Some(old));
        if moved {
            assert_eq!(answer.status(), StatusCode::OK, "{path}: the head moved");
            assert_ne!(header(&answer, "etag"), Some(old), "{path}");
        } else {
            assert_eq!(
                answer.status(),
                StatusCode::NOT_MODIFIED,
                "{path}: that point of history never changes"
            );
        }
    }
    let public = Server::start(Config {
        tokens: Some(tokens()),
        public_reads: true,
        ..Config::default()
    });
    let read = get(&public, "/v1/head", None);
    assert_eq!(header(&read, "cache-control"), Some("no-cache"));
    assert_eq!(header(&read, "x-content-type-options"), Some("nosniff"));
    let metrics = get(&public, "/metrics", None);
    assert_eq!(header(&metrics, "cache-control"), Some("no-store"));
}

/// Issue 15 §4: CORS is off unless one origin is allowed on purpose; then that origin, and only
/// it, gets the CORS headers (a preflight is answered before any token is asked for).
#[test]
fn cors_is_off_unless_one_origin_is_allowed() {
    const ORIGIN: &str = "https://dashboard.example";
    let preflight = |server: &Server, origin: &str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url("/v1/events"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .expect("preflight")
    };
    let read_from = |server: &Server, origin: &str| {
        client()
            .get(server.url("/v1/head"))
            .bearer_auth(READER)
            .header("origin", origin)
            .send()
            .expect("GET")
    };
    let closed = Server::start(guarded());
    assert_eq!(
        header(&preflight(&closed, ORIGIN), "access-control-allow-origin"),
        None
    );
    assert_eq!(
        header(&read_from(&closed, ORIGIN), "access-control-allow-origin"),
        None
    );
    let open = Server::start(Config {
        cors_origin: Some(reqwest::header::HeaderValue::from_static(ORIGIN)),
        ..guarded()
    });
    let answer = preflight(&open, ORIGIN);
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(ORIGIN));
    let allowed = header(&answer, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let read = read_from(&open, ORIGIN);
    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(header(&read, "access-control-allow-origin"), Some(ORIGIN));
    assert!(
        header(&read, "access-control-expose-headers")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .contains("etag")
    );
    let other = "https://elsewhere.example";
    assert_eq!(
        header(&preflight(&open, other), "access-control-allow-origin"),
        None
    );
    assert_eq!(
        header(&read_from(&open, other), "access-control-allow-origin"),
        None
    );
}

/// Issue 13.14: `Last-Event-ID: 18446744073709551615` wrapped around and replayed the whole log;
/// `?limit=0` linked to itself; a huge `offset` overflowed. Now they are refused or answered
/// within range.
#[test]
fn hostile_numbers_are_refused_or_answered_within_range() {
    let server = seeded();
    let feed = |resume: Option<&str>, query: &str| {
        let mut request = client()
            .get(server.url(&format!("/v1/feed{query}")))
            .bearer_auth(READER);
        if let Some(last) = resume {
            request = request.header("last-event-id", last);
        }
        request.send().expect("feed")
    };
    for (resume, query) in [
        (Some("18446744073709551615"), ""),
        (Some("6"), ""),
        (None, "?from=18446744073709551615"),
        (None, "?from=7"),
    ] {
        let (status, body) = json_of(feed(resume, query), "/v1/feed", "get");
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{resume:?} {query}: {body}"
        );
        assert_eq!(body["error"], "beyond_head", "{body}");
    }
    // At the head, a feed waits for what comes next.
    assert_eq!(feed(Some("5"), "").status(), StatusCode::OK);
    assert_eq!(feed(None, "?from=6").status(), StatusCode::OK);
    for path in ["/v1/countries?limit=0", "/v1/events?limit=0"] {
        let template = path.split('?').next().expect("path");
        let (status, body) = json_of(get(&server, path, Some(READER)), template, "get");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    for path in [
        "/v1/countries?offset=18446744073709551615&limit=300",
        "/v1/countries?offset=18446744073709551614&limit=2",
        "/v1/events?from=18446744073709551615",
    ] {
        let response = get(&server, path, Some(READER));
        assert!(response.headers().get("link").is_none(), "{path}");
        let template = path.split('?').next().expect("path");
        let (status, body) = json_of(response, template, "get");
        assert_eq!(
            (status, body.as_array().map(Vec::len)),
            (StatusCode::OK, Some(0)),
            "{path}"
        );
    }
    let (_, newest) = json_of(
        get(
            &server,
            "/v1/events?reverse=true&limit=2&from=18446744073709551615",
            Some(READER),
        ),
        "/v1/events",
        "get",
    );
    assert_eq!(newest[0]["seq"], 5);
}

/// Issue 13.4: reads signed and stored a checkpoint whenever the head had moved. Now reads
/// never sign (`proofs.rs` checks a keyed server without a schedule), staff sign on request,
/// and a schedule signs when the head moves.
#[test]
fn checkpoints_are_signed_on_a_schedule_or_by_staff_never_by_reads() {
    use coopledger::audit::checkpoint::{self, Key, PublicKey};
    let (secret, public) = checkpoint::generate("http.test/schedule");
    let public = PublicKey::parse(&public).expect("public key");
    let server = Server::start(Config {
        key: Some(Arc::new(Key::parse(&secret).expect("key"))),
        checkpoint_every: Some(Duration::from_millis(100)),
        ..guarded()
    });
    let size_served = || {
        let response = get(&server, "/v1/checkpoint", Some(READER));
        (response.status() == StatusCode::OK).then(|| {
            public
                .open(&response.text().expect("note"))
                .expect("the served checkpoint verifies")
                .size
        })
    };
    let wait_for = |size: u64| {
        let started = std::time::Instant::now();
        while size_served() != Some(size) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the schedule never signed {size}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for(0);
    assert_eq!(
        post(&server, &jsonl(&story()), Some(STAFF)).status(),
        StatusCode::CREATED
    );
    wait_for(5);
    let refused = client()
        .post(server.url("/v1/checkpoint"))
        .bearer_auth(READER)
        .send()
        .expect("POST");
    assert_eq!(
        refused.status(),
        StatusCode::FORBIDDEN,
        "a reader may not sign"
    );
    let keyless = Server::start(guarded());
    let refused = client()
        .post(keyless.url("/v1/checkpoint"))
        .bearer_auth(STAFF)
        .send()
        .expect("POST");
    let (status, body) = json_of(refused, "/v1/checkpoint", "post");
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("signing_disabled"))
    );
}

/// Issue 13.11: `serve` without `--tokens` served every read to anyone. Now it refuses reads
/// unless `--public-reads` is given, and says so when it starts; the new flags are checked
/// before anything is opened.
#[test]
fn serve_is_closed_by_default_says_so_and_checks_its_flags() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    for (args, says) in [
        (
            &["--cors-origin", "https://dash.example/path"][..],
            "not an origin",
        ),
        (&["--cors-origin", "*"], "https://"),
        (&["--checkpoint-every", "5"], "--key"),
        (&["--max-connections", "0"], "--max-connections"),
        (&["--idle-timeout", "0"], "--idle-timeout"),
    ] {
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
            .arg("--db")
            .arg(&db)
            .args(["--create", "serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .output()
            .expect("serve");
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!db.exists(), "{args:?} created the ledger");
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .arg("--db")
        .arg(&db)
        .args(["--create", "serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the URL line");
    let base = first.trim().rsplit(' ').next().expect("url").to_owned();
    let refused = client()
        .get(format!("{base}/v1/countries"))
        .send()
        .expect("GET");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, problem) = check_response(refused, "/v1/countries", "get");
    assert_eq!(problem["error"], "reads_disabled");
    // The command line through the server reads the problem's detail.
    let remote = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["--server", &base, "countries"])
        .output()
        .expect("countries via server");
    let said = String::from_utf8_lossy(&remote.stderr);
    assert_eq!(remote.status.code(), Some(2), "{said}");
    assert!(
        said.contains("403") && said.contains("reads are closed"),
        "{said}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("reads and appends are refused") && stderr.contains("--public-reads"),
        "{stderr}"
    );
}

/// Issue 13.3: a feed client too slow for the live appends is dropped with the last sequence it
/// was sent (`event: dropped`), after everything before it, and resumes from there.
#[test]
fn a_feed_that_falls_behind_is_dropped_with_its_last_sequence_and_resumes() {
    let dir = tempdir();
    // Four committed groups of slack for a live subscriber.
    let handle = LedgerHandle::start_with(Ledger::create(dir.path()).expect("create"), 4);
    let server = Server::start_with(
        handle,
        Config {
            idle_timeout: Duration::from_secs(120),
            ..guarded()
        },
    );
    // History of several megabytes, so that a client that does not read stalls its feed.
    let mut synth = coopledger::synth::Synth::new(1_515);
    for _ in 0..2 {
        let batch: Vec<Value> = (0..8_000)
            .map(|_| {
                Value::Object(coopledger::proto_events::staff::to_staff_object(
                    &synth.activity(),
                ))
            })
            .collect();
        assert_eq!(
            post(&server, &jsonl(&batch), Some(STAFF)).status(),
            StatusCode::CREATED
        );
    }
    let address: std::net::SocketAddr = server
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&address.into()).expect("connect");
    let mut slow: std::net::TcpStream = socket.into();
    use std::io::Write;
    write!(
        slow,
        "GET /v1/feed?from=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READER}\r\n\r\n"
    )
    .expect("feed request");
    // Live groups while the client reads nothing: more than the feed's slack.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..10 {
        assert_eq!(
            post(
                &server,
                &jsonl(&[Value::Object(
                    coopledger::proto_events::staff::to_staff_object(&synth.activity())
                )]),
                Some(STAFF)
            )
            .status(),
            StatusCode::CREATED
        );
    }
    slow.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut lines = BufReader::new(slow);
    let mut line = String::new();
    let (mut ids, mut dropped, mut expect_dropped) = (Vec::new(), None, false);
    while dropped.is_none() {
        line.clear();
        let n = lines.read_line(&mut line).expect("a feed line");
        assert!(
            n > 0,
            "the feed ended after {} records without `dropped`",
            ids.len()
        );
        let line = line.trim_end();
        if let Some(id) = line.strip_prefix("id: ") {
            ids.push(id.parse::<u64>().expect("sequence"));
        } else if line == "event: dropped" {
            expect_dropped = true;
        } else if let (true, Some(data)) = (expect_dropped, line.strip_prefix("data: ")) {
            let data: Value = serde_json::from_str(data).expect("dropped data");
            dropped = data["last"].as_u64();
        }
    }
    let last = dropped.expect("dropped");
    assert_eq!(
        ids,
        (1..=last).collect::<Vec<u64>>(),
        "every record before the drop, once"
    );
    eprintln!("feed: a client that did not read was dropped after record {last} of 16010");
    let resumed = client()
        .get(server.url("/v1/feed"))
        .bearer_auth(READER)
        .header("Last-Event-ID", last.to_string())
        .send()
        .expect("resume");
    assert_eq!(resumed.status(), StatusCode::OK);
    let later = Value::Object(coopledger::proto_events::staff::to_staff_object(
        &synth.activity(),
    ));
    assert_eq!(
        post(&server, &jsonl(&[later]), Some(STAFF)).status(),
        StatusCode::CREATED
    );
    let head: Value = get(&server, "/v1/head", Some(READER)).json().expect("head");
    let head = head["seq"].as_u64().expect("seq");
    assert_eq!(
        read_feed(resumed, usize::try_from(head - last).expect("count")),
        (last + 1..=head).collect::<Vec<u64>>(),
        "resumes where it stopped"
    );
    let metrics = get(&server, "/metrics", Some(READER))
        .text()
        .expect("metrics");
    assert!(
        metrics.contains("coopledger_http_feeds_dropped_total 1"),
        "{metrics}"
    );
}

#[test]
fn a_timeline_and_views_as_of_a_date_asked_again_after_appends_are_those_of_a_fresh_fold() {
    let dir = tempdir();
    let mut server = Server::start_in(dir.path(), guarded());
    assert_eq!(
        post(&server, &jsonl(&story()), Some(STAFF)).status(),
        StatusCode::CREATED
    );
    let path = "/v1/timeline?by=year&on=2019-06-30";
    let (status, first) = json_of(get(&server, path, Some(READER)), "/v1/timeline", "get");
    assert_eq!(status, StatusCode::OK);
    let gh_path = "/v1/countries/GH?on=2019-06-30";
    let (_, gh_first) = json_of(
        get(&server, gh_path, Some(READER)),
        "/v1/countries/{cc}",
        "get",
    );
    // After it: a meeting dated before the day, the story's meeting moved past it, and one
    // dated after it.
    let mut moved = meeting(id(100), &["CV", "GH", "BR"], "2019-08-01");
    for envelope in ["type", "recorded_by"] {
        moved.as_object_mut().expect("object").remove(envelope);
    }
    let more = [
        with_id(meeting(id(200), &["GH", "NG"], "2018-03-01"), id(20)),
        json!({"type": "EventCorrected", "recorded_by": "test", "event_id": id(21),
               "target": id(3), "reason": "it was held later", "replacement": moved}),
        with_id(meeting(id(201), &["GH", "NG"], "2020-01-01"), id(22)),
    ];
    let response = post(&server, &jsonl(&more), Some(STAFF));
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "{:?}",
        response.text()
    );
    let (status, second) = json_of(get(&server, path, Some(READER)), "/v1/timeline", "get");
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        first, second,
        "the appends changed the programme as of the day"
    );
    let (_, gh_second) = json_of(
        get(&server, gh_path, Some(READER)),
        "/v1/countries/{cc}",
        "get",
    );
    assert_ne!(gh_first, gh_second, "and Ghana's view as of the day");
    server.shutdown();
    drop(server);
    // A fold of the whole log as of the day, at the head.
    let ledger = coopledger::Ledger::open(dir.path()).expect("open");
    let reader = ledger.reader();
    let point = reader
        .resolve(coopledger::AsOf::HEAD.on("2019-06-30".parse().expect("date")))
        .expect("point");
    let folded = reader.timeline(point).expect("fold");
    let view = folded
        .timeline()
        .view(coopledger::views::timeline::By::Year, None);
    assert_eq!(second, serde_json::to_value(&view).expect("json"));
    let views = reader.views_resolved(point).expect("fold");
    let gh = views.country_view("GH".parse().expect("GH")).expect("GH");
    assert_eq!(gh_second, serde_json::to_value(&gh).expect("json"));
}
