//! Crash test: a child process appends in a loop and reports what was acknowledged; the parent
//! kills it with SIGKILL at random moments and checks the store after each kill.
//!
//! The child is this test binary re-run with `COOPLEDGER_CRASH_CHILD` set: it announces each
//! batch (`try`) before appending and each event (`ack`) once the append returned. After a kill
//! the store must reopen, verify, hold every acknowledged event with identical content, and hold
//! every announced batch entirely or not at all.
//!
//! The child flushes its index every 32 records and merges runs three at a time
//! (`COOPLEDGER_INDEX_FLUSH`, `COOPLEDGER_INDEX_FANOUT`), so kills also land while runs are
//! written and merged; the parent reopens with the default tuning and finds every acknowledged
//! event through the index.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use coopledger::proto_events::staff::to_staff_object;
use coopledger::store::Location;
use coopledger::synth::Synth;
use coopledger::{Ledger, Options};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

const CHILD_ENV: &str = "COOPLEDGER_CRASH_CHILD";
const KILLS: usize = 24;

/// Runs only as the child: appends batches of 1–6 events until killed.
#[test]
fn crash_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (db, seed) = spec.rsplit_once('|').expect("db|seed");
    let seed: u64 = seed.parse().expect("seed");
    let options = Options {
        create: true,
        ..Options::default()
    };
    let mut ledger =
        Ledger::open_at(&Location::parse(db), options).expect("child opens the ledger");
    let mut synth = Synth::new(seed);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    loop {
        let n = rng.random_range(1..=6);
        let events: Vec<_> = (0..n).map(|_| synth.activity()).collect();
        let ids: Vec<String> = events
            .iter()
            .map(|e| e.event_id.expect("synth sets ids").to_string())
            .collect();
        println!("try {}", ids.join(" "));
        let staff: Vec<String> = events
            .iter()
            .map(|e| Value::Object(to_staff_object(e)).to_string())
            .collect();
        let receipts = ledger.append(events).expect("child append");
        for (receipt, staff) in receipts.iter().zip(staff) {
            println!("ack {} {} {staff}", receipt.seq, receipt.event_id);
        }
    }
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = crate::support::tempdir();
    sigkill_loop(&Location::Dir(dir.path().join("ledger")));
}

/// The same with the writer on PostgreSQL (a synchronous standby): every receipt the child
/// printed is there, and a reader (which serves only what was acknowledged) is shown it.
#[test]
fn acknowledged_appends_survive_sigkill_on_postgres() {
    if std::env::var(CHILD_ENV).is_ok()
        || !crate::pg::cluster::enabled("acknowledged_appends_survive_sigkill_on_postgres")
    {
        return;
    }
    let fixture = crate::backends::Fixture::postgres();
    coopledger::store::create(&fixture.location).expect("init");
    sigkill_loop(&fixture.location);
}

fn sigkill_loop(location: &Location) {
    let seed: u64 = std::env::var("COOPLEDGER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash test seed {seed} (rerun with COOPLEDGER_CRASH_SEED={seed})");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let db = match location {
        Location::Dir(dir) => dir.display().to_string(),
        Location::Postgres(url) => url.clone(),
    };
    let exe = std::env::current_exe().expect("test binary");
    let mut acked: BTreeMap<Uuid, (u64, Value)> = BTreeMap::new();
    let mut batches: Vec<Vec<Uuid>> = Vec::new();
    for kill in 0..KILLS {
        let child_seed = seed.wrapping_add(kill as u64 * 7919);
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{db}|{child_seed}"))
            // Small index runs and fan-out, so kills land in flushes and merges too (sled).
            .env("COOPLEDGER_INDEX_FLUSH", "32")
            .env("COOPLEDGER_INDEX_FANOUT", "3")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (lines, incoming) = mpsc::channel();
        let pump = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the child to get going, then kill it at a random moment.
        let wait_acks = rng.random_range(1..40usize);
        let mut seen = 0usize;
        while seen < wait_acks {
            match incoming.recv_timeout(Duration::from_secs(60)) {
                Ok(line) if line.starts_with("ack ") => seen += 1,
                Ok(_) => {}
                Err(e) => panic!("child produced no acknowledgement ({e}); seed {seed}"),
            }
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3_000)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap child");
        pump.join().expect("pump thread");
        for line in incoming.try_iter() {
            if let Some(rest) = line.strip_prefix("try ") {
                batches.push(
                    rest.split(' ')
                        .map(|id| id.parse().expect("uuid"))
                        .collect(),
                );
            } else if let Some(rest) = line.strip_prefix("ack ") {
                let mut parts = rest.splitn(3, ' ');
                let seq: u64 = parts.next().and_then(|s| s.parse().ok()).expect("seq");
                let id: Uuid = parts.next().and_then(|s| s.parse().ok()).expect("id");
                let staff: Value =
                    serde_json::from_str(parts.next().expect("staff")).expect("json");
                acked.insert(id, (seq, staff));
            }
        }
        check_store(location, &acked, &batches, seed, kill);
    }
    assert!(
        acked.len() >= KILLS,
        "too few acknowledged events to mean anything: {}",
        acked.len()
    );
}

fn check_store(
    location: &Location,
    acked: &BTreeMap<Uuid, (u64, Value)>,
    batches: &[Vec<Uuid>],
    seed: u64,
    kill: usize,
) {
    let context = format!("seed {seed}, after kill {kill}");
    // A PostgreSQL ledger is checked by a reader, which is shown only what was acknowledged: a
    // receipt the child printed must be among it.
    let options = Options {
        read_only: matches!(location, Location::Postgres(_)),
        ..Options::default()
    };
    let ledger = Ledger::open_at(location, options)
        .unwrap_or_else(|e| panic!("reopen failed ({context}): {e}"));
    let reader = ledger.reader();
    let report = reader
        .verify(&mut |_, _| {})
        .unwrap_or_else(|e| panic!("verify failed ({context}): {e}"));
    assert_eq!(report.events, reader.head().seq, "{context}");
    // The stored views may be behind the head (a writer under load defers them): folded on
    // over the tail, they equal a fold of the whole log.
    reader
        .verify_views()
        .unwrap_or_else(|e| panic!("views after the kill ({context}): {e}"));
    for (id, (seq, staff)) in acked {
        let event = reader
            .get(id)
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged event {id} (seq {seq}) lost ({context})"));
        assert_eq!(event.sequence, *seq, "{context}");
        let mut stored = serde_json::Map::new();
        for (k, v) in coopledger::proto_events::staff::recorded_to_object(&event) {
            if staff.get(&k).is_some() {
                stored.insert(k, v);
            }
        }
        assert_eq!(
            &Value::Object(stored),
            staff,
            "content of {id} changed ({context})"
        );
    }
    for batch in batches {
        let present: BTreeSet<bool> = batch
            .iter()
            .map(|id| reader.get(id).expect("read").is_some())
            .collect();
        assert!(
            present.len() <= 1,
            "batch {batch:?} is partly present ({context})"
        );
    }
}
