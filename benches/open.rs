//! What a command costs as the log grows: open time and memory at 3k, 300k and 3M events.
//!
//! `cargo bench --bench open` builds three ledgers with the synthetic generator (bulk appends of
//! 10,000-event batches), then measures, on each, with the release binary as users run it:
//! raw sled opening the same directory (in this process), `coopledger country GH`, a one-event
//! `coopledger append`, and `coopledger serve` until it is ready (its first line), each the
//! median of 3 runs, with the peak resident memory of the process (GNU time's `%M`). The
//! targets: a command on the 3M ledger costs at most the same command on the 3k one plus twice
//! sled's own open of the 3M directory, in under 200 MiB. Then a command that walks the whole
//! log, `coopledger report --out` (it verifies the chain and folds the views and the timeline
//! from the same reads), against its target of 10 s at 3M events.
//!
//! `COOPLEDGER_BENCH_SCALE=0.1` builds a tenth of the sizes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use coopledger::Ledger;
use coopledger::synth::Synth;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BIN: &str = env!("CARGO_BIN_EXE_coopledger");
const RUNS: usize = 3;
const RSS_LIMIT_KB: u64 = 200 * 1024;

fn scale(n: usize) -> usize {
    let factor: f64 = std::env::var("COOPLEDGER_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * factor) as usize).max(1_000)
}

fn build(dir: &Path, events: usize) -> Duration {
    let started = Instant::now();
    let mut ledger = Ledger::create(dir).expect("create");
    let mut synth = Synth::new(17);
    let mut left = events;
    while left > 0 {
        let n = left.min(10_000);
        ledger.append(synth.programme(n)).expect("append");
        left -= n;
    }
    started.elapsed()
}

/// Wall time and peak RSS (KiB) of one run of the binary, under GNU time.
fn timed(dir: &Path, args: &[&str]) -> (Duration, u64) {
    let report = tempfile::NamedTempFile::new().expect("temp");
    let started = Instant::now();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(BIN)
        .arg("--db")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run under /usr/bin/time");
    let took = started.elapsed();
    assert!(status.success(), "coopledger {args:?} failed");
    let rss = std::fs::read_to_string(report.path())
        .ok()
        .and_then(|t| t.lines().last().and_then(|l| l.trim().parse().ok()))
        .unwrap_or(0);
    (took, rss)
}

/// Time until `serve` prints its address, and its resident memory then.
fn serve_ready(dir: &Path) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("--db")
        .arg(dir)
        .args(["serve", "--addr", "127.0.0.1:0", "--public-reads"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let took = started.elapsed();
    let rss = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    (took, rss)
}

fn median(mut v: Vec<(Duration, u64)>) -> (Duration, u64) {
    v.sort();
    v[v.len() / 2]
}

struct Row {
    events: usize,
    sled_open: Duration,
    country: (Duration, u64),
    append: (Duration, u64),
    serve: (Duration, u64),
    report: (Duration, u64),
}

fn main() {
    let sizes = [scale(3_000), scale(300_000), scale(3_000_000)];
    println!("coopledger open benchmark (sizes {sizes:?})");
    let work = tempfile::tempdir().expect("tmp");
    let mut rows = Vec::new();
    for (i, &events) in sizes.iter().enumerate() {
        let dir = work.path().join(format!("ledger-{i}"));
        let built = build(&dir, events);
        println!(
            "built {events} events in {:.1} s ({:.0} ev/s)",
            built.as_secs_f64(),
            events as f64 / built.as_secs_f64()
        );
        let sled_open = {
            let mut runs: Vec<Duration> = (0..RUNS)
                .map(|_| {
                    let started = Instant::now();
                    let db = sled::Config::new()
                        .path(&dir)
                        .cache_capacity(64 * 1024 * 1024)
                        .open()
                        .expect("sled");
                    let took = started.elapsed();
                    drop(db);
                    // sled lets go of its lock a moment after the handle.
                    std::thread::sleep(Duration::from_millis(100));
                    took
                })
                .collect();
            runs.sort();
            runs[runs.len() / 2]
        };
        let country = median(
            (0..RUNS)
                .map(|_| timed(&dir, &["--json", "country", "GH"]))
                .collect(),
        );
        let append = median(
            (0..RUNS)
                .map(|n| {
                    let file = work.path().join(format!("one-{i}-{n}.jsonl"));
                    let event = Synth::new(1_000 + n as u64).activity();
                    let line = serde_json::Value::Object(
                        coopledger::proto_events::staff::to_staff_object(&event),
                    );
                    std::fs::write(&file, format!("{line}\n")).expect("write");
                    timed(&dir, &["append", file.to_str().expect("path")])
                })
                .collect(),
        );
        let serve = median((0..RUNS).map(|_| serve_ready(&dir)).collect());
        let out = work.path().join(format!("report-{i}.html"));
        let report = median(
            (0..RUNS)
                .map(|_| timed(&dir, &["report", "--out", out.to_str().expect("path")]))
                .collect(),
        );
        rows.push(Row {
            events,
            sled_open,
            country,
            append,
            serve,
            report,
        });
    }
    println!();
    println!(
        "{:>10} {:>14} {:>22} {:>22} {:>22}",
        "events", "sled open", "country GH (MiB)", "append one (MiB)", "serve ready (MiB)"
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    for r in &rows {
        println!(
            "{:>10} {:>11.1} ms {:>12.1} ms {:>6.0} {:>12.1} ms {:>6.0} {:>12.1} ms {:>6.0}",
            r.events,
            ms(r.sled_open),
            ms(r.country.0),
            r.country.1 as f64 / 1024.0,
            ms(r.append.0),
            r.append.1 as f64 / 1024.0,
            ms(r.serve.0),
            r.serve.1 as f64 / 1024.0
        );
    }
    for r in &rows {
        println!(
            "report --out at {} events: {:.2} s, {:.0} MiB",
            r.events,
            r.report.0.as_secs_f64(),
            r.report.1 as f64 / 1024.0
        );
    }
    let (small, large) = (&rows[0], &rows[rows.len() - 1]);
    println!(
        "report at {} events: {:.2} s, target 10 s: {}",
        large.events,
        large.report.0.as_secs_f64(),
        if large.report.0 <= Duration::from_secs(10) {
            "ok"
        } else {
            "OVER"
        }
    );
    for (what, s, l) in [
        ("country GH", small.country, large.country),
        ("append one", small.append, large.append),
        ("serve ready", small.serve, large.serve),
    ] {
        let budget = s.0 + large.sled_open * 2;
        println!(
            "{what}: {:.1} ms at {} events, budget {:.1} ms ({:.1} ms at {} + 2 × sled's {:.1} ms) {}; {:.0} MiB {}",
            ms(l.0),
            large.events,
            ms(budget),
            ms(s.0),
            small.events,
            ms(large.sled_open),
            if l.0 <= budget { "ok" } else { "OVER" },
            l.1 as f64 / 1024.0,
            if l.1 <= RSS_LIMIT_KB {
                "ok"
            } else {
                "OVER 200 MiB"
            }
        );
    }
}
