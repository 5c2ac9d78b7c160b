//! The bad-input corpus (`tests/bad-input/`) through the real binary.
//!
//! Each case is a staff file `NNN-short-name.jsonl` (or `.json`) with a sibling
//! `NNN-short-name.expected` listing the problems `coopledger append` must report, one per line,
//! in any order:
//!
//! ```text
//! # free comment
//! # setup: setup/ledger.jsonl      (appended first, to a fresh ledger; must succeed)
//! # import: skip (why)             (do not run the case through `coopledger import`)
//! # import: exit 3                 (the exit code `import` must give, 2 unless told)
//! # import: 2: (line): syntax      (what `import` must report, instead of the default)
//! 3: participants.women: participants_breakdown
//! 5: titel: unknown_field ("titel")
//! ```
//!
//! A problem is `LINE: FIELD: RULE`, optionally followed by ` (TEXT` (a closing parenthesis is
//! optional): the reported value must contain TEXT. FIELD `*` matches any field.
//!
//! For every case, on a fresh ledger directory (after its setup), `append FILE` must exit 2 (never
//! 0, never a panic), print nothing on stdout, report every expected problem as
//! `FILE:LINE: field: rule (value)` and no other, and append nothing (`log --json` counts the
//! setup's events only). JSONL cases also go through `import FILE`, which stops at the first bad
//! line: unless told otherwise it must report the expected problems of the smallest line.
//!
//! All failures of all cases are collected into one assertion message.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::tempdir;

/// Fewer cases than this means the corpus was not found or lost files.
const MIN_CASES: usize = 60;
/// Worker threads running cases.
const WORKERS: usize = 2;
/// A run of the binary taking longer than this is a failure (a hang, not slowness).
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input")
}

/// One expected problem.
#[derive(Debug, Clone)]
struct Expected {
    line: usize,
    /// `*` for any field.
    field: String,
    rule: String,
    /// Text the reported value must contain.
    value: Option<String>,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: {}", self.line, self.field, self.rule)?;
        if let Some(v) = &self.value {
            write!(f, " ({v}…)")?;
        }
        Ok(())
    }
}

/// One reported problem, parsed from a stderr line.
#[derive(Debug, Clone)]
struct Reported {
    line: usize,
    field: String,
    rule: String,
    value: String,
}

impl Expected {
    fn matches(&self, r: &Reported) -> bool {
        self.line == r.line
            && self.rule == r.rule
            && (self.field == "*" || self.field == r.field)
            && self
                .value
                .as_ref()
                .is_none_or(|v| r.value.contains(v.as_str()))
    }
}

#[derive(Debug)]
enum ImportPlan {
    Skip,
    Run { exit: i32, problems: Vec<Expected> },
}

#[derive(Debug)]
struct Case {
    /// File name inside the corpus directory.
    file: String,
    setup: Option<String>,
    append: Vec<Expected>,
    import: ImportPlan,
}

fn parse_expected_line(text: &str) -> Result<Expected, String> {
    let bad = || format!("not `LINE: FIELD: RULE [(TEXT]`: {text:?}");
    let (line, rest) = text.split_once(": ").ok_or_else(bad)?;
    let line: usize = line.trim().parse().map_err(|_| bad())?;
    let (field, rest) = rest.split_once(": ").ok_or_else(bad)?;
    let (rule, value) = match rest.split_once(' ') {
        Some((rule, value)) => {
            let value = value.trim();
            let value = value.strip_prefix('(').ok_or_else(bad)?;
            let value = value.strip_suffix(')').unwrap_or(value);
            (rule, Some(value.to_owned()))
        }
        None => (rest, None),
    };
    if rule.is_empty() || !rule.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        return Err(bad());
    }
    Ok(Expected {
        line,
        field: field.to_owned(),
        rule: rule.to_owned(),
        value,
    })
}

