//! `GET /metrics`: Prometheus text exposition of the ledger's counters (appends, group-commit
//! sizes, sync latency) and of the HTTP requests (counts by route and status, latencies).

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

/// Request counters by route.
#[derive(Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
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
