//! The conformance suite: each test runs the same function on both backends (`backends.rs`):
//! a sled directory and a PostgreSQL database with a synchronous standby. The contextual rules
//! are covered by the state-machine test, which also runs on both (`state_machine`).

use assert_cmd::Command;
use coopledger::proto_events::{Rule, Stream};
use coopledger::synth::Synth;
use coopledger::{AsOf, Error, LedgerHandle, ViewName};
use serde_json::json;

use crate::backends::{Fixture, Kind, each};
use crate::support::{activity, events, id, joined, meeting, with_id};

fn cli(fixture: &Fixture) -> Command {
    let mut cmd = Command::cargo_bin("coopledger").expect("the coopledger binary");
    cmd.arg("--db").arg(fixture.db_arg()).arg("-q");
    cmd
}

#[test]
fn sequences_are_gap_free_and_survive_reopen() {
    each("sequences_are_gap_free_and_survive_reopen", |f| {
        let mut ledger = f.create();
        let mut synth = Synth::new(5);
        let mut seqs = Vec::new();
        for n in [1usize, 3, 7, 2] {
            let batch: Vec<_> = (0..n).map(|_| synth.activity()).collect();
            seqs.extend(ledger.append(batch).expect("append").iter().map(|r| r.seq));
        }
        assert_eq!(seqs, (1..=13).collect::<Vec<u64>>(), "{:?}", f.kind);
        drop(ledger);
        let ledger = f.open();
        let reader = ledger.reader();
        assert_eq!(reader.head().seq, 13);
        let read: Vec<u64> = reader
            .read_forward(1, 100)
            .expect("read")
            .iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(read, (1..=13).collect::<Vec<u64>>());
        assert_eq!(reader.verify(&mut |_, _| {}).expect("verify").events, 13);
    });
}

#[test]
fn expected_versions_any_new_and_exact() {
    each("expected_versions_any_new_and_exact", |f| {
        let mut ledger = f.create();
        let first = ledger
            .append(events(&[json!({"type": "CountryJoined", "recorded_by": "t", "country": "GH",
                "joined_on": "2016-07-21", "participation": "beneficiary", "expected_version": "new"})]))
            .expect("new stream");
        assert_eq!(first[0].version, 1);
        let change = |expected: serde_json::Value, on: &str| {
            json!({"type": "ParticipationChanged", "recorded_by": "t", "country": "GH",
                   "changed_on": on, "participation": "associated", "reason": "phase II",
                   "expected_version": expected})
        };
        let conflict = |r: Result<_, Error>, what: &str| match r {
            Err(e @ Error::Conflict(_)) => {
                assert!(e.has_rule(Rule::ExpectedVersion), "{what}: {e}")
            }
            other => panic!(
                "{what}: expected a version conflict, got {other:?} ({:?})",
                f.kind
            ),
        };
        conflict(
            ledger.append(events(&[change(json!("new"), "2017-01-01")])),
            "new on an existing stream",
        );
        conflict(
            ledger.append(events(&[change(json!(2), "2017-01-01")])),
            "a wrong version",
        );
        let exact = ledger
            .append(events(&[change(json!(1), "2017-01-01")]))
            .expect("the right version");
        assert_eq!((exact[0].seq, exact[0].version), (2, 2));
        let any = ledger
            .append(events(&[change(json!("any"), "2018-01-01")]))
            .expect("any version");
        assert_eq!((any[0].seq, any[0].version), (3, 3));
        assert_eq!(
            ledger
                .reader()
                .stream_version(&Stream::Country(crate::support::cc("GH")))
                .expect("version"),
            3
        );
    });
}

