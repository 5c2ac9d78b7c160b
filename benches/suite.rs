//! The storage benchmark suite: coopledger against raw sled and SQLite, in one run.
//!
//! `cargo bench --bench suite` prints events/s and ratios for durable concurrent appends,
//! sequential durable appends, bulk 10,000-event batches, reading every record with hash checks,
//! and rebuilding both views. Every contender writes the same stored bytes (the ledger's record
//! frames of typical `ActivityDelivered` events), batches the same way and makes each batch
//! durable the same way (sled: flush then fdatasync of the data file; SQLite: WAL with
//! `synchronous=FULL`, one transaction per batch).
//!
//! `COOPLEDGER_BENCH_SCALE=0.1` runs a tenth of the sizes (for a quick look).

mod common;

use std::path::Path;

// The same allocator as the coopledger binary, for every contender.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::scale;
use coopledger::proto_events::NewEvent;
use coopledger::store::sled::keys;
use coopledger::{Ledger, LedgerHandle, Options, ViewName};
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, oneshot};

/// Typical events and their stored frames, chained as the ledger would store them.
fn workload(n: usize, seed: u64) -> (Vec<NewEvent>, Vec<Vec<u8>>) {
    let (events, stored) = common::workload(n, seed);
    (events, stored.into_iter().map(|r| r.frame).collect())
}

// ---- raw sled ------------------------------------------------------------------------------

/// sled itself, with the ledger's key layout and durability: one batch, a flush, an fdatasync
/// of the data file (sled's flush alone only issues `sync_file_range`).
struct RawSled {
    db: sled::Db,
    data: std::fs::File,
}

fn raw_store(dir: &Path) -> RawSled {
    let db = sled::Config::new()
        .path(dir)
        .flush_every_ms(None)
        .open()
        .expect("raw sled store");
    let data = std::fs::File::open(dir.join("db")).expect("sled data file");
    RawSled { db, data }
}

fn raw_put_batch(store: &RawSled, first_seq: u64, frames: &[Vec<u8>]) {
    let mut batch = sled::Batch::default();
    for (i, f) in frames.iter().enumerate() {
        batch.insert(&keys::event(first_seq + i as u64), f.as_slice());
    }
    store.db.apply_batch(batch).expect("apply");
    store.db.flush().expect("flush");
    store.data.sync_data().expect("fdatasync");
}

// ---- SQLite --------------------------------------------------------------------------------

fn sqlite(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("events.sqlite")).expect("sqlite");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    conn.pragma_update(None, "synchronous", "FULL")
        .expect("full");
    conn.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY, value BLOB NOT NULL)")
        .expect("table");
    conn
}