fn load_case(file: &str, expected_text: &str) -> Result<Case, String> {
    let mut setup = None;
    let mut append = Vec::new();
    let mut import_skip = false;
    let mut import_exit = 2;
    let mut import_problems = Vec::new();
    for raw in expected_text.lines() {
        let text = raw.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(comment) = text.strip_prefix('#') {
            let comment = comment.trim();
            if let Some(path) = comment.strip_prefix("setup:") {
                setup = Some(path.trim().to_owned());
            } else if let Some(directive) = comment.strip_prefix("import:") {
                let directive = directive.trim();
                if directive.starts_with("skip") {
                    import_skip = true;
                } else if let Some(code) = directive.strip_prefix("exit ") {
                    import_exit = code
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad import exit code: {raw:?}"))?;
                } else {
                    import_problems.push(parse_expected_line(directive)?);
                }
            }
            continue;
        }
        append.push(parse_expected_line(text)?);
    }
    if append.is_empty() {
        return Err("no expected problem".to_owned());
    }
    let import = if import_skip || !file.ends_with(".jsonl") {
        ImportPlan::Skip
    } else {
        if import_problems.is_empty() {
            // `import` stops at the first bad line and reports that line's problems.
            let first = append.iter().map(|e| e.line).min().unwrap_or(0);
            import_problems = append.iter().filter(|e| e.line == first).cloned().collect();
        }
        ImportPlan::Run {
            exit: import_exit,
            problems: import_problems,
        }
    };
    Ok(Case {
        file: file.to_owned(),
        setup,
        append,
        import,
    })
}

/// Every case of the corpus, sorted by name; orphan files are errors.
fn load_corpus(dir: &Path) -> (Vec<Case>, Vec<String>) {
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in &names {
        if name.ends_with(".md") {
            continue;
        }
        if let Some(stem) = name.strip_suffix(".expected") {
            let has_input = [".json", ".jsonl"]
                .iter()
                .any(|ext| names.contains(&format!("{stem}{ext}")));
            if !has_input {
                errors.push(format!("{name}: no {stem}.json or {stem}.jsonl beside it"));
            }
            continue;
        }
        let Some(stem) = name
            .strip_suffix(".jsonl")
            .or_else(|| name.strip_suffix(".json"))
        else {
            errors.push(format!("{name}: not a .json, .jsonl or .expected file"));
            continue;
        };
        let expected_path = dir.join(format!("{stem}.expected"));
        let loaded = std::fs::read_to_string(&expected_path)
            .map_err(|e| format!("cannot read {}: {e}", expected_path.display()))
            .and_then(|text| load_case(name, &text));
        match loaded {
            Ok(case) => cases.push(case),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    (cases, errors)
}

/// What one run of the binary did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn binary() -> PathBuf {
    assert_cmd::cargo::cargo_bin("coopledger")
}

/// Runs the binary in the corpus directory with a clean environment, killing it after
/// [`RUN_TIMEOUT`].
fn run(args: &[&str]) -> Result<Run, String> {
    let mut child = Command::new(binary())
        .current_dir(corpus_dir())
        .args(args)
        .env_remove("COOPLEDGER_DB")
        .env_remove("COOPLEDGER_LOG")
        .env_remove("COOPLEDGER_SERVER")
        .env_remove("COOPLEDGER_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start coopledger: {e}"))?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > RUN_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`coopledger {}` hung: killed after {RUN_TIMEOUT:?}",
                    args.join(" ")
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("waiting for coopledger: {e}")),
        }
    };
    Ok(Run {
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Parses `FILE:LINE: field: rule (value)` for a known FILE, as the regex
/// `^(.+):(\d+): (.+?): ([a-z_]+) \((.*)\)$` would.
fn parse_reported(file: &str, line: &str) -> Option<Reported> {
    let rest = line.strip_prefix(file)?.strip_prefix(':')?;
    let (number, rest) = rest.split_once(": ")?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = rest.strip_suffix(')')?;
    // The field is the shortest prefix followed by `: rule (`.
    let mut from = 0;
    while let Some(i) = rest
        .get(from..)
        .and_then(|r| r.find(": "))
        .map(|i| i + from)
    {
        let field = &rest[..i];
        let after = &rest[i + 2..];
        if let Some((rule, value)) = after.split_once(" (")
            && !field.is_empty()
            && !rule.is_empty()
            && rule.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Some(Reported {
                line: number.parse().ok()?,
                field: field.to_owned(),
                rule: rule.to_owned(),
                value: value.to_owned(),
            });
        }
        from = i + 2;
    }
    None
}

/// How many events the ledger at `db` holds (0 when it was never created).
fn recorded_events(db: &Path) -> Result<usize, String> {
    if !db.exists() {
        return Ok(0);
    }
    let db = db.to_string_lossy();
    let out = run(&["--db", &db, "--json", "log", "--limit", "1000000"])?;
    if out.code != Some(0) {
        return Err(format!(
            "`log` exited {:?}: {}",
            out.code,
            out.stderr.trim()
        ));
    }
    Ok(out.stdout.lines().filter(|l| !l.trim().is_empty()).count())
}

/// Compares one run with what was expected; returns the problems found.
fn check_run(
    command: &str,
    file: &str,
    out: &Run,
    exit: i32,
    expected: &[Expected],
) -> Vec<String> {
    let mut failures = Vec::new();
    if out.code != Some(exit) {
        failures.push(format!(
            "{command}: exit code {:?}, expected {exit}",
            out.code
        ));
    }
    if out.stderr.contains("panicked") {
        failures.push(format!("{command}: panicked"));
    }
    if !out.stdout.is_empty() {
        failures.push(format!(
            "{command}: stdout not empty: {:?}",
            clip(&out.stdout)
        ));
    }
    let mut reported = Vec::new();
    for line in out.stderr.lines().filter(|l| !l.trim().is_empty()) {
        if command == "import" && line.starts_with("import stopped: ") {
            continue;
        }
        // Advice after the problems (e.g. to use `import` for a file too large to append).
        if line.starts_with("hint: ") {
            continue;
        }
        match parse_reported(file, line) {
            Some(r) => reported.push(r),
            None => failures.push(format!(
                "{command}: unexpected stderr line {:?}",
                clip(line)
            )),
        }
    }
    for e in expected {
        if !reported.iter().any(|r| e.matches(r)) {
            failures.push(format!("{command}: missing `{e}`"));
        }
    }
    for r in &reported {
        if !expected
            .iter()
            .any(|e| e.line == r.line && e.rule == r.rule && (e.field == "*" || e.field == r.field))
        {
            failures.push(format!(
                "{command}: unexpected `{}: {}: {} ({})`",
                r.line,
                r.field,
                r.rule,
                clip(&r.value)
            ));
        }
    }
    failures
}

fn clip(text: &str) -> String {
    if text.chars().count() <= 300 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(300).collect::<String>())
    }
}

