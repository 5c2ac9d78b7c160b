//! The `coopledger` binary through its real interface: arguments, files, stdin, stdout, stderr
//! and exit codes (README, "The command line"). Every test has its own ledger directory.
//!
//! Most tests start from `data/cli/story.jsonl`: 16 events with fixed ids and dates (a partner,
//! three countries joining, two meetings, three activities, a case through its closure, a
//! correction of the Lagos workshop, a retraction of the La Paz training and a change of Cabo
//! Verde's participation), so views and tables are deterministic.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use coopledger::proto_events::Date;
use coopledger::{AsOf, Ledger};
use serde_json::{Value, json};

use crate::support::{cc, is_hash, object_keys, tempdir};

/// The id of the story's `n`th event (its ids end in 1..=16; other tests use 101 and up).
fn ev(n: u64) -> String {
    format!("0190f0a1-7c2e-7a10-8b3e-{n:012}")
}

/// The activity of the Lagos workshop (seq 7), corrected at seq 14, and the story's case.
const LAGOS_ACTIVITY: &str = "0190f0a1-7c2e-7a10-8b3e-00000000b001";
const CASE: &str = "0190f0a1-7c2e-7a10-8b3e-00000000c001";

const ACTIVITY_KINDS: [&str; 10] = [
    "case_mentoring",
    "expert_meeting",
    "institutional_assessment",
    "investigative_case_forum",
    "practical_exercise",
    "study_visit",
    "training",
    "training_of_trainers",
    "working_group",
    "workshop",
];

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/data/cli")
        .join(name)
}

pub(crate) fn story_path() -> String {
    data("story.jsonl").display().to_string()
}

fn story_lines() -> Vec<String> {
    std::fs::read_to_string(data("story.jsonl"))
        .expect("story")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn of(cmd: &mut Command) -> Run {
        let out = cmd.output().expect("run coopledger");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    pub(crate) fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(self.code, code, "{what}: {self:#?}");
        self
    }

    pub(crate) fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.is_empty()).collect()
    }
}

/// A temporary directory holding the ledger (`db`) and any input files; commands run in it.
pub(crate) struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Sandbox { tmp: tempdir() }
    }

    /// A sandbox whose ledger holds the story (seq 1..=16).
    pub(crate) fn with_story() -> Self {
        let sandbox = Sandbox::new();
        sandbox.ok(&["append", &story_path()]);
        sandbox
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.path().join("db")
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path().join(name);
        std::fs::write(&path, text).expect("write input");
        path
    }

    /// The binary with no ledger chosen, run in the sandbox, with a clean environment.
    pub(crate) fn bare(&self) -> Command {
        let mut cmd = Command::cargo_bin("coopledger").expect("the coopledger binary");
        cmd.current_dir(self.path())
            .env_remove("COOPLEDGER_DB")
            .env_remove("COOPLEDGER_LOG");
        cmd
    }

    /// The binary on this sandbox's ledger (`--db DIR`).
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        self.cmd_on(&self.db(), args)
    }

    /// The binary on `db`. Appends and imports pass `--create`, as a script that starts its own
    /// ledger would; `explicit_creation_*` tests the commands without it.
    fn cmd_on(&self, db: &Path, args: &[&str]) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--db").arg(db);
        let command = args.iter().find(|a| !a.starts_with('-'));
        if matches!(command, Some(&"append" | &"import")) {
            cmd.arg("--create");
        }
        cmd.args(args);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Run {
        Run::of(&mut self.cmd(args))
    }

    fn run_on(&self, db: &Path, args: &[&str]) -> Run {
        Run::of(&mut self.cmd_on(db, args))
    }

    /// Runs and asserts success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        self.run(args).expect_code(0, &args.join(" ")).stdout
    }

    fn ok_on(&self, db: &Path, args: &[&str]) -> String {
        self.run_on(db, args).expect_code(0, &args.join(" ")).stdout
    }

    /// Runs with `--json` and parses the single JSON document printed.
    pub(crate) fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        assert_eq!(out.lines().count(), 1, "exactly one line of JSON: {out}");
        serde_json::from_str(&out).expect("JSON output")
    }

    /// Runs with `--json` and parses every line.
    pub(crate) fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        json_lines(&self.ok(&all))
    }

    /// The sequences `log --json` lists (all of them, up to 1000).
    fn seqs(&self) -> Vec<u64> {
        self.json_lines(&["log", "--limit", "1000"])
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect()
    }

    /// The head sequence, as `log --json --reverse --limit 1` tells it (0 when empty).
    pub(crate) fn head(&self) -> u64 {
        self.json_lines(&["log", "--reverse", "--limit", "1"])
            .first()
            .map_or(0, |e| e["seq"].as_u64().expect("seq"))
    }
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// One `FILE:LINE: field: rule (value)` line, split.
#[derive(Debug, PartialEq, Eq)]
struct Problem {
    file: String,
    line: usize,
    field: String,
    rule: String,
    value: String,
}

fn problem(text: &str) -> Problem {
    fn fail<T>(text: &str) -> T {
        panic!("not `FILE:LINE: field: rule (value)`: {text:?}")
    }
    let (file, rest) = text.split_once(':').unwrap_or_else(|| fail(text));
    let (line, rest) = rest.split_once(": ").unwrap_or_else(|| fail(text));
    let (field, rest) = rest.split_once(": ").unwrap_or_else(|| fail(text));
    let (rule, value) = rest.split_once(" (").unwrap_or_else(|| fail(text));
    let value = value.strip_suffix(')').unwrap_or_else(|| fail(text));
    let line: usize = line.parse().unwrap_or_else(|_| fail(text));
    assert!(
        !rule.is_empty() && rule.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "the rule is a snake_case name: {text:?}"
    );
    Problem {
        file: file.to_owned(),
        line,
        field: field.to_owned(),
        rule: rule.to_owned(),
        value: value.to_owned(),
    }
}

/// Every stderr line is a problem in the documented format; returns them.
fn problems(run: &Run) -> Vec<Problem> {
    let lines = run.stderr_lines();
    assert!(!lines.is_empty(), "problems expected on stderr: {run:#?}");
    lines.into_iter().map(problem).collect()
}

/// `(line, field, rule)` of each problem, in order.
fn summary(problems: &[Problem]) -> Vec<(usize, &str, &str)> {
    problems
        .iter()
        .map(|p| (p.line, p.field.as_str(), p.rule.as_str()))
        .collect()
}

fn joined(country: &str, on: &str) -> String {
    json!({"type": "CountryJoined", "recorded_by": "staff.test", "country": country,
           "joined_on": on, "participation": "beneficiary"})
    .to_string()
}

fn case_closed(case_id: &str) -> String {
    json!({"type": "CaseClosed", "recorded_by": "staff.test", "case_id": case_id,
           "closed_on": "2019-01-01", "outcome": "convicted"})
    .to_string()
}

/// Replaces every `YYYY-MM-DD hh:mm:ss` (the RECORDED AT column) by a fixed text of the same
/// width, so table snapshots do not depend on when the test ran.
fn redact_times(text: &str) -> String {
    const PATTERN: &[u8; 19] = b"0000-00-00 00:00:00";
    let mut bytes = text.as_bytes().to_vec();
    let mut i = 0;
    while i + PATTERN.len() <= bytes.len() {
        let matches = bytes[i..i + PATTERN.len()]
            .iter()
            .zip(PATTERN)
            .all(|(b, p)| {
                if *p == b'0' {
                    b.is_ascii_digit()
                } else {
                    b == p
                }
            });
        if matches {
            bytes[i..i + PATTERN.len()].copy_from_slice(b"YYYY-MM-DD hh:mm:ss");
            i += PATTERN.len();
        } else {
            i += 1;
        }
    }
    String::from_utf8(bytes).expect("UTF-8")
}

