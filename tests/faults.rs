//! Injected faults (the `fail` crate; `cargo test --features failpoints --test faults`).
//!
//! Failpoints: `store::apply` (the atomic sled batch of a group commit) and `store::sync` (sled's
//! flush and the fdatasync after it); `store::index_check` (before a verification reads the
//! index's runs) slows a read down to let merges race it. `return(crash)` aborts the process there. Records, views,
//! Merkle tiles and the head are written in one sled batch, so there is no point "between record
//! write and view update" to crash at: the batch is the unit.
//!
//! After every fault: the caller saw an error (or the process died); after reopening, every
//! acknowledged event is present, nothing unacknowledged is half-present, `verify` passes and the
//! views equal a rebuild. The failpoint registry is global, so these tests run one at a time.

#![cfg(feature = "failpoints")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use coopledger::synth::Synth;
use coopledger::{Error, Ledger, ViewName};
use uuid::Uuid;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Canonical JSON of both views, to compare maintained and rebuilt state.
fn views_json(ledger: &Ledger) -> String {
    let views = ledger.reader().views();
    let countries: Vec<_> = views
        .countries()
        .filter_map(|c| views.country_view(c))
        .collect();
    serde_json::to_string(&(countries, views.interregional_view())).expect("json")
}

/// Reopens and checks: acknowledged present, unacknowledged batch all or nothing, verify, views
/// equal a rebuild, and the ledger takes appends again.
fn check_after(dir: &Path, acked: &[Uuid], unacked: &[Uuid]) {
    let mut ledger = Ledger::create(dir).expect("reopen after the fault");
    let reader = ledger.reader();
    for id in acked {
        assert!(
            reader.get(id).expect("read").is_some(),
            "acknowledged {id} lost"
        );
    }
    let present = unacked
        .iter()
        .filter(|id| reader.get(id).expect("read").is_some())
        .count();
    assert!(
        present == 0 || present == unacked.len(),
        "an unacknowledged batch is half-present: {present} of {}",
        unacked.len()
    );
    reader
        .verify(&mut |_, _| {})
        .expect("verify after the fault");
    reader
        .verify_tree(&mut |_, _| {})
        .expect("the Merkle tree after the fault");
    let maintained = views_json(&ledger);
    ledger
        .rebuild_views(ViewName::All, &mut |_| {})
        .expect("rebuild");
    assert_eq!(
        views_json(&ledger),
        maintained,
        "views differ from a rebuild"
    );
    let mut synth = Synth::new(77);
    ledger
        .append(vec![synth.activity()])
        .expect("appends work again after reopening");
}

fn ids(events: &[coopledger::proto_events::NewEvent]) -> Vec<Uuid> {
    events
        .iter()
        .map(|e| e.event_id.expect("synth sets ids"))
        .collect()
}

fn fault_then_reopen(point: &str) {
    let _serial = serial();
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tmp");
    let mut synth = Synth::new(1);
    let mut acked = Vec::new();
    let unacked;
    {
        let mut ledger = Ledger::create(dir.path()).expect("open");
        for _ in 0..3 {
            let batch: Vec<_> = (0..5).map(|_| synth.activity()).collect();
            acked.extend(ids(&batch));
            ledger.append(batch).expect("append before the fault");
        }
        fail::cfg(point, "return(injected I/O error)").expect("failpoint");
        let batch: Vec<_> = (0..5).map(|_| synth.activity()).collect();
        unacked = ids(&batch);
        match ledger.append(batch) {
            Err(Error::Poisoned(reason)) => assert!(reason.contains("injected"), "{reason}"),
            other => panic!("the fault must fail the append, got {other:?}"),
        }
        fail::remove(point);
        // Fail-stop: the handle refuses writes until reopened, even with the fault gone.
        match ledger.append(vec![synth.activity()]) {
            Err(Error::Poisoned(_)) => {}
            other => panic!("a poisoned ledger must refuse appends, got {other:?}"),
        }
        assert_eq!(
            ledger.reader().head().seq,
            15,
            "readers never see the failed batch"
        );
    }
    scenario.teardown();
    check_after(dir.path(), &acked, &unacked);
}

#[test]
fn a_write_error_fails_the_append_and_poisons_until_reopened() {
    fault_then_reopen("store::apply");
}

#[test]
fn a_sync_error_fails_the_append_and_poisons_until_reopened() {
    fault_then_reopen("store::sync");
}

