//! The ledger through a real sled directory.

use coopledger::proto_events::Rule;
use coopledger::{Error, Ledger};
use serde_json::json;

use crate::support::*;

#[test]
fn appends_get_gap_free_sequences_and_survive_reopen() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let receipts = ledger
        .append(events(&[
            joined("CV", "2016-07-21"),
            joined("GH", "2016-07-21"),
        ]))
        .expect("append");
    assert_eq!(
        receipts.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let more = ledger
        .append(events(&[activity(
            id(1),
            "workshop",
            &["CV", "GH"],
            &["ES"],
            30,
            "2018-07-16",
        )]))
        .expect("append");
    assert_eq!(more[0].seq, 3);
    drop(ledger);
    let ledger = Ledger::create(dir.path()).expect("reopen");
    let reader = ledger.reader();
    assert_eq!(reader.head().seq, 3);
    let report = reader.verify(&mut |_, _| {}).expect("verify");
    assert_eq!(report.events, 3);
    let view = reader.views().country_view(cc("CV")).expect("CV view");
    assert_eq!(view.activities.total, 1);
    assert_eq!(view.participants.total, 30);
    assert_eq!(view.counterparts[&cc("ES")].activities, 1);
    let regions = reader.views().interregional_view();
    assert_eq!(regions.interregional.events, 1);
}

#[test]
fn reused_id_returns_original_receipt_or_conflicts() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let first = ledger
        .append(events(&[with_id(joined("CV", "2016-07-21"), id(7))]))
        .expect("append");
    drop(ledger);
    let mut ledger = Ledger::create(dir.path()).expect("reopen");
    let again = ledger
        .append(events(&[with_id(joined("CV", "2016-07-21"), id(7))]))
        .expect("retry");
    assert_eq!(first, again);
    assert_eq!(ledger.reader().head().seq, 1);
    let other = ledger.append(events(&[with_id(joined("CV", "2016-07-22"), id(7))]));
    match other {
        Err(e @ Error::Conflict(_)) => assert!(e.has_rule(Rule::EventIdReused), "{e}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let _ = json!({});
}

#[test]
fn a_second_opener_is_told_the_ledger_is_in_use() {
    let dir = tempdir();
    let _first = Ledger::create(dir.path()).expect("open");
    let second = Ledger::create(dir.path());
    match second {
        Err(e) => assert!(e.to_string().contains("is in use"), "{e}"),
        Ok(_) => panic!("a second handle opened the same ledger"),
    }
}

#[test]
fn a_foreign_directory_is_refused_and_left_untouched() {
    let dir = tempdir();
    std::fs::write(dir.path().join("notes.txt"), "mine").expect("write");
    let result = Ledger::create(dir.path());
    let err = result.err().expect("a foreign directory must be refused");
    assert!(err.to_string().contains("not a coopledger ledger"), "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("notes.txt")]);
}

#[test]
fn an_unknown_format_version_is_refused() {
    let dir = tempdir();
    drop(Ledger::create(dir.path()).expect("create"));
    let marker = dir.path().join(coopledger::store::sled::MARKER_FILE);
    let text = std::fs::read_to_string(&marker).expect("marker");
    assert!(text.contains("format = 2"), "{text}");
    std::fs::write(&marker, text.replace("format = 2", "format = 99")).expect("rewrite");
    let err = Ledger::create(dir.path())
        .err()
        .expect("format 99 must be refused");
    assert!(err.to_string().contains("format version 99"), "{err}");
}

/// Changes one byte of record `seq`'s body directly in sled, using the documented layout
/// (a frame is hash ‖ prev_hash ‖ body; `crate::layout`).
fn tamper(dir: &std::path::Path, seq: u64, offset_in_body: usize) {
    let db = crate::layout::open(dir);
    crate::layout::rewrite(&db, |frames| {
        let frame = frames.get_mut(&seq).expect("the record");
        frame[coopledger::ledger::frame::FRAME_HEADER + offset_in_body] ^= 0x01;
    });
}

#[test]
fn a_changed_byte_is_named_by_verify() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let mut synth = coopledger::synth::Synth::new(5);
    ledger
        .append((0..20).map(|_| synth.activity()).collect())
        .expect("append");
    drop(ledger);
    tamper(dir.path(), 7, 40);
    match coopledger::verify_store(dir.path(), &mut |_| {}) {
        Err(Error::Corrupt { seq, .. }) => assert_eq!(seq, 7),
        other => panic!("verify must name record 7, got {other:?}"),
    }
    match Ledger::create(dir.path()) {
        Err(Error::Corrupt { seq, .. }) => assert_eq!(seq, 7),
        other => panic!(
            "open must refuse the corrupt record 7, got {:?}",
            other.err()
        ),
    }
}

#[test]
fn a_rehashed_record_breaks_the_chain_at_the_next_one() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let mut synth = coopledger::synth::Synth::new(6);
    ledger
        .append((0..10).map(|_| synth.activity()).collect())
        .expect("append");
    drop(ledger);
    // Rewrite record 4 with a consistent hash of its changed body: record 5's link then breaks.
    let db = crate::layout::open(dir.path());
    crate::layout::rewrite(&db, |frames| {
        let value = frames.get_mut(&4).expect("record 4");
        let (prev, mut body) = (value[32..64].to_vec(), value[64..].to_vec());
        body[50] ^= 0x01;
        let prev: [u8; 32] = prev.try_into().expect("32 bytes");
        let hash = coopledger::ledger::frame::chain_hash(&prev, 4, &body);
        *value = coopledger::ledger::frame::frame(&hash, &prev, &body);
    });
    drop(db);
    match coopledger::verify_store(dir.path(), &mut |_| {}) {
        Err(Error::Corrupt { seq, .. }) => assert!(seq == 4 || seq == 5, "named {seq}"),
        other => panic!("verify must fail, got {other:?}"),
    }
}