/// The library's own JSON of the views, for "exactly the view JSON".
fn library_country(db: &Path, at: AsOf, code: &str) -> Value {
    let ledger = Ledger::create(db).expect("open the ledger in the test");
    let views = ledger.reader().views_at(at).expect("views");
    serde_json::to_value(views.country_view(cc(code)).expect("a view")).expect("serialise")
}

fn library_regions(db: &Path, at: AsOf) -> Value {
    let ledger = Ledger::create(db).expect("open the ledger in the test");
    let views = ledger.reader().views_at(at).expect("views");
    serde_json::to_value(views.interregional_view()).expect("serialise")
}

/// The shape domain.md's "Views" gives a per-country view.
fn assert_country_shape(v: &Value) {
    let code = v["country"].as_str().expect("country");
    assert!(
        code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()),
        "{v}"
    );
    assert!(v["name"].as_str().is_some_and(|n| !n.is_empty()), "{v}");
    assert_eq!(
        object_keys(&v["m49"]),
        BTreeSet::from(["region", "sub_region", "intermediate_region"]),
        "{v}"
    );
    for level in ["region", "sub_region", "intermediate_region"] {
        let m49 = &v["m49"][level];
        assert!(
            m49.is_null()
                || m49
                    .as_str()
                    .is_some_and(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())),
            "m49.{level} is a 3-digit string or null: {v}"
        );
    }
    assert!(v["m49"]["region"].is_string(), "{v}");
    let region = v["programme_region"].as_str().expect("programme_region");
    assert!(
        [
            "latin_america_caribbean",
            "west_africa",
            "other_africa",
            "europe",
            "other"
        ]
        .contains(&region),
        "{v}"
    );
    let participation = &v["participation"];
    assert_eq!(
        object_keys(participation),
        BTreeSet::from(["status", "joined_on"]),
        "{v}"
    );
    assert_eq!(
        participation["status"].is_null(),
        participation["joined_on"].is_null(),
        "status and joined_on are null together: {v}"
    );
    if let Some(on) = participation["joined_on"].as_str() {
        assert!(on.parse::<Date>().is_ok(), "joined_on is a date: {v}");
    }
    assert!(v["meetings"].is_u64(), "{v}");
    assert!(v["activities"]["total"].is_u64(), "{v}");
    let by_kind = &v["activities"]["by_kind"];
    assert_eq!(
        object_keys(by_kind),
        BTreeSet::from(ACTIVITY_KINDS),
        "by_kind lists every kind: {v}"
    );
    let sum: u64 = ACTIVITY_KINDS
        .iter()
        .map(|k| by_kind[*k].as_u64().expect("a count"))
        .sum();
    assert_eq!(Some(sum), v["activities"]["total"].as_u64(), "{v}");
    assert!(v["participants"]["total"].is_u64(), "{v}");
    assert!(v["participants"]["women"].is_u64(), "{v}");
    assert!(v["cases"]["open"].is_u64(), "{v}");
    assert!(v["cases"]["closed"].is_u64(), "{v}");
    for (other, n) in v["counterparts"].as_object().expect("counterparts") {
        assert!(
            other.len() == 2 && other != code,
            "counterparts keyed by other codes: {v}"
        );
        assert_eq!(
            object_keys(n),
            BTreeSet::from(["meetings", "activities", "cases"]),
            "{v}"
        );
    }
    assert!(v["as_of_sequence"].is_u64(), "{v}");
}

// ---------------------------------------------------------------------------------------------
// append

#[test]
fn append_prints_one_receipt_per_event_and_a_resend_prints_the_same_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let first = sandbox.ok(&["append", &story_path()]);
    let receipts = json_lines(&first);
    assert_eq!(receipts.len(), 16);
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(
            object_keys(r),
            BTreeSet::from(["seq", "event_id", "stream", "version", "hash"]),
            "{r}"
        );
        assert_eq!(r["seq"], json!(i + 1));
        assert_eq!(r["event_id"], json!(ev(i as u64 + 1)));
        assert!(is_hash(&r["hash"]), "64 lower-case hex digits: {r}");
    }
    // Lower-case input codes are stored upper case; corrections go to their target's stream.
    assert_eq!(receipts[2]["stream"], "country/GH");
    assert_eq!(
        receipts[13]["stream"],
        json!(format!("activity/{LAGOS_ACTIVITY}"))
    );
    assert_eq!(receipts[13]["version"], 2);
    assert_eq!(receipts[15]["stream"], "country/CV");
    assert_eq!(receipts[15]["version"], 2);
    let head_hash = sandbox.ok(&["verify"]);

    let again = sandbox.ok(&["append", &story_path()]);
    assert_eq!(again, first, "a resend prints the original receipts");
    assert_eq!(sandbox.seqs(), (1..=16).collect::<Vec<_>>());
    assert_eq!(sandbox.ok(&["verify"]), head_hash, "nothing was written");
}

#[test]
fn append_reads_an_array_a_pretty_object_stdin_and_several_files() {
    let sandbox = Sandbox::new();
    // With event ids, so that sending the array again is idempotent.
    let with_id = |text: String, n: u64| {
        let mut v: Value = serde_json::from_str(&text).expect("json");
        v["event_id"] = json!(ev(n));
        v.to_string()
    };
    let array = format!(
        "[\n  {},\n  {}\n]\n",
        with_id(joined("CV", "2016-07-21"), 101),
        with_id(joined("GH", "2016-07-21"), 102)
    );
    sandbox.write("array.json", &array);
    let pretty = serde_json::to_string_pretty(
        &serde_json::from_str::<Value>(&joined("BO", "2018-11-15")).expect("json"),
    )
    .expect("pretty");
    assert!(pretty.lines().count() > 3);
    sandbox.write("pretty.json", &pretty);
    let receipts = json_lines(&sandbox.ok(&["append", "array.json"]));
    assert_eq!(receipts.len(), 2);
    let receipts = json_lines(&sandbox.ok(&["append", "pretty.json"]));
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["seq"], 3);
    assert_eq!(receipts[0]["stream"], "country/BO");

    // `-` reads stdin, here JSONL; several files in one command, in order.
    let stdin = format!(
        "{}\n{}\n",
        joined("NG", "2017-01-01"),
        joined("PT", "2017-01-01")
    );
    sandbox.write("one.jsonl", &format!("{}\n", joined("ES", "2017-02-01")));
    let run = Run::of(
        sandbox
            .cmd(&["append", "one.jsonl", "-", "array.json"])
            .write_stdin(stdin),
    )
    .expect_code(0, "several files and stdin");
    let receipts = json_lines(&run.stdout);
    let streams: Vec<&str> = receipts
        .iter()
        .map(|r| r["stream"].as_str().expect("stream"))
        .collect();
    assert_eq!(
        streams,
        [
            "country/ES",
            "country/NG",
            "country/PT",
            "country/CV",
            "country/GH"
        ]
    );
    let seqs: Vec<u64> = receipts
        .iter()
        .map(|r| r["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        [4, 5, 6, 1, 2],
        "new events continue the sequence; array.json's were already in"
    );
    assert_eq!(sandbox.head(), 6);

    // A problem on stdin is named `<stdin>`.
    let run = Run::of(
        sandbox
            .cmd(&["append", "-"])
            .write_stdin(joined("XX", "2017-01-01")),
    )
    .expect_code(2, "bad stdin");
    let p = problems(&run);
    assert_eq!(p.len(), 1, "{run:#?}");
    assert_eq!((p[0].file.as_str(), p[0].line), ("<stdin>", 1));
    assert_eq!(sandbox.head(), 6);
}

