//! Shortened history (issue 13, item 9), through the binary: whoever controls the ledger's
//! directory exports the log, keeps a prefix, imports it with `--verify-hashes` and swaps it in.
//! The signer's memory lives beside its key (`FILE.state`), so it refuses to contradict itself;
//! a witness, with its own key and state, refuses to cosign a shortened or forked history; and
//! `verify --checkpoint --witness-key` requires its cosignature. Also: the witness's state across
//! restarts, a damaged state, a second witness process, and the witness following a server.

use std::path::Path;

use coopledger::LedgerHandle;
use coopledger::audit::checkpoint::{self, Key};
use coopledger::http::{self, Config, auth::Tokens};
use coopledger::synth::Synth;
use coopledger::witness::Witness;

use crate::proofs::{Run, coopledger, ledger_with, open_existing, path_str};
use crate::support::tempdir;

/// Appends `n` synthetic activities (another programme than [`ledger_with`]'s).
fn grow(db: &Path, seed: u64, n: usize) {
    let mut ledger = open_existing(db);
    let mut synth = Synth::new(seed);
    ledger
        .append((0..n).map(|_| synth.activity()).collect())
        .expect("append");
}

fn write(cwd: &Path, name: &str, text: &str) {
    std::fs::write(cwd.join(name), text).expect("write");
}

fn checkpoint_to(cwd: &Path, db: &str, file: &str) -> Run {
    let run = coopledger(cwd, &["--db", db, "checkpoint", "--key", "k"]);
    if run.code == 0 {
        write(cwd, file, &run.stdout);
    }
    run
}

fn verify_with_witness(cwd: &Path, db: &str, file: &str) -> Run {
    coopledger(
        cwd,
        &[
            "--db",
            db,
            "verify",
            "--checkpoint",
            file,
            "--pubkey",
            "k.pub",
            "--witness-key",
            "w/witness.key.pub",
        ],
    )
}

/// Replaces the ledger in `db` by one holding only its first `keep` records, as someone who
/// controls the directory can: export, cut, import with the hashes checked, swap.
fn swap_in_prefix(cwd: &Path, db: &Path, keep: usize) {
    let dbs = path_str(db);
    let export = coopledger(cwd, &["--db", dbs, "export"]).expect_code(0, "export");
    let prefix: String = export
        .stdout
        .lines()
        .take(keep)
        .map(|l| format!("{l}\n"))
        .collect();
    write(cwd, "prefix.jsonl", &prefix);
    let short = cwd.join("short");
    coopledger(
        cwd,
        &[
            "--db",
            path_str(&short),
            "--create",
            "import",
            "--verify-hashes",
            "prefix.jsonl",
        ],
    )
    .expect_code(0, "import the prefix");
    std::fs::remove_dir_all(db).expect("remove the ledger");
    std::fs::rename(&short, db).expect("swap in the prefix");
}

