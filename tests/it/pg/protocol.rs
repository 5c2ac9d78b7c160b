//! The append protocol on real servers: what a PostgreSQL writer acknowledges, what readers on
//! the primary and on the standby may see, fencing, the writer's checks at start, the
//! append-only triggers.

use std::time::Duration;

use assert_cmd::Command;
use coopledger::store::{self, Location, StoreError};
use coopledger::synth::Synth;
use coopledger::{Error, Ledger, Options};

use super::cluster::{self, Cluster, psql};
use crate::backends::Fixture;

fn cli(db: &str) -> Command {
    let mut cmd = Command::cargo_bin("coopledger").expect("the coopledger binary");
    cmd.arg("--db").arg(db);
    cmd
}

fn read_only(url: &str) -> Ledger {
    let options = Options {
        read_only: true,
        ..Options::default()
    };
    Ledger::open_at(&Location::Postgres(url.to_owned()), options).expect("open read-only")
}

fn writer(url: &str) -> Result<Ledger, Error> {
    Ledger::open_at(&Location::Postgres(url.to_owned()), Options::default())
}

/// Waits (bounded) until the writer's backend in `db` waits for the synchronous standby, and
/// returns its pid.
fn waiting_for_standby(cluster: &Cluster, db: &str) -> String {
    for _ in 0..600 {
        let pid = cluster.sql(
            "postgres",
            &format!(
                "SELECT pid FROM pg_stat_activity WHERE datname = '{db}' \
                 AND application_name = 'coopledger-writer' AND wait_event = 'SyncRep'"
            ),
        );
        if !pid.is_empty() {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the writer never waited for the standby");
}

/// The standby stopped: an append waits, acknowledged to nobody and shown to no reader, until
/// the standby is back. Then a COMMIT cancelled while it waits (`pg_cancel_backend`) commits on
/// the primary only: it is not acknowledged, the writer stops, and no reader is shown it; the
/// next writer adopts it once its own takeover commit proves it replicated.
#[test]
fn synchronous_replication_edges() {
    if !cluster::enabled("synchronous_replication_edges") {
        return;
    }
    let cluster = Cluster::start(1);
    let db = cluster.database();
    let url = cluster.url(&db);
    store::create(&Location::Postgres(url.clone())).expect("init");
    let mut ledger = writer(&url).expect("writer");
    let mut synth = Synth::new(7);
    ledger.append(vec![synth.activity()]).expect("first append");

    // 1. Standby stopped: the append waits and nothing is acknowledged or shown.
    cluster::run_script(&["stop", &cluster.dir("s1")]);
    let event = synth.activity();
    let id = event.event_id.expect("synth sets ids");
    let (done, answer) = std::sync::mpsc::channel();
    let appender = std::thread::spawn(move || {
        let result = ledger.append(vec![event]);
        done.send(result.map(|r| r[0].seq)).expect("send");
        ledger
    });
    waiting_for_standby(&cluster, &db);
    assert!(
        answer.try_recv().is_err(),
        "acknowledged without the standby"
    );
    let reader = read_only(&url);
    assert_eq!(
        reader.reader().head().seq,
        1,
        "a reader sees an unacknowledged record"
    );
    assert!(reader.reader().get(&id).expect("read").is_none());
    assert_eq!(
        cluster.sql(&db, "SELECT acked_seq FROM coopledger.head"),
        "1",
        "the acknowledged head moved without the standby"
    );
    cluster::run_script(&["start", &cluster.dir("s1")]);
    let seq = answer
        .recv_timeout(Duration::from_secs(60))
        .expect("the append completes once the standby is back")
        .expect("acknowledged");
    assert_eq!(seq, 2);
    let mut ledger = appender.join().expect("appender");
    cluster.wait_streaming(1);

    // 2. The COMMIT's wait cancelled: committed locally, not acknowledged, never served.
    cluster::run_script(&["stop", &cluster.dir("s1")]);
    let event = synth.activity();
    let cancelled = event.event_id.expect("id");
    let appender = std::thread::spawn(move || {
        let result = ledger.append(vec![event]);
        (result, ledger)
    });
    let pid = waiting_for_standby(&cluster, &db);
    cluster.sql("postgres", &format!("SELECT pg_cancel_backend({pid})"));
    let (result, mut ledger) = appender.join().expect("appender");
    match result {
        Err(Error::Poisoned(why)) => assert!(why.contains("not acknowledged"), "{why}"),
        other => panic!("a cancelled COMMIT was answered {other:?}"),
    }
    // It is in the table on the primary (committed locally)…
    assert_eq!(
        cluster.sql(
            &db,
            &format!("SELECT count(*) FROM coopledger.records WHERE event_id = '{cancelled}'")
        ),
        "1"
    );
    // …but no reader is shown it, and the writer has stopped (fail-stop).
    let reader = read_only(&url);
    assert_eq!(reader.reader().head().seq, 2);
    assert!(reader.reader().get(&cancelled).expect("read").is_none());
    assert!(
        matches!(
            ledger.append(vec![synth.activity()]),
            Err(Error::Poisoned(_))
        ),
        "a writer goes on after an unacknowledged commit"
    );
    drop(ledger);
    cluster::run_script(&["start", &cluster.dir("s1")]);
    cluster.wait_streaming(1);
    // A new writer adopts the record once its takeover is confirmed: now on the standby.
    let ledger = writer(&url).expect("a new writer");
    assert_eq!(ledger.reader().head().seq, 3);
    let standby = read_only(&cluster.standby_url(0, &db));
    let mut head = standby.reader().head().seq;
    for _ in 0..100 {
        if head == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        head = read_only(&cluster.standby_url(0, &db)).reader().head().seq;
    }
    assert_eq!(head, 3, "the standby has the adopted record");
}

/// A second writer is refused while the first holds the ledger; one that takes over (the first
/// one's session gone) fences the first, which then fails loudly and writes nothing.
#[test]
fn a_stale_writer_is_fenced_and_writes_nothing() {
    if !cluster::enabled("a_stale_writer_is_fenced_and_writes_nothing") {
        return;
    }
    let fixture = Fixture::postgres();
    let Location::Postgres(url) = &fixture.location else {
        unreachable!()
    };
    let url = format!("{url}?coopledger_failover_timeout=5");
    store::create(&fixture.location).expect("init");
    let mut first = writer(&url).expect("first writer");
    let mut synth = Synth::new(3);
    first.append(vec![synth.activity()]).expect("append");
    match writer(&url) {
        Err(Error::Store(StoreError::InUse(_))) => {}
        Err(other) => panic!("a second writer was told {other}"),
        Ok(_) => panic!("a second writer started beside the first"),
    }
    // The first writer's session ends (as after a network partition): a second one takes over.
    let db = fixture.database.as_deref().expect("database");
    let cluster = Cluster::shared();
    cluster.sql(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' \
             AND application_name = 'coopledger-writer'"
        ),
    );
    let mut second = writer(&url).expect("the second writer takes over");
    second
        .append(vec![synth.activity()])
        .expect("the second writer appends");
    drop(second);
    let before = cluster.sql(db, "SELECT count(*) FROM coopledger.records");
    let event = synth.activity();
    let id = event.event_id.expect("id");
    match first.append(vec![event]) {
        Err(Error::Poisoned(why)) => assert!(why.contains("fenced"), "{why}"),
        other => panic!("the stale writer was answered {other:?}"),
    }
    assert_eq!(
        cluster.sql(db, "SELECT count(*) FROM coopledger.records"),
        before
    );
    assert_eq!(
        cluster.sql(
            db,
            &format!("SELECT count(*) FROM coopledger.records WHERE event_id = '{id}'")
        ),
        "0"
    );
}

/// A writer refuses to start without a synchronous standby unless the URL opts into a single
/// node; a database without the schema is a clear error (exit 2) and is left without one.
#[test]
fn the_writer_checks_its_standby_and_the_schema_at_start() {
    if !cluster::enabled("the_writer_checks_its_standby_and_the_schema_at_start") {
        return;
    }
    let single = Cluster::start(0);
    let db = single.database();
    let url = single.url(&db);
    cli(&url)
        .arg("log")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("has no coopledger schema"));
    cli(&url)
        .args(["--create", "append", "-"])
        .write_stdin(r#"{"type":"CountryJoined","recorded_by":"t","country":"GH","joined_on":"2016-07-21","participation":"beneficiary"}"#)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does not create PostgreSQL schemas"));
    assert_eq!(
        single.sql(&db, "SELECT to_regclass('coopledger.head') IS NULL"),
        "t"
    );
    cli(&url).arg("init").assert().success();
    cli(&url)
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("already a ledger"));
    let refused = cli(&url)
        .args(["append", "-"])
        .write_stdin(r#"{"type":"CountryJoined","recorded_by":"t","country":"GH","joined_on":"2016-07-21","participation":"beneficiary"}"#)
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(stderr.contains("no synchronous standby"), "{stderr}");
    assert!(stderr.contains("coopledger_single_node=true"), "{stderr}");
    assert_eq!(
        single.sql(&db, "SELECT count(*) FROM coopledger.records"),
        "0"
    );
    cli(&format!("{url}?coopledger_single_node=true"))
        .args(["append", "-"])
        .write_stdin(r#"{"type":"CountryJoined","recorded_by":"t","country":"GH","joined_on":"2016-07-21","participation":"beneficiary"}"#)
        .assert()
        .success()
        .stdout(predicates::str::contains(r#""seq":1"#));
    cli(&format!("{url}?coopledger_bogus=1"))
        .arg("log")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("coopledger_bogus"));
}

/// UPDATE, DELETE and TRUNCATE of records are refused by the triggers; a frame edited with the
/// triggers disabled (a superuser can) is named by `verify` (exit 4).
#[test]
fn the_append_only_triggers_refuse_changes_and_verify_names_an_edited_row() {
    if !cluster::enabled("the_append_only_triggers_refuse_changes_and_verify_names_an_edited_row") {
        return;
    }
    let fixture = Fixture::postgres();
    let mut ledger = fixture.create();
    let mut synth = Synth::new(9);
    ledger.append(synth.programme(30)).expect("append");
    ledger.append(synth.programme(1)).expect("append");
    drop(ledger);
    let db = fixture.database.as_deref().expect("database");
    let cluster = Cluster::shared();
    for sql in [
        "UPDATE coopledger.records SET type = 'x' WHERE seq = 3",
        "DELETE FROM coopledger.records WHERE seq = 31",
        "TRUNCATE coopledger.records",
        "UPDATE coopledger.checkpoints SET note = ''",
    ] {
        let out = psql(cluster.primary, db, sql);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sql} was allowed");
        assert!(stderr.contains("append-only"), "{sql}: {stderr}");
    }
    assert_eq!(
        cluster.sql(db, "SELECT count(*) FROM coopledger.records"),
        "31"
    );
    cli(&fixture.db_arg()).arg("verify").assert().success();
    // A column the index lookups read, changed on record 9 (its frame intact): appends would
    // misjudge the versions of record 9's stream; verify names it.
    cluster.sql(
        db,
        "ALTER TABLE coopledger.records DISABLE TRIGGER append_only; \
         UPDATE coopledger.records SET stream_version = stream_version + 1000 WHERE seq = 9; \
         ALTER TABLE coopledger.records ENABLE TRIGGER append_only",
    );
    cli(&fixture.db_arg())
        .arg("verify")
        .assert()
        .code(4)
        .stderr(predicates::str::contains(
            "record 9 is corrupt: its row's columns say",
        ));
    cluster.sql(
        db,
        "ALTER TABLE coopledger.records DISABLE TRIGGER append_only; \
         UPDATE coopledger.records SET stream_version = stream_version - 1000 WHERE seq = 9; \
         ALTER TABLE coopledger.records ENABLE TRIGGER append_only",
    );
    cli(&fixture.db_arg()).arg("verify").assert().success();
    // Flip one byte of record 17's body, past the 64-byte frame header.
    cluster.sql(
        db,
        "ALTER TABLE coopledger.records DISABLE TRIGGER append_only; \
         UPDATE coopledger.records SET frame = overlay(frame placing \
           (CASE WHEN get_byte(frame, 80) = 0 THEN '\\x01'::bytea ELSE '\\x00'::bytea END) from 81 for 1) \
         WHERE seq = 17; \
         ALTER TABLE coopledger.records ENABLE TRIGGER append_only",
    );
    cli(&fixture.db_arg())
        .arg("verify")
        .assert()
        .code(4)
        .stderr(predicates::str::contains("record 17"));
}

/// `import --check` on PostgreSQL while a writer runs: judged against the acknowledged log (a
/// problem named by its line, a clean file's new events counted), nothing appended (the records
/// table unchanged), and no writer's role taken: the running writer appends after it.
#[test]
fn import_check_reads_postgres_and_writes_nothing() {
    if !cluster::enabled("import_check_reads_postgres_and_writes_nothing") {
        return;
    }
    let fixture = Fixture::postgres();
    let Location::Postgres(url) = &fixture.location else {
        unreachable!()
    };
    store::create(&fixture.location).expect("init");
    cli(url)
        .args(["import", &crate::cli::story_path()])
        .assert()
        .success();
    let mut live = writer(url).expect("the writer");
    let db = fixture.database.as_deref().expect("database");
    let cluster = Cluster::shared();
    let before = cluster.sql(db, "SELECT count(*) FROM coopledger.records");
    let activities = crate::support::activity_lines(2_500);
    let unknown_case =
        serde_json::json!({"type": "CaseMilestoneRecorded", "recorded_by": "officer",
        "case_id": "0190f0a1-7c2e-7a10-8b3e-00000000c0bb", "on": "2024-02-01",
        "milestone": {"kind": "arrests", "country": "GH", "count": 3}})
        .to_string();
    let dir = crate::support::tempdir();
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, activities.join("\n") + "\n").expect("write");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, activities.join("\n") + "\n" + &unknown_case + "\n").expect("write");
    cli(url)
        .args(["import", "--check", "--batch", "500"])
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "bad.jsonl:2501: case_id: case_not_open",
        ))
        .stderr(predicates::str::contains("nothing was appended"));
    cli(url)
        .args(["import", "--check", "--batch", "500"])
        .arg(&good)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "checked 2500 lines: all valid; 2500 new events would be appended",
        ));
    assert_eq!(
        cluster.sql(db, "SELECT count(*) FROM coopledger.records"),
        before,
        "nothing was appended"
    );
    let mut synth = Synth::new(7);
    live.append(vec![synth.activity()])
        .expect("the writer was not fenced by the checks");
}