/// Regression (issue 12): five of the six walks over the records read a malformed record key as
/// sequence 0. A key in the record space of the wrong length, written through sled with the
/// documented layout, is refused by every reader of the log, naming the sequence where a record
/// was expected; never a panic, never sequence 0.
#[test]
fn a_malformed_record_key_is_named_at_the_expected_sequence_everywhere() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let mut synth = coopledger::synth::Synth::new(7);
    // One append each: records 1..=10 in blocks of their own (`B` ‖ seq), as ten commits store
    // them.
    for _ in 0..10 {
        ledger.append(vec![synth.activity()]).expect("append");
    }
    let files = tempdir();
    let (private, public) = coopledger::audit::checkpoint::generate("ledger.test/malformed");
    let key = coopledger::audit::checkpoint::Key::parse(&private).expect("key");
    let note = coopledger::audit::sign::sign_checkpoint(&mut ledger, &key).expect("sign");
    let (cp, pubkey) = (files.path().join("cp.txt"), files.path().join("k.pub"));
    std::fs::write(&cp, note).expect("write checkpoint");
    std::fs::write(&pubkey, format!("{public}\n")).expect("write key");
    drop(ledger);
    let db = crate::layout::open(dir.path());
    // `B` ‖ 5 (u64 BE) ‖ one more byte: sorts between the blocks of records 5 and 6.
    let mut key = coopledger::store::sled::keys::block(5).to_vec();
    key.push(0xff);
    let value = db
        .get(coopledger::store::sled::keys::block(5))
        .expect("get")
        .expect("the block of record 5");
    db.insert(key, value).expect("insert");
    db.flush().expect("flush");
    drop(db);
    let named_6 = |what: &str, result: Result<(), Error>| match result {
        Err(Error::Corrupt { seq: 6, reason }) => {
            assert!(reason.contains("malformed key"), "{what}: {reason}");
        }
        other => panic!("{what} must name record 6, got {other:?}"),
    };
    named_6(
        "verify_store",
        coopledger::verify_store(dir.path(), &mut |_| {}).map(drop),
    );
    named_6("open", Ledger::create(dir.path()).map(drop));
    let bin = |args: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("coopledger")
            .expect("binary")
            .arg("--db")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for args in [
        &["verify"][..],
        &["log"],
        &["country", "GH"],
        &[
            "verify",
            "--checkpoint",
            cp.to_str().expect("path"),
            "--pubkey",
            pubkey.to_str().expect("path"),
        ],
    ] {
        let (code, stderr) = bin(args);
        assert_eq!(code, Some(4), "{args:?}: {stderr}");
        assert!(
            stderr.contains("record 6 is corrupt") && stderr.contains("malformed key"),
            "{args:?}: {stderr}"
        );
    }
}

