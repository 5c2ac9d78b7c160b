//! How many transitions of each kind ran, and their outcomes.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

pub(super) static TRANSITIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(super) fn stats() -> &'static Mutex<BTreeMap<String, u64>> {
    static STATS: OnceLock<Mutex<BTreeMap<String, u64>>> = OnceLock::new();
    STATS.get_or_init(|| Mutex::new(BTreeMap::new()))
}

pub(super) fn stat(label: &str, n: Option<u64>) {
    let mut stats = stats()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *stats.entry(label.to_owned()).or_default() += n.unwrap_or(1);
}

pub(super) fn stat_outcome(label: &str, accepted: bool) {
    let outcome = if accepted { "accepted" } else { "refused" };
    stat(&format!("{label}: {outcome}"), None);
}