#[test]
fn a_swapped_in_prefix_is_refused_by_the_signer_the_witness_and_verify_with_witnesses() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    let dbs = path_str(&db);
    ledger_with(&db, 909, 60);
    coopledger(cwd, &["keygen", "--out", "k", "--name", "swap.test/log"]).expect_code(0, "keygen");
    coopledger(
        cwd,
        &[
            "witness",
            "init",
            "--dir",
            "w",
            "--name",
            "swap.test/w1",
            "--log-key",
            "k.pub",
        ],
    )
    .expect_code(0, "witness init");

    // The honest history: signed at 60, cosigned, verified with the witness.
    checkpoint_to(cwd, dbs, "cp60.txt").expect_code(0, "checkpoint at 60");
    let state = std::fs::read_to_string(cwd.join("k.state")).expect("the signer's state");
    assert_eq!(
        state,
        std::fs::read_to_string(cwd.join("cp60.txt")).expect("cp60"),
        "the signer's state is the last checkpoint it signed"
    );
    let run = coopledger(
        cwd,
        &["witness", "add", "--dir", "w", "--checkpoint", "cp60.txt"],
    )
    .expect_code(0, "the witness cosigns the first checkpoint");
    write(cwd, "cp60.cosigned", &run.stdout);
    assert!(run.stdout.contains("\n— swap.test/w1 "), "{run:#?}");
    verify_with_witness(cwd, dbs, "cp60.cosigned").expect_code(0, "honest and cosigned");
    verify_with_witness(cwd, dbs, "cp60.txt").expect_code(4, "not cosigned");

    // The attack: a prefix of 40 swapped in, grown to 45.
    swap_in_prefix(cwd, &db, 40);
    coopledger(cwd, &["--db", dbs, "verify"]).expect_code(0, "the chain alone cannot tell");
    grow(&db, 4_040, 5);
    let run = checkpoint_to(cwd, dbs, "cp45.txt").expect_code(4, "the signer remembers 60");
    assert!(
        run.stderr
            .contains("not consistent with the checkpoint of 60 records this key signed")
            && run.stderr.contains("k.state"),
        "{run:#?}"
    );
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_eq!(
        std::fs::read_to_string(cwd.join("k.state")).expect("state"),
        state,
        "a refused signing leaves the state alone"
    );
    verify_with_witness(cwd, dbs, "cp60.cosigned").expect_code(4, "shortened");

    // Even a signer that lost its memory (an older build, a lost state file) cannot get a
    // contradicting checkpoint past the witness.
    std::fs::remove_file(cwd.join("k.state")).expect("forget");
    checkpoint_to(cwd, dbs, "cp45.txt").expect_code(0, "a signer without memory signs");
    let run = coopledger(
        cwd,
        &["witness", "add", "--dir", "w", "--checkpoint", "cp45.txt"],
    )
    .expect_code(4, "the witness refuses the shortened history");
    assert!(
        run.stderr
            .contains("older than the checkpoint of 60 records"),
        "{run:#?}"
    );
    verify_with_witness(cwd, dbs, "cp45.txt").expect_code(4, "no cosignature on 45");

    // The fork grown past 60: consistent with 45, not with what the witness cosigned.
    grow(&db, 4_041, 30);
    checkpoint_to(cwd, dbs, "cp75.txt").expect_code(0, "the signer signs the fork's growth");
    let proof = coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "prove",
            "consistency",
            "--from",
            "60",
            "--to",
            "75",
        ],
    )
    .expect_code(0, "a proof from 60 in the forked tree");
    write(cwd, "p.json", &proof.stdout);
    let run = coopledger(
        cwd,
        &[
            "witness",
            "add",
            "--dir",
            "w",
            "--checkpoint",
            "cp75.txt",
            "--proof",
            "p.json",
        ],
    )
    .expect_code(4, "the witness refuses the fork");
    assert!(
        run.stderr
            .contains("not consistent with the checkpoint of 60 records"),
        "{run:#?}"
    );
    let run = verify_with_witness(cwd, dbs, "cp75.txt").expect_code(4, "no cosignature on 75");
    assert!(
        run.stderr
            .contains("0 valid witness cosignature(s), 1 required"),
        "{run:#?}"
    );
    // Without witnesses, the forged history's own checkpoint verifies: that is what they add.
    coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "verify",
            "--checkpoint",
            "cp75.txt",
            "--pubkey",
            "k.pub",
        ],
    )
    .expect_code(0, "the fork is self-consistent");
}

#[test]
fn the_witness_state_survives_restarts_and_a_damaged_or_held_state_is_refused() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    let dbs = path_str(&db);
    ledger_with(&db, 910, 20);
    coopledger(cwd, &["keygen", "--out", "k", "--name", "restart.test/log"])
        .expect_code(0, "keygen");
    coopledger(
        cwd,
        &[
            "witness",
            "init",
            "--dir",
            "w",
            "--name",
            "restart.test/w1",
            "--log-key",
            "k.pub",
        ],
    )
    .expect_code(0, "witness init");
    let run = coopledger(
        cwd,
        &[
            "witness",
            "init",
            "--dir",
            "w",
            "--name",
            "restart.test/w1",
            "--log-key",
            "k.pub",
        ],
    )
    .expect_code(2, "a second init");
    assert!(run.stderr.contains("not empty"), "{run:#?}");
    checkpoint_to(cwd, dbs, "cp20.txt").expect_code(0, "checkpoint");
    coopledger(
        cwd,
        &["witness", "add", "--dir", "w", "--checkpoint", "cp20.txt"],
    )
    .expect_code(0, "cosign 20");

    grow(&db, 911, 10);
    checkpoint_to(cwd, dbs, "cp30.txt").expect_code(0, "checkpoint");
    // Another process: the witness remembers 20, so a request without a proof from 20 fails.
    let run = coopledger(
        cwd,
        &["witness", "add", "--dir", "w", "--checkpoint", "cp30.txt"],
    )
    .expect_code(4, "no proof from 20");
    assert!(
        run.stderr
            .contains("not consistent with the checkpoint of 20"),
        "{run:#?}"
    );
    let wrong = coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "prove",
            "consistency",
            "--from",
            "10",
            "--to",
            "30",
        ],
    )
    .expect_code(0, "prove");
    write(cwd, "p10.json", &wrong.stdout);
    let run = coopledger(
        cwd,
        &[
            "witness",
            "add",
            "--dir",
            "w",
            "--checkpoint",
            "cp30.txt",
            "--proof",
            "p10.json",
        ],
    )
    .expect_code(4, "a proof from another size");
    assert!(
        run.stderr
            .contains("conflict with the checkpoint of 20 records"),
        "{run:#?}"
    );
    let right = coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "prove",
            "consistency",
            "--from",
            "20",
            "--to",
            "30",
        ],
    )
    .expect_code(0, "prove");
    write(cwd, "p20.json", &right.stdout);
    let run = coopledger(
        cwd,
        &[
            "witness",
            "add",
            "--dir",
            "w",
            "--checkpoint",
            "cp30.txt",
            "--proof",
            "p20.json",
        ],
    )
    .expect_code(0, "cosign 30");
    write(cwd, "cp30.cosigned", &run.stdout);
    verify_with_witness(cwd, dbs, "cp30.cosigned").expect_code(0, "cosigned 30");
    // Replaying the older checkpoint to a restarted witness.
    coopledger(
        cwd,
        &["witness", "add", "--dir", "w", "--checkpoint", "cp20.txt"],
    )
    .expect_code(4, "an older checkpoint");

    // A process holding the witness: a second one is refused, and nothing changes.
    {
        let _held = Witness::open(&cwd.join("w")).expect("open the witness");
        let run = coopledger(
            cwd,
            &["witness", "add", "--dir", "w", "--checkpoint", "cp30.txt"],
        )
        .expect_code(1, "held by another process");
        assert!(
            run.stderr.contains("held by another witness process"),
            "{run:#?}"
        );
    }

    // A damaged state is never read as no state (which would trust anything again).
    let state = cwd.join("w/checkpoint");
    let mut bytes = std::fs::read(&state).expect("state");
    let at = bytes.iter().position(|b| *b == b'\n').expect("a line") + 1;
    bytes[at] = if bytes[at] == b'9' { b'8' } else { b'9' };
    std::fs::write(&state, &bytes).expect("damage");
    let run = coopledger(
        cwd,
        &["witness", "add", "--dir", "w", "--checkpoint", "cp30.txt"],
    )
    .expect_code(1, "damaged state");
    assert!(run.stderr.contains("state is damaged"), "{run:#?}");

    // The witness's key where the log's belongs, and the other way round: named, not printed.
    let secret = std::fs::read_to_string(cwd.join("w/witness.key")).expect("key");
    let secret = secret
        .trim()
        .splitn(5, '+')
        .nth(4)
        .expect("seed")
        .to_owned();
    let run = coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "verify",
            "--checkpoint",
            "cp30.cosigned",
            "--pubkey",
            "k.pub",
            "--witness-key",
            "w/witness.key",
        ],
    )
    .expect_code(2, "a private witness key");
    assert!(run.stderr.contains("holds a private key"), "{run:#?}");
    assert!(!run.stderr.contains(&secret), "{run:#?}");
}

