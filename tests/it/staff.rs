//! The routes staff take without writing JSON (issue 15), through the binary and a real HTTP
//! port: spreadsheets (`template`, `append FILE.csv`, `import FILE.csv`, `import --check`),
//! corrections (`amend`), the dry-run endpoint behind the dashboard's form, and the command
//! line's conventions (exit 5 for not found, errors as JSON, completions, the man page,
//! `--json` everywhere, dates that say what they expect).

use std::path::Path;

use serde_json::{Value, json};

use crate::cli::{Run, Sandbox, story_path};
use crate::support::Served;
use crate::support::client;

const STAFF: &str = "staff-token-0123456789";
const READER: &str = "reader-token-0123456789";
const LAGOS_ACTIVITY: &str = "0190f0a1-7c2e-7a10-8b3e-00000000b001";
const CASE: &str = "0190f0a1-7c2e-7a10-8b3e-00000000c001";

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `FILE:ROW:COLUMN: header: rule (value)`, split into (row, column, header, rule).
fn sheet_problem(line: &str) -> (usize, String, String, String) {
    let mut parts = line.splitn(4, ':');
    let _file = parts.next();
    let row = parts
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let column = parts.next().unwrap_or_else(|| panic!("{line}")).to_owned();
    let rest = parts
        .next()
        .unwrap_or_else(|| panic!("{line}"))
        .trim_start();
    let (header, rest) = rest.split_once(": ").unwrap_or_else(|| panic!("{line}"));
    let (rule, _) = rest.split_once(" (").unwrap_or_else(|| panic!("{line}"));
    (row, column, header.to_owned(), rule.to_owned())
}

/// `FILE:LINE: field: rule (value)`, split into (line, rule).
fn json_problem(line: &str) -> (usize, String) {
    let mut parts = line.splitn(3, ':');
    let _file = parts.next();
    let number = parts
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let rest = parts.next().unwrap_or_else(|| panic!("{line}"));
    let (_, rest) = rest
        .trim_start()
        .split_once(": ")
        .unwrap_or_else(|| panic!("{line}"));
    let (rule, _) = rest.split_once(" (").unwrap_or_else(|| panic!("{line}"));
    (number, rule.to_owned())
}