#[test]
fn idempotency_holds_across_restarts() {
    each("idempotency_holds_across_restarts", |f| {
        let mut ledger = f.create();
        let batch = || {
            events(&[
                with_id(joined("CV", "2016-07-21"), id(1)),
                with_id(joined("GH", "2016-07-21"), id(2)),
            ])
        };
        let first = ledger.append(batch()).expect("append");
        drop(ledger);
        let mut ledger = f.open();
        let again = ledger.append(batch()).expect("retry after a restart");
        assert_eq!(first, again, "{:?}", f.kind);
        assert_eq!(ledger.reader().head().seq, 2);
        match ledger.append(events(&[with_id(joined("CV", "2016-07-22"), id(1))])) {
            Err(e @ Error::Conflict(_)) => assert!(e.has_rule(Rule::EventIdReused), "{e}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert_eq!(ledger.reader().head().seq, 2);
    });
}

#[test]
fn a_batch_is_written_whole_or_not_at_all() {
    each("a_batch_is_written_whole_or_not_at_all", |f| {
        let mut ledger = f.create();
        ledger
            .append(events(&[joined("CV", "2016-07-21")]))
            .expect("append");
        // The second event's stream exists already: the whole batch is refused.
        let refused = ledger.append(events(&[
            meeting(id(10), &["CV"], "2017-08-25"),
            json!({"type": "CountryJoined", "recorded_by": "t", "country": "CV",
                   "joined_on": "2017-01-01", "participation": "beneficiary", "expected_version": "new"}),
        ]));
        assert!(refused.is_err(), "{:?}: {refused:?}", f.kind);
        assert_eq!(ledger.reader().head().seq, 1);
        drop(ledger);
        let ledger = f.open();
        assert_eq!(ledger.reader().head().seq, 1);
        assert!(ledger.reader().get(&id(10)).expect("read").is_none());
    });
}

#[test]
fn views_as_of_a_point_equal_a_rebuild_of_the_log_up_to_it() {
    each(
        "views_as_of_a_point_equal_a_rebuild_of_the_log_up_to_it",
        |f| {
            let mut ledger = f.create();
            let mut synth = Synth::new(21);
            for _ in 0..4 {
                ledger.append(synth.programme(60)).expect("append");
            }
            let head = ledger.reader().head().seq;
            let before =
                serde_json::to_value(ledger.reader().views().interregional_view()).expect("json");
            ledger
                .rebuild_views(ViewName::All, &mut |_| {})
                .expect("rebuild");
            let after =
                serde_json::to_value(ledger.reader().views().interregional_view()).expect("json");
            assert_eq!(
                before, after,
                "{:?}: the head's views differ from a rebuild",
                f.kind
            );
            let points = [1, head / 3, head / 2, head - 1];
            let as_of: Vec<_> = points
                .iter()
                .map(|p| ledger.reader().views_at(AsOf::sequence(*p)).expect("as of"))
                .collect();
            drop(ledger);
            let export = cli(f).args(["export"]).output().expect("export");
            let export = String::from_utf8(export.stdout).expect("utf-8");
            for (point, as_of) in points.into_iter().zip(as_of) {
                // A ledger holding only the first `point` records, folded from scratch.
                let prefix = Fixture::of(f.kind);
                let lines: String = export
                    .lines()
                    .take(point as usize)
                    .map(|l| format!("{l}\n"))
                    .collect();
                cli(&prefix).arg("init").assert().success();
                cli(&prefix)
                    .args(["import", "--verify-hashes", "-"])
                    .write_stdin(lines)
                    .assert()
                    .success();
                let rebuilt = prefix.open_read_only();
                assert_eq!(rebuilt.reader().head().seq, point);
                assert_eq!(
                    serde_json::to_value(as_of.interregional_view()).expect("json"),
                    serde_json::to_value(rebuilt.reader().views().interregional_view())
                        .expect("json"),
                    "{:?}: regions as of {point}",
                    f.kind
                );
                assert_eq!(as_of.as_of, point);
            }
        },
    );
}

#[test]
fn a_subscription_catches_up_then_goes_live_without_gap_or_duplicate() {
    each(
        "a_subscription_catches_up_then_goes_live_without_gap_or_duplicate",
        |f| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let handle = LedgerHandle::start(f.create());
            let mut synth = Synth::new(31);
            rt.block_on(handle.append((0..100).map(|_| synth.activity()).collect()))
                .expect("history");
            let total = 100 + 4 * 25;
            let seqs = rt.block_on(async {
                let mut writers = Vec::new();
                for w in 0..4u64 {
                    let handle = handle.clone();
                    writers.push(tokio::spawn(async move {
                        let mut synth = Synth::new(100 + w);
                        for _ in 0..25 {
                            handle.append(vec![synth.activity()]).await.expect("append");
                        }
                    }));
                }
                let mut sub = handle.subscribe(1);
                let mut seqs = Vec::new();
                while seqs.len() < total {
                    match sub.next().await {
                        Some(Ok(event)) => seqs.push(event.sequence),
                        other => panic!("subscription ended early: {other:?}"),
                    }
                }
                for w in writers {
                    w.await.expect("writer");
                }
                seqs
            });
            assert_eq!(seqs, (1..=total as u64).collect::<Vec<_>>(), "{:?}", f.kind);
            rt.block_on(handle.close());
        },
    );
}

/// The same exported log imported into sled and into PostgreSQL gives the same hashes, the same
/// Merkle roots and the same export again, both ways.
#[test]
fn export_and_import_round_trip_between_sled_and_postgres() {
    let sled = Fixture::sled();
    let mut ledger = sled.create();
    let mut synth = Synth::new(41);
    ledger.append(synth.programme(400)).expect("append");
    ledger.append(vec![activity_event()]).expect("append");
    drop(ledger);
    let exported = cli(&sled).arg("export").output().expect("export").stdout;
    if !crate::pg::cluster::enabled("export_and_import_round_trip_between_sled_and_postgres") {
        return;
    }
    let pg = Fixture::postgres();
    cli(&pg).arg("init").assert().success();
    cli(&pg)
        .args(["import", "--verify-hashes", "-"])
        .write_stdin(exported.clone())
        .assert()
        .success();
    let again = cli(&pg).arg("export").output().expect("export").stdout;
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&exported)
    );
    let back = Fixture::sled();
    cli(&back).arg("init").assert().success();
    cli(&back)
        .args(["import", "--verify-hashes", "-"])
        .write_stdin(again)
        .assert()
        .success();
    let (a, b, c) = (
        sled.open_read_only(),
        pg.open_read_only(),
        back.open_read_only(),
    );
    let head = a.reader().head();
    assert_eq!(head, b.reader().head());
    assert_eq!(head, c.reader().head());
    for size in [1, head.seq / 2, head.seq] {
        let root = a.reader().merkle_root(size).expect("root");
        assert_eq!(
            root,
            b.reader().merkle_root(size).expect("root"),
            "root of {size}"
        );
        assert_eq!(
            root,
            c.reader().merkle_root(size).expect("root"),
            "root of {size}"
        );
    }
    assert_eq!(
        serde_json::to_value(a.reader().views().interregional_view()).expect("json"),
        serde_json::to_value(b.reader().views().interregional_view()).expect("json")
    );
    let _ = Kind::Sled;
}

