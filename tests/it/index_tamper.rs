//! The persisted index is checked by `verify` against the records (issue 17: "verify checks the
//! persisted index"). An index entry changed through sled, with the documented run layout
//! (`docs/format.md`, "The index"), would let a re-sent event in twice or an expected version
//! pass wrongly; `verify` names the record whose entry disagrees and exits 4.

use std::path::Path;

use coopledger::store::sled::keys;

use serde_json::Value;

use crate::cli::story_path;
use crate::support::{STAFF, Served, activity_lines, client, tempdir};

fn bin(db: &Path, args: &[&str]) -> (i32, String) {
    let out = assert_cmd::Command::cargo_bin("coopledger")
        .expect("binary")
        // Small runs, so that the story's sixteen events are in runs, not in the memtable.
        .env("COOPLEDGER_INDEX_FLUSH", "4")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The entries of a data chunk: (key, sequence), as `docs/format.md` lays them out.
fn entries(chunk: &[u8]) -> Vec<(Vec<u8>, u64)> {
    let count = u32::from_be_bytes(chunk[..4].try_into().expect("count"));
    let mut at = 4;
    let mut out = Vec::new();
    for _ in 0..count {
        let len = usize::from(chunk[at]);
        let key = chunk[at + 1..at + 1 + len].to_vec();
        at += 1 + len;
        let seq = u64::from_be_bytes(chunk[at..at + 8].try_into().expect("seq"));
        at += 8;
        out.push((key, seq));
    }
    assert_eq!(at, chunk.len(), "nothing after the entries");
    out
}

fn chunk(entries: &[(Vec<u8>, u64)]) -> Vec<u8> {
    let mut out = u32::try_from(entries.len())
        .expect("count")
        .to_be_bytes()
        .to_vec();
    for (key, seq) in entries {
        out.push(u8::try_from(key.len()).expect("short key"));
        out.extend_from_slice(key);
        out.extend_from_slice(&seq.to_be_bytes());
    }
    out
}

/// Rewrites the first data chunk holding an entry of the kind `tag` (1: event id, 2: stream
/// version), moving that entry's sequence on by one; returns the sequence it had.
fn move_one_entry(dir: &Path, tag: u8) -> u64 {
    let db = sled::open(dir).expect("sled");
    for item in db.scan_prefix([keys::INDEX]) {
        let (key, value) = item.expect("scan");
        // X ‖ run u64 ‖ 'd' ‖ n u32: a data chunk.
        if key.len() != 14 || key[9] != b'd' {
            continue;
        }
        let mut all = entries(&value);
        let Some(entry) = all.iter_mut().find(|(k, _)| k[0] == tag) else {
            continue;
        };
        let was = entry.1;
        entry.1 = was + 1;
        db.insert(&key, chunk(&all)).expect("insert");
        db.flush().expect("flush");
        return was;
    }
    panic!("no index entry of kind {tag} in a run");
}

#[test]
fn verify_names_the_record_an_index_entry_disagrees_with() {
    for (tag, says) in [(1, "its event id"), (2, "version")] {
        let dir = tempdir();
        let db = dir.path().join("db");
        let (code, stderr) = bin(&db, &["--create", "append", &story_path()]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(bin(&db, &["verify"]).0, 0, "the honest ledger verifies");
        let seq = move_one_entry(&db, tag);
        let (code, stderr) = bin(&db, &["verify"]);
        assert_eq!(
            code, 4,
            "a moved entry of kind {tag} fails verification: {stderr}"
        );
        assert!(
            stderr.contains(&format!("record {seq} is corrupt: the index gives"))
                && stderr.contains(says)
                && stderr.contains(&format!("as sequence {}", seq + 1)),
            "{stderr}"
        );
    }
}

/// A verification reads the index's runs while appends flush and merge them; a merge deletes
/// the runs it merged, so merges wait while a verification reads (`index::MergePin`) and every
/// verification during the appends agrees with the log.
#[test]
fn verifications_agree_while_appends_flush_and_merge_the_index() {
    let dir = tempdir();
    let db = dir.path().join("db");
    let (code, stderr) = bin(&db, &["--create", "append", &story_path()]);
    assert_eq!(code, 0, "{stderr}");
    // A run every 2 records, a merge every 4: most appends flush, and many merge.
    let server = Served::with_tokens_and(
        &db,
        &[
            ("COOPLEDGER_INDEX_FLUSH", "2"),
            ("COOPLEDGER_INDEX_FANOUT", "2"),
        ],
    );
    let lines = activity_lines(300);
    let verified = std::thread::scope(|s| {
        let appender = s.spawn(|| {
            for line in &lines {
                let response = client()
                    .post(server.url("/v1/events"))
                    .bearer_auth(STAFF)
                    .body(format!("{line}\n"))
                    .send()
                    .expect("POST /v1/events");
                assert!(response.status().is_success(), "{:?}", response.text());
            }
        });
        let mut verified = 0;
        while !appender.is_finished() || verified < 3 {
            let response = client()
                .post(server.url("/v1/verify"))
                .bearer_auth(STAFF)
                .send()
                .expect("POST /v1/verify");
            let status = response.status();
            let body: Value = response.json().expect("JSON");
            assert!(
                status.is_success() && body["ok"] == true,
                "{status}: {body}"
            );
            verified += 1;
        }
        appender.join().expect("appender");
        verified
    });
    assert!(verified >= 3, "{verified} verifications ran");
    drop(server);
    let (code, stderr) = bin(&db, &["verify"]);
    assert_eq!(code, 0, "{stderr}");
}