#[test]
fn append_validates_every_file_before_appending_any() {
    let sandbox = Sandbox::new();
    sandbox.write("good.jsonl", &format!("{}\n", joined("CV", "2016-07-21")));
    sandbox.write("bad.jsonl", &format!("{}\n", joined("XX", "2016-07-21")));
    let run = sandbox
        .run(&["append", "good.jsonl", "bad.jsonl"])
        .expect_code(2, "the second file is invalid");
    assert_eq!(run.stdout, "", "no receipt");
    assert_eq!(
        problems(&run),
        vec![Problem {
            file: "bad.jsonl".into(),
            line: 1,
            field: "country".into(),
            rule: "country_code".into(),
            value: "\"XX\"".into(),
        }]
    );
    // The ledger was not even created.
    assert!(!sandbox.db().exists());
}

// ---------------------------------------------------------------------------------------------
// exit code 2: invalid input, in the documented format

#[test]
fn malformed_json_exits_2_with_a_syntax_line() {
    let sandbox = Sandbox::with_story();
    sandbox.write(
        "broken.json",
        "{\"type\": \"CountryJoined\",\n  \"country\": \n",
    );
    let run = sandbox
        .run(&["append", "broken.json"])
        .expect_code(2, "malformed JSON");
    let p = problems(&run);
    assert_eq!(p.len(), 1, "{run:#?}");
    assert_eq!(p[0].file, "broken.json");
    assert_eq!(p[0].rule, "syntax");
    assert_eq!(sandbox.head(), 16);
}

#[test]
fn a_typo_an_unknown_country_and_end_before_start_are_each_named() {
    let sandbox = Sandbox::with_story();
    let meeting = |start: &str, end: &str, title_field: &str, country: &str| {
        let mut v = json!({"type": "MeetingHeld", "recorded_by": "staff.test",
            "meeting_id": "0190f0a1-7c2e-7a10-8b3e-00000000d001", "kind": "bilateral_briefing",
            "start": start, "end": end, "venue": {"city": "Vienna", "country": "AT"},
            "countries": [country]});
        v[title_field] = json!("Briefing");
        v.to_string()
    };
    sandbox.write(
        "typo.jsonl",
        &format!("{}\n", meeting("2017-08-25", "2017-08-25", "titel", "PA")),
    );
    let run = sandbox
        .run(&["append", "typo.jsonl"])
        .expect_code(2, "typo");
    assert_eq!(
        problems(&run),
        vec![Problem {
            file: "typo.jsonl".into(),
            line: 1,
            field: "titel".into(),
            rule: "unknown_field".into(),
            value: "\"titel\"".into(),
        }]
    );

    sandbox.write(
        "country.jsonl",
        &format!("{}\n", meeting("2017-08-25", "2017-08-25", "title", "XQ")),
    );
    let run = sandbox
        .run(&["append", "country.jsonl"])
        .expect_code(2, "unknown country");
    let p = problems(&run);
    assert_eq!(p.len(), 1, "{run:#?}");
    assert_eq!((p[0].line, p[0].rule.as_str()), (1, "country_code"));
    assert!(p[0].field.starts_with("countries"), "{p:?}");
    assert!(p[0].value.contains("XQ"), "{p:?}");

    sandbox.write(
        "dates.jsonl",
        &format!("{}\n", meeting("2017-08-26", "2017-08-25", "title", "PA")),
    );
    let run = sandbox
        .run(&["append", "dates.jsonl"])
        .expect_code(2, "end before start");
    assert_eq!(
        problems(&run),
        vec![Problem {
            file: "dates.jsonl".into(),
            line: 1,
            field: "start".into(),
            rule: "start_after_end".into(),
            value: "2017-08-26 > end 2017-08-25".into(),
        }]
    );
    assert_eq!(sandbox.head(), 16, "nothing appended");
}

#[test]
fn every_problem_of_a_file_is_listed_and_a_mixed_file_appends_nothing() {
    let sandbox = Sandbox::with_story();
    let before = sandbox.ok(&["--json", "log", "--limit", "1000"]);
    // Lines 1, 3 and 5 are valid; 2 and 4 are not (line 4 breaks two rules at once).
    let lagos = json!({"type": "ActivityDelivered", "recorded_by": "staff.test",
        "activity_id": "0190f0a1-7c2e-7a10-8b3e-00000000d002", "kind": "workshop",
        "title": "Workshop, Lagos", "pillar": "capacity_building",
        "start": "2018-07-19", "end": "2018-07-18", "venue": {"city": "Lagos", "country": "NG"},
        "beneficiaries": ["NG"], "participants": {"total": 30, "women": 40}});
    let text = [
        joined("PT", "2017-01-01"),
        joined("ZZ", "2017-01-01"),
        joined("ES", "2017-01-01"),
        lagos.to_string(),
        joined("NG", "2017-01-01"),
    ]
    .join("\n");
    sandbox.write("mixed.jsonl", &text);
    let run = sandbox
        .run(&["append", "mixed.jsonl"])
        .expect_code(2, "mixed file");
    assert_eq!(run.stdout, "");
    let p = problems(&run);
    assert!(p.iter().all(|p| p.file == "mixed.jsonl"), "{p:?}");
    let mut found = summary(&p);
    found.sort_unstable();
    assert_eq!(
        found,
        vec![
            (2, "country", "country_code"),
            (4, "participants.women", "participants_breakdown"),
            (4, "start", "start_after_end"),
        ]
    );
    assert_eq!(
        sandbox.ok(&["--json", "log", "--limit", "1000"]),
        before,
        "the valid lines were not appended either"
    );
}

#[test]
fn a_contextual_error_names_the_files_line() {
    let sandbox = Sandbox::with_story();
    // Blank lines make the file's line differ from the event's index; only the ledger knows
    // that the case was never opened.
    let never_opened = "0190f0a1-7c2e-7a10-8b3e-00000000c0ff";
    let text = format!(
        "\n{}\n\n\n{}\n",
        joined("PT", "2017-01-01"),
        case_closed(never_opened)
    );
    sandbox.write("context.jsonl", &text);
    let run = sandbox
        .run(&["append", "context.jsonl"])
        .expect_code(2, "a case never opened");
    assert_eq!(run.stdout, "");
    let p = problems(&run);
    assert_eq!(
        summary(&p),
        vec![(5, "case_id", "case_not_open")],
        "{run:#?}"
    );
    assert_eq!(p[0].file, "context.jsonl");
    assert!(p[0].value.contains(never_opened), "{p:?}");
    assert_eq!(sandbox.head(), 16, "the valid first event was not appended");

    // The same in a pretty-printed array: the line where the object starts.
    let array = format!(
        "[\n{},\n{}\n]\n",
        joined("PT", "2017-01-01"),
        serde_json::to_string_pretty(
            &serde_json::from_str::<Value>(&case_closed(never_opened)).expect("json")
        )
        .expect("pretty")
    );
    sandbox.write("context.json", &array);
    let run = sandbox
        .run(&["append", "context.json"])
        .expect_code(2, "a case never opened");
    assert_eq!(
        summary(&problems(&run)),
        vec![(3, "case_id", "case_not_open")]
    );
    assert_eq!(sandbox.head(), 16);
}

