//! Backward compatibility: a ledger written by the first release (`tests/fixtures/v1-store`,
//! see its README) is opened, verified, read and appended to by this build, through the binary.
//! The fixture is never regenerated; a change that breaks this test breaks users' stores.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

use crate::support::tempdir;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-store")
}

/// A private copy of the fixture's ledger (opening a ledger writes to it).
fn copy_ledger(into: &Path) -> PathBuf {
    let dest = into.join("ledger");
    std::fs::create_dir_all(&dest).expect("create copy");
    for entry in std::fs::read_dir(fixture().join("ledger")).expect("fixture ledger") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), dest.join(entry.file_name())).expect("copy file");
        }
    }
    dest
}

fn run(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("coopledger")
        .expect("binary")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run coopledger");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_file(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture().join(name)).expect("fixture file");
    serde_json::from_str(&text).expect("fixture JSON")
}

#[test]
fn a_ledger_of_the_first_release_opens_verifies_and_takes_appends() {
    let dir = tempdir();
    let db = copy_ledger(dir.path());
    let fixture = fixture();

    let (code, out, err) = run(&db, &["verify"]);
    assert_eq!(code, 0, "verify: {out}{err}");
    assert!(
        out.contains("47 events")
            && out.contains("12effa54a8febb6056d22f5b84e1773560f0ba73652d4ed32e0e84b615ed2a20"),
        "{out}"
    );

    let checkpoint = fixture.join("checkpoint.txt");
    let pubkey = fixture.join("fixture.key.pub");
    let (code, out, err) = run(
        &db,
        &[
            "verify",
            "--checkpoint",
            checkpoint.to_str().expect("utf-8 path"),
            "--pubkey",
            pubkey.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(code, 0, "verify --checkpoint: {out}{err}");

    let (code, out, err) = run(&db, &["--json", "country", "GH"]);
    assert_eq!(code, 0, "{err}");
    let gh: Value = serde_json::from_str(&out).expect("country JSON");
    assert_eq!(gh, json_file("gh.json"));
    let (code, out, err) = run(&db, &["--json", "regions"]);
    assert_eq!(code, 0, "{err}");
    let regions: Value = serde_json::from_str(&out).expect("regions JSON");
    assert_eq!(regions, json_file("regions.json"));

    let (code, out, err) = run(&db, &["export"]);
    assert_eq!(code, 0, "{err}");
    let expected = std::fs::read_to_string(fixture.join("export.jsonl")).expect("export");
    assert_eq!(
        out, expected,
        "the export of the first release's ledger changed"
    );

    let event = dir.path().join("joined.jsonl");
    std::fs::write(
        &event,
        r#"{"type":"CountryJoined","recorded_by":"compat","country":"UY","joined_on":"2019-01-10","participation":"beneficiary"}"#,
    )
    .expect("write event");
    let (code, out, err) = run(&db, &["append", event.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0, "append: {out}{err}");
    let receipt: Value = serde_json::from_str(out.trim()).expect("receipt");
    assert_eq!(receipt["seq"], 48);

    let (code, out, err) = run(&db, &["verify"]);
    assert_eq!(code, 0, "verify after append: {out}{err}");
    assert!(out.contains("48 events"), "{out}");
    // The old checkpoint still holds: the log only grew.
    let (code, out, err) = run(
        &db,
        &[
            "verify",
            "--checkpoint",
            checkpoint.to_str().expect("utf-8 path"),
            "--pubkey",
            pubkey.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(code, 0, "verify --checkpoint after append: {out}{err}");
}

/// `coopledger migrate` brings the first release's ledger to the current format in place:
/// records packed into blocks, the index persisted; the same sequences, hashes, Merkle root,
/// views and export; the old checkpoint still verifies; a second run moves nothing.
#[test]
fn the_first_releases_ledger_migrates_and_stays_the_same() {
    let dir = tempdir();
    let db = copy_ledger(dir.path());
    let fixture = fixture();
    let (singles, blocks) = crate::layout::layout_counts(&db);
    assert_eq!((singles, blocks), (47, 0), "format 1: one key per record");
    let (code, out, err) = run(&db, &["migrate"]);
    assert_eq!(code, 0, "migrate: {out}{err}");
    assert!(
        out.starts_with("ok: 47 records moved to format 2; 47 events, head 47 12effa54a8febb6056d22f5b84e1773560f0ba73652d4ed32e0e84b615ed2a20"),
        "{out}"
    );
    let (singles, blocks) = crate::layout::layout_counts(&db);
    assert_eq!(singles, 0, "every record packed");
    assert!(blocks >= 1);
    let marker = std::fs::read_to_string(db.join("COOPLEDGER")).expect("marker");
    assert!(marker.contains("format = 2"), "{marker}");
    let (code, out, err) = run(&db, &["export"]);
    assert_eq!(code, 0, "{err}");
    let expected = std::fs::read_to_string(fixture.join("export.jsonl")).expect("export");
    assert_eq!(out, expected, "migration changed the log");
    let checkpoint = fixture.join("checkpoint.txt");
    let pubkey = fixture.join("fixture.key.pub");
    let (code, out, err) = run(
        &db,
        &[
            "verify",
            "--checkpoint",
            checkpoint.to_str().expect("utf-8 path"),
            "--pubkey",
            pubkey.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(code, 0, "verify --checkpoint after migrate: {out}{err}");
    let (code, out, _) = run(&db, &["--json", "country", "GH"]);
    assert_eq!(code, 0);
    let gh: Value = serde_json::from_str(&out).expect("country JSON");
    assert_eq!(gh, json_file("gh.json"));
    let (code, out, err) = run(&db, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 0 records moved"), "{out}");
}