/// The handle's pipeline stages a group over the one committing: when that commit fails, the
/// group staged over it is refused whole and nothing of it is written, though its own commit
/// would have succeeded (the failed group is all or nothing, as any unacknowledged one).
#[test]
fn a_group_staged_over_a_commit_that_fails_is_refused_whole() {
    let _serial = serial();
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tmp");
    let mut synth = Synth::new(3);
    let acked: Vec<_>;
    let mut unacked = Vec::new();
    {
        let mut ledger = Ledger::create(dir.path()).expect("open");
        let batch: Vec<_> = (0..4).map(|_| synth.activity()).collect();
        acked = ids(&batch);
        ledger.append(batch).expect("append before the fault");
        let mut stage = |ledger: &mut Ledger| {
            let batch: Vec<_> = (0..3).map(|_| synth.activity()).collect();
            unacked.push(ids(&batch));
            let mut open = ledger.open_group();
            ledger.stage(&mut open, vec![coopledger::Request::append(batch)]);
            ledger.close_group(open, coopledger::ledger::Views::Now)
        };
        let failing = stage(&mut ledger);
        let over_it = stage(&mut ledger);
        let committer = ledger.committer();
        fail::cfg("store::sync", "return(injected I/O error)").expect("failpoint");
        let answers = committer.commit(failing);
        fail::remove("store::sync");
        assert!(
            matches!(&answers[..], [Err(Error::Poisoned(reason))] if reason.contains("injected")),
            "the fault must fail its group: {answers:?}"
        );
        let answers = committer.commit(over_it);
        assert!(
            matches!(&answers[..], [Err(Error::Poisoned(_))]),
            "the group staged over a failed commit must be refused: {answers:?}"
        );
        assert_eq!(ledger.reader().head().seq, 4, "readers see neither group");
    }
    scenario.teardown();
    check_after(dir.path(), &acked, &unacked[0]);
    let ledger = Ledger::open(dir.path()).expect("reopen");
    let reader = ledger.reader();
    let written = unacked[1]
        .iter()
        .filter(|id| reader.get(id).expect("read").is_some())
        .count();
    assert_eq!(written, 0, "nothing of the refused group is written");
}

const CHILD_ENV: &str = "COOPLEDGER_FAULT_CHILD";

/// Runs only as the child of the crash test: appends batches, announcing each and acknowledging
/// it once durable, with a crash injected at the fourth sync after the open.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    // Never torn down: the failpoint aborts this process.
    let _scenario = fail::FailScenario::setup();
    let mut ledger = Ledger::create(&dir).expect("child opens");
    fail::cfg("store::sync", "3*off->return(crash)").expect("failpoint");
    let mut synth = Synth::new(std::process::id().into());
    loop {
        let batch: Vec<_> = (0..4).map(|_| synth.activity()).collect();
        let ids: Vec<String> = ids(&batch).iter().map(Uuid::to_string).collect();
        println!("try {}", ids.join(" "));
        ledger.append(batch).expect("append");
        println!("ack {}", ids.join(" "));
    }
}

#[test]
fn a_crash_between_write_and_sync_loses_nothing_acknowledged() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tmp");
    for round in 0..3 {
        let child = Command::new(std::env::current_exe().expect("test binary"))
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let output = child.wait_with_output().expect("child");
        assert!(
            !output.status.success(),
            "the child must die at the injected crash"
        );
        let (mut acked, mut tried) = (Vec::new(), Vec::new());
        for line in BufReader::new(output.stdout.as_slice())
            .lines()
            .map_while(Result::ok)
        {
            let parse = |rest: &str| -> Vec<Uuid> {
                rest.split(' ').map(|s| s.parse().expect("uuid")).collect()
            };
            if let Some(rest) = line.strip_prefix("ack ") {
                acked.extend(parse(rest));
            } else if let Some(rest) = line.strip_prefix("try ") {
                tried = parse(rest);
            }
        }
        assert_eq!(
            acked.len(),
            12,
            "round {round}: three batches acknowledged before the crash"
        );
        let unacked: Vec<Uuid> = tried.into_iter().filter(|id| !acked.contains(id)).collect();
        assert_eq!(unacked.len(), 4, "the crashed batch");
        check_after(dir.path(), &acked, &unacked);
    }
}

#[test]
fn every_acknowledged_append_issued_an_fdatasync() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tmp");
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let mut synth = Synth::new(5);
    for _ in 0..10 {
        let before = ledger.reader().sync_count();
        ledger.append(vec![synth.activity()]).expect("append");
        assert_eq!(
            ledger.reader().sync_count(),
            before + 1,
            "one flush + fdatasync per append"
        );
    }
    // A refused append syncs nothing.
    let before = ledger.reader().sync_count();
    let dup = synth.activity();
    let mut bad = dup.clone();
    bad.recorded_by = String::new();
    assert!(ledger.append(vec![bad]).is_err());
    assert_eq!(ledger.reader().sync_count(), before);
}

