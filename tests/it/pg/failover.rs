//! Failover with Patroni (Debian's patroni and etcd, three PostgreSQL nodes on loopback,
//! `synchronous_mode_strict`): under a steady append load through `coopledger serve`, switch
//! the leader over and `kill -9` it (Patroni and the postmaster), twice each. Every event whose
//! receipt a client got is on the new primary, identical; the chain and the tree verify. A
//! read-only node follows throughout: its feed delivers every record once, in order, across the
//! faults, and its views end equal to a fold of the log. The write outage of each fault (the
//! longest time without an answered append, from the last answer before it until appends sent
//! once it is done are answered again) is printed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use coopledger::store::Location;
use coopledger::synth::Synth;
use coopledger::{Ledger, Options};
use serde_json::Value;
use uuid::Uuid;

/// Appends sent after a fault and answered, for writes to count as resumed.
const RESUMED_AFTER: usize = 10;

use super::cluster::{self, free_port};
use super::load::{Served, lines};

const NODES: usize = 3;

struct Patroni {
    dir: PathBuf,
    base: u16,
}

impl Patroni {
    fn start() -> Patroni {
        let base = free_base();
        let dir =
            std::env::temp_dir().join(format!("coopledger-patroni-{}-{base}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg/patroni.sh");
        let out = Command::new("bash")
            .arg(script)
            .args(["start", &dir.display().to_string(), &base.to_string()])
            .arg(std::process::id().to_string())
            .env("FSYNC", "off")
            .output()
            .expect("patroni.sh");
        assert!(
            out.status.success(),
            "patroni.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Patroni { dir, base }
    }

    fn pg_port(&self, node: usize) -> u16 {
        self.base + 10 + node as u16
    }

    fn rest(&self, node: usize) -> String {
        format!("http://127.0.0.1:{}", self.base + 20 + node as u16)
    }

    fn url(&self) -> String {
        let hosts: Vec<String> = (1..=NODES)
            .map(|n| format!("127.0.0.1:{}", self.pg_port(n)))
            .collect();
        format!(
            "postgresql://postgres@{}/postgres?target_session_attrs=read-write&coopledger_failover_timeout=120",
            hosts.join(",")
        )
    }

    /// The members as any node's REST API reports them: (node, role, state).
    fn members(&self) -> Vec<(usize, String, String)> {
        for node in 1..=NODES {
            let Ok(response) = crate::support::client()
                .get(format!("{}/cluster", self.rest(node)))
                .send()
            else {
                continue;
            };
            let Ok(cluster) = response.json::<Value>() else {
                continue;
            };
            return cluster["members"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| {
                    let name = m["name"].as_str()?;
                    let node: usize = name.strip_prefix('n')?.parse().ok()?;
                    Some((
                        node,
                        m["role"].as_str()?.to_owned(),
                        m["state"].as_str()?.to_owned(),
                    ))
                })
                .collect();
        }
        Vec::new()
    }

    /// Waits (bounded) for a leader, a synchronous standby and every node running; returns the
    /// leader and the synchronous standby.
    fn wait_healthy(&self) -> (usize, usize) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(180) {
            let members = self.members();
            let find = |role: &str| {
                members
                    .iter()
                    .find(|m| m.1 == role && m.2 == "running")
                    .map(|m| m.0)
            };
            if let (Some(leader), Some(sync)) = (find("leader"), find("sync_standby"))
                && members.len() == NODES
                && members
                    .iter()
                    .all(|m| m.2 == "running" || m.2 == "streaming")
            {
                return (leader, sync);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!(
            "the Patroni cluster never became healthy: {:?}",
            self.members()
        );
    }

    fn pid(path: PathBuf) -> String {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .next()
            .expect("a pid")
            .trim()
            .to_owned()
    }

    /// `kill -9` of node's Patroni and postmaster.
    fn kill(&self, node: usize) {
        let patroni = Self::pid(self.dir.join(format!("patroni-n{node}.pid")));
        let postmaster = Self::pid(self.dir.join(format!("n{node}/postmaster.pid")));
        for pid in [patroni, postmaster] {
            let _ = Command::new("kill").args(["-9", &pid]).status();
        }
    }

    fn restart(&self, node: usize) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pg/patroni.sh");
        let status = Command::new("bash")
            .arg(script)
            .args([
                "node",
                &self.dir.display().to_string(),
                &self.base.to_string(),
                &node.to_string(),
            ])
            .status()
            .expect("patroni.sh node");
        assert!(status.success());
    }

    fn switchover(&self, leader: usize, candidate: usize) {
        let response = crate::support::client()
            .post(format!("{}/switchover", self.rest(leader)))
            .json(&serde_json::json!({"leader": format!("n{leader}"), "candidate": format!("n{candidate}")}))
            .send()
            .expect("switchover");
        assert!(
            response.status().is_success(),
            "switchover: {:?}",
            response.text()
        );
    }
}

/// A base port with the 24 ports after it free.
fn free_base() -> u16 {
    for _ in 0..50 {
        let base = 20_000 + free_port() % 30_000;
        if (0..24).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no free block of ports");
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    receipts: Vec<(Uuid, u64, String)>,
    /// When each successful append was sent, and when it was answered.
    answered: Vec<(Instant, Instant)>,
    errors: usize,
}

#[test]
fn patroni_switchovers_and_leader_kills_lose_no_acknowledged_event() {
    if !cluster::enabled("patroni_switchovers_and_leader_kills_lose_no_acknowledged_event") {
        return;
    }
    let patroni = Patroni::start();
    let (leader, _) = patroni.wait_healthy();
    let url = patroni.url();
    let status = Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["--db", &url, "init"])
        .status()
        .expect("init");
    assert!(status.success());
    let dir = crate::support::tempdir();
    let served = Arc::new(Served::start(&url, dir.path()));
    let follower = Served::read_only(&url, dir.path(), &served.base);
    let feed = {
        let base = follower.base.clone();
        // Until the node stops (its feed then ends).
        std::thread::spawn(move || super::readers::feed(&base, u64::MAX, Duration::from_secs(1200)))
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (served, seen, stop) = (Arc::clone(&served), Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut synth = Synth::new(77);
            let started = Instant::now();
            for i in 0..50_000usize {
                if stop.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(600) {
                    break;
                }
                let sent = Instant::now();
                let (status, body) = served.post(lines(&mut synth, 1 + i % 3));
                let mut seen = seen.lock().expect("seen");
                if status == 200 || status == 201 {
                    for r in body.as_array().into_iter().flatten() {
                        seen.receipts.push((
                            r["event_id"]
                                .as_str()
                                .and_then(|s| s.parse().ok())
                                .expect("id"),
                            r["seq"].as_u64().expect("seq"),
                            r["hash"].as_str().expect("hash").to_owned(),
                        ));
                    }
                    seen.answered.push((sent, Instant::now()));
                } else {
                    seen.errors += 1;
                    drop(seen);
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    let answered = |seen: &Arc<Mutex<Seen>>| seen.lock().expect("seen").answered.len();
    let mut outages = Vec::new();
    let mut leader = leader;
    for (i, fault) in ["switchover", "kill -9", "switchover", "kill -9"]
        .into_iter()
        .enumerate()
    {
        // Let the load run a while between faults.
        let before = answered(&seen);
        let waited = Instant::now();
        while answered(&seen) < before + 30 {
            assert!(
                waited.elapsed() < Duration::from_secs(180),
                "no appends answered before fault {i}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let (current, sync) = patroni.wait_healthy();
        leader = current;
        let (_, last_before) = *seen
            .lock()
            .expect("seen")
            .answered
            .last()
            .expect("answered");
        match fault {
            "switchover" => patroni.switchover(leader, sync),
            _ => patroni.kill(leader),
        }
        // The outage is the longest time without an answer, from the last answer before the
        // fault until appends sent once it is done (a switchover returns when the new leader
        // is in place) have been answered again and again. The first of those may still be
        // answered at once: a killed postmaster's children finish what they were in, and its
        // walsender still streams, until they notice; the one after it then waits out the
        // failover.
        let at = Instant::now();
        let outage = loop {
            let seen = seen.lock().expect("seen");
            let after = seen.answered.iter().filter(|(sent, _)| *sent > at).count();
            if after >= RESUMED_AFTER {
                let times: Vec<Instant> = seen
                    .answered
                    .iter()
                    .map(|(_, answered)| *answered)
                    .filter(|answered| *answered >= last_before)
                    .collect();
                break times
                    .windows(2)
                    .map(|pair| pair[1].duration_since(pair[0]))
                    .max()
                    .unwrap_or_default();
            }
            drop(seen);
            assert!(
                at.elapsed() < Duration::from_secs(240),
                "writes never resumed after {fault} of n{leader}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        println!(
            "fault {i}: {fault} of leader n{leader}: write outage {:.1} s",
            outage.as_secs_f64()
        );
        outages.push((fault, outage));
        if fault != "switchover" {
            patroni.restart(leader);
        }
    }
    patroni.wait_healthy();
    stop.store(true, Ordering::Relaxed);
    load.join().expect("load");
    Arc::into_inner(served).expect("load done").stop();
    let seen = Arc::into_inner(seen)
        .expect("load done")
        .into_inner()
        .expect("seen");
    println!(
        "{} events acknowledged, {} appends refused or timed out during the faults; outages: {:?}",
        seen.receipts.len(),
        seen.errors,
        outages
    );
    let options = Options {
        read_only: true,
        ..Options::default()
    };
    let ledger =
        Ledger::open_at(&Location::Postgres(url.clone()), options).expect("open the new primary");
    let reader = ledger.reader();
    for (id, seq, hash) in &seen.receipts {
        let event = reader
            .get(id)
            .expect("read")
            .unwrap_or_else(|| panic!("acknowledged event {id} (seq {seq}) lost"));
        assert_eq!(event.sequence, *seq, "{id}");
        assert_eq!(
            coopledger::proto_events::hash::to_hex(&event.hash),
            *hash,
            "{id}"
        );
    }
    reader.verify(&mut |_, _| {}).expect("the chain verifies");
    // The read-only node came through every fault by itself.
    let head = reader.head().seq;
    super::readers::wait_head(&follower.base, head, Duration::from_secs(120));
    reader
        .verify_views()
        .expect("the views are a fold of the log");
    let views = reader.views();
    let countries: Vec<_> = views
        .countries()
        .filter_map(|c| views.country_view(c))
        .collect();
    assert_eq!(
        super::readers::get(&follower.base, "/v1/countries?limit=300"),
        serde_json::to_value(&countries).expect("json"),
        "the read-only node's views after the faults"
    );
    follower.stop();
    let fed: Vec<u64> = feed.join().expect("feed").iter().map(|(s, _)| *s).collect();
    assert_eq!(
        fed,
        (1..=head).collect::<Vec<_>>(),
        "the read-only node's feed across the faults: every record once, in order"
    );
    println!("the read-only node followed all {head} records through the faults");
    reader
        .verify_tree(&mut |_, _| {})
        .expect("the tree verifies");
    assert_eq!(outages.len(), 4);
    let _ = leader;
}
