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
    // One witness counts once: its key given twice cannot make a quorum of two.
    let run = coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "verify",
            "--checkpoint",
            "cp60.cosigned",
            "--pubkey",
            "k.pub",
            "--witness-key",
            "w/witness.key.pub",
            "--witness-key",
            "w/witness.key.pub",
            "--witnesses",
            "2",
        ],
    )
    .expect_code(2, "a witness key given twice");
    assert!(run.stderr.contains("given twice"), "{run:#?}");

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
    .expect_code(2, "no proof from 20");
    assert!(
        run.stderr.contains("prove consistency --from 20 --to 30"),
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

/// A `coopledger witness serve` child process, killed (by its id) when dropped.
struct WitnessServer {
    child: std::process::Child,
    base: String,
}

impl WitnessServer {
    fn start(cwd: &Path) -> WitnessServer {
        use std::io::BufRead;
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("coopledger"))
            .current_dir(cwd)
            .env_remove("COOPLEDGER_SERVER")
            .args([
                "--json",
                "witness",
                "serve",
                "--dir",
                "w",
                "--addr",
                "127.0.0.1:0",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn the witness server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the serving line");
        let started: serde_json::Value = serde_json::from_str(&line).expect("a JSON start line");
        assert_eq!(started["witness"], "w", "{line}");
        let base = started["url"].as_str().expect("a URL").to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        WitnessServer { child, base }
    }

    fn post(&self, body: &str) -> (u16, String, String) {
        let response = crate::support::client()
            .post(format!("{}/add-checkpoint", self.base))
            .body(body.to_owned())
            .send()
            .expect("POST");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().expect("body"))
    }
}

impl Drop for WitnessServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_witness_serves_the_c2sp_add_checkpoint_api() {
    use coopledger::merkle::ConsistencyProof;
    use coopledger::witness::AddCheckpoint;
    use coopledger::witness::cosignature::CosignatureVerifier;

    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    let dbs = path_str(&db);
    ledger_with(&db, 914, 25);
    coopledger(cwd, &["keygen", "--out", "k", "--name", "serve.test/log"]).expect_code(0, "keygen");
    coopledger(
        cwd,
        &[
            "witness",
            "init",
            "--dir",
            "w",
            "--name",
            "serve.test/w1",
            "--log-key",
            "k.pub",
        ],
    )
    .expect_code(0, "witness init");
    checkpoint_to(cwd, dbs, "cp25.txt").expect_code(0, "checkpoint");
    let cp25 = std::fs::read_to_string(cwd.join("cp25.txt")).expect("cp25");
    let verifier = CosignatureVerifier::load(&cwd.join("w/witness.key.pub")).expect("key");
    let request = |old: u64, proof: Vec<[u8; 32]>, checkpoint: &str| {
        AddCheckpoint {
            old,
            proof,
            checkpoint: checkpoint.to_owned(),
        }
        .to_body()
    };

    let server = WitnessServer::start(cwd);
    let missing = crate::support::client()
        .get(format!("{}/checkpoint", server.base))
        .send()
        .expect("GET");
    assert_eq!(missing.status().as_u16(), 404);
    let (status, _, line) = server.post(&request(0, Vec::new(), &cp25));
    assert_eq!(status, 200, "{line}");
    assert!(
        line.starts_with("— serve.test/w1 ") && line.ends_with('\n'),
        "{line}"
    );
    // The response is a cosignature line of the submitted checkpoint.
    let cosigned = format!("{cp25}{line}");
    assert!(verifier.check(&cosigned).expect("verifies").is_some());
    let served = crate::support::client()
        .get(format!("{}/checkpoint", server.base))
        .send()
        .expect("GET")
        .text()
        .expect("text");
    assert_eq!(served, cosigned);

    grow(&db, 915, 15);
    checkpoint_to(cwd, dbs, "cp40.txt").expect_code(0, "checkpoint");
    let cp40 = std::fs::read_to_string(cwd.join("cp40.txt")).expect("cp40");
    let proof: ConsistencyProof = serde_json::from_str(
        &coopledger(
            cwd,
            &[
                "--db",
                dbs,
                "prove",
                "consistency",
                "--from",
                "25",
                "--to",
                "40",
            ],
        )
        .expect_code(0, "prove")
        .stdout,
    )
    .expect("proof");

    // The protocol's refusals, each before the right request.
    let (status, content_type, body) = server.post(&request(0, Vec::new(), &cp40));
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "25\n")
    );
    let mut bad_proof = proof.path.clone();
    bad_proof[0][0] ^= 1;
    let (status, _, body) = server.post(&request(25, bad_proof, &cp40));
    assert_eq!(status, 422, "{body}");
    let (status, _, body) = server.post(&request(41, proof.path.clone(), &cp40));
    assert_eq!(status, 400, "{body}");
    let forged = cp40.replacen("\n40\n", "\n41\n", 1);
    let (status, _, body) = server.post(&request(25, proof.path.clone(), &forged));
    assert_eq!(status, 403, "{body}");
    let (other_skey, _) = checkpoint::generate("serve.test/other");
    let other = Key::parse(&other_skey)
        .expect("key")
        .sign(40, &proof.new_root)
        .expect("sign");
    let (status, _, body) = server.post(&request(25, proof.path.clone(), &other));
    assert_eq!(status, 404, "{body}");
    for malformed in ["", "old 025\n\n", "old 25\nnot base64\n\n", "old -1\n\n"] {
        let (status, _, body) = server.post(malformed);
        assert_eq!(status, 400, "{malformed:?}: {body}");
    }
    let (status, _, body) = server.post(&"x".repeat(coopledger::witness::serve::MAX_BODY + 1));
    assert_eq!(status, 413, "{body}");

    let (status, _, line) = server.post(&request(25, proof.path.clone(), &cp40));
    assert_eq!(status, 200, "{line}");
    assert!(
        verifier
            .check(&format!("{cp40}{line}"))
            .expect("verifies")
            .is_some()
    );
    // The same checkpoint again is cosigned again (the same size and root).
    let (status, _, _) = server.post(&request(40, Vec::new(), &cp40));
    assert_eq!(status, 200);
    drop(server);

    // Restarted, the witness remembers 40.
    let server = WitnessServer::start(cwd);
    let (status, content_type, body) = server.post(&request(25, proof.path, &cp40));
    assert_eq!(
        (status, content_type.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "40\n")
    );
}

