//! `coopledger migrate` stopped anywhere: a child runs the migration of a format-1 store (small
//! steps, an index flushed every 256 records) and is killed with SIGKILL at random moments; after
//! each kill the store must verify as it is (every record whole, in whichever layout), and the
//! migration run again must finish with the same log: the same export, byte for byte.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::support::tempdir;

/// Migrations killed before one is left to finish.
const KILLS: usize = 8;

fn bin(db: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coopledger"));
    cmd.arg("--db").arg(db).env_remove("COOPLEDGER_DB");
    cmd
}

fn output(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = bin(db).args(args).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_migration_killed_anywhere_resumes_and_changes_nothing() {
    let seed: u64 = std::env::var("COOPLEDGER_MIGRATE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("migrate crash seed {seed} (rerun with COOPLEDGER_MIGRATE_SEED={seed})");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempdir();
    let db = dir.path().join("ledger");
    {
        let mut ledger = coopledger::Ledger::create(&db).expect("create");
        let mut synth = coopledger::synth::Synth::new(seed);
        for _ in 0..2 {
            ledger.append(synth.programme(2_500)).expect("append");
        }
    }
    let (code, before, err) = output(&db, &["export"]);
    assert_eq!(code, 0, "{err}");
    crate::layout::to_format_1(&db);
    assert_eq!(crate::layout::layout_counts(&db).1, 0, "no blocks left");
    // Eight runs killed at random moments, then one left to finish.
    let mut kills = 0;
    for attempt in 0..=KILLS {
        let mut child = bin(&db)
            .arg("migrate")
            .env("COOPLEDGER_MIGRATE_STEP_BYTES", "65536")
            .env("COOPLEDGER_INDEX_FLUSH", "256")
            .env("COOPLEDGER_INDEX_FANOUT", "3")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn migrate");
        if attempt < KILLS {
            std::thread::sleep(Duration::from_millis(rng.random_range(20..800)));
        } else {
            let status = child.wait().expect("wait");
            assert!(status.success(), "the last migration failed (seed {seed})");
        }
        match child.try_wait().expect("poll") {
            Some(status) => {
                let out = child.wait_with_output().expect("output");
                assert!(
                    status.success(),
                    "migrate failed on attempt {attempt}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(stdout.starts_with("ok: "), "{stdout}");
                if attempt < KILLS {
                    // Finished before its kill: nothing left to interrupt.
                    break;
                }
            }
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                kills += 1;
                let (code, out, err) = output(&db, &["verify"]);
                assert_eq!(code, 0, "after kill {kills} (seed {seed}): {out}{err}");
            }
        }
    }
    let (singles, blocks) = crate::layout::layout_counts(&db);
    assert_eq!(
        singles, 0,
        "migration finished (seed {seed}, {kills} kills)"
    );
    assert!(blocks > 1);
    let (code, after, err) = output(&db, &["export"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        after == before,
        "the log changed (seed {seed}, {kills} kills)"
    );
    let (code, out, err) = output(&db, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("ok: 0 records moved"), "{out}");
    println!("migration finished after {kills} kills");
}
