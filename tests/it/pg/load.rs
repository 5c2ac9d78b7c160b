//! Concurrent writers through the HTTP API and the command line (`--server`), against a
//! `coopledger serve` process whose ledger is on PostgreSQL, while checkers on the primary and on
//! the standby confirm that every read is a prefix of the log (no hole, nothing beyond the
//! acknowledged head), and afterwards that every receipt is in the log, identical.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use coopledger::proto_events::staff::to_staff_object;
use coopledger::store::Location;
use coopledger::synth::Synth;
use coopledger::{Ledger, Options};
use serde_json::Value;
use uuid::Uuid;

use super::cluster::{self, Cluster};
use crate::backends::Fixture;

const STAFF: &str = "staff-token-0123456789";

/// A `coopledger serve` child process.
pub struct Served {
    child: Child,
    /// Its base URL.
    pub base: String,
}

impl Served {
    /// Starts `coopledger --db DB serve` on a free port with a staff token.
    pub fn start(db: &str, dir: &Path) -> Served {
        Served::start_with(db, dir, &[])
    }

    /// Starts a read-only node (`serve --read-only --writer WRITER`).
    pub fn read_only(db: &str, dir: &Path, writer: &str) -> Served {
        Served::start_with(db, dir, &["--read-only", "--writer", writer])
    }

    fn start_with(db: &str, dir: &Path, extra: &[&str]) -> Served {
        let tokens = dir.join("tokens");
        std::fs::write(&tokens, format!("staff {STAFF}\n")).expect("tokens");
        let mut child = Command::new(env!("CARGO_BIN_EXE_coopledger"))
            .args([
                "--db",
                db,
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--public-reads",
                "--tokens",
            ])
            .arg(&tokens)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut first)
            .expect("the URL line");
        let base = first.trim().rsplit(' ').next().expect("url").to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "serve said {first:?}"
        );
        Served { child, base }
    }

    /// Posts staff JSON lines; returns the status and the body.
    pub fn post(&self, body: String) -> (u16, Value) {
        let response = crate::support::client()
            .post(format!("{}/v1/events", self.base))
            .bearer_auth(STAFF)
            .body(body)
            .send()
            .expect("post");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit:?}");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Staff JSON lines of `n` synthetic events.
pub fn lines(synth: &mut Synth, n: usize) -> String {
    (0..n)
        .map(|_| format!("{}\n", Value::Object(to_staff_object(&synth.activity()))))
        .collect()
}

/// A receipt's (seq, hash).
type Receipts = BTreeMap<Uuid, (u64, String)>;

fn learn(receipts: &mut Receipts, value: &Value) {
    let id: Uuid = value["event_id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("event_id");
    let seq = value["seq"].as_u64().expect("seq");
    let hash = value["hash"].as_str().expect("hash").to_owned();
    receipts.insert(id, (seq, hash));
}

/// Checks, as often as it can until `stop`, that the records a server holds are 1..=N without a
/// hole and that the acknowledged head is among them; returns the number of checks.
fn prefix_checker(port: u16, db: String, stop: Arc<AtomicBool>) -> u64 {
    let mut client = postgres::Client::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname={db}"),
        postgres::NoTls,
    )
    .expect("checker connects");
    let mut checks = 0u64;
    while !stop.load(Ordering::Relaxed) || checks == 0 {
        let row = client
            .query_one(
                "SELECT (SELECT acked_seq FROM coopledger.head), count(*), coalesce(max(seq), 0), \
                 coalesce(min(seq), 1) FROM coopledger.records",
                &[],
            )
            .expect("check");
        let (acked, count, max, min): (i64, i64, i64, i64) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(
            (count, min),
            (max, 1),
            "a hole in the records on port {port}"
        );
        assert!(
            acked <= max,
            "acknowledged {acked} beyond the records ({max}) on port {port}"
        );
        checks += 1;
    }
    checks
}