/// A runtime for the tests that append through the async handle.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn sixteen_tasks_append_to_shared_and_distinct_streams() {
    let dir = tempdir();
    let rt = runtime();
    let handle = coopledger::LedgerHandle::create(dir.path()).expect("open");
    let case = id(900);
    rt.block_on(handle.append(events(&[case_opened(
        case,
        &["CO", "ES"],
        "CO",
        "2019-01-10",
    )])))
    .expect("case");
    let results = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..16u64 {
            let handle = handle.clone();
            tasks.push(tokio::spawn(async move {
                let mut synth = coopledger::synth::Synth::new(100 + t);
                let (mut acked, mut conflicts) = (Vec::new(), 0usize);
                for i in 0..25u64 {
                    if i % 3 == 0 {
                        // The shared case stream, with optimistic concurrency.
                        let version = handle.reader().stream_version(&coopledger::proto_events::Stream::Case(case)).expect("version");
                        let mut e = event(json!({"type": "CaseMilestoneRecorded", "recorded_by": format!("task{t}"),
                            "case_id": case, "on": "2019-02-01", "expected_version": version,
                            "milestone": {"kind": "arrests", "country": "CO", "count": 1 + i}}));
                        e.event_id = Some(uuid::Uuid::now_v7());
                        match handle.append(vec![e.clone()]).await {
                            Ok(r) => acked.push((r[0].clone(), e)),
                            Err(Error::Conflict(v)) => {
                                assert!(v.iter().all(|v| v.rule == Rule::ExpectedVersion), "{v:?}");
                                conflicts += 1;
                            }
                            Err(other) => panic!("unexpected error {other}"),
                        }
                    } else {
                        let e = synth.activity();
                        let r = handle.append(vec![e.clone()]).await.expect("distinct stream append");
                        acked.push((r[0].clone(), e));
                    }
                }
                (acked, conflicts)
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.push(task.await.expect("task"));
        }
        all
    });
    let reader = handle.reader().clone();
    let head = reader.head().seq;
    let acked: Vec<_> = results.iter().flat_map(|(a, _)| a.iter()).collect();
    let conflicts: usize = results.iter().map(|(_, c)| c).sum();
    let mut seqs: Vec<u64> = acked.iter().map(|(r, _)| r.seq).collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), acked.len(), "a sequence was given twice");
    assert_eq!(
        head,
        acked.len() as u64 + 1,
        "head counts the case and every acknowledged event"
    );
    assert_eq!(
        seqs,
        (2..=head).collect::<Vec<_>>(),
        "sequences are gap-free"
    );
    let stream = reader
        .read_stream(&coopledger::proto_events::Stream::Case(case), 1, 10_000)
        .expect("stream");
    let versions: Vec<u64> = stream.iter().map(|e| e.stream_version).collect();
    assert_eq!(
        versions,
        (1..=stream.len() as u64).collect::<Vec<_>>(),
        "stream versions gap-free"
    );
    println!(
        "{} appended, {conflicts} expected-version conflicts reported",
        acked.len()
    );
    for (receipt, sent) in &acked {
        let stored = reader
            .get(&receipt.event_id)
            .expect("read")
            .expect("acknowledged event present");
        assert_eq!(stored.payload, sent.payload);
        assert_eq!(stored.sequence, receipt.seq);
    }
    assert!(reader.verify(&mut |_, _| {}).is_ok());
    rt.block_on(handle.close());
}

