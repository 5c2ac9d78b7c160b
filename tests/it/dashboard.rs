//! The dashboard through the binary and HTTP, without a browser (tests/browser/ drives a real
//! one): `GET /` is the page with its landmarks and no data, `coopledger report` writes one
//! self-contained file whose embedded documents equal the API's answers, and the feed (only it)
//! takes `?access_token=`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::support::{READER, STAFF, Served, bin, client, run_ok, tempdir};

/// The embedded data of a report file, and the file with that element cut out.
fn split_report(html: &str) -> (Value, String) {
    let open = "<script type=\"application/json\" id=\"coopledger-report\">";
    let start = html.find(open).expect("the data element") + open.len();
    let end = start + html[start..].find("</script>").expect("its end");
    let data: Value = serde_json::from_str(&html[start..end]).expect("the data is JSON");
    let rest = format!("{}{}", &html[..start], &html[end..]);
    (data, rest)
}

fn documents(data: &Value) -> &Map<String, Value> {
    data["documents"].as_object().expect("documents")
}

/// Every embedded document equals the API's answer to its path: JSON documents as JSON, CSV
/// forms (`format=csv`) and the checkpoint as text. A verification is compared but for its
/// time: the report ran its own.
fn assert_documents_match_api(server: &Served, docs: &Map<String, Value>) {
    let http = client();
    for (path, embedded) in docs {
        let response = http
            .get(server.url(path))
            .bearer_auth(READER)
            .send()
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        if path == "/v1/checkpoint" || path.contains("format=csv") {
            let text = response.text().expect("text");
            assert_eq!(embedded.as_str(), Some(text.as_str()), "{path}");
        } else if path == "/v1/verify" {
            let mut answer: Value = response.json().expect("JSON");
            let mut embedded = embedded.clone();
            for doc in [&mut answer, &mut embedded] {
                assert!(doc["verified_at"].is_string(), "{path}: {doc}");
                doc["verified_at"] = Value::Null;
            }
            assert_eq!(embedded, answer, "{path}");
        } else {
            let answer: Value = response.json().expect("JSON");
            assert_eq!(
                embedded, &answer,
                "the embedded {path} differs from the API's"
            );
        }
    }
}