/// `rebuild` replaces the stored views whole, in the group's one statement: a part no rebuild
/// writes (put there with SQL) is deleted, the others are written again, and the ledger opens
/// and verifies after it.
#[test]
fn a_rebuild_replaces_every_stored_view_part() {
    if !cluster::enabled("a_rebuild_replaces_every_stored_view_part") {
        return;
    }
    let fixture = Fixture::postgres();
    let mut ledger = fixture.create();
    let mut synth = Synth::new(11);
    ledger.append(synth.programme(40)).expect("append");
    drop(ledger);
    let db = fixture.database.as_deref().expect("database");
    let cluster = Cluster::shared();
    let parts = || cluster.sql(db, "SELECT count(*) FROM coopledger.views");
    let before = parts();
    assert_ne!(before, "0", "the appends stored no view part");
    let stray = "SELECT count(*) FROM coopledger.views WHERE part = '\\xfffe'";
    cluster.sql(
        db,
        "INSERT INTO coopledger.views (part, value) VALUES ('\\xfffe', '\\x00')",
    );
    assert_eq!(cluster.sql(db, stray), "1");
    cli(&fixture.db_arg()).arg("rebuild").assert().success();
    assert_eq!(cluster.sql(db, stray), "0", "the rebuild kept a stray part");
    assert_eq!(parts(), before);
    cli(&fixture.db_arg()).arg("verify").assert().success();
}