/// The handle's writer runs appends on two threads (one group staged while another commits);
/// a rebuild and a checkpoint are not grouped: each waits until every append staged before it
/// is committed, and appends go on after it. Under concurrent appends, every append is
/// answered, the checkpoints cover committed heads only and grow, and the ledger ends
/// consistent: chain, tree, views stored and served.
#[test]
fn rebuilds_and_checkpoints_between_concurrent_appends_see_every_append_before_them() {
    let dir = tempdir();
    let rt = runtime();
    let handle = coopledger::LedgerHandle::create(dir.path()).expect("open");
    let (private, _) = coopledger::audit::checkpoint::generate("ledger.test/pipeline");
    let key =
        std::sync::Arc::new(coopledger::audit::checkpoint::Key::parse(&private).expect("key"));
    let (appended, rebuilt, sizes) = rt.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let handle = handle.clone();
            tasks.push(tokio::spawn(async move {
                let mut synth = coopledger::synth::Synth::new(300 + t);
                for _ in 0..40 {
                    handle.append(vec![synth.activity()]).await.expect("append");
                }
            }));
        }
        let (mut rebuilt, mut sizes) = (Vec::new(), Vec::new());
        for i in 0..12 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            if i % 2 == 0 {
                let head = handle.reader().head().seq;
                let folded = handle
                    .rebuild(coopledger::ViewName::All)
                    .await
                    .expect("rebuild");
                assert!(folded >= head, "a rebuild folded {folded}, before {head}");
                rebuilt.push(folded);
            } else {
                let note = handle
                    .sign_checkpoint(std::sync::Arc::clone(&key))
                    .await
                    .expect("checkpoint");
                let size: u64 = note.lines().nth(1).expect("size").parse().expect("number");
                assert!(
                    size <= handle.reader().head().seq,
                    "a checkpoint past the head"
                );
                sizes.push(size);
            }
        }
        for task in tasks {
            task.await.expect("task");
        }
        (handle.reader().head().seq, rebuilt, sizes)
    });
    assert_eq!(appended, 8 * 40, "every append answered");
    assert!(rebuilt.windows(2).all(|w| w[0] <= w[1]), "{rebuilt:?}");
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
    let reader = handle.reader().clone();
    let served = serde_json::to_value(reader.views().interregional_view()).expect("json");
    rt.block_on(handle.close());
    assert_eq!(
        reader.verify(&mut |_, _| {}).expect("verify").events,
        appended
    );
    drop(reader);
    let mut ledger = Ledger::open(dir.path()).expect("reopen");
    ledger
        .reader()
        .verify_tree(&mut |_, _| {})
        .expect("the tree");
    ledger.reader().verify_views().expect("the stored views");
    ledger
        .rebuild_views(coopledger::ViewName::All, &mut |_| {})
        .expect("rebuild");
    let rebuilt = serde_json::to_value(ledger.reader().views().interregional_view()).expect("json");
    assert_eq!(served, rebuilt, "served views differ from a rebuild");
}

/// A writer under load defers the view parts (`Views::WhenDue`): the stored views stay behind
/// the head until `VIEWS_EVERY` records or the stop. A ledger dropped meanwhile (a crash, for
/// the views) reopens with the tail folded on over the stored views, serves what a fold of the
/// whole log serves, and its next group stores every part again.
#[test]
fn views_deferred_under_load_are_folded_on_at_open_and_stored_again() {
    use coopledger::ledger::Views;
    let dir = tempdir();
    let mut synth = coopledger::synth::Synth::new(41);
    {
        let mut ledger = Ledger::create(dir.path()).expect("open");
        ledger.append(synth.programme(40)).expect("stored views");
        for _ in 0..5 {
            let mut open = ledger.open_group();
            ledger.stage(
                &mut open,
                vec![coopledger::Request::append(synth.programme(30))],
            );
            let staged = ledger.close_group(open, Views::WhenDue);
            for answer in ledger.committer().commit(staged) {
                answer.expect("append");
            }
        }
    }
    let check = |expect_behind: bool| {
        let location = coopledger::store::Location::from(dir.path());
        let stored = {
            let store =
                coopledger::store::open(&location, coopledger::store::Access::Read).expect("store");
            coopledger::views::stored::load(&*store)
                .expect("load")
                .expect("stored views")
                .0
                .as_of
        };
        let ledger = Ledger::open_with(
            dir.path(),
            coopledger::Options {
                read_only: true,
                ..coopledger::Options::default()
            },
        )
        .expect("open to check");
        let reader = ledger.reader();
        let head = reader.head().seq;
        assert_eq!(
            stored < head,
            expect_behind,
            "stored at {stored}, head {head}"
        );
        reader.verify_views().expect("served views equal a fold");
    };
    check(true);
    let mut ledger = Ledger::open(dir.path()).expect("reopen to write");
    ledger.append(vec![synth.activity()]).expect("append");
    drop(ledger);
    check(false);
}