fn report(db: &Path, dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Value, String) {
    let out = dir.join(name);
    let mut args = vec!["report", "--out", out.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    let printed = run_ok(db, &args);
    assert!(printed.starts_with("wrote "), "{printed}");
    let html = std::fs::read_to_string(&out).expect("the report");
    let (data, rest) = split_report(&html);
    // No reference to any host: the markup, style and script around the data name none (the
    // data is the ledger's own JSON, inert in an application/json element: a `source` may be
    // a URL).
    for scheme in ["http://", "https://", "//cdn", "src=\"//"] {
        assert!(!rest.contains(scheme), "{name} refers to {scheme}");
    }
    assert!(!rest.contains("<link rel=\"stylesheet\""), "{name}");
    assert!(!rest.contains("<script src"), "{name}");
    assert!(
        rest.contains("connect-src 'none'"),
        "{name} forbids the network"
    );
    (out, data, html)
}

#[test]
fn the_page_the_report_and_the_feed_token() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("staff {STAFF}\nreader {READER}\n")).expect("tokens");
    run_ok(&db, &["demo", "--synthetic", "300"]);

    // Before any checkpoint is signed, the report has none (the page says "none signed yet").
    let (_, unsigned, _) = report(&db, dir.path(), "unsigned.html", &[]);
    assert!(!documents(&unsigned).contains_key("/v1/checkpoint"));
    let key = dir.path().join("ledger.key");
    run_ok(
        &db,
        &[
            "keygen",
            "--out",
            key.to_str().expect("path"),
            "--name",
            "t/l",
        ],
    );
    run_ok(&db, &["checkpoint", "--key", key.to_str().expect("path")]);

    let (_, head, html) = report(&db, dir.path(), "head.html", &[]);
    let (_, at_seq, _) = report(&db, dir.path(), "seq.html", &["--as-of", "120"]);
    let (_, on_date, _) = report(&db, dir.path(), "date.html", &["--on", "2019-06-30"]);
    let (_, both, _) = report(
        &db,
        dir.path(),
        "both.html",
        &["--as-of", "120", "--on", "2019-06-30"],
    );
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<main id=\"main\""));

    let docs = documents(&head);
    assert_eq!(head["as_of"], serde_json::json!({"seq": null, "on": null}));
    for key in [
        "/v1/head",
        "/v1/verify",
        "/v1/checkpoint",
        "/v1/regions",
        "/v1/regions?format=csv",
        "/v1/regions?table=corridors&format=csv",
        "/v1/countries",
        "/v1/countries?format=csv",
        "/v1/timeline?by=year",
        "/v1/timeline?by=year&format=csv",
        "/v1/events?reverse=true&limit=20",
        "/v1/events?reverse=true&limit=20&format=csv",
        "/v1/streams/country/GH",
        "/v1/timeline?by=year&country=GH",
        "/v1/entities?country=GH&offset=0&limit=10",
        "/v1/countries/GH?format=csv",
    ] {
        assert!(docs.contains_key(key), "the report embeds {key}");
    }
    assert_eq!(docs["/v1/verify"]["ok"], true);
    let countries = docs["/v1/countries"].as_array().expect("countries");
    for c in countries {
        let cc = c["country"].as_str().expect("cc");
        for key in [
            format!("/v1/streams/country/{cc}"),
            format!("/v1/timeline?by=year&country={cc}"),
            format!("/v1/entities?country={cc}&offset=0&limit=10"),
        ] {
            assert!(docs.contains_key(&key), "{key}");
        }
    }
    // Every entity the page lists can be opened from the file.
    for listing in docs
        .iter()
        .filter(|(k, _)| k.starts_with("/v1/entities?country="))
        .map(|(_, v)| v)
        .filter(|v| v.is_object())
    {
        for e in listing["entities"].as_array().expect("entities") {
            let key = format!("/v1/entities/{}", e["stream"].as_str().expect("stream"));
            assert!(docs.contains_key(&key), "{key}");
        }
    }
    // One fold gives every year: the over-time chart needs no view per year-end.
    assert!(!docs.keys().any(|k| k.starts_with("/v1/regions?on=")));

    assert_eq!(at_seq["as_of"], serde_json::json!({"seq": 120, "on": null}));
    let seq_docs = documents(&at_seq);
    assert_eq!(seq_docs["/v1/regions?as_of=120"]["as_of_sequence"], 120);
    assert!(seq_docs.contains_key("/v1/countries?as_of=120"));
    assert!(seq_docs.contains_key("/v1/timeline?by=year&as_of=120"));
    assert!(seq_docs.contains_key("/v1/events?from=120&reverse=true&limit=20"));
    let date_docs = documents(&on_date);
    assert!(date_docs.contains_key("/v1/regions?on=2019-06-30"));
    assert!(date_docs.contains_key("/v1/countries?on=2019-06-30"));
    assert!(date_docs.contains_key("/v1/timeline?by=year&on=2019-06-30"));
    let both_docs = documents(&both);
    assert_eq!(
        both["as_of"],
        serde_json::json!({"seq": 120, "on": "2019-06-30"})
    );
    assert_eq!(
        both_docs["/v1/regions?as_of=120&on=2019-06-30"]["as_of_sequence"],
        120
    );
    let head_seq = docs["/v1/head"]["seq"].as_u64().expect("seq");
    // A sequence beyond the head is refused, never answered with the head (issue 12).
    let beyond = bin()
        .arg("--db")
        .arg(&db)
        .args(["report", "--out"])
        .arg(dir.path().join("beyond.html"))
        .args(["--as-of", "999999"])
        .output()
        .expect("run");
    assert_eq!(beyond.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&beyond.stderr);
    assert!(
        stderr.contains("as of sequence 999999 is beyond the head"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("beyond.html").exists(),
        "no file is written"
    );

    // --as-of and --at together are a usage error; no file is written.
    let exclusive = bin()
        .arg("--db")
        .arg(&db)
        .args(["report", "--out"])
        .arg(dir.path().join("exclusive.html"))
        .args(["--as-of", "3", "--at", "2026-01-01T00:00:00Z"])
        .output()
        .expect("run");
    assert_eq!(exclusive.status.code(), Some(2));
    assert!(!dir.path().join("exclusive.html").exists());

    // The server: the page needs no token, the API does, and it agrees with every report.
    let server = Served::start(&db, &tokens, false);
    let http = client();
    let page = http.get(server.url("/")).send().expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().expect("ascii");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"),
        "{csp}"
    );
    let body = page.text().expect("html");
    for landmark in [
        "<!doctype html>",
        "<html lang=\"en\">",
        "<header class=\"top\">",
        "<nav class=\"nav\" aria-label=\"Sections\">",
        "<main id=\"main\"",
        "<footer",
        "id=\"sec-regions\"",
        "id=\"matrix\"",
        "id=\"matrix-table\"",
        "id=\"sec-timeline\"",
        "id=\"page-entity\"",
        "id=\"sec-corridors\"",
        "id=\"sec-network\"",
        "id=\"sec-countries\"",
        "id=\"asof\"",
        "id=\"head-seq\"",
        "id=\"verify-status\"",
        "id=\"checkpoint-status\"",
        "id=\"auth-form\"",
        "role=\"status\"",
        "role=\"alert\"",
    ] {
        assert!(body.contains(landmark), "GET / has {landmark}");
    }
    assert!(
        !body.contains("id=\"coopledger-report\""),
        "no embedded data"
    );
    assert!(!body.contains("http://") && !body.contains("https://"));
    let unauthorised = http
        .get(server.url("/v1/regions"))
        .send()
        .expect("GET regions");
    assert_eq!(unauthorised.status(), StatusCode::UNAUTHORIZED);

    assert_documents_match_api(&server, documents(&head));
    assert_documents_match_api(&server, documents(&at_seq));
    assert_documents_match_api(&server, documents(&on_date));
    assert_documents_match_api(&server, documents(&both));

    // ?access_token= is accepted on the feed, and only there.
    let read_feed = |query: &str| {
        let mut response = http
            .get(server.url(&format!("/v1/feed?{query}")))
            .send()
            .expect("GET feed");
        let status = response.status();
        let mut seen = String::new();
        if status == StatusCode::OK {
            let started = Instant::now();
            let mut buf = [0u8; 4096];
            while !seen.contains("id: 2\n") && started.elapsed() < Duration::from_secs(10) {
                let n = response.read(&mut buf).expect("read the feed");
                if n == 0 {
                    break;
                }
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        (status, seen)
    };
    let (status, seen) = read_feed(&format!("from=1&access_token={READER}"));
    assert_eq!(status, StatusCode::OK);
    assert!(
        seen.contains("id: 1\n") && seen.contains("id: 2\n"),
        "the other parameters still apply: {seen}"
    );
    let (status, seen) = read_feed(&format!("access_token={READER}&from=2"));
    assert_eq!(status, StatusCode::OK);
    assert!(seen.starts_with("id: 2\n"), "{seen}");
    let escaped = READER.replace('-', "%2D");
    assert_eq!(
        read_feed(&format!("from=1&access_token={escaped}")).0,
        StatusCode::OK
    );
    assert_eq!(
        read_feed("from=1&access_token=not-a-known-token-000").0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(read_feed("from=1").0, StatusCode::UNAUTHORIZED);
    for path in ["/v1/regions", "/v1/head", "/v1/events", "/v1/countries/GH"] {
        let response = http
            .get(server.url(&format!("{path}?access_token={READER}")))
            .send()
            .expect("GET");
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{path} ignores ?access_token="
        );
    }
    let append = http
        .post(server.url(&format!("/v1/events?access_token={STAFF}")))
        .body("{}")
        .send()
        .expect("POST");
    assert_eq!(
        append.status(),
        StatusCode::UNAUTHORIZED,
        "no append by query"
    );
    let head_now = http
        .get(server.url("/v1/head"))
        .bearer_auth(READER)
        .send()
        .expect("head")
        .json::<Value>()
        .expect("JSON");
    assert_eq!(head_now["seq"], head_seq, "nothing was written");
}
