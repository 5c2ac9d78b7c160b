//! Where donors and analysts read (issue 16): CSV everywhere a table is, through the binary and
//! the HTTP port, with the columns of the JSON; and the IATI 2.03 activity file, its codes from
//! the shipped codelists, no case in it but yearly counts. (`.ci/run` validates the file against
//! the official schema with xmllint.)

use std::collections::BTreeMap;
use std::path::Path;

use coopledger::iati::codelists;
use coopledger::{AsOf, Ledger};
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{Map, Value};

use crate::support::{READER, Served, client, run, run_json, run_ok, tempdir};

/// The columns and cells a JSON object flattens to, as the CSV documents them.
fn flatten(prefix: &str, value: &Value, keep: &[&str], out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !keep.contains(&prefix) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&name, v, keep, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        Value::Array(items) if items.iter().all(|v| v.is_string()) => out.push((
            prefix.to_owned(),
            items
                .iter()
                .map(|v| v.as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" "),
        )),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Asserts that `csv` holds `rows` (JSON objects) in order, with their columns in order.
fn assert_csv_is(csv: &str, rows: &[Value], keep: &[&str], what: &str) {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(records.len(), rows.len(), "{what}: one row per JSON row");
    for (i, (row, record)) in rows.iter().zip(&records).enumerate() {
        let mut cells = Vec::new();
        flatten("", row, keep, &mut cells);
        let names: Vec<&str> = cells.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            header, names,
            "{what}: the columns of row {i} in JSON order"
        );
        for ((name, expected), got) in cells.iter().zip(record) {
            if keep.contains(&name.as_str()) {
                let parsed: Value = serde_json::from_str(got).expect("a JSON cell");
                assert_eq!(
                    &parsed,
                    &serde_json::from_str::<Value>(expected).expect("JSON"),
                    "{what}: row {i} {name}"
                );
            } else {
                assert_eq!(got, expected, "{what}: row {i} {name}");
            }
        }
    }
}

fn story() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    run_ok(&db, &["demo"]);
    (dir, db)
}

fn csv_get(server: &Served, path: &str, accept: bool) -> (StatusCode, String, String) {
    let mut request = client().get(server.url(path)).bearer_auth(READER);
    if accept {
        request = request.header("Accept", "text/csv");
    }
    let response = request.send().expect("GET");
    let status = response.status();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    (status, kind, response.text().expect("text"))
}