#[test]
fn a_malformed_first_jsonl_line_does_not_hide_the_other_problems() {
    // README: invalid input "lists every problem on stderr"; for JSONL "a bad line does not hide
    // the others" (proto-events/src/staff.rs). Line 1 is malformed, line 3 has an unknown
    // country: both must be listed.
    let sandbox = Sandbox::new();
    let text = format!(
        "{{\"type\": \"CountryJoined\", oops}}\n{}\n{}\n",
        joined("PT", "2017-01-01"),
        joined("QQ", "2017-01-01")
    );
    sandbox.write("first.jsonl", &text);
    let run = sandbox
        .run(&["append", "first.jsonl"])
        .expect_code(2, "two bad lines");
    assert_eq!(
        summary(&problems(&run)),
        vec![(1, "(event)", "syntax"), (3, "country", "country_code")],
        "{run:#?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let sandbox = Sandbox::with_story();
    for args in [
        &["append", "--bogus", "x.jsonl"][..],
        &["append"],
        &["frobnicate"],
        &["log", "--limit", "many"],
        &[
            "country",
            "GH",
            "--as-of",
            "3",
            "--at",
            "2026-01-01T00:00:00Z",
        ],
        &["country", "GH", "--on", "2019-02-30"],
        &["country", "GH", "--at", "yesterday"],
        &["show", "not-a-uuid"],
        &["rebuild", "everything"],
        &["import", "--batch", "0", "x.jsonl"],
    ] {
        let run = sandbox.run(args).expect_code(2, &args.join(" "));
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:#?}");
    }
    // Invalid values the command itself checks.
    for args in [
        &["log", "--type", "Foo"][..],
        &["stream", "bogus"],
        &["country", "ZZ"],
        &["append", "missing.jsonl"],
    ] {
        let run = sandbox.run(args).expect_code(2, &args.join(" "));
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:#?}");
    }
    // What the ledger does not hold is not found (exit 5).
    for args in [&["country", "AR"][..], &["show", &ev(99)]] {
        let run = sandbox.run(args).expect_code(5, &args.join(" "));
        assert!(run.stderr.starts_with("error: "), "{args:?}: {run:#?}");
    }
    assert_eq!(sandbox.head(), 16);
    // Help is not an error.
    let help = sandbox.ok(&["--help"]);
    assert!(help.contains("Exit codes:"), "{help}");
}

// ---------------------------------------------------------------------------------------------
// exit code 3: conflicts

#[test]
fn a_reused_event_id_or_a_wrong_expected_version_exits_3_and_writes_nothing() {
    let sandbox = Sandbox::with_story();
    let hash = sandbox.ok(&["verify"]);
    // Event 3 (GH joined on 2016-07-21) re-sent with another date.
    let mut reused: Value = serde_json::from_str(&story_lines()[2]).expect("json");
    reused["joined_on"] = json!("2016-07-22");
    sandbox.write("reused.jsonl", &format!("{reused}\n"));
    let run = sandbox
        .run(&["append", "reused.jsonl"])
        .expect_code(3, "reused event id");
    let p = problems(&run);
    assert_eq!(summary(&p), vec![(1, "event_id", "event_id_reused")]);
    assert!(p[0].value.contains(&ev(3)), "{p:?}");

    // country/CV is at version 2.
    let change = |expected: Value| {
        json!({"type": "ParticipationChanged", "recorded_by": "staff.test", "country": "CV",
               "changed_on": "2021-01-01", "participation": "suspended", "reason": "Review",
               "expected_version": expected})
        .to_string()
    };
    sandbox.write("stale.jsonl", &format!("{}\n", change(json!(1))));
    let run = sandbox
        .run(&["append", "stale.jsonl"])
        .expect_code(3, "stale version");
    let p = problems(&run);
    assert_eq!(
        summary(&p),
        vec![(1, "expected_version", "expected_version")]
    );
    assert_eq!(p[0].value, "expected 1, stream is at version 2");
    sandbox.write("new.jsonl", &format!("{}\n", change(json!("new"))));
    let run = sandbox
        .run(&["append", "new.jsonl"])
        .expect_code(3, "stream not new");
    assert!(
        summary(&problems(&run)).contains(&(1, "expected_version", "expected_version")),
        "{run:#?}"
    );
    assert_eq!(sandbox.ok(&["verify"]), hash, "nothing written");

    // The right version goes through.
    sandbox.write("right.jsonl", &format!("{}\n", change(json!(2))));
    let receipt = json_lines(&sandbox.ok(&["append", "right.jsonl"]));
    assert_eq!(receipt[0]["version"], 3);
}

// ---------------------------------------------------------------------------------------------
// exit code 1: storage failures

#[test]
fn a_ledger_in_use_by_another_process_exits_1() {
    let sandbox = Sandbox::with_story();
    let held = Ledger::create(sandbox.db()).expect("the test holds the ledger");
    for args in [
        &["append", &story_path()][..],
        &["log"],
        &["country", "GH"],
        &["verify"],
    ] {
        let run = sandbox.run(args).expect_code(1, &args.join(" "));
        assert!(run.stderr.contains("in use"), "{args:?}: {run:#?}");
        assert_eq!(run.stdout, "");
    }
    drop(held);
    assert_eq!(sandbox.head(), 16);
}

#[test]
fn a_read_command_on_a_missing_ledger_exits_2_and_creates_nothing() {
    let sandbox = Sandbox::new();
    for args in [
        &["log"][..],
        &["show", &ev(1)],
        &["stream", "country/GH"],
        &["country", "GH"],
        &["countries"],
        &["regions"],
        &["verify"],
        &["export"],
        &["rebuild"],
    ] {
        // A --db that names no ledger is a usage problem (exit 2), not a storage failure.
        let run = sandbox.run(args).expect_code(2, &args.join(" "));
        assert!(run.stderr.contains("no ledger"), "{args:?}: {run:#?}");
        assert!(!sandbox.db().exists(), "{args:?} created the ledger");
    }
}

// ---------------------------------------------------------------------------------------------
// exit code 4: verification

#[test]
fn verify_names_a_tampered_record_and_exits_4() {
    let sandbox = Sandbox::with_story();
    let line = sandbox.ok(&["verify"]);
    assert!(line.starts_with("ok: 16 events, head 16 "), "{line}");
    // docs/format.md: a record's frame is hash(32) ‖ prev_hash(32) ‖ body (`crate::layout`).
    {
        let db = crate::layout::open(&sandbox.db());
        crate::layout::rewrite(&db, |frames| {
            let value = frames.get_mut(&5).expect("record 5");
            assert!(value.len() > 64 + 40);
            value[64 + 40] ^= 0x01;
        });
    }
    let run = sandbox.run(&["verify"]).expect_code(4, "tampered");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("record 5 "), "{run:#?}");
    // Reads check hashes too.
    let run = sandbox
        .run(&["log"])
        .expect_code(4, "log of a tampered store");
    assert!(run.stderr.contains("record 5 "), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// import

#[test]
fn import_continues_after_an_interruption_and_counts_new_and_present() {
    let sandbox = Sandbox::new();
    // Staff lines, most without an event id (import derives one from the line's content);
    // the correction's and retraction's targets keep theirs.
    let lines: Vec<String> = story_lines()
        .iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("json");
            if ![ev(7), ev(8)].contains(&v["event_id"].as_str().expect("id").to_owned()) {
                v.as_object_mut().expect("object").remove("event_id");
            }
            v.to_string()
        })
        .collect();
    sandbox.write("half.jsonl", &(lines[..8].join("\n") + "\n"));
    sandbox.write("full.jsonl", &(lines.join("\n") + "\n"));
    let out = sandbox.ok(&["import", "--batch", "3", "half.jsonl"]);
    assert_eq!(
        out,
        "imported 8 lines: 8 new events, 0 already present; head 8\n"
    );
    let summary = sandbox.json(&["import", "full.jsonl"]);
    assert_eq!(
        summary,
        json!({"lines": 16, "new": 8, "existing": 8, "head": 16})
    );
    // Once more, from stdin: everything is already in.
    let text = std::fs::read_to_string(sandbox.path().join("full.jsonl")).expect("read");
    let run = Run::of(
        sandbox
            .cmd(&["--json", "import", "--batch", "5", "-"])
            .write_stdin(text),
    )
    .expect_code(0, "import from stdin");
    let summary: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(
        summary,
        json!({"lines": 16, "new": 0, "existing": 16, "head": 16})
    );
    let log = sandbox.json_lines(&["log"]);
    assert_eq!(log.len(), 16);
    let types: Vec<&str> = log
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    let expected: Vec<String> = story_lines()
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["type"]
                .as_str()
                .expect("type")
                .to_owned()
        })
        .collect();
    assert_eq!(types, expected, "each line once, in file order");
    let gh = sandbox.json(&["country", "GH"]);
    assert_eq!(gh["participants"], json!({"total": 61, "women": 13}));
}