#[test]
fn a_batch_with_one_invalid_event_writes_nothing() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let good = activity(id(1), "workshop", &["CV", "GH"], &[], 20, "2018-07-16");
    let bad = json!({"type": "CaseClosed", "recorded_by": "test", "case_id": id(2),
        "closed_on": "2019-01-01", "outcome": "convicted"});
    let err = ledger
        .append(events(&[good, bad]))
        .expect_err("the closure of a case never opened must fail");
    assert!(err.has_rule(Rule::CaseNotOpen), "{err}");
    let position = err.violations()[0].position.expect("position");
    assert_eq!(position.index, 1, "the second event is named");
    assert_eq!(ledger.reader().head().seq, 0, "nothing written");
    assert!(
        ledger.reader().views().country_view(cc("CV")).is_none(),
        "views untouched"
    );
}

#[test]
fn a_scheduled_activity_is_delivered_on_its_own_stream_and_then_cannot_be_cancelled() {
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let activity = id(300);
    let scheduled = json!({"type": "ActivityScheduled", "recorded_by": "test", "activity_id": activity,
        "kind": "training", "title": "Training", "start": "2019-04-14", "end": "2019-04-15",
        "venue": "virtual", "beneficiaries": ["GH", "NG"]});
    ledger.append(events(&[scheduled])).expect("schedule");
    assert!(
        ledger.reader().views().country_view(cc("GH")).is_none(),
        "a plan counts for nothing"
    );
    let delivered =
        crate::support::activity(activity, "training", &["GH", "NG"], &[], 25, "2019-04-14");
    let receipts = ledger
        .append(events(std::slice::from_ref(&delivered)))
        .expect("the delivery follows its schedule");
    assert_eq!(receipts[0].version, 2);
    assert_eq!(
        ledger
            .reader()
            .views()
            .country_view(cc("GH"))
            .expect("GH")
            .activities
            .total,
        1
    );
    let again = ledger
        .append(events(&[delivered]))
        .expect_err("a second delivery");
    assert!(again.has_rule(Rule::StreamExists), "{again}");
    let cancel = json!({"type": "ActivityCancelled", "recorded_by": "test", "activity_id": activity,
        "cancelled_on": "2019-04-20", "reason": "too late"});
    let err = ledger
        .append(events(&[cancel]))
        .expect_err("a delivered activity is not cancelled");
    assert!(err.has_rule(Rule::ActivityNotScheduled), "{err}");
}

#[test]
fn views_as_of_a_date_folded_on_from_an_earlier_point_equal_a_fold_from_the_start() {
    // A believable programme (corrections, retractions, cases through their closure), its
    // views as of three dates at sequence 1,200, folded on to the head: each equals the fold of
    // the whole log as of that date at the head, and differs from where it started.
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let events = coopledger::synth::Synth::new(43).programme(3_000);
    for batch in events.chunks(500) {
        ledger.append(batch.to_vec()).expect("append");
    }
    let reader = ledger.reader();
    let head = reader.head().seq;
    for day in ["2018-12-31", "2021-06-30", "2026-12-31"] {
        let on = day.parse().expect("date");
        let base_point = reader
            .resolve(coopledger::AsOf::sequence(1_200).on(on))
            .expect("point");
        let base = reader.views_resolved(base_point).expect("base");
        let point = reader
            .resolve(coopledger::AsOf::HEAD.on(on))
            .expect("point");
        assert_eq!(point.seq, head);
        let folded_on = reader.views_resolved_from(&base, point).expect("fold on");
        let from_start = reader.views_resolved(point).expect("fold");
        assert_eq!(*folded_on, *from_start, "as of {day}");
        assert_ne!(
            *folded_on, *base,
            "as of {day}: the appends after 1,200 count"
        );
    }
    let later = reader
        .resolve(coopledger::AsOf::sequence(1_000))
        .expect("point");
    assert!(
        reader.views_resolved_from(&reader.views(), later).is_err(),
        "views are never folded on backwards"
    );
}