/// Tells the checkers to stop when the test ends, however it ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[test]
fn concurrent_writers_over_http_and_the_cli_keep_every_read_a_prefix() {
    if !cluster::enabled("concurrent_writers_over_http_and_the_cli_keep_every_read_a_prefix") {
        return;
    }
    let fixture = Fixture::postgres();
    coopledger::store::create(&fixture.location).expect("init");
    let dir = crate::support::tempdir();
    let served = Arc::new(Served::start(&fixture.db_arg(), dir.path()));
    let cluster = Cluster::shared();
    let db = fixture.database.clone().expect("database");
    cluster.wait_schema_on_standbys(&db);
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_panic = StopOnDrop(Arc::clone(&stop));
    let checkers: Vec<_> = [cluster.primary, cluster.standbys[0]]
        .into_iter()
        .map(|port| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            std::thread::spawn(move || prefix_checker(port, db, stop))
        })
        .collect();
    // Readers through the ledger on the standby: every page they read is contiguous and checked.
    let standby_url = cluster.standby_url(0, &db);
    let reads = Arc::new(AtomicU64::new(0));
    let standby_reader = {
        let (stop, reads) = (Arc::clone(&stop), Arc::clone(&reads));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let options = Options {
                    read_only: true,
                    ..Options::default()
                };
                let ledger = Ledger::open_at(&Location::Postgres(standby_url.clone()), options)
                    .expect("a reader on the standby");
                let reader = ledger.reader();
                let head = reader.head().seq;
                let seqs: Vec<u64> = reader
                    .read_forward(1, 10_000)
                    .expect("read on the standby")
                    .iter()
                    .map(|e| e.sequence)
                    .collect();
                assert_eq!(
                    seqs,
                    (1..=head).collect::<Vec<_>>(),
                    "not a prefix on the standby"
                );
                reads.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let http: Vec<_> = (0..3u64)
        .map(|w| {
            let served = Arc::clone(&served);
            std::thread::spawn(move || {
                let mut synth = Synth::new(500 + w);
                let mut receipts = Receipts::new();
                for i in 0..25 {
                    let (status, body) = served.post(lines(&mut synth, 1 + i % 3));
                    assert_eq!(status, 201, "{body}");
                    for r in body.as_array().expect("receipts") {
                        learn(&mut receipts, r);
                    }
                }
                receipts
            })
        })
        .collect();
    let cli = {
        let base = served.base.clone();
        let dir = dir.path().to_owned();
        std::thread::spawn(move || {
            let mut synth = Synth::new(900);
            let mut receipts = Receipts::new();
            for i in 0..8 {
                let file = dir.join(format!("batch{i}.jsonl"));
                std::fs::write(&file, lines(&mut synth, 2)).expect("write batch");
                let out = Command::new(env!("CARGO_BIN_EXE_coopledger"))
                    .args(["--server", &base, "--token", STAFF, "append"])
                    .arg(&file)
                    .output()
                    .expect("cli append");
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    learn(&mut receipts, &serde_json::from_str(line).expect("receipt"));
                }
            }
            receipts
        })
    };
    let mut receipts = Receipts::new();
    for writer in http.into_iter().chain([cli]) {
        receipts.extend(writer.join().expect("writer"));
    }
    stop.store(true, Ordering::Relaxed);
    let checks: Vec<u64> = checkers
        .into_iter()
        .map(|c| c.join().expect("checker"))
        .collect();
    standby_reader.join().expect("standby reader");
    println!(
        "{} receipts; prefix checks: primary {}, standby {}; ledger reads on the standby {}",
        receipts.len(),
        checks[0],
        checks[1],
        reads.load(Ordering::Relaxed)
    );
    Arc::into_inner(served).expect("writers done").stop();
    let ledger = fixture.open_read_only();
    let reader = ledger.reader();
    assert_eq!(reader.head().seq, receipts.len() as u64);
    for (id, (seq, hash)) in &receipts {
        let event = reader
            .get(id)
            .expect("read")
            .unwrap_or_else(|| panic!("receipt {id} lost"));
        assert_eq!(event.sequence, *seq);
        assert_eq!(coopledger::proto_events::hash::to_hex(&event.hash), *hash);
    }
    reader.verify(&mut |_, _| {}).expect("verify");
}