#[test]
fn import_counts_identical_lines_as_one_new_event() {
    // Two identical lines without an event id get the same derived id: one event is written,
    // and the summary must say so (`new` is what the import added to the ledger).
    let sandbox = Sandbox::new();
    let line = joined("PT", "2017-01-01");
    sandbox.write("twice.jsonl", &format!("{line}\n{line}\n"));
    let summary = sandbox.json(&["import", "twice.jsonl"]);
    assert_eq!(summary["head"], 1, "{summary}");
    assert_eq!(
        summary,
        json!({"lines": 2, "new": 1, "existing": 1, "head": 1}),
        "the summary counts one new event for the one written"
    );
}

#[test]
fn export_then_import_into_empty_ledgers_reproduces_every_byte() {
    let sandbox = Sandbox::with_story();
    let exported = sandbox.ok(&["export"]);
    let lines = json_lines(&exported);
    assert_eq!(lines.len(), 16);
    assert_eq!(
        exported,
        sandbox.ok(&["--json", "log"]),
        "export writes the log --json lines"
    );
    let types: BTreeSet<&str> = lines
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert!(types.contains("EventCorrected") && types.contains("EventRetracted"));
    sandbox.write("export.jsonl", &exported);

    // Security (issue 13): exported fields are verified or refused, never taken on trust.
    let plain = sandbox.path().join("plain");
    let run = sandbox
        .run_on(&plain, &["import", "export.jsonl"])
        .expect_code(2, "export lines without --verify-hashes");
    assert!(
        run.stderr
            .contains("export.jsonl:1: seq: export_not_verified"),
        "{run:#?}"
    );
    assert!(
        !plain.exists(),
        "nothing was imported, no ledger is left behind"
    );
    // A recording time in the future is refused (the ledger's clock would follow it).
    let mut future = lines[0].clone();
    future["recorded_at"] = json!("2099-01-01T00:00:00Z");
    sandbox.write("future.jsonl", &format!("{future}\n"));
    let run = sandbox
        .run_on(&plain, &["import", "--verify-hashes", "future.jsonl"])
        .expect_code(2, "a recording time in the future");
    assert!(
        run.stderr
            .contains("future.jsonl:1: recorded_at: recorded_in_future"),
        "{run:#?}"
    );
    assert!(!plain.exists());
    let checked = sandbox.path().join("checked");
    let out = sandbox.ok_on(
        &checked,
        &["--json", "import", "--verify-hashes", "export.jsonl"],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json"),
        json!({"lines": 16, "new": 16, "existing": 0, "head": 16})
    );
    assert_eq!(sandbox.ok_on(&checked, &["export"]), exported);
    let verified = sandbox.ok(&["verify"]);
    assert_eq!(sandbox.ok_on(&checked, &["verify"]), verified);
    assert_eq!(
        sandbox.ok_on(&checked, &["--json", "regions"]),
        sandbox.ok(&["--json", "regions"])
    );
    assert_eq!(
        sandbox.ok_on(&checked, &["--json", "countries"]),
        sandbox.ok(&["--json", "countries"])
    );
    // `export --from`.
    let tail = json_lines(&sandbox.ok(&["export", "--from", "10"]));
    assert_eq!(tail, lines[9..].to_vec());
}

#[test]
fn import_verify_hashes_rejects_a_changed_export_line() {
    let sandbox = Sandbox::with_story();
    let exported = sandbox.ok(&["export"]);
    // Line 9 (the Accra forum) with one field changed.
    let mut lines: Vec<String> = exported.lines().map(str::to_owned).collect();
    let mut accra: Value = serde_json::from_str(&lines[8]).expect("json");
    assert_eq!(accra["participants"]["total"], 31);
    accra["participants"]["total"] = json!(32);
    lines[8] = accra.to_string();
    sandbox.write("changed.jsonl", &(lines.join("\n") + "\n"));
    let target = sandbox.path().join("target");
    let run = sandbox
        .run_on(&target, &["import", "--verify-hashes", "changed.jsonl"])
        .expect_code(2, "a changed line");
    let first = run.stderr_lines()[0];
    let p = problem(first);
    assert_eq!(
        (p.file.as_str(), p.line, p.field.as_str(), p.rule.as_str()),
        ("changed.jsonl", 9, "hash", "import_mismatch"),
        "{run:#?}"
    );
    assert!(
        p.value.contains(accra["hash"].as_str().expect("hash")),
        "{p:?}"
    );
    assert!(run.stderr.contains("import stopped"), "{run:#?}");
    assert!(
        !target.exists(),
        "the batch was refused whole, and the ledger it would have started is not left behind"
    );
}

// ---------------------------------------------------------------------------------------------
// log, show, stream

#[test]
fn log_lists_json_lines_with_filters() {
    let sandbox = Sandbox::with_story();
    let all = sandbox.json_lines(&["log"]);
    assert_eq!(all.len(), 16);
    let mut prev = "0".repeat(64);
    for (i, e) in all.iter().enumerate() {
        for key in [
            "seq",
            "event_id",
            "stream",
            "version",
            "recorded_at",
            "hash",
            "type",
            "recorded_by",
        ] {
            assert!(e.get(key).is_some(), "{key} in {e}");
        }
        assert_eq!(e["seq"], json!(i + 1));
        assert!(is_hash(&e["hash"]), "{e}");
        assert_eq!(e["prev_hash"], json!(prev), "chained: {e}");
        prev = e["hash"].as_str().expect("hash").to_owned();
        let at = e["recorded_at"].as_str().expect("recorded_at");
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
    }
    // The staff fields of the event.
    let gh = &all[2];
    assert_eq!(gh["type"], "CountryJoined");
    assert_eq!(gh["recorded_by"], "staff.vienna");
    assert_eq!(gh["stream"], "country/GH");
    assert_eq!(gh["version"], 1);
    assert_eq!(gh["country"], "GH");
    assert_eq!(gh["joined_on"], "2016-07-21");
    assert_eq!(gh["participation"], "beneficiary");
    assert_eq!(all[13]["target"], json!(ev(7)));
    assert_eq!(all[13]["replacement"]["participants"]["women"], 6);

    let seqs = |args: &[&str]| -> Vec<u64> {
        sandbox
            .json_lines(args)
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect()
    };
    assert_eq!(seqs(&["log", "--from", "5", "--limit", "3"]), [5, 6, 7]);
    assert_eq!(seqs(&["log", "--from", "15"]), [15, 16]);
    assert_eq!(seqs(&["log", "--reverse", "--limit", "2"]), [16, 15]);
    assert_eq!(
        seqs(&["log", "--reverse", "--from", "10", "--limit", "3"]),
        [10, 9, 8]
    );
    assert_eq!(seqs(&["log", "--stream", "country/CV"]), [2, 16]);
    assert_eq!(
        seqs(&["log", "--stream", &format!("activity/{LAGOS_ACTIVITY}")]),
        [7, 14]
    );
    assert_eq!(
        seqs(&["log", "--stream", &format!("case/{CASE}"), "--from", "12"]),
        [12, 13]
    );
    assert_eq!(seqs(&["log", "--type", "CountryJoined"]), [2, 3, 4]);
    assert_eq!(
        seqs(&[
            "log",
            "--type",
            "CountryJoined",
            "--reverse",
            "--limit",
            "1"
        ]),
        [4]
    );
    assert_eq!(
        seqs(&["log", "--type", "ActivityDelivered", "--from", "8"]),
        [8, 9]
    );
    assert_eq!(seqs(&["log", "--from", "17"]), Vec::<u64>::new());

    // The table: a header, one row per event, and a note that more exist.
    let table = sandbox.ok(&["log", "--from", "2", "--limit", "3"]);
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 5, "{table}");
    assert!(rows[0].starts_with("SEQ"), "{table}");
    assert!(
        rows[2].contains("GH joined as beneficiary on 2016-07-21"),
        "{table}"
    );
}