/// Runs one command of one case on a fresh ledger (after the setup).
fn run_command(case: &Case, command: &str, exit: i32, expected: &[Expected]) -> Vec<String> {
    let tmp = tempdir();
    let db = tmp.path().join("db");
    let db_arg = db.to_string_lossy().into_owned();
    let mut setup_events = 0;
    match run(&["--db", &db_arg, "init"]) {
        Ok(out) if out.code == Some(0) => {}
        Ok(out) => return vec![format!("init failed ({:?}): {}", out.code, out.stderr)],
        Err(e) => return vec![format!("init: {e}")],
    }
    if let Some(setup) = &case.setup {
        match run(&["--db", &db_arg, "append", setup]) {
            Ok(out) if out.code == Some(0) => {
                setup_events = out.stdout.lines().filter(|l| !l.trim().is_empty()).count();
            }
            Ok(out) => {
                return vec![format!(
                    "setup {setup} failed ({:?}): {}",
                    out.code,
                    clip(out.stderr.trim())
                )];
            }
            Err(e) => return vec![format!("setup {setup}: {e}")],
        }
    }
    let mut failures = match run(&["--db", &db_arg, command, &case.file]) {
        Ok(out) => check_run(command, &case.file, &out, exit, expected),
        Err(e) => vec![format!("{command}: {e}")],
    };
    match recorded_events(&db) {
        Ok(n) if n == setup_events => {}
        Ok(n) => failures.push(format!(
            "{command}: the ledger holds {n} events afterwards, expected {setup_events} (the setup's)"
        )),
        Err(e) => failures.push(format!("{command}: counting events: {e}")),
    }
    failures
}

fn run_case(case: &Case) -> Vec<String> {
    let mut failures = run_command(case, "append", 2, &case.append);
    if let ImportPlan::Run { exit, problems } = &case.import {
        failures.extend(run_command(case, "import", *exit, problems));
    }
    failures
}

#[test]
fn bad_input_corpus_is_rejected_with_its_expected_errors() {
    let started = Instant::now();
    let (cases, mut failures) = load_corpus(&corpus_dir());
    assert!(
        cases.len() >= MIN_CASES,
        "only {} cases in {} (at least {MIN_CASES}); loading problems: {failures:#?}",
        cases.len(),
        corpus_dir().display()
    );
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let case_failures = run_case(case);
                    if !case_failures.is_empty() {
                        results
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push((case.file.clone(), case_failures));
                    }
                }
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    results.sort();
    let failed_cases = results.len();
    for (file, case_failures) in results {
        for f in case_failures {
            failures.push(format!("{file}: {f}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{failed_cases} of {} bad-input cases failed ({:.1?}):\n{}",
        cases.len(),
        started.elapsed(),
        failures.join("\n")
    );
}