fn activity_event() -> coopledger::proto_events::NewEvent {
    crate::support::event(activity(
        id(99),
        "workshop",
        &["GH"],
        &["ES"],
        30,
        "2019-10-29",
    ))
}

/// A store answers the latest checkpoint up to a tree size, so that a reader whose views are
/// behind what its store serves (a follower between two catch-ups) never hands out a
/// checkpoint beyond its head.
#[test]
fn the_latest_checkpoint_is_the_largest_up_to_a_size() {
    each("the_latest_checkpoint_is_the_largest_up_to_a_size", |f| {
        let mut ledger = f.create();
        let mut synth = Synth::new(9);
        ledger
            .append((0..10).map(|_| synth.activity()).collect())
            .expect("append");
        for size in [4u64, 9] {
            ledger
                .publish_checkpoint(size, format!("a note of {size}\n"))
                .expect("publish");
        }
        assert_eq!(
            ledger
                .reader()
                .latest_checkpoint()
                .expect("latest")
                .map(|(s, _)| s),
            Some(9)
        );
        drop(ledger);
        let store = coopledger::store::open(&f.location, coopledger::store::Access::Read)
            .expect("the store, read-only");
        let size = |at_most: u64| {
            store
                .latest_checkpoint(at_most)
                .expect("latest")
                .map(|(s, _)| s)
        };
        assert_eq!(
            (size(u64::MAX), size(9), size(8), size(4), size(3)),
            (Some(9), Some(9), Some(4), Some(4), None),
            "{:?}",
            f.kind
        );
    });
}