#[test]
fn the_witness_follows_a_server_and_cosigns_each_new_checkpoint() {
    const READER: &str = "reader-token-witness-0123456789";
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    ledger_with(&db, 912, 30);
    let (skey, vkey) = checkpoint::generate("follow.test/log");
    write(cwd, "k.pub", &format!("{vkey}\n"));
    coopledger(
        cwd,
        &[
            "witness",
            "init",
            "--dir",
            "w",
            "--name",
            "follow.test/w1",
            "--log-key",
            "k.pub",
        ],
    )
    .expect_code(0, "witness init");
    let key = std::sync::Arc::new(Key::parse(&skey).expect("key"));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = LedgerHandle::open(&db).expect("open");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = Config {
        tokens: Some(Tokens::parse("t", &format!("reader {READER}\n")).expect("tokens")),
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = runtime.spawn(http::serve(listener, handle.clone(), config, async {
        let _ = stopped.await;
    }));
    let follow = || {
        coopledger(
            cwd,
            &[
                "--token",
                READER,
                "witness",
                "follow",
                "--dir",
                "w",
                "--log",
                &base,
                "--once",
                "--out",
                "latest.txt",
            ],
        )
    };

    let run = follow().expect_code(1, "no checkpoint yet");
    assert!(run.stderr.contains("404"), "{run:#?}");
    runtime
        .block_on(handle.sign_checkpoint(key.clone()))
        .expect("sign 30");
    let run = follow().expect_code(0, "cosign 30");
    assert!(run.stdout.starts_with("follow.test/log\n30\n"), "{run:#?}");
    let mut synth = Synth::new(913);
    runtime
        .block_on(handle.append((0..9).map(|_| synth.activity()).collect()))
        .expect("append");
    runtime
        .block_on(handle.sign_checkpoint(key.clone()))
        .expect("sign 39");
    let run = follow().expect_code(0, "cosign 39 with the proof from 30");
    assert!(run.stdout.starts_with("follow.test/log\n39\n"), "{run:#?}");
    assert_eq!(
        std::fs::read_to_string(cwd.join("latest.txt")).expect("--out"),
        run.stdout
    );
    follow().expect_code(0, "nothing new: the same cosigned checkpoint");
    let wrong_token = coopledger(
        cwd,
        &["witness", "follow", "--dir", "w", "--log", &base, "--once"],
    )
    .expect_code(1, "reads need the token");
    assert!(wrong_token.stderr.contains("401"), "{wrong_token:#?}");

    // The server's shutdown waits for the writer, which waits for every handle.
    drop(handle);
    let _ = stop.send(());
    runtime
        .block_on(done)
        .expect("server task")
        .expect("server result");
    drop(runtime);
    write(cwd, "cp39.cosigned", &run.stdout);
    let run = verify_with_witness(cwd, path_str(&db), "cp39.cosigned");
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains("cosigned by follow.test/w1"),
        "{run:#?}"
    );
}