#[test]
fn every_table_has_a_csv_with_the_columns_of_its_json() {
    let (_dir, db) = story();
    let countries = run_json(&db, &["countries"]);
    let countries_csv = run_ok(&db, &["countries", "--csv"]);
    assert_csv_is(
        &countries_csv,
        countries.as_array().expect("list"),
        &["counterparts"],
        "countries",
    );
    assert!(countries_csv.starts_with("country,name,m49.region,m49.sub_region,m49.intermediate_region,programme_region,participation.status,participation.joined_on,meetings,activities.total,activities.by_kind.case_mentoring,"), "{countries_csv}");
    let regions = run_json(&db, &["regions"]);
    let pairs_csv = run_ok(&db, &["regions", "--csv"]);
    assert_csv_is(
        &pairs_csv,
        regions["pairs"].as_array().expect("pairs"),
        &[],
        "pairs",
    );
    assert!(
        pairs_csv.starts_with("regions,meetings,activities,cases\n"),
        "{pairs_csv}"
    );
    assert!(pairs_csv.contains("\neurope west_africa,"), "{pairs_csv}");
    let corridors_csv = run_ok(&db, &["regions", "--csv", "--table", "corridors"]);
    assert_csv_is(
        &corridors_csv,
        regions["corridors"].as_array().expect("corridors"),
        &[],
        "corridors",
    );
    let timeline = run_json(&db, &["timeline", "--by", "quarter"]);
    let timeline_csv = run_ok(&db, &["timeline", "--by", "quarter", "--csv"]);
    assert_csv_is(
        &timeline_csv,
        timeline["periods"].as_array().expect("periods"),
        &[],
        "timeline",
    );
    let columns = timeline_csv
        .lines()
        .next()
        .expect("header")
        .split(',')
        .count();
    assert_eq!(columns, 3 + 1 + 1 + 10 + 2 + 2 + 5 * 3 + 15 * 3 + 3 + 3);
    // Events: the envelope, then the payload as one JSON cell.
    let log: Vec<Value> = run_ok(&db, &["--json", "log", "--limit", "100"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let log_csv = run_ok(&db, &["log", "--limit", "100", "--csv"]);
    let envelope = coopledger::table::EVENT_COLUMNS;
    let shaped: Vec<Value> = log
        .iter()
        .map(|e| {
            let mut row = Map::new();
            let mut payload = e.as_object().expect("object").clone();
            for column in &envelope[..envelope.len() - 1] {
                row.insert(
                    (*column).to_owned(),
                    payload.remove(*column).unwrap_or(Value::Null),
                );
            }
            row.insert("payload".into(), Value::Object(payload));
            Value::Object(row)
        })
        .collect();
    assert_csv_is(&log_csv, &shaped, &["payload"], "log");
    for (args, what) in [
        (&["countries", "--csv", "--json"][..], "--csv with --json"),
        (
            &["regions", "--table", "corridors"],
            "--table without --csv",
        ),
        (&["country", "GH", "--csv"], "a view with no table"),
    ] {
        let (code, stdout, stderr) = run(&db, args);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stdout.is_empty(), "{what}");
    }

    // The API answers the same bytes, by ?format=csv or Accept: text/csv.
    let gh_csv = {
        let gh = run_json(&db, &["country", "GH"]);
        let rows: Vec<Value> = gh["counterparts"]
            .as_object()
            .expect("counterparts")
            .iter()
            .map(|(c, n)| {
                let mut row = Map::new();
                row.insert("country".into(), Value::String(c.clone()));
                for (k, v) in n.as_object().expect("counts") {
                    row.insert(k.clone(), v.clone());
                }
                Value::Object(row)
            })
            .collect();
        rows
    };
    let stream_csv = run_ok(&db, &["log", "--stream", "country/GH", "--csv"]);
    let server = Served::with_tokens(&db);
    for (path, expected) in [
        ("/v1/countries?format=csv", &countries_csv),
        ("/v1/regions?format=csv", &pairs_csv),
        ("/v1/regions?format=csv&table=corridors", &corridors_csv),
        ("/v1/timeline?by=quarter&format=csv", &timeline_csv),
        ("/v1/events?limit=100&format=csv", &log_csv),
        ("/v1/streams/country/GH?format=csv", &stream_csv),
    ] {
        let (status, kind, body) = csv_get(&server, path, false);
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(kind, "text/csv; charset=utf-8", "{path}");
        assert_eq!(&body, expected, "{path}");
        let plain = path
            .replace("?format=csv&", "?")
            .replace("&format=csv", "")
            .replace("?format=csv", "");
        let (status, kind, negotiated) = csv_get(&server, &plain, true);
        assert_eq!(
            (status, kind.as_str()),
            (StatusCode::OK, "text/csv; charset=utf-8"),
            "Accept: text/csv on {plain}"
        );
        assert_eq!(&negotiated, expected, "Accept: text/csv on {plain}");
    }
    let (_, _, counterparts) = csv_get(&server, "/v1/countries/GH?format=csv", false);
    assert_csv_is(&counterparts, &gh_csv, &[], "the counterparts of GH");
    for path in [
        "/v1/countries?format=xml",
        "/v1/regions?table=corridors",
        "/v1/regions?format=csv&table=people",
        "/v1/countries?format=csv&table=corridors",
        "/v1/events?format=yaml",
    ] {
        let (status, kind, body) = csv_get(&server, path, false);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            kind.contains("json") && body.contains("format") || body.contains("table"),
            "{path}: {body}"
        );
    }
}