/// The handle's pipeline: a group is staged while the one before it has not been committed
/// (`Ledger::open_group` over a closed, uncommitted group). It must decide exactly as if that
/// one were committed (versions, idempotency, retractions, views), and nothing of either is
/// visible until each is committed, in order.
#[test]
fn a_group_staged_over_an_uncommitted_one_decides_as_if_it_were_committed() {
    each(
        "a_group_staged_over_an_uncommitted_one_decides_as_if_it_were_committed",
        |f| {
            let mut ledger = f.create();
            let gh = || {
                with_id(
                    json!({"type": "CountryJoined", "recorded_by": "t", "country": "GH",
                       "joined_on": "2016-07-21", "participation": "beneficiary",
                       "expected_version": "new"}),
                    id(1),
                )
            };
            let change = |expected: u64| {
                json!({"type": "ParticipationChanged", "recorded_by": "t", "country": "GH",
                   "changed_on": "2017-01-01", "participation": "associated",
                   "reason": "phase II", "expected_version": expected})
            };
            let mut first = ledger.open_group();
            ledger.stage(
                &mut first,
                vec![
                    coopledger::Request::append(events(&[gh()])),
                    coopledger::Request::append(events(&[with_id(
                        activity(id(20), "workshop", &["GH", "CV"], &["ES"], 30, "2018-07-16"),
                        id(2),
                    )])),
                ],
            );
            let first = ledger.close_group(first, coopledger::ledger::Views::Now);
            let mut second = ledger.open_group();
            let retraction = json!({"type": "EventRetracted", "recorded_by": "t",
                "target": id(2), "reason": "entered_in_error"});
            ledger.stage(
                &mut second,
                vec![
                    // Needs the uncommitted group's version of GH.
                    coopledger::Request::append(events(&[change(1)])),
                    // The same event again: its receipt from the uncommitted group.
                    coopledger::Request::append(events(&[gh()])),
                    // Its id with other content: a conflict.
                    coopledger::Request::append(events(&[with_id(
                        joined("CV", "2016-07-21"),
                        id(1),
                    )])),
                    // The version the first request of this group moved on from.
                    coopledger::Request::append(events(&[change(1)])),
                    coopledger::Request::append(events(std::slice::from_ref(&retraction))),
                    // Retracting it twice.
                    coopledger::Request::append(events(&[retraction])),
                ],
            );
            let second = ledger.close_group(second, coopledger::ledger::Views::Now);
            assert_eq!(
                ledger.reader().head().seq,
                0,
                "{:?}: nothing is visible before it is committed",
                f.kind
            );
            let committer = ledger.committer();
            let first = committer.commit(first);
            assert_eq!(ledger.reader().head().seq, 2, "{:?}", f.kind);
            let second = committer.commit(second);
            let first: Vec<_> = first.into_iter().map(|r| r.expect("first group")).collect();
            let ok = |i: usize| second[i].as_ref().expect("accepted");
            let rule = |i: usize| match &second[i] {
                Err(e) => e.violations().iter().map(|v| v.rule).collect::<Vec<_>>(),
                Ok(r) => panic!("{:?}: request {i} accepted: {r:?}", f.kind),
            };
            assert_eq!((ok(0)[0].seq, ok(0)[0].version), (3, 2), "{:?}", f.kind);
            assert_eq!(ok(1), &first[0], "{:?}: the original receipt", f.kind);
            assert!(rule(2).contains(&Rule::EventIdReused), "{:?}", f.kind);
            assert!(rule(3).contains(&Rule::ExpectedVersion), "{:?}", f.kind);
            assert_eq!(ok(4)[0].seq, 4, "{:?}", f.kind);
            assert!(!rule(5).is_empty(), "{:?}: retracted twice", f.kind);
            let reader = ledger.reader();
            assert_eq!(reader.head().seq, 4, "{:?}", f.kind);
            assert_eq!(reader.verify(&mut |_, _| {}).expect("verify").events, 4);
            let served =
                serde_json::to_value(reader.views().country_view(crate::support::cc("GH")))
                    .expect("json");
            ledger
                .rebuild_views(ViewName::All, &mut |_| {})
                .expect("rebuild");
            let rebuilt =
                serde_json::to_value(reader.views().country_view(crate::support::cc("GH")))
                    .expect("json");
            assert_eq!(served, rebuilt, "{:?}: views differ from a rebuild", f.kind);
            assert_eq!(
                served["activities"]["total"],
                json!(0),
                "{:?}: the retraction counted",
                f.kind
            );
        },
    );
}
