//! The programme's story (issue 16) through the binary and the HTTP port: the demo records the
//! story of the seeds alone (and a labelled synthetic programme when asked); the timeline is one
//! fold whose periods add up to the views at every point of history; bitemporal reads; the
//! auditor's replay; entity pages; the kept verification.

use std::collections::BTreeMap;
use std::path::Path;

use coopledger::story::story_id;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{READER, STAFF, Served, check_schema, client, run, run_json, run_ok, tempdir};

/// A ledger holding the demo's story (47 events), and the directory that holds it.
fn story() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    run_ok(&db, &["demo"]);
    (dir, db)
}

fn events(db: &Path) -> Vec<Value> {
    run_ok(db, &["--json", "log", "--limit", "100000"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn country(countries: &Value, code: &str) -> Value {
    countries
        .as_array()
        .expect("countries")
        .iter()
        .find(|c| c["country"] == code)
        .cloned()
        .unwrap_or_else(|| panic!("{code} is in the views"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("a count: {v}"))
}

#[test]
fn the_demo_records_the_story_alone_and_its_views_show_its_figures() {
    let (_dir, db) = story();
    let log = events(&db);
    assert_eq!(log.len(), 47, "the story and nothing else");
    assert!(
        log.iter()
            .all(|e| !e["source"].as_str().unwrap_or("").starts_with("synthetic")),
        "no synthetic event"
    );
    let countries = run_json(&db, &["countries"]);
    // The six bilateral briefings with the permanent missions, Vienna, 17–25 August 2017.
    let briefings: Vec<&Value> = log
        .iter()
        .filter(|e| e["kind"] == "bilateral_briefing")
        .collect();
    let briefed: Vec<&str> = briefings
        .iter()
        .map(|e| e["countries"][0].as_str().expect("code"))
        .collect();
    assert_eq!(briefed, ["AR", "BR", "CO", "EC", "DO", "PA"]);
    assert!(
        briefings
            .iter()
            .all(|e| e["start"].as_str().expect("date").starts_with("2017-08"))
    );
    let quarter = run_json(&db, &["timeline", "--by", "quarter"]);
    let q3 = quarter["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .find(|p| p["period"] == "2017-Q3")
        .expect("2017-Q3");
    assert_eq!(
        q3["meetings"], 7,
        "six briefings and the Rio network meeting"
    );
    // The case forums of 2019: four, each spanning two regions.
    let years = run_json(&db, &["timeline"]);
    let y2019 = years["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .find(|p| p["period"] == "2019")
        .expect("2019");
    assert_eq!(
        y2019["activities"]["by_kind"]["investigative_case_forum"],
        4
    );
    assert_eq!(
        y2019["interregional"]["events"], 5,
        "the forums and Cartagena"
    );
    // The Lagos correction: 6 women of 30, not 5, for each beneficiary.
    for code in ["NG", "GH", "CV"] {
        assert_eq!(
            country(&countries, code)["participants"]["women"],
            6,
            "{code}: only the Lagos workshop counted women"
        );
    }
    // The Portugal–Guinea-Bissau case, closed in 2025 with Venezuela added.
    let gw = country(&countries, "GW");
    assert_eq!(
        gw["cases"],
        json!({"open": 0, "closed": 2}),
        "Lionfish and Bissau"
    );
    assert_eq!(gw["counterparts"]["VE"]["cases"], 1);
    assert_eq!(country(&countries, "VE")["cases"]["closed"], 1);
}

#[test]
fn demo_synthetic_is_labelled_spread_over_the_programme_and_mostly_national() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    let out = run_ok(&db, &["demo", "--synthetic", "1500"]);
    assert!(out.contains("labelled synthetic"), "{out}");
    let log = events(&db);
    assert_eq!(log.len(), 47 + 1500);
    for e in &log[47..] {
        let source = e["source"].as_str().unwrap_or("");
        assert!(
            source.starts_with("synthetic:"),
            "seq {}: {source:?}",
            e["seq"]
        );
    }
    let years = run_json(&db, &["timeline"]);
    let periods: Vec<&str> = years["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .map(|p| p["period"].as_str().expect("period"))
        .collect();
    assert_eq!(periods.first(), Some(&"2016"));
    assert_eq!(periods.last(), Some(&"2026"));
    for p in years["periods"].as_array().expect("periods") {
        assert!(
            n(&p["activities"]["total"]) > 10,
            "{}: a year with activities",
            p["period"]
        );
    }
    let region = |c: &Value| -> String {
        let code = c.as_str().expect("code");
        coopledger::proto_events::regions::programme_region(crate::support::cc(code)).to_string()
    };
    let (mut national, mut regional, mut interregional) = (0usize, 0usize, 0usize);
    for e in log[47..]
        .iter()
        .filter(|e| e["type"] == "ActivityDelivered")
    {
        let mut all: Vec<Value> = e["beneficiaries"].as_array().expect("list").clone();
        all.extend(e["other_countries"].as_array().cloned().unwrap_or_default());
        let mut regions: Vec<String> = all.iter().map(region).collect();
        regions.sort();
        regions.dedup();
        match (all.len(), regions.len()) {
            (1, _) => national += 1,
            (_, 1) => regional += 1,
            _ => interregional += 1,
        }
        if e["kind"] == "investigative_case_forum" {
            assert!(regions.len() >= 2, "a case forum spans regions: {e}");
        }
    }
    let total = (national + regional + interregional) as f64;
    assert!(
        national as f64 / total > 0.5,
        "mostly national: {national} of {total}"
    );
    assert!(
        regional > interregional,
        "{regional} regional, {interregional} inter-regional"
    );
    assert!(interregional > 0);
    for e in log[47..].iter().filter(|e| e["type"] == "CaseOpened") {
        let mut regions: Vec<String> = e["countries"]
            .as_array()
            .expect("list")
            .iter()
            .map(region)
            .collect();
        regions.sort();
        regions.dedup();
        assert!(regions.len() >= 2, "a case spans regions: {e}");
    }
    // A rerun adds nothing: every id is fixed by the seed.
    let again = run_ok(&db, &["demo", "--synthetic", "1500"]);
    assert!(again.contains(": 0 new, head 1547"), "{again}");
}

/// Sums of a timeline's periods: meetings, activities, by kind, participants, women, cases
/// opened, closed, inter-regional events.
fn sums(timeline: &Value) -> (u64, u64, BTreeMap<String, u64>, u64, u64, u64, u64, u64) {
    let mut out = (0, 0, BTreeMap::new(), 0, 0, 0, 0, 0);
    for p in timeline["periods"].as_array().expect("periods") {
        out.0 += n(&p["meetings"]);
        out.1 += n(&p["activities"]["total"]);
        for (k, v) in p["activities"]["by_kind"].as_object().expect("kinds") {
            *out.2.entry(k.clone()).or_default() += n(v);
        }
        out.3 += n(&p["participants"]["total"]);
        out.4 += n(&p["participants"]["women"]);
        out.5 += n(&p["cases"]["opened"]);
        out.6 += n(&p["cases"]["closed"]);
        out.7 += n(&p["interregional"]["events"]);
    }
    out
}

#[test]
fn the_timeline_adds_up_to_the_views_at_every_point_of_history() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    run_ok(&db, &["demo", "--synthetic", "900"]);
    let points: [&[&str]; 5] = [
        &[],
        &["--as-of", "500"],
        &["--on", "2019-06-30"],
        &["--as-of", "500", "--on", "2019-06-30"],
        &["--as-of", "30", "--on", "2018-07-17"],
    ];
    for point in points {
        let with = |args: &[&str]| -> Vec<String> {
            args.iter().chain(point).map(|s| (*s).to_owned()).collect()
        };
        let call = |args: &[&str]| {
            let args = with(args);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run_json(&db, &refs)
        };
        let countries = call(&["countries"]);
        let regions = call(&["regions"]);
        let all = call(&["timeline"]);
        let quarters = call(&["timeline", "--by", "quarter"]);
        assert_eq!(
            sums(&all),
            sums(&quarters),
            "{point:?}: years are sums of quarters"
        );
        assert_eq!(
            all["as_of_sequence"], regions["as_of_sequence"],
            "{point:?}"
        );
        assert_eq!(
            sums(&all).7,
            n(&regions["interregional"]["events"]),
            "{point:?}: inter-regional events"
        );
        if let Some(last) = all["periods"].as_array().and_then(|p| p.last()) {
            let share = last["cumulative"]["share"].as_f64().expect("share");
            let view = regions["interregional"]["share"].as_f64().expect("share");
            assert!((share - view).abs() < 1e-9, "{point:?}: {share} vs {view}");
        }
        for c in countries.as_array().expect("countries").iter().take(15) {
            let code = c["country"].as_str().expect("code");
            let own = call(&["timeline", "--country", code]);
            let (meetings, activities, by_kind, total, women, opened, closed, _) = sums(&own);
            let what = format!("{code} {point:?}");
            assert_eq!(meetings, n(&c["meetings"]), "{what}: meetings");
            assert_eq!(
                activities,
                n(&c["activities"]["total"]),
                "{what}: activities"
            );
            let kinds: BTreeMap<String, u64> = c["activities"]["by_kind"]
                .as_object()
                .expect("kinds")
                .iter()
                .map(|(k, v)| (k.clone(), n(v)))
                .filter(|(_, v)| *v > 0)
                .collect();
            let by_kind: BTreeMap<String, u64> =
                by_kind.into_iter().filter(|(_, v)| *v > 0).collect();
            assert_eq!(by_kind, kinds, "{what}: by kind");
            assert_eq!(
                total,
                n(&c["participants"]["total"]),
                "{what}: participants"
            );
            assert_eq!(women, n(&c["participants"]["women"]), "{what}: women");
            assert_eq!(
                opened,
                n(&c["cases"]["open"]) + n(&c["cases"]["closed"]),
                "{what}: cases opened"
            );
            assert_eq!(closed, n(&c["cases"]["closed"]), "{what}: cases closed");
        }
    }
}

#[test]
fn the_cumulative_share_of_each_year_is_the_share_by_its_end() {
    let (_dir, db) = story();
    let timeline = run_json(&db, &["timeline"]);
    let periods = timeline["periods"].as_array().expect("periods");
    assert_eq!(periods.len(), 9, "2017 to 2025");
    for p in periods {
        let year = p["period"].as_str().expect("year");
        let regions = run_json(&db, &["regions", "--on", &format!("{year}-12-31")]);
        assert_eq!(
            p["cumulative"]["events"], regions["interregional"]["events"],
            "{year}"
        );
        let (a, b) = (
            p["cumulative"]["share"].as_f64().expect("share"),
            regions["interregional"]["share"].as_f64().expect("share"),
        );
        assert!((a - b).abs() < 1e-9, "{year}: {a} vs {b}");
    }
    let text = run_ok(&db, &["timeline"]);
    assert!(text.starts_with("PERIOD"), "{text}");
    assert!(
        text.contains("9 years of the programme, as of sequence 47"),
        "{text}"
    );
    for (args, what) in [
        (
            &["timeline", "--by", "month"][..],
            "a period that is not one",
        ),
        (&["timeline", "--country", "ZZ"], "an unknown country"),
        (&["timeline", "--as-of", "48"], "beyond the head"),
        (
            &["timeline", "--as-of", "4", "--at", "2026-01-01T00:00:00Z"],
            "--as-of with --at",
        ),
    ] {
        let (code, stdout, stderr) = run(&db, args);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(
            stdout.is_empty() && stderr.contains("error"),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn bitemporal_reads_combine_a_sequence_or_a_time_with_a_date() {
    let (_dir, db) = story();
    // At 29 the Lagos workshop says 5 women; the correction (30) says 6. On 2018-12-31 only
    // Lagos had happened of the activities.
    let before = run_json(
        &db,
        &["country", "NG", "--as-of", "29", "--on", "2018-12-31"],
    );
    assert_eq!(before["participants"], json!({"total": 30, "women": 5}));
    assert_eq!(before["as_of_sequence"], 29);
    let after = run_json(
        &db,
        &["country", "NG", "--as-of", "30", "--on", "2018-12-31"],
    );
    assert_eq!(after["participants"], json!({"total": 30, "women": 6}));
    // Operation Lionfish III (closed in 2017) was recorded at 36: at 30 the ledger did not know
    // of it yet; today it counts it among what had happened by the end of 2018.
    assert_eq!(after["cases"], json!({"open": 0, "closed": 0}));
    let today = run_json(&db, &["country", "NG", "--on", "2018-12-31"]);
    assert_eq!(today["as_of_sequence"], 47);
    assert_eq!(today["cases"], json!({"open": 0, "closed": 1}));
    assert_eq!(today["participants"], after["participants"]);
    let log = events(&db);
    let t30 = log[29]["recorded_at"].as_str().expect("time").to_owned();
    let at = run_json(&db, &["country", "NG", "--at", &t30, "--on", "2018-12-31"]);
    assert_eq!(
        at["participants"], after["participants"],
        "the demo records at one time"
    );
    let regions = run_json(&db, &["regions", "--as-of", "35", "--on", "2019-10-31"]);
    assert_eq!(regions["as_of_sequence"], 35);
    let timeline = run_json(&db, &["timeline", "--as-of", "35", "--on", "2019-10-31"]);
    assert_eq!(timeline["on"], "2019-10-31");
    assert_eq!(sums(&timeline).7, n(&regions["interregional"]["events"]));

    // The same over HTTP.
    let server = Served::with_tokens(&db);
    let http = server.json("/v1/countries/NG?as_of=29&on=2018-12-31");
    check_schema("/v1/countries/{cc}", "get", 200, &http);
    assert_eq!(http, before);
    assert_eq!(server.json("/v1/regions?as_of=35&on=2019-10-31"), regions);
    assert_eq!(server.json("/v1/timeline?as_of=35&on=2019-10-31"), timeline);
    let both = server.get("/v1/regions?as_of=3&at=2026-01-01T00:00:00Z");
    assert_eq!(both.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn the_timeline_over_http_is_the_clis_served_from_a_cache_with_etags() {
    let (_dir, db) = story();
    let cli_quarters = run_json(&db, &["timeline", "--by", "quarter"]);
    let cli_gw = run_json(&db, &["timeline", "--country", "GW"]);
    let server = Served::with_tokens(&db);
    let response = server.get("/v1/timeline?by=quarter");
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()["etag"]
        .to_str()
        .expect("etag")
        .to_owned();
    let body: Value = response.json().expect("JSON");
    check_schema("/v1/timeline", "get", 200, &body);
    assert_eq!(body, cli_quarters);
    let gw = server.json("/v1/timeline?country=gw");
    check_schema("/v1/timeline", "get", 200, &gw);
    assert_eq!(gw, cli_gw);
    // The same request again: 304, no body.
    let again = client()
        .get(server.url("/v1/timeline?by=quarter"))
        .bearer_auth(READER)
        .header("If-None-Match", &etag)
        .send()
        .expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.text().expect("body").is_empty());
    // An append moves the head: a new answer, with the new activity, and a new tag.
    let appended = client()
        .post(server.url("/v1/events"))
        .bearer_auth(STAFF)
        .body(
            json!({"type": "ActivityDelivered", "recorded_by": "test", "activity_id": "0190f0a1-7c2e-7a10-8b3e-0000000ff001",
                   "kind": "training", "title": "Training, Praia", "pillar": "capacity_building",
                   "start": "2021-05-04", "end": "2021-05-05", "venue": {"city": "Praia", "country": "CV"},
                   "beneficiaries": ["CV"], "participants": {"total": 22, "women": 9}})
            .to_string(),
        )
        .send()
        .expect("POST");
    assert!(
        appended.status().is_success(),
        "{}",
        appended.text().unwrap_or_default()
    );
    let moved = client()
        .get(server.url("/v1/timeline?by=quarter"))
        .bearer_auth(READER)
        .header("If-None-Match", &etag)
        .send()
        .expect("GET");
    assert_eq!(moved.status(), StatusCode::OK);
    assert_ne!(moved.headers()["etag"].to_str().expect("etag"), etag);
    let moved: Value = moved.json().expect("JSON");
    assert_eq!(moved["as_of_sequence"], 48);
    let q2 = moved["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .find(|p| p["period"] == "2021-Q2")
        .expect("2021-Q2");
    assert_eq!(q2["participants"], json!({"total": 22, "women": 9}));
    // The fold at 47 is still the fold at 47.
    assert_eq!(
        server.json("/v1/timeline?by=quarter&as_of=47"),
        cli_quarters
    );
    for (path, status) in [
        ("/v1/timeline?by=month", StatusCode::BAD_REQUEST),
        ("/v1/timeline?country=ZZ", StatusCode::BAD_REQUEST),
        ("/v1/timeline?as_of=999", StatusCode::BAD_REQUEST),
        ("/v1/timeline?format=xml", StatusCode::BAD_REQUEST),
        ("/v1/timeline?bogus=1", StatusCode::BAD_REQUEST),
    ] {
        let response = server.get(path);
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().expect("a JSON error");
        check_schema("/v1/timeline", "get", 400, &body);
    }
}

#[test]
fn replay_shows_what_each_event_changed_and_its_changes_add_up_to_the_views() {
    let (_dir, db) = story();
    let steps: Vec<Value> = run_ok(&db, &["--json", "replay"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(steps.len(), 47);
    // The Lagos correction undid 5 women and added 6: one woman more for each beneficiary.
    let lagos = &steps[29];
    assert_eq!(lagos["type"], "EventCorrected");
    let effect = &lagos["effect"];
    assert_eq!(effect["undid"]["participants"]["women"], 5);
    assert_eq!(effect["added"]["participants"]["women"], 6);
    assert_eq!(
        effect["countries"],
        json!([{"country": "CV", "participants_women": 1}, {"country": "GH", "participants_women": 1},
               {"country": "NG", "participants_women": 1}])
    );
    assert_eq!(effect["pairs"], json!([]));
    // Summed over the whole log, the changes are the views.
    let mut per: BTreeMap<String, [i64; 7]> = BTreeMap::new();
    let mut interregional = 0i64;
    for step in &steps {
        let effect = &step["effect"];
        interregional += effect["interregional"].as_i64().expect("n");
        for c in effect["countries"].as_array().expect("countries") {
            let row = per
                .entry(c["country"].as_str().expect("cc").to_owned())
                .or_default();
            for (i, field) in [
                "meetings",
                "activities",
                "participants_total",
                "participants_women",
                "cases_open",
                "cases_closed",
            ]
            .iter()
            .enumerate()
            {
                row[i] += c[field].as_i64().unwrap_or(0);
            }
            row[6] += c["counterparts"].as_object().map_or(0, |m| {
                m.values().map(|v| v["cases"].as_i64().unwrap_or(0)).sum()
            });
        }
    }
    let countries = run_json(&db, &["countries"]);
    for c in countries.as_array().expect("countries") {
        let code = c["country"].as_str().expect("cc");
        let row = per.get(code).copied().unwrap_or_default();
        let shared_cases: i64 = c["counterparts"].as_object().map_or(0, |m| {
            m.values().map(|v| v["cases"].as_i64().unwrap_or(0)).sum()
        });
        assert_eq!(
            row,
            [
                c["meetings"].as_i64().unwrap_or(0),
                c["activities"]["total"].as_i64().unwrap_or(0),
                c["participants"]["total"].as_i64().unwrap_or(0),
                c["participants"]["women"].as_i64().unwrap_or(0),
                c["cases"]["open"].as_i64().unwrap_or(0),
                c["cases"]["closed"].as_i64().unwrap_or(0),
                shared_cases,
            ],
            "{code}"
        );
    }
    let regions = run_json(&db, &["regions"]);
    assert_eq!(
        interregional,
        regions["interregional"]["events"].as_i64().unwrap_or(-1)
    );
    // One stream: the Bissau case's eight records; its closure moves open to closed.
    let bissau = format!("case/{}", story_id(1090));
    let case: Vec<Value> = run_ok(&db, &["--json", "replay", "--stream", &bissau])
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(case.len(), 8);
    assert_eq!(
        case[7]["effect"]["countries"],
        json!([{"country": "GW", "cases_open": -1, "cases_closed": 1},
               {"country": "PT", "cases_open": -1, "cases_closed": 1},
               {"country": "VE", "cases_open": -1, "cases_closed": 1}])
    );
    let briefings = run_ok(&db, &["replay", "--from", "20", "--to", "25"]);
    assert_eq!(briefings.matches("meetings +1").count(), 6, "{briefings}");
    assert!(
        briefings.ends_with("replayed 6 events; every record's hash and link checked (head 47)\n"),
        "{briefings}"
    );
    let text = run_ok(&db, &["replay", "--from", "30", "--to", "30"]);
    assert!(
        text.contains("undid  activity workshop [CV GH NG], 30 participants (5 women)"),
        "{text}"
    );
    assert!(text.contains("NG  women +1"), "{text}");
    for (args, what) in [
        (&["replay", "--to", "48"][..], "beyond the head"),
        (&["replay", "--from", "10", "--to", "5"], "from after to"),
        (&["replay", "--stream", "bogus"], "not a stream"),
    ] {
        let (code, stdout, stderr) = run(&db, args);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(
            stdout.is_empty() && stderr.starts_with("error"),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn replay_checks_every_record_and_names_a_tampered_one() {
    let (_dir, db) = story();
    {
        // One byte of record 33's body, through the documented layout (`crate::layout`).
        let store = crate::layout::open(&db);
        crate::layout::rewrite(&store, |frames| {
            let frame = frames.get_mut(&33).expect("record 33");
            frame[coopledger::ledger::frame::FRAME_HEADER + 40] ^= 0x01;
        });
    }
    let (code, _, stderr) = run(&db, &["replay", "--from", "30"]);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("record 33 "), "{stderr}");
}

#[test]
fn entity_pages_give_the_effective_state_its_history_and_the_countries_involved() {
    let (_dir, db) = story();
    let replayed: Value = serde_json::from_str(
        run_ok(&db, &["--json", "replay", "--from", "30", "--to", "30"]).trim(),
    )
    .expect("JSON");
    let server = Served::with_tokens(&db);
    let lagos = format!("activity/{}", story_id(1060));
    let doc = server.json(&format!("/v1/entities/{lagos}"));
    check_schema("/v1/entities/{stream}", "get", 200, &doc);
    assert_eq!(doc["entity"], "activity");
    assert_eq!(doc["summary"]["status"], "delivered");
    assert_eq!(doc["summary"]["date"], "2018-07-16");
    let facts = doc["facts"].as_array().expect("facts");
    assert_eq!(facts.len(), 1, "the correction replaced the fact");
    assert_eq!(facts[0]["seq"], 29);
    assert_eq!(facts[0]["corrected_by"], json!([30]));
    assert_eq!(
        facts[0]["effective"]["participants"],
        json!({"total": 30, "women": 6})
    );
    let roles: Vec<(&str, &str)> = doc["countries"]
        .as_array()
        .expect("countries")
        .iter()
        .map(|c| {
            (
                c["country"].as_str().expect("cc"),
                c["roles"][0].as_str().expect("role"),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("CV", "beneficiary"),
            ("GH", "beneficiary"),
            ("NG", "beneficiary")
        ]
    );
    let history = doc["history"].as_array().expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["record"]["seq"], 30);
    assert_eq!(
        history[1]["effect"], replayed["effect"],
        "the history shows what replay shows"
    );
    // As of 29, before the correction.
    let then = server.json(&format!("/v1/entities/{lagos}?as_of=29"));
    assert_eq!(then["facts"][0]["effective"]["participants"]["women"], 5);
    assert_eq!(then["history"].as_array().map(Vec::len), Some(1));
    // A case: its members, lead and added country.
    let case = server.json(&format!("/v1/entities/case/{}", story_id(1090)));
    check_schema("/v1/entities/{stream}", "get", 200, &case);
    assert_eq!(case["summary"]["status"], "closed");
    let ve = case["countries"]
        .as_array()
        .expect("countries")
        .iter()
        .find(|c| c["country"] == "VE")
        .expect("VE");
    assert_eq!(ve["roles"], json!(["added"]));
    for (path, status) in [
        (
            format!("/v1/entities/activity/{}", story_id(9999)),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/v1/entities/{lagos}?as_of=28"),
            StatusCode::NOT_FOUND,
        ),
        (
            "/v1/entities/country/GH".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/v1/entities/activity/not-a-uuid".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let response = server.get(&path);
        assert_eq!(response.status(), status, "{path}");
        let body: Value = response.json().expect("JSON error");
        check_schema("/v1/entities/{stream}", "get", status.as_u16(), &body);
    }

    // A country's listing: newest first, paged, at one point of history.
    let page = server.get("/v1/entities?country=GW&limit=3");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["x-total-count"], "7");
    let link = page.headers()["link"].to_str().expect("link").to_owned();
    assert!(
        link.contains("offset=3") && link.contains("as_of=47"),
        "{link}"
    );
    let page: Value = page.json().expect("JSON");
    check_schema("/v1/entities", "get", 200, &page);
    let dates: Vec<&str> = page["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| e["date"].as_str().expect("date"))
        .collect();
    assert_eq!(dates, ["2024-07-11", "2024-07-09", "2019-10-29"]);
    assert_eq!(page["entities"][0]["title"], "Bissau airstrip");
    let rest = server.json("/v1/entities?country=GW&offset=3&limit=3&as_of=47");
    let titles: Vec<&str> = rest["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .map(|e| e["title"].as_str().expect("title"))
        .collect();
    assert_eq!(
        titles,
        [
            "Steering committee",
            "Steering committee",
            "Inter-regional network meeting"
        ]
    );
    let early = server.json("/v1/entities?country=GW&on=2018-12-31");
    assert_eq!(early["total"], 3, "Lionfish, Rio and Lyon");
}

#[test]
fn verification_is_kept_with_its_head_and_runs_again_only_for_staff_after_an_append() {
    let (_dir, db) = story();
    let server = Served::with_tokens(&db);
    let first = server.json("/v1/verify");
    check_schema("/v1/verify", "get", 200, &first);
    assert_eq!(first["head_seq"], 47);
    let kept = server.json("/v1/verify");
    assert_eq!(
        kept["verified_at"], first["verified_at"],
        "readers see the kept result"
    );
    let post = |token: &str| {
        client()
            .post(server.url("/v1/verify"))
            .bearer_auth(token)
            .send()
            .expect("POST")
    };
    assert_eq!(post(READER).status(), StatusCode::FORBIDDEN);
    let same: Value = post(STAFF).json().expect("JSON");
    assert_eq!(
        same["verified_at"], first["verified_at"],
        "at most once per head"
    );
    let appended = client()
        .post(server.url("/v1/events"))
        .bearer_auth(STAFF)
        .body(r#"{"type":"CountryJoined","recorded_by":"test","country":"SN","joined_on":"2020-01-01","participation":"beneficiary"}"#)
        .send()
        .expect("POST");
    assert!(appended.status().is_success());
    let still = server.json("/v1/verify");
    assert_eq!(still["head_seq"], 47, "a reader does not make it run");
    let again = post(STAFF);
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().expect("JSON");
    check_schema("/v1/verify", "post", 200, &again);
    assert_eq!(again["head_seq"], 48);
    assert_ne!(again["verified_at"], first["verified_at"]);
    assert_eq!(server.json("/v1/verify"), again);
}