#[test]
fn show_and_stream_print_recorded_events() {
    let sandbox = Sandbox::with_story();
    let log = sandbox.json_lines(&["log"]);
    let shown = sandbox.json(&["show", &ev(9)]);
    assert_eq!(shown, log[8]);
    let pretty = sandbox.ok(&["show", &ev(9)]);
    assert!(pretty.lines().count() > 10, "pretty-printed: {pretty}");
    assert_eq!(
        serde_json::from_str::<Value>(&pretty).expect("json"),
        log[8]
    );

    let cv = sandbox.json_lines(&["stream", "country/CV"]);
    assert_eq!(cv, vec![log[1].clone(), log[15].clone()]);
    assert_eq!(
        sandbox
            .json_lines(&["stream", &format!("case/{CASE}")])
            .len(),
        4
    );
    let table = sandbox.ok(&["stream", "country/cv"]);
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(
        table.contains("CV now associated since 2020-03-01"),
        "{table}"
    );
    assert_eq!(
        sandbox.ok(&["stream", "country/AR"]),
        "country/AR has no events\n"
    );
}

// ---------------------------------------------------------------------------------------------
// views

#[test]
fn country_json_is_exactly_the_view() {
    let sandbox = Sandbox::with_story();
    let gh = sandbox.json(&["country", "GH"]);
    assert_country_shape(&gh);
    assert_eq!(gh["country"], "GH");
    assert_eq!(gh["name"], "Ghana");
    assert_eq!(
        gh["m49"],
        json!({"region": "002", "sub_region": "202", "intermediate_region": "011"})
    );
    assert_eq!(gh["programme_region"], "west_africa");
    assert_eq!(
        gh["participation"],
        json!({"status": "beneficiary", "joined_on": "2016-07-21"})
    );
    assert_eq!(gh["meetings"], 1);
    assert_eq!(gh["activities"]["total"], 2);
    assert_eq!(gh["activities"]["by_kind"]["workshop"], 1);
    assert_eq!(gh["activities"]["by_kind"]["investigative_case_forum"], 1);
    assert_eq!(
        gh["activities"]["by_kind"]["training"], 0,
        "the retracted training counts for nothing"
    );
    assert_eq!(
        gh["participants"],
        json!({"total": 61, "women": 13}),
        "the corrected Lagos count (6 women) and Accra (7)"
    );
    assert_eq!(gh["cases"], json!({"open": 0, "closed": 0}));
    assert_eq!(
        gh["counterparts"],
        json!({
            "BR": {"meetings": 1, "activities": 1, "cases": 0},
            "CV": {"meetings": 1, "activities": 1, "cases": 0},
            "ES": {"meetings": 1, "activities": 1, "cases": 0},
            "NG": {"meetings": 0, "activities": 2, "cases": 0},
        })
    );
    assert_eq!(gh["as_of_sequence"], 16);
    assert_eq!(gh, library_country(&sandbox.db(), AsOf::HEAD, "GH"));

    // Cabo Verde's latest status, the day it joined; Spain has no intermediate region; the
    // case's countries, Venezuela added later.
    let cv = sandbox.json(&["country", "cv"]);
    assert_eq!(
        cv["participation"],
        json!({"status": "associated", "joined_on": "2016-07-21"})
    );
    let es = sandbox.json(&["country", "ES"]);
    assert_country_shape(&es);
    assert_eq!(
        es["m49"],
        json!({"region": "150", "sub_region": "039", "intermediate_region": null})
    );
    assert_eq!(es["programme_region"], "europe");
    let gw = sandbox.json(&["country", "GW"]);
    assert_country_shape(&gw);
    assert_eq!(
        gw["participation"],
        json!({"status": null, "joined_on": null})
    );
    assert_eq!(gw["cases"], json!({"open": 0, "closed": 1}));
    assert_eq!(
        gw["counterparts"],
        json!({"PT": {"meetings": 0, "activities": 0, "cases": 1},
               "VE": {"meetings": 0, "activities": 0, "cases": 1}})
    );
    let ve = sandbox.json(&["country", "VE"]);
    assert_eq!(ve["programme_region"], "latin_america_caribbean");
    assert_eq!(ve["cases"], json!({"open": 0, "closed": 1}));
}

