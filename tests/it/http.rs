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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = LedgerHandle::create(path).expect("open");
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
    let status = response.status();
    let body: Value = response.json().expect("a JSON body");
    check_schema(path_template, method, status.as_u16(), &body);
    (status, body)
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
        StatusCode::OK,
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
        "/v1/streams/{stream}",
        "get",
    );
    assert_eq!(stream.as_array().map(Vec::len), Some(1));
    let (status, _) = json_of(
        get(&server, "/v1/streams/planet/mars", r),
        "/v1/streams/{stream}",
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
    let (status, receipts) = json_of(
        post(&server, &jsonl(&story()), Some(STAFF)),
        "/v1/events",
        "post",
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(receipts.as_array().map(Vec::len), Some(5));
    let (_, again) = json_of(
        post(&server, &jsonl(&story()), Some(STAFF)),
        "/v1/events",
        "post",
    );
    assert_eq!(again, receipts, "re-sending returns the original receipts");
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
    for (token, expected) in [
        (None, 401),
        (Some("not-a-known-token-000"), 401),
        (Some(READER), 403),
    ] {
        let response = post(&server, &body, token);
        assert_eq!(response.status().as_u16(), expected, "POST with {token:?}");
        check_schema(
            "/v1/events",
            "post",
            expected,
            &response.json().expect("json"),
        );
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
    assert_eq!(post(&server, &body, Some(STAFF)).status(), StatusCode::OK);

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

    let open = Server::start(Config::default());
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
                    assert_eq!(r.status(), StatusCode::OK);
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
                        Ok(r) if r.status() == StatusCode::OK => {
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
    assert_eq!(posted.status(), StatusCode::OK);
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
        StatusCode::OK
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
            body["message"]
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
        StatusCode::OK
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