/// The elements of an XML document: (name, attributes, text).
fn elements(xml: &str) -> Vec<(String, BTreeMap<String, String>, String)> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out: Vec<(String, BTreeMap<String, String>, String)> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_owned();
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.expect("an attribute");
                        (
                            a.key.as_ref().to_owned(),
                            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                .expect("a value")
                                .into_owned(),
                        )
                    })
                    .collect();
                out.push((name, attrs, String::new()));
            }
            Event::Text(t) => {
                if let Some(last) = out.last_mut() {
                    last.2.push_str(t.xml10_content().trim());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn activities_at(db: &Path, at: AsOf) -> usize {
    let ledger = Ledger::open(db).expect("open");
    let reader = ledger.reader();
    let folder = reader
        .timeline(reader.resolve(at).expect("point"))
        .expect("fold");
    folder
        .entities()
        .page(None, 0, usize::MAX)
        .1
        .iter()
        .filter(|(s, _)| s.to_string().starts_with("activity/"))
        .count()
}

#[test]
fn the_iati_file_has_one_child_per_activity_codes_from_the_codelists_and_no_case() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    run_ok(&db, &["demo", "--synthetic", "600"]);
    let xml = run_ok(
        &db,
        &["export", "--format", "iati", "--org-ref", "XM-EXAMPLE-1"],
    );
    assert!(
        xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<iati-activities version=\"2.03\""
        ),
        "{}",
        &xml[..200]
    );
    let all = elements(&xml);
    let activities: Vec<&BTreeMap<String, String>> = all
        .iter()
        .filter(|(n, _, _)| n == "iati-activity")
        .map(|(_, a, _)| a)
        .collect();
    assert_eq!(activities.len(), 1 + activities_at(&db, AsOf::HEAD));
    assert_eq!(activities[0]["hierarchy"], "1");
    assert!(activities[1..].iter().all(|a| a["hierarchy"] == "2"));
    let ids: Vec<&str> = all
        .iter()
        .filter(|(n, _, _)| n == "iati-identifier")
        .map(|(_, _, t)| t.as_str())
        .collect();
    assert_eq!(ids[0], "XM-EXAMPLE-1-programme");
    assert!(ids.iter().all(|id| id.starts_with("XM-EXAMPLE-1-")));
    let children: Vec<&str> = all
        .iter()
        .filter(|(n, a, _)| n == "related-activity" && a["type"] == "2")
        .map(|(_, a, _)| a["ref"].as_str())
        .collect();
    assert_eq!(children, ids[1..], "the programme lists every child");
    // Every code comes from its codelist.
    for (element, attribute, list) in [
        ("activity-status", "code", "ActivityStatus"),
        ("activity-date", "type", "ActivityDateType"),
        ("activity-scope", "code", "ActivityScope"),
        ("participating-org", "role", "OrganisationRole"),
        ("reporting-org", "type", "OrganisationType"),
        ("related-activity", "type", "RelatedActivityType"),
        ("result", "type", "ResultType"),
        ("indicator", "measure", "IndicatorMeasure"),
        ("sector", "vocabulary", "SectorVocabulary"),
        ("sector", "code", "Sector"),
        ("location-reach", "code", "GeographicLocationReach"),
        ("description", "type", "DescriptionType"),
    ] {
        let codes = codelists::list(list);
        for (_, a, _) in all
            .iter()
            .filter(|(n, a, _)| n == element && a.contains_key(attribute))
        {
            assert!(
                codes.contains_key(&a[attribute]),
                "{element}/@{attribute} {} is not in {list}",
                a[attribute]
            );
        }
    }
    for (_, a, _) in all.iter().filter(|(n, _, _)| n == "recipient-country") {
        assert!(crate::support::cc(&a["code"]).as_str() == a["code"]);
    }
    // A scheduled, a delivered and a cancelled activity each have their status.
    let statuses: Vec<&str> = all
        .iter()
        .filter(|(n, _, _)| n == "activity-status")
        .map(|(_, a, _)| a["code"].as_str())
        .collect();
    for code in ["1", "3", "5"] {
        assert!(statuses.contains(&code), "status {code} in {statuses:?}");
    }
    // No case by name or id; only yearly counts, equal to the timeline's.
    let log: Vec<Value> = run_ok(
        &db,
        &["--json", "log", "--type", "CaseOpened", "--limit", "10000"],
    )
    .lines()
    .map(|l| serde_json::from_str(l).expect("JSON"))
    .collect();
    assert!(log.len() > 10);
    for case in &log {
        let id = case["case_id"].as_str().expect("id");
        let codename = case["codename"].as_str().expect("codename");
        assert!(
            !xml.contains(id) && !xml.contains(codename),
            "{codename} ({id}) is in the IATI file"
        );
    }
    let timeline = run_json(&db, &["timeline"]);
    let opened: BTreeMap<String, u64> = timeline["periods"]
        .as_array()
        .expect("periods")
        .iter()
        .filter(|p| p["cases"]["opened"].as_u64() > Some(0))
        .map(|p| {
            (
                format!("{}-01-01", p["period"].as_str().expect("year")),
                p["cases"]["opened"].as_u64().expect("n"),
            )
        })
        .collect();
    let mut in_file = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut period: Option<String> = None;
    for (name, attrs, text) in &all {
        match name.as_str() {
            "narrative" if text == "Cases opened" => current = Some("opened".into()),
            "narrative" if text.starts_with("Cases ") || text.starts_with("Participants") => {
                current = None
            }
            "period-start" => period = Some(attrs["iso-date"].clone()),
            "actual" if current.is_some() => {
                in_file.insert(
                    period.clone().expect("a period"),
                    attrs["value"].parse::<u64>().expect("n"),
                );
            }
            _ => {}
        }
    }
    assert_eq!(in_file, opened, "cases opened per year");

    // As of a date: nothing dated after it.
    let early = run_ok(&db, &["export", "--format", "iati", "--on", "2018-06-30"]);
    let early_elements = elements(&early);
    let dates: Vec<&str> = early_elements
        .iter()
        .filter(|(n, a, _)| n == "activity-date" && (a["type"] == "2" || a["type"] == "1"))
        .map(|(_, a, _)| a["iso-date"].as_str())
        .collect();
    assert!(!dates.is_empty());
    assert!(dates.iter().all(|d| *d <= "2018-06-30"), "{dates:?}");
    let expected = activities_at(&db, AsOf::date("2018-06-30".parse().expect("date")));
    let count = early_elements
        .iter()
        .filter(|(n, _, _)| n == "iati-activity")
        .count();
    assert_eq!(count, 1 + expected);

    for (args, what) in [
        (
            &["export", "--format", "iati", "--org-type", "99"][..],
            "an organisation type not in the codelist",
        ),
        (
            &["export", "--format", "iati", "--org-ref", " "],
            "an empty identifier",
        ),
        (
            &["export", "--format", "iati", "--title", "A\u{7}bell"],
            "a control character in the title",
        ),
        (
            &["export", "--format", "iati", "--from", "3"],
            "--from is for JSONL",
        ),
        (&["export", "--on", "2019-01-01"], "--on is for IATI"),
        (
            &["export", "--format", "iati", "--as-of", "99999"],
            "beyond the head",
        ),
        (&["export", "--format", "xml"], "an unknown format"),
    ] {
        let (code, stdout, stderr) = run(&db, args);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(
            stdout.is_empty() && stderr.contains("error"),
            "{what}: {stderr}"
        );
    }
    let (_, _, stderr) = run(&db, &["export", "--format", "iati", "--org-type", "99"]);
    assert!(
        stderr.contains("OrganisationType") && stderr.contains("40 Multilateral"),
        "{stderr}"
    );
}
