//! Corruption: bytes flipped in sled's files give a clear error or a `verify` failure naming a
//! sequence; never a panic, and never a ledger that opens with fewer records than it had.
//!
//! sled recovers from a damaged data file by dropping everything after the damage, without an
//! error; the ledger's witness file (`HEAD`) is what turns that into a refusal.

use std::path::Path;

use coopledger::synth::Synth;
use coopledger::{Error, Ledger};
use rand::{Rng, SeedableRng};

use crate::support::tempdir;

const EVENTS: u64 = 400;

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("list") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Opens and verifies a damaged copy; returns a description of the outcome, or panics with the
/// reason it is unacceptable.
fn judge(dir: &Path) -> String {
    let outcome = std::panic::catch_unwind(|| match Ledger::create(dir) {
        Err(e) => Err(e),
        Ok(ledger) => ledger.reader().verify(&mut |_, _| {}).map(|r| r.events),
    });
    match outcome {
        Err(_) => panic!("opening a damaged store panicked"),
        Ok(Ok(events)) => {
            assert_eq!(
                events, EVENTS,
                "the damaged store opened and verified with records missing"
            );
            "untouched records".into()
        }
        Ok(Err(Error::Corrupt { seq, reason })) => {
            assert!(
                (1..=EVENTS).contains(&seq),
                "named sequence {seq} out of range"
            );
            format!("record {seq}: {reason}")
        }
        Ok(Err(Error::Store(e))) => {
            let text = e.to_string();
            assert!(!text.is_empty(), "an empty storage error");
            format!("storage: {text}")
        }
        Ok(Err(other)) => panic!("unexpected kind of error for a damaged store: {other}"),
    }
}

#[test]
fn flipped_bytes_in_sleds_files_are_refused_never_silently_accepted() {
    let seed: u64 = std::env::var("COOPLEDGER_CORRUPT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("corruption seed {seed} (rerun with COOPLEDGER_CORRUPT_SEED={seed})");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let base = tempdir();
    let pristine = base.path().join("pristine");
    {
        let mut ledger = Ledger::create(&pristine).expect("open");
        let mut synth = Synth::new(3);
        for _ in 0..4 {
            ledger.append(synth.programme(100)).expect("append");
        }
        assert_eq!(ledger.reader().head().seq, EVENTS);
    }
    let files: Vec<_> = std::fs::read_dir(&pristine)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|name| {
            let name = name.to_string_lossy();
            name == "db" || name == "conf" || name.starts_with("snap.")
        })
        .collect();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    for round in 0..40 {
        let dir = base.path().join(format!("copy{round}"));
        copy_store(&pristine, &dir);
        // Mostly the data file, where the records are.
        let name = if rng.random_bool(0.8) {
            std::ffi::OsString::from("db")
        } else {
            files[rng.random_range(0..files.len())].clone()
        };
        let path = dir.join(&name);
        let mut bytes = std::fs::read(&path).expect("read");
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..bytes.len());
            bytes[at] ^= 1 << rng.random_range(0..8);
        }
        std::fs::write(&path, &bytes).expect("write");
        let outcome = judge(&dir);
        let kind = outcome.split(':').next().unwrap_or("").to_owned();
        println!("round {round} ({}): {outcome}", name.to_string_lossy());
        *outcomes.entry(kind).or_default() += 1;
        // The command line's walk reports the same store as damaged (or intact) too.
        let walked = coopledger::verify_store(&dir, &mut |_| {});
        assert_eq!(
            walked.is_ok(),
            outcome == "untouched records",
            "verify_store and open disagree on round {round}: {walked:?} vs {outcome}"
        );
    }
    println!("{outcomes:?}");
    assert!(!outcomes.is_empty());
}

#[test]
fn a_lost_tail_is_named_even_when_sled_reports_nothing() {
    let dir = tempdir();
    {
        let mut ledger = Ledger::create(dir.path()).expect("open");
        let mut synth = Synth::new(4);
        ledger
            .append((0..10).map(|_| synth.activity()).collect())
            .expect("first");
        ledger
            .append((0..10).map(|_| synth.activity()).collect())
            .expect("second");
    }
    // Remove the last five records and rewrite the head, as a damaged data file would leave
    // the log: internally consistent, but shorter than what was acknowledged.
    {
        let db = crate::layout::open(dir.path());
        let mut prev = Vec::new();
        crate::layout::rewrite(&db, |frames| {
            frames.retain(|seq, _| *seq <= 15);
            prev = frames[&15].clone();
        });
        let mut head = 15u64.to_be_bytes().to_vec();
        head.extend_from_slice(&prev[..32]);
        db.insert(coopledger::store::sled::keys::META_HEAD, head)
            .expect("head");
        db.remove(coopledger::store::sled::keys::META_TREE)
            .expect("tree");
        db.flush().expect("flush");
    }
    match Ledger::create(dir.path()) {
        Err(Error::Corrupt { seq, reason }) => {
            assert_eq!(seq, 16, "{reason}");
            assert!(reason.contains("16..=20"), "{reason}");
        }
        other => panic!("a lost tail must be refused, got {:?}", other.map(|_| ())),
    }
}

/// A kill while sled writes a snapshot leaves `snap.N.generating` behind, which sled 0.34 would
/// take for the latest snapshot and refuse to open on ("empty/corrupt snapshot file found"):
/// the store removes it first, and opens with every record.
#[test]
fn a_snapshot_left_half_written_by_a_kill_does_not_stop_the_store_opening() {
    let dir = tempdir();
    let db = dir.path().join("ledger");
    let mut synth = Synth::new(3);
    {
        let mut ledger = Ledger::create(&db).expect("create");
        ledger.append(synth.programme(500)).expect("append");
    }
    for leftover in [
        "snap.FFFFFFFFFFFFFFF0.generating",
        "snap.FFFFFFFFFFFFFFF1.generating",
    ] {
        std::fs::write(db.join(leftover), b"half").expect("a half-written snapshot");
    }
    let ledger = Ledger::open(&db).expect("the store opens");
    assert_eq!(ledger.reader().head().seq, 500);
    ledger
        .reader()
        .verify(&mut |_, _| {})
        .expect("and verifies");
    let left: Vec<String> = std::fs::read_dir(&db)
        .expect("dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".generating"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