#[test]
fn countries_and_regions_json_are_exactly_the_views() {
    let sandbox = Sandbox::with_story();
    let all = sandbox.json(&["countries"]);
    let all = all.as_array().expect("an array of country views");
    let codes: Vec<&str> = all
        .iter()
        .map(|v| v["country"].as_str().expect("code"))
        .collect();
    assert_eq!(
        codes,
        ["BO", "BR", "CV", "ES", "GH", "GW", "NG", "PA", "PT", "VE"]
    );
    for view in all {
        assert_country_shape(view);
        assert_eq!(view["as_of_sequence"], 16);
    }
    for code in ["GH", "PA"] {
        let one = sandbox.json(&["country", code]);
        assert!(all.contains(&one), "{code} as in `country`");
    }

    let regions = sandbox.json(&["regions"]);
    assert_eq!(
        object_keys(&regions),
        BTreeSet::from(["pairs", "interregional", "corridors", "as_of_sequence"])
    );
    let c = |m: u64, a: u64, k: u64| json!({"meetings": m, "activities": a, "cases": k});
    let pair = |a: &str, b: &str, counts: Value| {
        let mut v = json!({"regions": [a, b]});
        for (k, n) in counts.as_object().expect("counts") {
            v[k] = n.clone();
        }
        v
    };
    assert_eq!(
        regions["pairs"],
        json!([
            pair("europe", "latin_america_caribbean", c(1, 1, 1)),
            pair("europe", "west_africa", c(1, 1, 1)),
            pair("latin_america_caribbean", "west_africa", c(1, 1, 1)),
            pair("west_africa", "west_africa", c(1, 2, 0)),
        ])
    );
    // Inter-regional: Rio, Accra, the case; not the Panama briefing nor Lagos.
    assert_eq!(regions["interregional"]["events"], 3);
    let share = regions["interregional"]["share"].as_f64().expect("share");
    assert!((share - 0.6).abs() < 1e-9, "{regions}");
    let corridors: Vec<(String, u64)> = regions["corridors"]
        .as_array()
        .expect("corridors")
        .iter()
        .map(|c| {
            let pair = c["countries"].as_array().expect("countries");
            assert_eq!(pair.len(), 2);
            (
                format!(
                    "{}-{}",
                    pair[0].as_str().expect("code"),
                    pair[1].as_str().expect("code")
                ),
                c["events"].as_u64().expect("events"),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("BR-CV", 2),
        ("BR-ES", 2),
        ("BR-GH", 2),
        ("CV-ES", 2),
        ("ES-GH", 2),
        ("BR-NG", 1),
        ("ES-NG", 1),
        ("GW-PT", 1),
        ("GW-VE", 1),
        ("PT-VE", 1),
    ]
    .iter()
    .map(|(p, n)| ((*p).to_owned(), *n))
    .collect();
    assert_eq!(corridors, expected, "most events first, ties by codes");
    assert_eq!(regions["as_of_sequence"], 16);
    assert_eq!(regions, library_regions(&sandbox.db(), AsOf::HEAD));
}

#[test]
fn as_of_options_give_the_view_at_a_sequence_a_date_or_a_time() {
    let sandbox = Sandbox::new();
    // Two batches, so that their recording times differ.
    let lines = story_lines();
    sandbox.write("first.jsonl", &(lines[..8].join("\n") + "\n"));
    sandbox.write("second.jsonl", &(lines[8..].join("\n") + "\n"));
    sandbox.ok(&["append", "first.jsonl"]);
    sandbox.ok(&["append", "second.jsonl"]);

    // --as-of SEQ: before the correction (14) and the retraction (15).
    let gh13 = sandbox.json(&["country", "GH", "--as-of", "13"]);
    assert_country_shape(&gh13);
    assert_eq!(gh13["as_of_sequence"], 13);
    assert_eq!(gh13["activities"]["total"], 3);
    assert_eq!(gh13["activities"]["by_kind"]["training"], 1);
    assert_eq!(gh13["participants"], json!({"total": 61, "women": 12}));
    assert_eq!(
        gh13["counterparts"]["BO"],
        json!({"meetings": 0, "activities": 1, "cases": 0})
    );
    assert_eq!(
        gh13,
        library_country(&sandbox.db(), AsOf::sequence(13), "GH")
    );
    let cv15 = sandbox.json(&["country", "CV", "--as-of", "15"]);
    assert_eq!(cv15["participation"]["status"], "beneficiary");
    let countries4 = sandbox.json(&["countries", "--as-of", "4"]);
    let codes: Vec<&str> = countries4
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v["country"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["BO", "CV", "GH"]);
    let regions5 = sandbox.json(&["regions", "--as-of", "5"]);
    assert_eq!(regions5["as_of_sequence"], 5);
    assert_eq!(regions5["pairs"], json!([]));
    assert_eq!(
        regions5["interregional"],
        json!({"events": 0, "share": 0.0})
    );
    let run = sandbox
        .run(&["country", "GW", "--as-of", "9"])
        .expect_code(5, "GW not involved yet");
    assert!(run.stderr.contains("as of sequence 9"), "{run:#?}");

    // --on DATE: facts dated on or before, by today's knowledge (the correction applies).
    let gh = sandbox.json(&["country", "GH", "--on", "2019-03-05"]);
    assert_eq!(gh["activities"]["total"], 1);
    assert_eq!(gh["activities"]["by_kind"]["workshop"], 1);
    assert_eq!(gh["participants"], json!({"total": 30, "women": 6}));
    assert_eq!(gh["meetings"], 1);
    assert_eq!(
        gh,
        library_country(
            &sandbox.db(),
            AsOf::date("2019-03-05".parse().expect("date")),
            "GH"
        )
    );
    let gw = sandbox.json(&["country", "GW", "--on", "2025-10-14"]);
    assert_eq!(gw["cases"], json!({"open": 1, "closed": 0}));
    let cv = sandbox.json(&["country", "CV", "--on", "2020-02-29"]);
    assert_eq!(cv["participation"]["status"], "beneficiary");
    let regions = sandbox.json(&["regions", "--on", "2018-01-01"]);
    assert_eq!(
        regions["interregional"],
        json!({"events": 1, "share": 0.5}),
        "the Panama briefing and the Rio network meeting"
    );
    sandbox
        .run(&["country", "GH", "--on", "2016-07-20"])
        .expect_code(5, "GH had not joined yet");

    // --at TIME: what the ledger said at a recording time.
    let log = sandbox.json_lines(&["log"]);
    let time = |seq: usize| -> jiff::Timestamp {
        log[seq - 1]["recorded_at"]
            .as_str()
            .expect("recorded_at")
            .parse()
            .expect("timestamp")
    };
    let (t8, t9) = (time(8), time(9));
    assert!(t8 < t9, "two batches, two times");
    let before_t9 = t9
        .checked_sub(jiff::SignedDuration::from_nanos(1))
        .expect("time");
    for (at, seq) in [(t8, 8), (before_t9, 8), (t9, 16)] {
        let regions = sandbox.json(&["regions", "--at", &at.to_string()]);
        assert_eq!(regions["as_of_sequence"], seq, "--at {at}");
        assert_eq!(
            regions,
            sandbox.json(&["regions", "--as-of", &seq.to_string()])
        );
    }
    let gh = sandbox.json(&["country", "GH", "--at", &t8.to_string()]);
    assert_eq!(gh["as_of_sequence"], 8);
    assert_eq!(gh["activities"]["total"], 2, "Lagos and La Paz");
    assert_eq!(
        sandbox.json(&["countries", "--at", "2000-01-01T00:00:00Z"]),
        json!([])
    );

    // Regression (issue 12): beyond the head is refused (exit 2), never answered with the head.
    for args in [
        &["country", "GH", "--as-of", "99999"][..],
        &["countries", "--as-of", "17"],
        &["regions", "--as-of", "99999"],
        &["regions", "--at", "2999-01-01T00:00:00Z"],
    ] {
        let run = sandbox.run(args).expect_code(2, "beyond the head");
        assert!(
            run.stderr.contains("beyond the head") && run.stdout.is_empty(),
            "{args:?}: {run:#?}"
        );
    }
}

#[test]
fn verify_prints_the_head_and_rebuild_refolds_each_view() {
    let sandbox = Sandbox::with_story();
    let receipts = json_lines(&sandbox.ok(&["append", &story_path()]));
    let last = receipts[15]["hash"].as_str().expect("hash");
    assert_eq!(
        sandbox.ok(&["verify"]),
        format!("ok: 16 events, head 16 {last}\n")
    );
    assert_eq!(
        sandbox.json(&["verify"]),
        json!({"ok": true, "events": 16, "head_seq": 16, "head_hash": last})
    );
    let countries = sandbox.ok(&["--json", "countries"]);
    let regions = sandbox.ok(&["--json", "regions"]);
    for (view, name) in [
        (None, "All"),
        (Some("all"), "All"),
        (Some("countries"), "Countries"),
        (Some("regions"), "Regions"),
    ] {
        let mut args = vec!["rebuild"];
        args.extend(view);
        let out = sandbox.ok(&args);
        assert!(
            out.starts_with(&format!("rebuilt {name} views from 16 events")),
            "{out}"
        );
        assert_eq!(sandbox.ok(&["--json", "countries"]), countries);
        assert_eq!(sandbox.ok(&["--json", "regions"]), regions);
    }
    let json = sandbox.json(&["rebuild", "regions"]);
    assert_eq!(json["view"], "regions");
    assert_eq!(json["events"], 16);
}

#[test]
fn the_db_can_come_from_coopledger_db() {
    let sandbox = Sandbox::new();
    let db = sandbox.path().join("from-env");
    let run = Run::of(sandbox.bare().env("COOPLEDGER_DB", &db).args([
        "--create",
        "append",
        &story_path(),
    ]))
    .expect_code(0, "append via COOPLEDGER_DB");
    assert_eq!(json_lines(&run.stdout).len(), 16);
    assert!(db.join("COOPLEDGER").exists());
    let run = Run::of(sandbox.bare().env("COOPLEDGER_DB", &db).arg("verify"))
        .expect_code(0, "verify via COOPLEDGER_DB");
    assert!(
        run.stdout.starts_with("ok: 16 events, head 16 "),
        "{run:#?}"
    );
    assert!(
        !sandbox.path().join("coopledger-data").exists(),
        "the default was not used"
    );
    // --db wins over the variable.
    let run = Run::of(
        sandbox
            .bare()
            .env("COOPLEDGER_DB", &db)
            .arg("--db")
            .arg(sandbox.db())
            .arg("log"),
    )
    .expect_code(2, "--db names a missing ledger");
    assert!(run.stderr.contains("no ledger"), "{run:#?}");
}

// ---------------------------------------------------------------------------------------------
// demo

fn verify_line(out: &str) -> (u64, u64, String) {
    let line = out
        .lines()
        .rev()
        .find(|l| !l.is_empty())
        .expect("a last line");
    let rest = line
        .strip_prefix("ok: ")
        .unwrap_or_else(|| panic!("not a verify line: {line}"));
    let (events, rest) = rest.split_once(" events, head ").expect("verify line");
    let (seq, hash) = rest.split_once(' ').expect("verify line");
    assert!(is_hash(&json!(hash)), "{line}");
    (
        events.parse().expect("events"),
        seq.parse().expect("seq"),
        hash.to_owned(),
    )
}

#[test]
fn demo_records_the_story_and_a_rerun_adds_nothing() {
    let sandbox = Sandbox::new();
    let first = sandbox.ok(&["demo", "--synthetic", "40"]);
    assert!(first.contains("Ghana"), "{first}");
    assert!(first.contains("inter-regional:"), "{first}");
    let (events, head, hash) = verify_line(&first);
    assert_eq!(events, head);
    assert!(head > 40, "{first}");
    assert!(
        first.contains(&format!("{head} new, head {head}")),
        "{first}"
    );

    let second = sandbox.ok(&["demo", "--synthetic", "40"]);
    assert!(second.contains(": 0 new, head "), "{second}");
    assert_eq!(verify_line(&second), (events, head, hash.clone()));
    assert_eq!(
        sandbox.ok(&["verify"]),
        format!("ok: {events} events, head {head} {hash}\n")
    );
}

#[test]
fn readme_quick_start_demo_runs_in_a_fresh_directory() {
    let sandbox = Sandbox::new();
    let run = Run::of(sandbox.bare().arg("demo")).expect_code(0, "coopledger demo");
    let (events, head, _) = verify_line(&run.stdout);
    assert_eq!(events, head);
    assert_eq!(head, 47, "the story of the seeds and nothing else");
    assert!(run.stdout.contains("./coopledger-data"), "{}", run.stdout);
    assert!(sandbox.path().join("coopledger-data/COOPLEDGER").exists());
}

// ---------------------------------------------------------------------------------------------
// snapshots of the human-readable output

#[test]
fn snapshot_country_table() {
    let sandbox = Sandbox::with_story();
    insta::assert_snapshot!("country_gh", sandbox.ok(&["country", "GH"]));
    insta::assert_snapshot!("country_gw", sandbox.ok(&["country", "GW"]));
}

#[test]
fn snapshot_countries_table() {
    let sandbox = Sandbox::with_story();
    insta::assert_snapshot!("countries", sandbox.ok(&["countries"]));
}

#[test]
fn snapshot_regions_table() {
    let sandbox = Sandbox::with_story();
    insta::assert_snapshot!("regions", sandbox.ok(&["regions"]));
    insta::assert_snapshot!("regions_top_3", sandbox.ok(&["regions", "--top", "3"]));
}

#[test]
fn snapshot_log_table() {
    let sandbox = Sandbox::with_story();
    let table = sandbox.ok(&["log"]);
    let redacted = redact_times(&table);
    assert_ne!(table, redacted, "the recording times were redacted");
    insta::assert_snapshot!("log", redacted);
}

/// The id `import` derives for a line without `event_id` is a stored contract
/// (`docs/format.md`, "Derived ids"): the same line imported again adds nothing, and its id is
/// the documented digest.
#[test]
fn import_derives_the_documented_id_for_a_line_without_one() {
    let sandbox = Sandbox::new();
    let line = r#"{"type":"CountryJoined","recorded_by":"staff.vienna","country":"CV","joined_on":"2016-07-21","participation":"beneficiary"}"#;
    let file = sandbox.write("no-id.jsonl", &format!("{line}\r\n"));
    let file = file.to_str().expect("utf-8 path");
    sandbox.ok(&["import", file]);
    sandbox.ok(&["import", file]);
    let log = sandbox.json_lines(&["log"]);
    assert_eq!(log.len(), 1, "the second import added nothing");
    assert_eq!(log[0]["event_id"], "d6fd445e-f8db-86a2-9eed-a908c5452f2d");
}

/// Creating a ledger is explicit (issue 13): `init`, `--create`, or the demo. Every other
/// command on a missing ledger says "no ledger at DIR" (exit 2) and creates nothing; an append
/// refused by a rule leaves no empty ledger behind, even with `--create`.
#[test]
fn explicit_creation_only_init_create_and_demo_make_a_ledger() {
    let sandbox = Sandbox::new();
    let db = sandbox.db();
    let story = story_path();
    for args in [
        &["append", story.as_str()][..],
        &["import", story.as_str()],
        &["serve", "--addr", "127.0.0.1:0"],
    ] {
        let run =
            Run::of(sandbox.bare().arg("--db").arg(&db).args(args)).expect_code(2, &args.join(" "));
        assert!(
            run.stderr
                .contains(&format!("no ledger at {}", db.display()))
                && run.stderr.contains("coopledger --db")
                && run.stderr.contains("init"),
            "{args:?}: {run:#?}"
        );
        assert!(!db.exists(), "{args:?} created the ledger");
    }
    // Refused by a contextual rule, with --create: nothing is left behind.
    let orphan = sandbox.write(
        "orphan.jsonl",
        r#"{"type":"CaseClosed","recorded_by":"t","case_id":"0190f0a1-7c2e-7a10-8b3e-00000000c0ff","closed_on":"2020-01-01","outcome":"unknown"}"#,
    );
    let orphan = orphan.to_str().expect("utf-8 path");
    for command in ["append", "import"] {
        let run = Run::of(
            sandbox
                .bare()
                .arg("--db")
                .arg(&db)
                .args(["--create", command, orphan]),
        )
        .expect_code(2, command);
        assert!(run.stderr.contains("case_not_open"), "{command}: {run:#?}");
        assert!(!db.exists(), "a refused {command} left a ledger behind");
    }
    let run = Run::of(sandbox.bare().arg("--db").arg(&db).arg("init")).expect_code(0, "init");
    assert!(run.stdout.contains("created an empty ledger"), "{run:#?}");
    assert!(db.join("COOPLEDGER").exists());
    let run = Run::of(sandbox.bare().arg("--db").arg(&db).arg("init")).expect_code(2, "init twice");
    assert!(run.stderr.contains("already a ledger"), "{run:#?}");
    Run::of(
        sandbox
            .bare()
            .arg("--db")
            .arg(&db)
            .args(["append", story.as_str()]),
    )
    .expect_code(0, "append to the ledger init made");
}
