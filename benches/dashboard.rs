//! The dashboard's time to a complete first paint (every view, the timeline and the kept
//! verification on screen) at 3,000 and 300,000 events, in headless Chromium.
//!
//! For each size: the story plus a believable synthetic programme is appended, the HTTP API
//! serves it on 127.0.0.1 (reads public), and `tests/browser/first-paint.mjs` opens the page in
//! fresh browser contexts and reports the page's own clock at completion. The first load comes
//! right after the server starts, while or after it warms its caches in the background (the
//! timeline's fold at the head, the head's one verification); the later ones read them. Needs Node.js, `npm ci` in `tests/browser/` and
//! Debian's chromium, as the browser tests do. `COOPLEDGER_PAINT_SIZES=3000,30000` picks other
//! sizes; `COOPLEDGER_PAINT_ROUNDS` the loads per size (5).

use std::path::Path;
use std::process::Command;

use coopledger::http::{self, Config};
use coopledger::synth::Synth;
use coopledger::{LedgerHandle, story};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One load: milliseconds to completion, requests made.
struct Load {
    ms: f64,
    requests: u64,
}

fn loads(url: &str, rounds: usize) -> Vec<Load> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/first-paint.mjs");
    let out = Command::new("node")
        .arg(&script)
        .arg(url)
        .arg(rounds.to_string())
        .current_dir(script.parent().expect("tests/browser"))
        .output()
        .expect("node (Node.js 20) runs tests/browser/first-paint.mjs");
    assert!(
        out.status.success(),
        "first-paint.mjs failed (npm ci in tests/browser? chromium?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            Load {
                ms: v["ms"].as_f64().expect("ms"),
                requests: v["requests"].as_u64().expect("requests"),
            }
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("COOPLEDGER_PAINT_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![3_000, 300_000]);
    let rounds: usize = std::env::var("COOPLEDGER_PAINT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .max(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "time to a complete first paint of the dashboard (headless Chromium, {rounds} loads per size)"
    );
    for size in sizes {
        let dir = tempfile::tempdir().expect("tmp");
        let handle = LedgerHandle::create(dir.path()).expect("ledger");
        let story = story::events().expect("the story is valid");
        let synthetic = size.saturating_sub(story.len());
        let url = runtime.block_on(async {
            handle.append(story).await.expect("story");
            let programme = Synth::new(2016)
                .assume_joined(&story::joined())
                .believable(synthetic);
            for chunk in programme.chunks(10_000) {
                handle.append(chunk.to_vec()).await.expect("programme");
            }
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let url = format!("http://{}/", listener.local_addr().expect("addr"));
            let config = Config {
                public_reads: true,
                ..Config::default()
            };
            tokio::spawn(http::serve(
                listener,
                handle.clone(),
                config,
                std::future::pending(),
            ));
            url
        });
        let head = handle.reader().head().seq;
        let all = loads(&url, rounds);
        let cold = &all[0];
        let warm = median(all[1..].iter().map(|l| l.ms).collect());
        let requests = all.iter().map(|l| l.requests).max().unwrap_or(0);
        println!(
            "{head:>8} events: first load {:>6.0} ms (just after the server started), then median {warm:>5.0} ms; at most {requests} requests per load",
            cold.ms
        );
    }
}