#[test]
fn the_signer_refuses_a_damaged_or_foreign_state_and_keeps_its_own_across_processes() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    let dbs = path_str(&db);
    ledger_with(&db, 916, 20);
    coopledger(cwd, &["keygen", "--out", "k", "--name", "state.test/log"]).expect_code(0, "keygen");
    coopledger(cwd, &["keygen", "--out", "k2", "--name", "state.test/log"])
        .expect_code(0, "keygen");
    checkpoint_to(cwd, dbs, "cp20.txt").expect_code(0, "sign 20");
    // Another process, the log grown: the state from the first is extended.
    grow(&db, 917, 5);
    checkpoint_to(cwd, dbs, "cp25.txt").expect_code(0, "sign 25");
    assert_eq!(
        std::fs::read_to_string(cwd.join("k.state")).expect("state"),
        std::fs::read_to_string(cwd.join("cp25.txt")).expect("cp25")
    );
    let good = std::fs::read(cwd.join("k.state")).expect("state");

    // A damaged state: never read as "nothing signed yet".
    let mut damaged = good.clone();
    let at = damaged.iter().position(|b| *b == b'\n').expect("a line") + 1;
    damaged[at] = if damaged[at] == b'9' { b'8' } else { b'9' };
    std::fs::write(cwd.join("k.state"), &damaged).expect("damage");
    let run = checkpoint_to(cwd, dbs, "x.txt").expect_code(1, "damaged state");
    assert!(
        run.stderr.contains("is damaged") && run.stderr.contains("refusing to sign"),
        "{run:#?}"
    );
    // Another key's state (the same name): not this key's memory.
    std::fs::write(cwd.join("k.state"), &good).expect("restore");
    let other = coopledger(cwd, &["--db", dbs, "checkpoint", "--key", "k2"]);
    assert_eq!(other.code, 0, "{other:#?}");
    std::fs::copy(cwd.join("k2.state"), cwd.join("k.state")).expect("swap states");
    let run = checkpoint_to(cwd, dbs, "x.txt").expect_code(1, "another key's state");
    assert!(run.stderr.contains("is damaged"), "{run:#?}");
    std::fs::write(cwd.join("k.state"), &good).expect("restore");
    checkpoint_to(cwd, dbs, "cp25b.txt").expect_code(0, "its own state again");
    assert!(
        !cwd.join("k.state.tmp").exists(),
        "no temporary file left behind"
    );
}
