//! Read-only API nodes (`serve --read-only`) over a replicated PostgreSQL ledger: one reading
//! the primary and one reading the standby follow a writer node while it takes appends. Each
//! one's live feed delivers every record once, in order, with the writer's hashes; once caught
//! up, their head and views are the writer's; an append posted to one is answered 421 naming the
//! writer, and nothing is written. (The Patroni failover test runs a read-only node through its
//! faults.)

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use coopledger::synth::Synth;
use serde_json::Value;

use super::cluster::{self, Cluster};
use super::load::{Served, lines};

/// The ids and data of the records a feed delivered, until `want` of them or `limit`.
pub fn feed(base: &str, want: u64, limit: Duration) -> Vec<(u64, Value)> {
    let client = reqwest::blocking::Client::builder()
        .timeout(limit)
        .build()
        .expect("client");
    let response = client
        .get(format!("{base}/v1/feed?from=1"))
        .send()
        .expect("feed");
    assert_eq!(response.status().as_u16(), 200, "the feed of {base}");
    let mut got = Vec::new();
    let mut id = None;
    for line in BufReader::new(response).lines() {
        let Ok(line) = line else { break };
        if let Some(n) = line.strip_prefix("id: ") {
            id = n.trim().parse::<u64>().ok();
        } else if let Some(data) = line.strip_prefix("data: ")
            && let Some(seq) = id.take()
        {
            got.push((seq, serde_json::from_str(data).expect("a record")));
            if got.len() as u64 >= want {
                break;
            }
        }
    }
    got
}

/// GETs `path` of `base` as JSON.
pub fn get(base: &str, path: &str) -> Value {
    crate::support::client()
        .get(format!("{base}{path}"))
        .send()
        .expect("get")
        .json()
        .expect("json")
}

/// Waits (bounded) until the node at `base` serves head `seq`.
pub fn wait_head(base: &str, seq: u64, limit: Duration) {
    let started = Instant::now();
    loop {
        let head = get(base, "/v1/head")["seq"].as_u64().unwrap_or(0);
        if head == seq {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{base} still serves head {head}, the writer {seq}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn read_only_nodes_follow_the_writer_and_refuse_appends() {
    if !cluster::enabled("read_only_nodes_follow_the_writer_and_refuse_appends") {
        return;
    }
    let cluster = Cluster::shared();
    let db = cluster.database();
    let url = cluster.url(&db);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_coopledger"))
        .args(["--db", &url, "init"])
        .status()
        .expect("init");
    assert!(status.success());
    cluster.wait_schema_on_standbys(&db);
    let dir = crate::support::tempdir();
    let writer = Served::start(&url, dir.path());
    // Some history before the readers start: they load it, then follow.
    let mut synth = Synth::new(31);
    for _ in 0..10 {
        let (status, body) = writer.post(lines(&mut synth, 20));
        assert_eq!(status, 201, "{body}");
    }
    let readers = [
        Served::read_only(&url, dir.path(), &writer.base),
        Served::read_only(&cluster.standby_url(0, &db), dir.path(), &writer.base),
    ];
    let batches = 60u64;
    let total = 10 * 20 + (1..=batches).map(|i| 1 + i % 5).sum::<u64>();
    let feeds: Vec<_> = readers
        .iter()
        .map(|r| {
            let base = r.base.clone();
            std::thread::spawn(move || feed(&base, total, Duration::from_secs(120)))
        })
        .collect();
    let started = Instant::now();
    for i in 1..=batches {
        let n = usize::try_from(1 + i % 5).expect("small");
        let (status, body) = writer.post(lines(&mut synth, n));
        assert_eq!(status, 201, "{body}");
    }
    let head = get(&writer.base, "/v1/head");
    assert_eq!(head["seq"], total);
    for reader in &readers {
        wait_head(&reader.base, total, Duration::from_secs(60));
    }
    println!(
        "{total} records; both read-only nodes at the writer's head {:.2} s after the first of {batches} appends",
        started.elapsed().as_secs_f64()
    );
    for reader in &readers {
        for path in ["/v1/head", "/v1/countries", "/v1/regions", "/v1/timeline"] {
            assert_eq!(
                get(&reader.base, path),
                get(&writer.base, path),
                "{path} of {}",
                reader.base
            );
        }
        let verified = get(&reader.base, "/v1/verify");
        assert_eq!(verified["ok"], true, "{}: {verified}", reader.base);
    }
    for (reader, feed) in readers.iter().zip(feeds) {
        let got = feed.join().expect("feed");
        let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
        assert_eq!(
            seqs,
            (1..=total).collect::<Vec<_>>(),
            "the feed of {}: every record once, in order",
            reader.base
        );
        for (seq, record) in got.iter().step_by(37) {
            let written = get(&writer.base, &format!("/v1/events?from={seq}&limit=1"));
            assert_eq!(&written[0], record, "record {seq}");
        }
    }
    // An append to a read-only node is refused and names the writer; nothing is written.
    let (status, body) = readers[0].post(lines(&mut synth, 1));
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["error"], "read_only", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&writer.base)),
        "{body}"
    );
    assert_eq!(get(&writer.base, "/v1/head")["seq"], total);
    for reader in readers {
        reader.stop();
    }
    writer.stop();
}
