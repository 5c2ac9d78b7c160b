//! `GET /metrics`: Prometheus text exposition of the ledger's counters (appends, group-commit
//! sizes, sync latency), of the HTTP requests (counts by route and status, latencies), of the
//! connections (open, refused by the caps, timed out) and of the live feeds.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::AppState;
use crate::metrics::{GROUP_BUCKETS, Histogram, SYNC_BUCKETS_US};

/// Latency buckets of HTTP requests, in seconds.
const REQUEST_BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    buckets: [u64; REQUEST_BUCKETS.len() + 1],
    sum_seconds: f64,
    count: u64,
}

/// Request counters by route, and the feeds dropped for falling behind.
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    /// Feeds ended with a `dropped` event.
    pub feeds_dropped: std::sync::atomic::AtomicU64,
}

impl HttpMetrics {
    /// Records one request.
    pub fn record(&self, route: &str, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut routes = self.routes.lock();
        let stats = routes.entry(route.to_owned()).or_default();
        *stats.by_status.entry(status).or_default() += 1;
        for (bucket, bound) in stats
            .buckets
            .iter_mut()
            .zip(REQUEST_BUCKETS.iter().chain([f64::INFINITY].iter()))
        {
            if seconds <= *bound {
                *bucket += 1;
            }
        }
        stats.sum_seconds += seconds;
        stats.count += 1;
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram, bounds: &[u64], scale: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bucket, bound) in h.buckets.iter().zip(bounds) {
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"{}\"}} {}",
            *bound as f64 * scale,
            bucket.load(Ordering::Relaxed)
        );
    }
    if let Some(inf) = h.buckets.get(bounds.len()) {
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"+Inf\"}} {}",
            inf.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "{name}_sum {}",
        h.sum.load(Ordering::Relaxed) as f64 * scale
    );
    let _ = writeln!(out, "{name}_count {}", h.count.load(Ordering::Relaxed));
}

fn counter(out: &mut String, name: &str, help: &str, kind: &str, samples: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Connections (open, accepted, refused by the caps, closed for taking too long) and feeds.
fn connection_counters(out: &mut String, state: &AppState) {
    let c = &state.connections;
    let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
    counter(
        out,
        "coopledger_http_connections_open",
        "Connections open now.",
        "gauge",
        &[("", c.open() as u64)],
    );
    counter(
        out,
        "coopledger_http_connections_accepted_total",
        "Connections admitted since start.",
        "counter",
        &[("", load(&c.accepted))],
    );
    counter(
        out,
        "coopledger_http_connections_refused_total",
        "Connections refused by a cap (overall or per client address).",
        "counter",
        &[
            ("{reason=\"total\"}", load(&c.refused_total)),
            ("{reason=\"per_address\"}", load(&c.refused_per_address)),
        ],
    );
    counter(
        out,
        "coopledger_http_connections_timed_out_total",
        "Connections closed because request headers did not arrive in time, or because the client stopped reading a response.",
        "counter",
        &[
            ("{phase=\"headers\"}", load(&c.header_timeouts)),
            ("{phase=\"write\"}", load(&c.write_stalls)),
        ],
    );
    counter(
        out,
        "coopledger_http_feeds_open",
        "Live feeds open now.",
        "gauge",
        &[(
            "",
            (state.config.max_feeds - state.feeds.available_permits()) as u64,
        )],
    );
    counter(
        out,
        "coopledger_http_feeds_dropped_total",
        "Live feeds ended with a dropped event because their client fell behind.",
        "counter",
        &[("", state.metrics.feeds_dropped.load(Ordering::Relaxed))],
    );
}

/// The exposition text.
pub async fn exposition(State(state): State<AppState>) -> Response {
    let reader = state.ledger.reader();
    let m = reader.metrics();
    let mut out = String::with_capacity(4096);
    let head = reader.head();
    let _ = writeln!(
        out,
        "# HELP coopledger_head_sequence The sequence of the last record.\n# TYPE coopledger_head_sequence gauge\ncoopledger_head_sequence {}",
        head.seq
    );
    let _ = writeln!(
        out,
        "# HELP coopledger_events_appended_total Events appended since start.\n# TYPE coopledger_events_appended_total counter\ncoopledger_events_appended_total {}",
        m.events_appended.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP coopledger_group_commits_total Group commits (one sled batch and one sync each).\n# TYPE coopledger_group_commits_total counter\ncoopledger_group_commits_total {}",
        m.groups.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP coopledger_syncs_total Durable syncs (flush and fdatasync) issued.\n# TYPE coopledger_syncs_total counter\ncoopledger_syncs_total {}",
        reader.sync_count()
    );
    histogram(
        &mut out,
        "coopledger_group_commit_events",
        "Events per group commit.",
        &m.group_sizes,
        &GROUP_BUCKETS,
        1.0,
    );
    histogram(
        &mut out,
        "coopledger_sync_seconds",
        "Latency of a durable sync.",
        &m.sync_latency,
        &SYNC_BUCKETS_US,
        1e-6,
    );
    connection_counters(&mut out, &state);
    let routes = state.metrics.routes.lock();
    let _ = writeln!(
        out,
        "# HELP coopledger_http_requests_total HTTP requests by route and status.\n# TYPE coopledger_http_requests_total counter"
    );
    for (route, stats) in routes.iter() {
        for (status, n) in &stats.by_status {
            let _ = writeln!(
                out,
                "coopledger_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP coopledger_http_request_seconds HTTP request latency by route.\n# TYPE coopledger_http_request_seconds histogram"
    );
    for (route, stats) in routes.iter() {
        for (bucket, bound) in stats.buckets.iter().zip(REQUEST_BUCKETS.iter()) {
            let _ = writeln!(
                out,
                "coopledger_http_request_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {bucket}"
            );
        }
        if let Some(inf) = stats.buckets.last() {
            let _ = writeln!(
                out,
                "coopledger_http_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {inf}"
            );
        }
        let _ = writeln!(
            out,
            "coopledger_http_request_seconds_sum{{route=\"{route}\"}} {}",
            stats.sum_seconds
        );
        let _ = writeln!(
            out,
            "coopledger_http_request_seconds_count{{route=\"{route}\"}} {}",
            stats.count
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}