#[test]
fn the_accra_training_goes_in_from_its_template_and_a_rerun_adds_nothing() {
    let sandbox = Sandbox::new();
    let template = sandbox.path().join("accra.csv");
    sandbox.ok(&["template", "ActivityDelivered", "--out", path(&template)]);
    let text = std::fs::read_to_string(&template).expect("the template");
    let mut lines = text.lines();
    let header = lines.next().expect("a header row");
    assert!(
        header.starts_with("\u{feff}type,"),
        "a BOM for Excel: {header}"
    );
    for column in [
        "venue.city",
        "venue.country",
        "participants.total",
        "participants.women",
        "beneficiaries",
    ] {
        assert!(
            header.split(',').any(|h| h == column),
            "{column} in {header}"
        );
    }
    assert!(
        lines.next().expect("an example row").contains("GH;NG"),
        "lists as GH;NG"
    );
    // The example row is the Accra training; its recorder comes from the environment.
    let blank_recorder = text.replace(",staff.accra,", ",,");
    std::fs::write(&template, &blank_recorder).expect("write");
    let receipts = Run::of(
        sandbox
            .cmd(&["append", path(&template)])
            .env("COOPLEDGER_RECORDED_BY", "officer.accra"),
    )
    .expect_code(0, "append the sheet");
    let first: Value = serde_json::from_str(receipts.stdout.trim()).expect("a receipt");
    let log = sandbox.json_lines(&["log"]);
    assert_eq!(log.len(), 1);
    let e = &log[0];
    assert_eq!(
        (
            e["type"].as_str(),
            e["recorded_by"].as_str(),
            e["participants"].clone()
        ),
        (
            Some("ActivityDelivered"),
            Some("officer.accra"),
            json!({"total": 25, "women": 8, "men": 17})
        )
    );
    assert_eq!(e["beneficiaries"], json!(["GH", "NG"]));
    assert_eq!(e["event_id"], first["event_id"]);
    assert!(
        e["stream"]
            .as_str()
            .is_some_and(|s| s.starts_with("activity/")),
        "a derived activity id"
    );
    // The same sheet again, appended or imported: the same derived ids, nothing new.
    let again = Run::of(
        sandbox
            .cmd(&["append", path(&template)])
            .env("COOPLEDGER_RECORDED_BY", "officer.accra"),
    )
    .expect_code(0, "append again");
    assert_eq!(again.stdout, receipts.stdout, "the original receipt");
    let imported = sandbox.json(&["import", path(&template), "--recorded-by", "officer.accra"]);
    assert_eq!(
        (imported["new"].as_u64(), imported["existing"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(sandbox.head(), 1);
}

#[test]
fn every_problem_of_every_row_is_named_by_file_row_column_and_nothing_is_appended() {
    let sandbox = Sandbox::with_story();
    let sheet = sandbox.write(
        "trainings.csv",
        "kind,title,pillar,start,end,venue.city,venue.country,beneficiaries,participants.total,participants.women\n\
         trainnig,,capacity_building,2026-02-30,2026-03-05,Accra,GH,GH;NG,25,8\n\
         training,Lagos,capacity_building,2026-03-03,2026-03-05,Lagos,NG,NG;XX,25,30\n\
         training,Abuja,capacity_building,2026-03-03,2026-03-04,virtual,,NG,12,\n",
    );
    let run = sandbox
        .run(&[
            "append",
            path(&sheet),
            "--type",
            "ActivityDelivered",
            "--recorded-by",
            "officer",
        ])
        .expect_code(2, "invalid rows");
    let mut found: Vec<_> = run.stderr_lines().into_iter().map(sheet_problem).collect();
    found.sort();
    let expected: Vec<(usize, String, String, String)> = [
        (2, "A", "kind", "invalid_value"),
        (2, "B", "title", "missing_field"),
        (2, "D", "start", "invalid_date"),
        (3, "H", "beneficiaries", "country_code"),
        (3, "J", "participants.women", "participants_breakdown"),
    ]
    .into_iter()
    .map(|(r, c, h, rule)| (r, c.to_owned(), h.to_owned(), rule.to_owned()))
    .collect();
    assert_eq!(found, expected, "{}", run.stderr);
    assert!(
        run.stderr.contains("expected one of `training`"),
        "allowed values named: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\"2026-02-30\""),
        "the value is quoted: {}",
        run.stderr
    );
    assert_eq!(
        sandbox.head(),
        16,
        "nothing appended, not even the valid row"
    );
    // The same with --json: one document on stderr, every problem in it.
    let mut cmd = sandbox.cmd(&[
        "--json",
        "append",
        path(&sheet),
        "--type",
        "ActivityDelivered",
        "--recorded-by",
        "officer",
    ]);
    let run = Run::of(&mut cmd).expect_code(2, "invalid rows, JSON");
    let doc: Value = serde_json::from_str(run.stderr.trim()).expect("one JSON document on stderr");
    assert_eq!(
        (doc["exit"].as_u64(), doc["kind"].as_str()),
        (Some(2), Some("invalid"))
    );
    let problems = doc["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 5, "{doc:#}");
    let start = problems
        .iter()
        .find(|p| p["field"] == "start")
        .expect("start");
    assert_eq!(
        (
            start["line"].as_u64(),
            start["column"].as_str(),
            start["rule"].as_str()
        ),
        (Some(2), Some("D"), Some("invalid_date"))
    );
    assert!(
        start["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("trainings.csv"))
    );
}

#[test]
fn an_excel_export_with_bom_semicolons_crlf_and_quoted_cells_imports() {
    let sandbox = Sandbox::new();
    let sheet = sandbox.path().join("excel.csv");
    let text = "\u{feff}type;recorded_by;kind;title;pillar;start;end;venue.city;venue.country;beneficiaries;participants.total\r\n\
        ActivityDelivered;officer;workshop;\"Workshop; Accra\";capacity_building;2026-03-03;2026-03-05;Accra;GH;\"GH;NG\";20\r\n\
        ActivityDelivered;officer;training;\"Training\r\nLagos\";capacity_building;2026-03-03;2026-03-05;Lagos;NG;NG;20\r\n\
        ;;;;;;;;;;\r\n";
    std::fs::write(&sheet, text).expect("write");
    let run = sandbox
        .run(&["import", path(&sheet)])
        .expect_code(2, "the line break in a title");
    let found: Vec<_> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| !l.starts_with("import stopped"))
        .map(sheet_problem)
        .collect();
    assert_eq!(
        found,
        [(
            3,
            "D".to_owned(),
            "title".to_owned(),
            "control_character".to_owned()
        )],
        "the quoted line break stays in its cell: {}",
        run.stderr
    );
    std::fs::write(&sheet, text.replace("Training\r\nLagos", "Training, Lagos")).expect("write");
    let summary = sandbox.json(&["import", path(&sheet)]);
    assert_eq!(
        (summary["lines"].as_u64(), summary["new"].as_u64()),
        (Some(2), Some(2))
    );
    let titles: Vec<String> = sandbox
        .json_lines(&["log"])
        .iter()
        .map(|e| e["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(titles, ["Workshop; Accra", "Training, Lagos"]);
}

fn case_opened(case: &str, n: u64) -> String {
    json!({"type": "CaseOpened", "recorded_by": "officer", "event_id": format!("0190f0a1-7c2e-7a10-8b3e-{n:012}"),
        "case_id": case, "codename": "NEW", "case_type": "other", "countries": ["GH", "NG"], "lead": "GH",
        "opened_on": "2024-01-10"})
    .to_string()
}

fn milestone(case: &str, n: u64) -> String {
    json!({"type": "CaseMilestoneRecorded", "recorded_by": "officer", "event_id": format!("0190f0a1-7c2e-7a10-8b3e-{n:012}"),
        "case_id": case, "on": "2024-02-01", "milestone": {"kind": "arrests", "country": "GH", "count": 3}})
    .to_string()
}

#[test]
fn import_check_judges_every_batch_against_the_ledger_and_the_batches_before_and_appends_nothing() {
    let sandbox = Sandbox::with_story();
    let new_case = "0190f0a1-7c2e-7a10-8b3e-00000000c0aa";
    let unknown = "0190f0a1-7c2e-7a10-8b3e-00000000c0bb";
    // Batches of two: the case opened in the first batch has a milestone in the second; the
    // third batch has a milestone of a case nobody opened, a bad date and a closed case's
    // milestone (the story closed CASE).
    let lines = [
        case_opened(new_case, 201),
        json!({"type": "CountryJoined", "recorded_by": "officer", "event_id": "0190f0a1-7c2e-7a10-8b3e-000000000202",
            "country": "NG", "joined_on": "2019-01-01", "participation": "beneficiary"}).to_string(),
        milestone(new_case, 203),
        milestone(CASE, 204),
        milestone(unknown, 205),
        json!({"type": "CountryJoined", "recorded_by": "officer", "country": "PE", "joined_on": "2019-02-30",
            "participation": "beneficiary"}).to_string(),
    ];
    let file = sandbox.write("big.jsonl", &(lines.join("\n") + "\n"));
    let run = sandbox
        .run(&["import", "--check", "--batch", "2", path(&file)])
        .expect_code(2, "problems found");
    let problems: Vec<(usize, String)> = run
        .stderr_lines()
        .iter()
        .filter(|l| l.contains(".jsonl:"))
        .map(|l| json_problem(l))
        .collect();
    assert_eq!(
        problems,
        [
            (4, "case_not_open".to_owned()),
            (5, "case_not_open".to_owned()),
            (6, "invalid_date".to_owned())
        ],
        "every problem of every batch, and none for the milestone of the case opened a batch earlier: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was appended"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.head(), 16, "nothing was appended");
    // The import without --check stops at the first bad batch and says how far it got.
    let run = sandbox
        .run(&["import", "--batch", "2", path(&file)])
        .expect_code(2, "the import stops");
    assert!(
        run.stderr.contains("import stopped: 2 new events"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.head(), 18, "the first batch is in");
    // Fixed, the whole file checks out and says what an import would add.
    let fixed = [lines[0].clone(), lines[1].clone(), lines[2].clone()];
    let file = sandbox.write("fixed.jsonl", &(fixed.join("\n") + "\n"));
    let summary = sandbox.json(&["import", "--check", path(&file)]);
    assert_eq!(
        (
            summary["valid"].as_bool(),
            summary["new"].as_u64(),
            summary["existing"].as_u64()
        ),
        (Some(true), Some(1), Some(2))
    );
}

/// Runs `cmd` to its end; returns its exit code and its peak resident memory in KiB: the
/// kernel's high-water mark (`VmHWM`), read every few milliseconds while it runs (the last
/// reading is at most that long before it exits, after its work is done).
fn peak_rss(cmd: &mut std::process::Command) -> (Option<i32>, u64) {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Some(hwm) = std::fs::read_to_string(&status).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        }) {
            peak = peak.max(hwm);
        }
        if let Some(exit) = child.try_wait().expect("wait") {
            return (exit.code(), peak);
        }
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
}

/// `import --check` holds one batch at a time: what the batches before it added goes to the
/// scratch store on disk, so checking a file costs no more memory than importing it. (Before
/// the scratch store, a check also staged every record of the file in memory: 28 MiB more than
/// the import at its peak for this file, in a debug build.) sled's caches are kept small, so
/// that what the process holds besides them shows.
#[test]
fn import_check_takes_no_more_memory_than_the_import() {
    let sandbox = Sandbox::with_story();
    let lines = crate::support::activity_lines(40_000);
    let file = sandbox.write("activities.jsonl", &(lines.join("\n") + "\n"));
    let copy = sandbox.path().join("copy");
    let copied = std::process::Command::new("cp")
        .arg("-r")
        .arg(sandbox.db())
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(copied.success());
    let peak_of = |db: &Path, args: &[&str]| {
        let (code, kib) = peak_rss(
            std::process::Command::new(assert_cmd::cargo::cargo_bin("coopledger"))
                .current_dir(sandbox.path())
                .env_remove("COOPLEDGER_LOG")
                .env("COOPLEDGER_CACHE_MB", "2")
                .arg("--db")
                .arg(db)
                .args(args)
                .args(["--batch", "1000", path(&file)]),
        );
        assert_eq!(code, Some(0), "{args:?} succeeds");
        kib
    };
    let checked = peak_of(&sandbox.db(), &["import", "--check"]);
    assert_eq!(sandbox.head(), 16, "nothing was appended");
    let imported = peak_of(&copy, &["import"]);
    assert!(
        checked < imported + 6 * 1024,
        "the check peaked at {checked} KiB, the import of the same file at {imported} KiB"
    );
}

#[test]
fn import_check_of_a_sheet_against_a_ledger_not_yet_made_creates_nothing() {
    let sandbox = Sandbox::new();
    let sheet = sandbox.write(
        "joined.csv",
        "type,recorded_by,country,joined_on,participation\nCountryJoined,officer,GH,2016-07-21,beneficiary\nCountryJoined,officer,GH,2016-07-22,beneficiary\n",
    );
    let run = sandbox
        .run(&["import", "--check", path(&sheet)])
        .expect_code(2, "GH joins twice");
    let found: Vec<_> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("joined.csv:"))
        .map(sheet_problem)
        .collect();
    assert_eq!(
        found,
        [(
            3,
            "C".to_owned(),
            "country".to_owned(),
            "already_participant".to_owned()
        )],
        "a contextual problem is named by row and column too: {}",
        run.stderr
    );
    assert!(!sandbox.db().exists(), "no ledger was made by a check");
}

#[test]
fn amend_corrects_the_effective_fact_of_an_entity() {
    let sandbox = Sandbox::with_story();
    let before = sandbox.json(&["country", "NG"]);
    // The Lagos workshop was corrected once already (seq 14): amend starts from that.
    let run = Run::of(&mut sandbox.cmd(&[
        "amend",
        LAGOS_ACTIVITY,
        "--set",
        "participants.total=40",
        "--reason",
        "The attendance list has 40 names",
        "--recorded-by",
        "officer.abuja",
    ]))
    .expect_code(0, "amend");
    assert!(run.stdout.contains("sequence 17"), "{}", run.stdout);
    let event = sandbox.json_lines(&["log", "--from", "17"]).remove(0);
    assert_eq!(event["type"], "EventCorrected");
    assert_eq!(event["target"], "0190f0a1-7c2e-7a10-8b3e-000000000007");
    let replacement = &event["replacement"];
    assert_eq!(replacement["participants"]["total"], 40);
    let corrected = sandbox.json_lines(&["show", "0190f0a1-7c2e-7a10-8b3e-000000000014"]);
    assert_eq!(
        replacement["participants"]["women"], corrected[0]["replacement"]["participants"]["women"],
        "the other fields are the effective ones, not the original's"
    );
    let after = sandbox.json(&["country", "NG"]);
    assert_ne!(before["participants"], after["participants"]);
    // A field the type lacks, a value the rules refuse: exit 2, nothing appended.
    for (set, rule) in [
        ("colour=red", "unknown_field"),
        ("participants.women=90", "participants_breakdown"),
    ] {
        let run = sandbox
            .run(&[
                "amend",
                LAGOS_ACTIVITY,
                "--set",
                set,
                "--reason",
                "x",
                "--recorded-by",
                "o",
            ])
            .expect_code(2, set);
        assert!(run.stderr.contains(rule), "{set}: {}", run.stderr);
    }
    let run = sandbox
        .run(&[
            "amend",
            "0190f0a1-7c2e-7a10-8b3e-0000000000ff",
            "--set",
            "title=x",
            "--reason",
            "x",
            "--recorded-by",
            "o",
        ])
        .expect_code(5, "no such entity");
    assert!(
        run.stderr.contains("no event, meeting, activity or case"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.head(), 17);
}

#[test]
fn not_found_has_its_own_exit_code() {
    let sandbox = Sandbox::with_story();
    let missing = "0190f0a1-7c2e-7a10-8b3e-0000000009ff";
    sandbox.run(&["show", missing]).expect_code(5, "show");
    sandbox
        .run(&["country", "US"])
        .expect_code(5, "a country never involved");
    sandbox.run(&["receipt", missing]).expect_code(5, "receipt");
    let help = sandbox.ok(&["--help"]);
    assert!(help.contains("5  not found"), "{help}");
}

#[test]
fn a_bad_date_says_what_it_expects() {
    let sandbox = Sandbox::with_story();
    for date in ["2019-13-01", "31/12/2019"] {
        let run = sandbox
            .run(&["country", "GH", "--on", date])
            .expect_code(2, date);
        assert!(
            run.stderr.contains("expected YYYY-MM-DD"),
            "{date}: {}",
            run.stderr
        );
    }
    let run = sandbox
        .run(&["regions", "--at", "yesterday"])
        .expect_code(2, "a bad time");
    assert!(run.stderr.contains("expected RFC 3339"), "{}", run.stderr);
}

#[test]
fn the_log_table_shows_event_ids_and_says_when_more_rows_exist() {
    let sandbox = Sandbox::with_story();
    let table = sandbox.ok(&["log", "--limit", "3"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("EVENT ID"), "{table}");
    assert!(
        lines[1].contains("0190f0a1-7c2e-7a10-8b3e-000000000001"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "header, three rows, the note: {table}");
    assert!(lines[4].contains("coopledger log --from 4"), "{table}");
    let reverse = sandbox.ok(&["log", "--limit", "2", "--reverse"]);
    assert!(
        reverse.contains("coopledger log --from 14 --reverse"),
        "{reverse}"
    );
    let all = sandbox.ok(&["log", "--limit", "16"]);
    assert!(!all.contains("more events"), "{all}");
}

#[test]
fn completions_and_the_man_page_come_from_the_parser() {
    let sandbox = Sandbox::new();
    let bash = sandbox.ok(&["completions", "bash"]);
    for word in ["amend", "template", "schema", "--recorded-by", "--check"] {
        assert!(bash.contains(word), "{word} in the bash completions");
    }
    assert!(
        sandbox
            .ok(&["completions", "zsh"])
            .starts_with("#compdef coopledger")
    );
    let man = sandbox.ok(&["man"]);
    assert!(man.contains(".TH coopledger 1"), "a man page");
    for word in ["COOPLEDGER AMEND", "not found", "\\-\\-recorded\\-by"] {
        assert!(man.contains(word), "{word} in the man page");
    }
    sandbox
        .run(&["completions", "tcsh"])
        .expect_code(2, "an unknown shell");
}

#[test]
fn every_command_honours_json() {
    let sandbox = Sandbox::new();
    let created = sandbox.json(&["init"]);
    assert!(
        created["created"]
            .as_str()
            .is_some_and(|d| d.ends_with("db")),
        "{created}"
    );
    sandbox.ok(&["append", &story_path()]);
    let key = sandbox.path().join("ledger.key");
    let keys = sandbox.json(&["keygen", "--out", path(&key)]);
    assert!(
        keys["verifier"]
            .as_str()
            .is_some_and(|v| v.starts_with("coopledger.local/ledger+")),
        "{keys}"
    );
    let checkpoint = sandbox.json(&["checkpoint", "--key", path(&key)]);
    assert_eq!(checkpoint["size"], 16);
    assert_eq!(checkpoint["root"].as_str().map(str::len), Some(64));
    let note = sandbox.path().join("cp.txt");
    std::fs::write(&note, checkpoint["note"].as_str().expect("the note")).expect("write");
    let pubkey = format!("{}.pub", path(&key));
    let verified = sandbox.json(&["verify", "--checkpoint", path(&note), "--pubkey", &pubkey]);
    assert_eq!(
        (verified["ok"].as_bool(), verified["head_seq"].as_u64()),
        (Some(true), Some(16))
    );
    let receipt = sandbox.json(&["receipt", "0190f0a1-7c2e-7a10-8b3e-000000000003"]);
    let file = sandbox.write("receipt.json", &receipt.to_string());
    let checked = sandbox.json(&["verify-receipt", path(&file), "--pubkey", &pubkey]);
    assert_eq!(
        (checked["ok"].as_bool(), checked["seq"].as_u64()),
        (Some(true), Some(3))
    );
    let demo = Sandbox::new();
    let summary = demo.json(&["demo", "--synthetic", "50"]);
    assert_eq!(summary["verified"]["ok"], true, "{summary}");
    assert_eq!(summary["head"], summary["verified"]["head_seq"]);
    // A server's start line too: its URL, read by a script, answers.
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("coopledger"))
        .current_dir(sandbox.path())
        .arg("--db")
        .arg(sandbox.db())
        .args(["--json", "serve", "--addr", "127.0.0.1:0", "--public-reads"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("the start line");
    let started: Value = serde_json::from_str(&line).expect("a JSON start line");
    assert_eq!(started["read_only"], false, "{started}");
    let url = started["url"].as_str().expect("url").to_owned();
    let head: Value = client()
        .get(format!("{url}/v1/head"))
        .send()
        .expect("GET /v1/head")
        .json()
        .expect("JSON");
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(head["seq"], 16, "{head}");
}

#[test]
fn the_check_endpoint_judges_like_an_append_and_writes_nothing() {
    let sandbox = Sandbox::with_story();
    let tokens = sandbox.write("tokens.txt", &format!("staff {STAFF}\nreader {READER}\n"));
    let served = Served::start(&sandbox.db(), &tokens, false);
    let http = client();
    let check = |body: &str, token: &str| {
        http.post(served.url("/v1/events/check"))
            .bearer_auth(token)
            .body(body.to_owned())
            .send()
            .expect("POST")
    };
    let head = || {
        http.get(served.url("/v1/head"))
            .bearer_auth(READER)
            .send()
            .expect("GET")
            .json::<Value>()
            .expect("JSON")["seq"]
            .as_u64()
            .expect("seq")
    };
    let new_case = "0190f0a1-7c2e-7a10-8b3e-00000000c0cc";
    let body = format!(
        "{}\n{}\n",
        case_opened(new_case, 301),
        milestone(new_case, 302)
    );
    let response = check(&body, STAFF);
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().expect("JSON");
    crate::support::check_schema("/v1/events/check", "post", 200, &answer);
    assert_eq!(answer["valid"], true);
    assert_eq!(answer["events"][1]["stream"], format!("case/{new_case}"));
    assert_eq!(answer["events"][1]["new"], true);
    assert_eq!(head(), 16, "a check writes nothing");
    // Contextual rules too: a milestone of a case that is closed, with its line.
    let response = check(&format!("{}\n", milestone(CASE, 303)), STAFF);
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().expect("JSON");
    let v = &problem["violations"][0];
    assert_eq!(
        (v["rule"].as_str(), v["position"]["line"].as_u64()),
        (Some("case_not_open"), Some(1))
    );
    assert_eq!(check(&body, READER).status(), 403, "a reader may not check");
    // Appended for real, the same body checks as already recorded.
    let appended = http
        .post(served.url("/v1/events"))
        .bearer_auth(STAFF)
        .body(body.clone())
        .send()
        .expect("POST");
    assert!(appended.status().is_success());
    let again: Value = check(&body, STAFF).json().expect("JSON");
    assert_eq!(again["events"][0]["new"], false);
    assert_eq!(head(), 18);
}

#[test]
fn a_sheet_goes_through_a_server_too() {
    let sandbox = Sandbox::with_story();
    let tokens = sandbox.write("tokens.txt", &format!("staff {STAFF}\n"));
    let served = Served::start(&sandbox.db(), &tokens, false);
    let sheet = sandbox.write(
        "joined.csv",
        "country,joined_on,participation\n\nPE,2019-01-01,beneficiary\nPE,2019-01-02,beneficiary\n",
    );
    let mut cmd = sandbox.bare();
    cmd.args([
        "--server",
        &served.url(""),
        "--token",
        STAFF,
        "append",
        path(&sheet),
        "--type",
        "CountryJoined",
        "--recorded-by",
        "officer",
    ]);
    let run = Run::of(&mut cmd).expect_code(2, "PE joins twice");
    assert!(
        run.stderr.contains("joined.csv:4: ") && run.stderr.contains("already_participant"),
        "the row of the problem: {}",
        run.stderr
    );
}

/// Found by schemathesis (issue 15): `offset + limit` overflowed for the largest offset the
/// document allows, and the server answered 500.
#[test]
fn a_countries_page_far_past_the_end_is_empty_not_a_server_error() {
    let sandbox = Sandbox::with_story();
    let tokens = sandbox.write("tokens.txt", &format!("reader {READER}\n"));
    let served = Served::start(&sandbox.db(), &tokens, false);
    let response = client()
        .get(served.url("/v1/countries?offset=18446744073709551615&limit=1"))
        .bearer_auth(READER)
        .send()
        .expect("GET");
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().expect("JSON"), json!([]));
}

/// `import --check`'s ledger on a real sled directory: appends to a scratch ledger
/// (`Ledger::open_scratch`) see the ones before them and are seen in its views, while the
/// ledger itself is never written (its head and views after are as before, and the scratch
/// directory is gone once the scratch ledger is dropped); a `dry_run` request is rolled back at
/// once, so the requests after it in its group do not see it.
#[test]
fn checks_stage_in_order_write_nothing_and_are_seen_by_nothing_after_them() {
    use coopledger::ledger::Request;
    use coopledger::{AsOf, Ledger};

    let dir = crate::support::tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("a ledger");
    let story = std::fs::read_to_string(story_path()).expect("the story");
    ledger
        .append(crate::support::events(
            &story
                .lines()
                .map(|l| serde_json::from_str(l).expect("JSON"))
                .collect::<Vec<Value>>(),
        ))
        .expect("the story");
    drop(ledger);
    // The views as loaded from the store, to compare with those loaded after the checks.
    let ledger = Ledger::open(dir.path()).expect("reopen");
    let head = ledger.reader().head();
    let views = ledger.reader().views_at(AsOf::HEAD).expect("views");
    let open_cases = |ledger: &Ledger| {
        let views = ledger.reader().views_at(AsOf::HEAD).expect("views");
        let gh = views.country_view(crate::support::cc("GH")).expect("GH");
        gh.cases.open
    };
    let before = open_cases(&ledger);
    drop(ledger);
    let new_case = "0190f0a1-7c2e-7a10-8b3e-00000000c0dd";
    let opened =
        crate::support::events(&[serde_json::from_str(&case_opened(new_case, 401)).expect("JSON")]);
    let milestone_of =
        |n| crate::support::events(&[serde_json::from_str(&milestone(new_case, n)).expect("JSON")]);

    let scratches = || {
        std::fs::read_dir(std::env::temp_dir())
            .expect("temp dir")
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("coopledger-scratch-{}-", std::process::id()))
            })
            .count()
    };
    let mut scratch =
        Ledger::open_scratch(&coopledger::store::Location::from(dir.path())).expect("scratch");
    assert_eq!(
        scratch.reader().head(),
        head,
        "the scratch starts at the ledger's head"
    );
    let receipts: Vec<u64> = [opened.clone(), milestone_of(402)]
        .into_iter()
        .map(|events| scratch.append(events).expect("valid in order")[0].seq)
        .collect();
    assert_eq!(
        receipts,
        [head.seq + 1, head.seq + 2],
        "the milestone sees the case opened before it"
    );
    assert_eq!(
        open_cases(&scratch),
        before + 1,
        "the scratch's views see it"
    );
    assert!(scratches() >= 1, "the scratch store is on disk");
    drop(scratch);
    assert_eq!(
        scratches(),
        0,
        "the scratch store is removed with its ledger"
    );

    let mut ledger = Ledger::open(dir.path()).expect("reopen");
    assert_eq!(ledger.reader().head(), head, "nothing written");
    assert_eq!(
        ledger
            .reader()
            .views_at(AsOf::HEAD)
            .expect("views")
            .as_ref(),
        views.as_ref(),
        "the views are as they were"
    );
    // A dry run in a group: answered, rolled back, unseen by the request after it.
    let mut dry = Request::append(opened.clone());
    dry.dry_run = true;
    let answers = ledger.append_group(vec![dry, Request::append(milestone_of(403))]);
    assert_eq!(
        answers[0].as_ref().map(|r| r[0].seq).ok(),
        Some(head.seq + 1)
    );
    let refused = answers[1].as_ref().expect_err("the case was only checked");
    assert!(
        refused.has_rule(coopledger::proto_events::Rule::CaseNotOpen),
        "{refused}"
    );
    assert_eq!(ledger.reader().head(), head, "still nothing written");
    // The real appends get what the check said, and count once in the views.
    let appended = ledger.append(opened).expect("append");
    assert_eq!(appended[0].seq, head.seq + 1);
    assert_eq!(
        ledger.append(milestone_of(402)).expect("append")[0].seq,
        head.seq + 2
    );
    assert_eq!(open_cases(&ledger), before + 1);
}
