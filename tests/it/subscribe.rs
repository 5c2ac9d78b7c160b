//! Subscriptions: history then live, with appends running concurrently; slow subscribers are
//! dropped and can resume.

use coopledger::synth::Synth;
use coopledger::{Ledger, LedgerHandle, SubscriptionError};

use crate::support::tempdir;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn catch_up_then_live_with_concurrent_appends_has_no_gap_and_no_duplicate() {
    let dir = tempdir();
    let rt = runtime();
    let handle = LedgerHandle::create(dir.path()).expect("open");
    let mut synth = Synth::new(11);
    let history: Vec<_> = (0..300).map(|_| synth.activity()).collect();
    rt.block_on(handle.append(history)).expect("history");
    let total = 300 + 40 * 8;
    let seen = rt.block_on(async {
        // Writers start while the subscribers are still reading history.
        let mut writers = Vec::new();
        for w in 0..8u64 {
            let handle = handle.clone();
            writers.push(tokio::spawn(async move {
                let mut synth = Synth::new(1_000 + w);
                for _ in 0..40 {
                    handle.append(vec![synth.activity()]).await.expect("append");
                }
            }));
        }
        let mut readers = Vec::new();
        for from in [1u64, 150] {
            let mut sub = handle.subscribe(from);
            readers.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                while seqs.len() < total - (from as usize - 1) {
                    match sub.next().await {
                        Some(Ok(event)) => seqs.push(event.sequence),
                        other => panic!("subscription ended early: {other:?}"),
                    }
                }
                (from, seqs)
            }));
        }
        for w in writers {
            w.await.expect("writer");
        }
        let mut seen = Vec::new();
        for r in readers {
            seen.push(r.await.expect("reader"));
        }
        seen
    });
    for (from, seqs) in seen {
        let expected: Vec<u64> = (from..=total as u64).collect();
        assert_eq!(
            seqs, expected,
            "subscription from {from}: every sequence once, in order"
        );
    }
    rt.block_on(handle.close());
}

#[test]
fn a_subscriber_that_falls_behind_is_dropped_and_resumes_where_it_stopped() {
    let dir = tempdir();
    let rt = runtime();
    let handle = LedgerHandle::start_with(Ledger::create(dir.path()).expect("open"), 4);
    let mut synth = Synth::new(12);
    rt.block_on(async {
        let mut sub = handle.subscribe(1);
        handle.append(vec![synth.activity()]).await.expect("first");
        let first = sub.next().await.expect("an event").expect("no error");
        assert_eq!(first.sequence, 1);
        // Now live: 20 batches while the subscriber does not read.
        for _ in 0..20 {
            handle.append(vec![synth.activity()]).await.expect("append");
        }
        let mut last = first.sequence;
        let dropped_at = loop {
            match sub.next().await {
                Some(Ok(event)) => {
                    assert_eq!(event.sequence, last + 1, "no gap before the drop");
                    last = event.sequence;
                }
                Some(Err(SubscriptionError::Dropped { last: at })) => break at,
                other => panic!("expected to be dropped, got {other:?}"),
            }
        };
        assert_eq!(
            dropped_at, last,
            "the drop names the last sequence delivered"
        );
        assert!(sub.next().await.is_none(), "a dropped subscription ends");
        let mut resumed = handle.subscribe(dropped_at + 1);
        let mut seqs = Vec::new();
        while seqs.len() < (21 - dropped_at) as usize {
            seqs.push(
                resumed
                    .next()
                    .await
                    .expect("event")
                    .expect("no error")
                    .sequence,
            );
        }
        assert_eq!(seqs, (dropped_at + 1..=21).collect::<Vec<_>>());
    });
    rt.block_on(handle.close());
}
