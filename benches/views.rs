//! Reading one country view while appends run (criterion), with the p99 latency printed.
//!
//! A writer thread appends typical events in small batches for the whole run; the benchmark
//! reads Ghana's view (snapshot + building the view) and, separately, its JSON. Every sample's
//! per-read latency is kept to report the 99th percentile, the figure the target is stated in.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coopledger::Ledger;
use coopledger::proto_events::CountryCode;
use coopledger::synth::Synth;
use criterion::{Criterion, criterion_group, criterion_main};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    latencies.sort_unstable();
    let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
    latencies[index]
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut ledger = Ledger::create(dir.path()).expect("ledger");
    let mut synth = Synth::new(42);
    // A realistic programme first, so the view has its full set of counterparts.
    for _ in 0..5 {
        ledger.append(synth.programme(2_000)).expect("history");
    }
    let reader = ledger.reader();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut appended = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let batch: Vec<_> = (0..8).map(|_| synth.activity()).collect();
                ledger.append(batch).expect("append");
                appended += 8;
            }
            appended
        })
    };
    let gh = CountryCode::parse("GH").expect("GH");
    let mut group = c.benchmark_group("country view while appending");
    for (name, json) in [("view", false), ("view as JSON", true)] {
        let mut latencies = Vec::new();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    let view = reader.views().country_view(gh).expect("Ghana");
                    if json {
                        std::hint::black_box(serde_json::to_vec(&view).expect("json"));
                    } else {
                        std::hint::black_box(view);
                    }
                    let took = started.elapsed();
                    latencies.push(took);
                    total += took;
                }
                total
            });
        });
        let p50 = percentile(&mut latencies, 0.50);
        let p99 = percentile(&mut latencies, 0.99);
        println!(
            "{name}: {} reads while appending, p50 {:.1} µs, p99 {:.1} µs (target p99 < 50 µs)",
            latencies.len(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let appended = writer.join().expect("writer");
    println!("appended {appended} events during the benchmark");
}

criterion_group! {
    name = views;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).sample_size(50);
    targets = bench
}
criterion_main!(views);
