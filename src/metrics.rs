//! Counters the HTTP API exposes as Prometheus text: appends, group-commit sizes, sync latency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket upper bounds of the group-size histogram (events per group commit).
pub const GROUP_BUCKETS: [u64; 8] = [1, 2, 4, 8, 16, 64, 256, 10_000];
/// Bucket upper bounds of the sync-latency histogram, in microseconds.
pub const SYNC_BUCKETS_US: [u64; 8] = [250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 1_000_000];

/// A fixed-bucket histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Cumulative counts per bucket (`le` semantics), one more for `+Inf`.
    pub buckets: [AtomicU64; 9],
    /// Sum of observations.
    pub sum: AtomicU64,
    /// Number of observations.
    pub count: AtomicU64,
}

impl Histogram {
    fn observe(&self, bounds: &[u64; 8], value: u64) {
        for (bucket, bound) in self
            .buckets
            .iter()
            .zip(bounds.iter().chain(std::iter::once(&u64::MAX)))
        {
            if value <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }
}

/// The ledger's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Events appended.
    pub events_appended: AtomicU64,
    /// Group commits written.
    pub groups: AtomicU64,
    /// Events per group commit.
    pub group_sizes: Histogram,
    /// Sync latency in microseconds.
    pub sync_latency: Histogram,
    /// Time from the start of a group to its commit, in microseconds (sum).
    pub commit_micros: AtomicU64,
}

impl Metrics {
    /// Records a written group.
    pub fn record_group(&self, events: u64, sync: Duration) {
        self.events_appended.fetch_add(events, Ordering::Relaxed);
        self.groups.fetch_add(1, Ordering::Relaxed);
        self.group_sizes.observe(&GROUP_BUCKETS, events);
        self.sync_latency.observe(
            &SYNC_BUCKETS_US,
            u64::try_from(sync.as_micros()).unwrap_or(u64::MAX),
        );
    }

    /// Records a committed group's total time.
    pub fn record_commit(&self, took: Duration) {
        self.commit_micros.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}
