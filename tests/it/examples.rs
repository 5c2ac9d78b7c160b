//! The staff examples run on a fresh store and on the demo's store, and a rerun appends nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use coopledger::{Ledger, Options};

use crate::support::tempdir;

const EXAMPLES: [&str; 6] = [
    "join_country",
    "record_meeting",
    "deliver_activity",
    "open_case",
    "correct_event",
    "auditor_replay",
];

/// `cargo test` builds the examples next to the test binary's directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    profile.join("examples").join(name)
}

fn run(name: &str, db: &Path) -> String {
    let output = Command::new(example(name))
        .env("COOPLEDGER_DB", db)
        .output()
        .unwrap_or_else(|e| panic!("cannot run example {name}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn head(db: &Path) -> u64 {
    let options = Options {
        create: false,
        ..Options::default()
    };
    Ledger::open_with(db, options)
        .expect("open")
        .reader()
        .head()
        .seq
}

fn run_all_twice(db: &Path) {
    for name in EXAMPLES {
        run(name, db);
    }
    let after_first = head(db);
    for name in EXAMPLES {
        run(name, db);
    }
    assert_eq!(
        head(db),
        after_first,
        "a rerun of the examples appended something"
    );
}

#[test]
fn examples_run_on_a_fresh_store_and_are_idempotent() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    run_all_twice(&db);
    assert_eq!(head(&db), 12, "the examples record twelve events");
    let replay = run("auditor_replay", &db);
    assert!(replay.contains("replayed 12 events"), "{replay}");
    assert!(replay.contains("verify: ok, 12 events"), "{replay}");
    let correction = run("correct_event", &db);
    assert!(correction.contains("6 women"), "{correction}");
}

#[test]
fn examples_run_on_the_demo_store() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    let status = Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["--db"])
        .arg(&db)
        .args(["demo", "--synthetic", "500"])
        .output()
        .expect("demo");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let demo_head = head(&db);
    run_all_twice(&db);
    assert_eq!(head(&db), demo_head + 12);
}