/// A small tmpfs, unmounted on drop.
struct SmallDisk {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(SmallDisk { path, _dir: dir })
    }

    fn grow(&self, megabytes: u32) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={megabytes}m")])
            .arg(&self.path)
            .status()
            .expect("remount");
        assert!(status.success(), "remount the tmpfs larger");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// Fills the disk (a real 3 MiB tmpfs where this machine allows mounting one, else an injected
/// ENOSPC at the write): appends fail cleanly, nothing acknowledged is lost, and the ledger works
/// again once space returns and it is reopened.
#[test]
fn a_full_disk_fails_appends_cleanly_and_recovers_when_space_returns() {
    let _serial = serial();
    let scenario = fail::FailScenario::setup();
    let disk = SmallDisk::mount(3);
    let fallback = tempfile::tempdir().expect("tmp");
    let dir = match &disk {
        Some(d) => d.path.join("ledger"),
        None => fallback.path().join("ledger"),
    };
    println!(
        "disk full on {}",
        if disk.is_some() {
            "a real 3 MiB tmpfs"
        } else {
            "an injected ENOSPC (no permission to mount)"
        }
    );
    let mut synth = Synth::new(9);
    let mut acked = Vec::new();
    let mut failed = None;
    {
        let mut ledger = Ledger::create(&dir).expect("open");
        for round in 0..2_000 {
            if disk.is_none() && round == 20 {
                fail::cfg(
                    "store::apply",
                    "return(No space left on device (os error 28))",
                )
                .expect("failpoint");
            }
            let batch: Vec<_> = (0..25).map(|_| synth.activity()).collect();
            let batch_ids = ids(&batch);
            match ledger.append(batch) {
                Ok(_) => acked.extend(batch_ids),
                Err(e) => {
                    failed = Some((e.to_string(), batch_ids));
                    break;
                }
            }
        }
        let (reason, _) = failed.as_ref().expect("the disk filled up");
        println!("{} events acknowledged, then: {reason}", acked.len());
        assert!(!acked.is_empty());
        assert!(
            ledger.append(vec![synth.activity()]).is_err(),
            "a ledger that failed a write refuses the next one"
        );
    }
    fail::remove("store::apply");
    scenario.teardown();
    if let Some(d) = &disk {
        d.grow(64);
    }
    let (_, unacked) = failed.expect("failed batch");
    check_after(&dir, &acked, &unacked);
}

const MERGE_CHILD_ENV: &str = "COOPLEDGER_MERGE_CHILD";

/// A verification reads the index's runs without holding the index, so appends go on; the
/// merges they trigger delete the runs they merge, so merges wait while a verification reads
/// (`index::MergePin`). With every read slowed down and a merge every few records, appends
/// merge the index during the reads, and every verification agrees with the log. (Run in a
/// child, which the index tuning reaches through its environment.)
#[test]
fn verifications_agree_with_an_index_that_appends_merge_meanwhile() {
    let _serial = serial();
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args(["merge_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(MERGE_CHILD_ENV, "1")
        // A run every 2 records, a merge of two every 4.
        .env("COOPLEDGER_INDEX_FLUSH", "2")
        .env("COOPLEDGER_INDEX_FANOUT", "2")
        .output()
        .expect("child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("verified "),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs only as the child of the test above.
#[test]
fn merge_child() {
    if std::env::var(MERGE_CHILD_ENV).is_err() {
        return;
    }
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().expect("tmp");
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let mut synth = Synth::new(5);
    ledger
        .append((0..40).map(|_| synth.activity()).collect())
        .expect("seed");
    fail::cfg("store::index_check", "sleep(20)").expect("failpoint");
    let reader = ledger.reader();
    let done = std::sync::atomic::AtomicBool::new(false);
    let verified = std::thread::scope(|s| {
        let verifier = s.spawn(|| {
            let mut verified = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) || verified < 3 {
                reader
                    .verify(&mut |_, _| {})
                    .expect("a verification during appends agrees");
                verified += 1;
            }
            verified
        });
        for _ in 0..300 {
            ledger
                .append(vec![synth.activity()])
                .expect("append during verifications");
        }
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        verifier.join().expect("verifier")
    });
    assert!(verified >= 3, "{verified} verifications ran");
    println!("verified {verified} times");
    scenario.teardown();
}
