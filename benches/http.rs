//! HTTP throughput: `GET /v1/countries/{cc}` of the real server while appends go on, against a
//! trivial axum handler, with the same load generator (keep-alive HTTP/1.1 connections, fixed
//! concurrency, fixed duration). Prints req/s, p50 and p99 of both and the ratio.
//!
//! `COOPLEDGER_BENCH_SECONDS` sets each run's duration (default 10).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use coopledger::LedgerHandle;
use coopledger::http::{self, Config};
use coopledger::synth::Synth;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONNECTIONS: usize = 32;

struct Outcome {
    requests: u64,
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

async fn load(url: String, seconds: u64) -> Outcome {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("client");
    // Warm the connections up before timing.
    for _ in 0..CONNECTIONS {
        client
            .get(&url)
            .send()
            .await
            .expect("warm-up")
            .bytes()
            .await
            .expect("body");
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let client = client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let response = client.get(&url).send().await.expect("request");
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.expect("body");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let elapsed = started.elapsed();
    all.sort_unstable();
    let at = |p: f64| all[((all.len() as f64 - 1.0) * p) as usize];
    Outcome {
        requests: all.len() as u64,
        per_second: all.len() as f64 / elapsed.as_secs_f64(),
        p50: at(0.5),
        p99: at(0.99),
    }
}

fn main() {
    let seconds: u64 = std::env::var("COOPLEDGER_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tmp");
    let handle = LedgerHandle::create(dir.path()).expect("ledger");
    runtime.block_on(async {
        let mut synth = Synth::new(7);
        for _ in 0..5 {
            handle.append(synth.programme(2_000)).await.expect("history");
        }
        // The trivial baseline: a fixed small JSON body.
        let trivial = Router::new().route("/", get(|| async { axum::Json(serde_json::json!({"ok": true})) }));
        let trivial_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let trivial_url = format!("http://{}/", trivial_listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(trivial_listener, trivial).await });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/v1/countries/GH", listener.local_addr().expect("addr"));
        let config = Config {
            public_reads: true,
            ..Config::default()
        };
        tokio::spawn(http::serve(listener, handle.clone(), config, std::future::pending()));
        // Appends go on for the whole run.
        let stop = Arc::new(AtomicBool::new(false));
        let appender = {
            let (handle, stop) = (handle.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut appended = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    handle.append((0..8).map(|_| synth.activity()).collect()).await.expect("append");
                    appended += 8;
                }
                appended
            })
        };
        let ours = load(url, seconds).await;
        stop.store(true, Ordering::Relaxed);
        let appended = appender.await.expect("appender");
        let baseline = load(trivial_url, seconds).await;
        println!("{CONNECTIONS} keep-alive connections, {seconds} s each");
        for (name, o) in [("GET /v1/countries/GH while appending", &ours), ("trivial axum handler", &baseline)] {
            println!(
                "{name:<38} {:>9.0} req/s  p50 {:>7.1} µs  p99 {:>7.1} µs  ({} requests)",
                o.per_second,
                o.p50.as_secs_f64() * 1e6,
                o.p99.as_secs_f64() * 1e6,
                o.requests
            );
        }
        println!(
            "ratio {:.2}× of the trivial handler (target ≥ 0.5×); {appended} events appended during the run",
            ours.per_second / baseline.per_second
        );
    });
}