fn sqlite_put_batch(conn: &mut rusqlite::Connection, first_seq: u64, frames: &[Vec<u8>]) {
    let tx = conn.transaction().expect("tx");
    {
        let mut stmt = tx
            .prepare_cached("INSERT INTO events (seq, value) VALUES (?1, ?2)")
            .expect("prepare");
        for (i, f) in frames.iter().enumerate() {
            stmt.execute(rusqlite::params![(first_seq + i as u64) as i64, f])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

// ---- group commit for the baselines ---------------------------------------------------------

type Job = (Vec<u8>, oneshot::Sender<u64>);

/// A baseline writer thread with the ledger's batching: take every pending write, write them as
/// one batch, make it durable once, answer each.
fn group_writer(mut put: impl FnMut(u64, &[Vec<u8>]) + Send + 'static) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(1024);
    std::thread::spawn(move || {
        let mut next = 1u64;
        while let Some(first) = rx.blocking_recv() {
            let mut jobs = vec![first];
            while let Ok(job) = rx.try_recv() {
                jobs.push(job);
            }
            let frames: Vec<Vec<u8>> = jobs.iter().map(|(f, _)| f.clone()).collect();
            put(next, &frames);
            for (i, (_, reply)) in jobs.into_iter().enumerate() {
                let _ = reply.send(next + i as u64);
            }
            next += frames.len() as u64;
        }
    });
    tx
}

async fn concurrent_raw(
    tx: mpsc::Sender<Job>,
    frames: Arc<Vec<Vec<u8>>>,
    tasks: usize,
) -> Duration {
    let started = Instant::now();
    let per = frames.len() / tasks;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let tx = tx.clone();
        let frames = Arc::clone(&frames);
        handles.push(tokio::spawn(async move {
            for f in &frames[t * per..(t + 1) * per] {
                let (reply, rx) = oneshot::channel();
                tx.send((f.clone(), reply)).await.expect("send");
                rx.await.expect("reply");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    started.elapsed()
}

async fn concurrent_ledger(handle: LedgerHandle, events: Vec<NewEvent>, tasks: usize) -> Duration {
    let started = Instant::now();
    let per = events.len() / tasks;
    let events = Arc::new(events);
    let mut handles = Vec::new();
    for t in 0..tasks {
        let handle = handle.clone();
        let events = Arc::clone(&events);
        handles.push(tokio::spawn(async move {
            for e in &events[t * per..(t + 1) * per] {
                handle.append(vec![e.clone()]).await.expect("append");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    started.elapsed()
}

struct Line {
    name: &'static str,
    ledger: f64,
    sled: f64,
    sqlite: f64,
    target: f64,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut lines = Vec::new();
    let proof_latency: Option<(usize, Duration, Duration, Duration)>;
    let sizes = [
        scale(128 * 40),
        scale(400),
        scale(200_000),
        scale(1_000_000),
    ];
    println!("coopledger benchmark suite (sizes: {sizes:?})");

    let rounds = 3;
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    // 1. Durable appends from 64 concurrent appenders (each contender `rounds` times, interleaved,
    // fresh store each time; the median counts).
    let (mut l1, mut s1, mut q1) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let tasks = 64;
        let n = sizes[0] / tasks * tasks;
        let (events, frames) = workload(n, 1 + round as u64 * 100);
        let frames = Arc::new(frames);
        let dir = tempfile::tempdir().expect("tmp");
        let handle = LedgerHandle::create(dir.path().join("ledger")).expect("ledger");
        let ledger_t = rt.block_on(concurrent_ledger(handle.clone(), events, tasks));
        rt.block_on(handle.close());
        let store = raw_store(&dir.path().join("sled"));
        let tx = group_writer(move |first, f| raw_put_batch(&store, first, f));
        let sled_t = rt.block_on(concurrent_raw(tx, Arc::clone(&frames), tasks));
        let mut conn = sqlite(dir.path());
        let tx = group_writer(move |first, f| sqlite_put_batch(&mut conn, first, f));
        let sqlite_t = rt.block_on(concurrent_raw(tx, frames, tasks));
        l1.push(ledger_t);
        s1.push(sled_t);
        q1.push(sqlite_t);
    }
    {
        let n = sizes[0] / 64 * 64;
        lines.push(Line {
            name: "durable appends, 64 concurrent appenders",
            ledger: rate(n, median(l1)),
            sled: rate(n, median(s1)),
            sqlite: rate(n, median(q1)),
            target: 0.5,
        });
    }

    // 2. Sequential durable appends, each awaited; and their bound, the fsync latency of a
    // growing file (each frame appended to a plain file, then fdatasync).
    let (mut l2, mut s2, mut q2, mut b2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let n = sizes[1];
        let (events, frames) = workload(n, 2 + round as u64 * 100);
        let dir = tempfile::tempdir().expect("tmp");
        let mut ledger = Ledger::create(dir.path().join("ledger")).expect("ledger");
        let started = Instant::now();
        for e in events {
            ledger.append(vec![e]).expect("append");
        }
        let ledger_t = started.elapsed();
        // Closed before the next contender runs, so its background threads take nothing from it.
        drop(ledger);
        let store = raw_store(&dir.path().join("sled"));
        let started = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            raw_put_batch(&store, i as u64 + 1, std::slice::from_ref(f));
        }
        let sled_t = started.elapsed();
        drop(store);
        let mut conn = sqlite(dir.path());
        let started = Instant::now();
        for (i, f) in frames.iter().enumerate() {
            sqlite_put_batch(&mut conn, i as u64 + 1, std::slice::from_ref(f));
        }
        let sqlite_t = started.elapsed();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("bound"))
            .expect("bound file");
        let started = Instant::now();
        for f in &frames {
            std::io::Write::write_all(&mut file, f).expect("write");
            file.sync_data().expect("fdatasync");
        }
        b2.push(started.elapsed());
        l2.push(ledger_t);
        s2.push(sled_t);
        q2.push(sqlite_t);
    }
    let sequential_bound = rate(sizes[1], median(b2));
    lines.push(Line {
        name: "sequential durable appends, each awaited",
        ledger: rate(sizes[1], median(l2)),
        sled: rate(sizes[1], median(s2)),
        sqlite: rate(sizes[1], median(q2)),
        target: 0.8,
    });

    // 3. Bulk append of 10,000-event batches.
    let bulk_n = (sizes[2] / 10_000 * 10_000).max(10_000);
    let (mut l3, mut s3, mut q3) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let n = bulk_n;
        let (events, frames) = workload(n, 3 + round as u64 * 100);
        let dir = tempfile::tempdir().expect("tmp");
        let mut ledger = Ledger::create(dir.path().join("ledger")).expect("ledger");
        let started = Instant::now();
        for chunk in events.chunks(10_000) {
            ledger.append(chunk.to_vec()).expect("append");
        }
        let ledger_t = started.elapsed();
        drop(ledger);
        let store = raw_store(&dir.path().join("sled"));
        let started = Instant::now();
        for (i, chunk) in frames.chunks(10_000).enumerate() {
            raw_put_batch(&store, (i * 10_000) as u64 + 1, chunk);
        }
        let sled_t = started.elapsed();
        drop(store);
        let mut conn = sqlite(dir.path());
        let started = Instant::now();
        for (i, chunk) in frames.chunks(10_000).enumerate() {
            sqlite_put_batch(&mut conn, (i * 10_000) as u64 + 1, chunk);
        }
        let sqlite_t = started.elapsed();
        l3.push(ledger_t);
        s3.push(sled_t);
        q3.push(sqlite_t);
    }
    lines.push(Line {
        name: "bulk append, 10,000-event batches",
        ledger: rate(bulk_n, median(l3)),
        sled: rate(bulk_n, median(s3)),
        sqlite: rate(bulk_n, median(q3)),
        target: 0.7,
    });

    // 4. Reading every record with hash checks, and rebuilding both views.
    {
        let n = sizes[3] / 10_000 * 10_000;
        let n = n.max(10_000);
        let dir = tempfile::tempdir().expect("tmp");
        let mut ledger = Ledger::create(dir.path().join("ledger")).expect("ledger");
        let store = raw_store(&dir.path().join("sled"));
        let mut conn = sqlite(dir.path());
        let mut synth_seed = 4;
        let mut loaded = 0usize;
        while loaded < n {
            let (events, frames) = workload(10_000.min(n - loaded), synth_seed);
            synth_seed += 1;
            ledger.append(events).expect("append");
            // The baselines store the same number of records of the same shape; their chain is
            // per chunk, which does not matter to a raw scan.
            raw_put_batch(&store, loaded as u64 + 1, &frames);
            sqlite_put_batch(&mut conn, loaded as u64 + 1, &frames);
            loaded += frames.len();
        }
        // Each contender reads everything twice and the second pass is timed: the steady state
        // of a warm cache, the same for all three.
        let reader = ledger.reader();
        let read_ledger = || {
            let started = Instant::now();
            let mut next = 1u64;
            loop {
                let page = reader.read_forward(next, 10_000).expect("read");
                if page.is_empty() {
                    break;
                }
                next += page.len() as u64;
            }
            assert_eq!(next as usize, n + 1, "read everything");
            started.elapsed()
        };
        read_ledger();
        let ledger_t = read_ledger();
        let read_sled = || {
            let started = Instant::now();
            let mut bytes = 0usize;
            for item in store.db.scan_prefix([keys::EVENT]) {
                let (_, v) = item.expect("scan");
                bytes += v.len();
            }
            (started.elapsed(), bytes)
        };
        read_sled();
        let (sled_t, raw_bytes) = read_sled();
        let read_sqlite = || {
            let started = Instant::now();
            let mut bytes = 0usize;
            let mut stmt = conn
                .prepare("SELECT value FROM events ORDER BY seq")
                .expect("select");
            let mut rows = stmt.query([]).expect("query");
            while let Some(row) = rows.next().expect("row") {
                let v: Vec<u8> = row.get(0).expect("value");
                bytes += v.len();
            }
            (started.elapsed(), bytes)
        };
        read_sqlite();
        let (sqlite_t, sql_bytes) = read_sqlite();
        assert!(raw_bytes > 0 && sql_bytes == raw_bytes);
        lines.push(Line {
            name: "read all records with hash checks",
            ledger: rate(n, ledger_t),
            sled: rate(n, sled_t),
            sqlite: rate(n, sqlite_t),
            target: 0.4,
        });
        let started = Instant::now();
        ledger
            .rebuild_views(ViewName::All, &mut |_| {})
            .expect("rebuild");
        let rebuild_t = started.elapsed();
        lines.push(Line {
            name: "rebuild both views (decode + hash + fold)",
            ledger: rate(n, rebuild_t),
            sled: rate(n, sled_t),
            sqlite: rate(n, sqlite_t),
            target: 0.3,
        });
        // Inclusion proofs at this size: random leaves, each against the head's tree.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut took = Vec::new();
        for _ in 0..1_000 {
            let seq = rng.random_range(1..=n as u64);
            let started = Instant::now();
            let proof = reader.inclusion_proof(seq, None).expect("proof");
            took.push(started.elapsed());
            assert!(proof.verify().is_ok());
        }
        took.sort_unstable();
        proof_latency = Some((
            n,
            took[took.len() / 2],
            took[took.len() * 99 / 100],
            took[took.len() - 1],
        ));
    }

    // 5. The Merkle tree's cost: the same appends with and without it.
    let (mut with_c, mut without_c, mut with_b, mut without_b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        for merkle in [true, false] {
            let tasks = 64;
            let n = sizes[0] / tasks * tasks;
            let (events, _) = workload(n, 500 + round as u64);
            let dir = tempfile::tempdir().expect("tmp");
            let options = Options {
                merkle,
                create: true,
                ..Options::default()
            };
            let handle =
                LedgerHandle::start(Ledger::open_with(dir.path(), options).expect("ledger"));
            let t = rt.block_on(concurrent_ledger(handle.clone(), events, tasks));
            rt.block_on(handle.close());
            if merkle {
                with_c.push(t)
            } else {
                without_c.push(t)
            }
            let (events, _) = workload(bulk_n, 600 + round as u64);
            let dir = tempfile::tempdir().expect("tmp");
            let mut ledger = Ledger::open_with(dir.path(), options).expect("ledger");
            let started = Instant::now();
            for chunk in events.chunks(10_000) {
                ledger.append(chunk.to_vec()).expect("append");
            }
            let t = started.elapsed();
            if merkle {
                with_b.push(t)
            } else {
                without_b.push(t)
            }
        }
    }
    let concurrent_n = sizes[0] / 64 * 64;
    let tree_lines = [
        (
            "durable appends, 64 concurrent appenders",
            rate(concurrent_n, median(with_c)),
            rate(concurrent_n, median(without_c)),
        ),
        (
            "bulk append, 10,000-event batches",
            rate(bulk_n, median(with_b)),
            rate(bulk_n, median(without_b)),
        ),
    ];

    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>12} {:>9} {:>9} {:>7}",
        "workload", "ledger ev/s", "sled ev/s", "sqlite ev/s", "vs sled", "vs sqlite", "target"
    );
    for l in &lines {
        let vs_sled = l.ledger / l.sled;
        println!(
            "{:<44} {:>12.0} {:>12.0} {:>12.0} {:>8.2}x {:>8.2}x {:>6.1}x {}",
            l.name,
            l.ledger,
            l.sled,
            l.sqlite,
            vs_sled,
            l.ledger / l.sqlite,
            l.target,
            if vs_sled >= l.target {
                "ok"
            } else {
                "BELOW TARGET"
            }
        );
    }
    if let Some(l) = lines.iter().find(|l| l.name.starts_with("sequential")) {
        println!(
            "sequential appends' bound, a frame appended to a plain file then fdatasync: {:.0} \
             ev/s; the ledger reaches {:.0} % of it, raw sled {:.0} %, SQLite {:.0} %",
            sequential_bound,
            100.0 * l.ledger / sequential_bound,
            100.0 * l.sled / sequential_bound,
            100.0 * l.sqlite / sequential_bound
        );
    }
    println!();
    println!(
        "{:<44} {:>14} {:>14} {:>9} {:>7}",
        "with and without the Merkle tree", "with ev/s", "without ev/s", "ratio", "target"
    );
    for (name, with, without) in tree_lines {
        let ratio = with / without;
        println!(
            "{name:<44} {with:>14.0} {without:>14.0} {ratio:>8.2}x {:>6.1}x {}",
            0.8,
            if ratio >= 0.8 { "ok" } else { "BELOW TARGET" }
        );
    }
    if let Some((n, p50, p99, max)) = proof_latency {
        println!(
            "inclusion proof at {n} events: p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs (target < 1 ms) {}",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            max.as_secs_f64() * 1e6,
            if p99 < Duration::from_millis(1) {
                "ok"
            } else {
                "BELOW TARGET"
            }
        );
    }
}
