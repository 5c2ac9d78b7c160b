//! Auditor-grade proofs (`src/audit`): RFC 6962 known-answer vectors for hashing, generation over
//! real tiles and verification; differential tests against `ct-merkle` over real ledgers at random
//! sizes and at every tile boundary; every single-bit mutation of proofs and signed checkpoints;
//! a rewritten or truncated history caught by a signed checkpoint although the hash chain is
//! intact; and the proof commands and endpoints end to end (the binary, and HTTP checked against
//! the OpenAPI document).
//!
//! Random choices print their seed; rerun one with `COOPLEDGER_PROOFS_SEED=<seed>`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use coopledger::audit::checkpoint::{self, Key, PublicKey};
use coopledger::audit::receipt::{self, Receipt};
use coopledger::audit::sign::sign_checkpoint;
use coopledger::http::{self, Config, auth::Tokens};
use coopledger::ledger::frame::{FRAME_HEADER, GENESIS, chain_hash, frame};
use coopledger::ledger::tiles::{Frontier, TileReader};
use coopledger::ledger::tree as proof;
use coopledger::merkle::{
    ConsistencyProof, InclusionProof, MAX_PATH, ProofError, empty_root, leaf_hash, node_hash,
    verify_consistency, verify_inclusion,
};
use coopledger::proto_events::codec::{decode_body, encode_body};
use coopledger::proto_events::hash::to_hex;
use coopledger::proto_events::{Hash, RecordedEvent};
use coopledger::store::sled::{SledStore, keys};
use coopledger::store::{Backend, Group};
use coopledger::synth::Synth;
use coopledger::{Error, Ledger, LedgerHandle, Options, Request};
use ct_merkle as ct;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::StatusCode;
use reqwest::blocking::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Known answers.
//
// The reference tree of Certificate Transparency: eight leaves, the roots of its prefixes, some
// audit paths and consistency proofs. Copied (as data) from transparency-dev/merkle
// `proof/verify_test.go` (`leaves`, `roots`, `inclusionProofs`, `consistencyProofs`); the same
// values are `kInputs`, `kSHA256Roots`, `kSHA256Paths` and `kSHA256Proofs` of
// google/certificate-transparency `cpp/merkletree/merkle_tree_test.cc`. The hasher answers are
// from transparency-dev/merkle `rfc6962/rfc6962_test.go`.
// ---------------------------------------------------------------------------------------------

const KAT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// `KAT_ROOTS[n - 1]` is the root of the first `n` leaves.
const KAT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf, 1-based as published; tree size; audit path).
const KAT_INCLUSION: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, proof).
const KAT_CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// `echo -n | sha256sum`.
const KAT_EMPTY_ROOT: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// `echo -n 004C313233343536 | xxd -r -p | sha256sum`: the leaf hash of "L123456".
const KAT_LEAF_L123456: &str = "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56";
/// `sha256SomeHash` of verify_test.go, used as a wrong root and an inserted path element.
const KAT_SOME_HASH: &str = "abacaba000000000000000000000000000000000000000000060061e00123456";

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn h(text: &str) -> Hash {
    unhex(text).try_into().expect("32 bytes")
}

fn hexes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(to_hex).collect()
}

fn concat(path: &[Hash]) -> Vec<u8> {
    path.iter().flatten().copied().collect()
}

/// `SHA-256(0x00 ‖ body)`, computed here rather than by the crate.
fn sha_leaf(body: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(body)
        .finalize()
        .into()
}

fn from_ct(digest: &ct::digest::Output<Sha256>) -> Hash {
    digest.as_slice().try_into().expect("32 bytes")
}

fn to_ct(hash: &Hash) -> ct::digest::Output<Sha256> {
    (*hash).into()
}

fn flip(hash: &Hash, bit: usize) -> Hash {
    let mut out = *hash;
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// The seed of a randomised test: `COOPLEDGER_PROOFS_SEED` or the clock; printed either way.
fn seed(test: &str) -> u64 {
    let seed = std::env::var("COOPLEDGER_PROOFS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("{test}: seed {seed} (rerun with COOPLEDGER_PROOFS_SEED={seed})");
    seed
}

/// sled releases its file lock a moment after its last handle is dropped (its I/O threads, or a
/// child process another test is spawning, may still hold the file), so an open right after a
/// close can briefly see the ledger "in use": such opens are retried for a while.
pub(crate) fn patiently<T, E: std::fmt::Display>(
    mut open: impl FnMut() -> Result<T, E>,
) -> Result<T, E> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match open() {
            Err(e) if e.to_string().contains("in use") && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

pub(crate) fn open_ledger(dir: &Path) -> Ledger {
    patiently(|| Ledger::create(dir)).expect("open the ledger")
}

/// The ledger's sled database itself, to tamper with it through sled with the documented
/// layout (`docs/format.md`), as someone who controls the directory would.
pub(crate) fn open_store(dir: &Path) -> sled::Db {
    let mut waited = 0;
    loop {
        match sled::open(dir) {
            Ok(db) => return db,
            Err(e) if waited < 100 => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
                waited += 1;
            }
            Err(e) => panic!("open sled in {}: {e}", dir.display()),
        }
    }
}

fn verify_chain(dir: &Path) -> Result<coopledger::ledger::VerifyReport, Error> {
    patiently(|| coopledger::verify_store(dir, &mut |_| {}))
}

/// A store holding the Merkle tiles of exactly `leaves`, written as the ledger's writer does: a
/// frontier pushed leaf by leaf, written to the store every `chunk` leaves, and reloaded from the
/// store between every other chunk. The directory outlives the store when bound as
/// `let (_dir, store) = …`.
fn tile_store(leaves: &[Vec<u8>], chunk: usize) -> (tempfile::TempDir, SledStore) {
    let dir = tempdir();
    let store = SledStore::open(dir.path()).expect("store");
    let mut frontier = Frontier::default();
    for (i, part) in leaves.chunks(chunk.max(1)).enumerate() {
        if i % 2 == 1 {
            frontier = Frontier::load(&store).expect("reload the frontier");
        }
        for leaf in part {
            frontier.push(leaf_hash(leaf));
        }
        let group = Group {
            tiles: frontier.take_writes(),
            tree_size: Some(frontier.size()),
            ..Group::default()
        };
        store.commit(&group).expect("commit");
    }
    assert_eq!(frontier.size(), leaves.len() as u64);
    (dir, store)
}

fn inclusion_of(
    tiles: &TileReader<'_>,
    leaves: &[Vec<u8>],
    index: u64,
    size: u64,
) -> InclusionProof {
    InclusionProof {
        leaf_index: index,
        tree_size: size,
        leaf_hash: leaf_hash(&leaves[index as usize]),
        path: proof::inclusion_path(tiles, index, size).expect("inclusion path"),
        root: proof::root(tiles, size).expect("root"),
    }
}

fn consistency_of(tiles: &TileReader<'_>, from: u64, to: u64) -> ConsistencyProof {
    ConsistencyProof {
        from,
        to,
        old_root: proof::root(tiles, from).expect("old root"),
        new_root: proof::root(tiles, to).expect("new root"),
        path: proof::consistency_path(tiles, from, to).expect("consistency path"),
    }
}

/// The largest power of two below `n` (RFC 6962's split), for `n > 1`.
fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The shape of RFC 6962 `PATH(index, D[size])`, leaf to root: for each element, whether it is
/// the left sibling. The verifier's answer depends on the proof's numbers only through this
/// shape. `None` when no such path exists.
fn inclusion_shape(index: u64, size: u64) -> Option<Vec<bool>> {
    fn walk(m: u64, a: u64, b: u64, out: &mut Vec<bool>) {
        if b - a == 1 {
            return;
        }
        let k = split(b - a);
        if m < a + k {
            walk(m, a, a + k, out);
            out.push(false);
        } else {
            walk(m, a + k, b, out);
            out.push(true);
        }
    }
    (index < size).then(|| {
        let mut out = Vec::new();
        walk(index, 0, size, &mut out);
        out
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The proof's first element starts both roots (the old tree is not a complete subtree).
    Seed,
    /// A left sibling, in both trees.
    Left,
    /// A right sibling, only in the new tree.
    Right,
}

/// The shape of RFC 6962 `PROOF(from, D[to])`. `None` when no such proof exists.
fn consistency_shape(from: u64, to: u64) -> Option<Vec<Step>> {
    fn walk(m: u64, a: u64, b: u64, complete: bool, out: &mut Vec<Step>) {
        if m == b {
            if !complete {
                out.push(Step::Seed);
            }
            return;
        }
        let k = split(b - a);
        if m <= a + k {
            walk(m, a, a + k, complete, out);
            out.push(Step::Right);
        } else {
            walk(m, a + k, b, false, out);
            out.push(Step::Left);
        }
    }
    (from >= 1 && from <= to).then(|| {
        let mut out = Vec::new();
        walk(from, 0, to, true, &mut out);
        out
    })
}

fn ct_inclusion_ok(p: &InclusionProof, leaf: &[u8]) -> bool {
    let Ok(bytes) = ct::InclusionProof::<Sha256>::try_from_bytes(concat(&p.path)) else {
        return false;
    };
    ct::RootHash::<Sha256>::new(to_ct(&p.root), p.tree_size)
        .verify_inclusion(&leaf, p.leaf_index, &bytes)
        .is_ok()
}

fn ct_consistency_ok(p: &ConsistencyProof) -> bool {
    if p.from == p.to {
        // ct-merkle has no proof between equal sizes (prove_consistency(0) panics).
        return p.path.is_empty() && p.old_root == p.new_root;
    }
    let Ok(bytes) = ct::ConsistencyProof::<Sha256>::try_from_bytes(concat(&p.path)) else {
        return false;
    };
    ct::RootHash::<Sha256>::new(to_ct(&p.new_root), p.to)
        .verify_consistency(
            &ct::RootHash::<Sha256>::new(to_ct(&p.old_root), p.from),
            &bytes,
        )
        .is_ok()
}

/// Appends `n` events of a synthetic programme in one batch; returns the receipts.
pub(crate) fn ledger_with(dir: &Path, seed: u64, n: usize) -> Vec<coopledger::Receipt> {
    let mut ledger = open_ledger(dir);
    ledger
        .append(Synth::new(seed).programme(n))
        .expect("append")
}

pub(crate) fn open_existing(dir: &Path) -> Ledger {
    let options = Options {
        create: false,
        ..Options::default()
    };
    patiently(|| Ledger::open_with(dir, options)).expect("open the ledger")
}

fn stored_head(store: &sled::Db) -> u64 {
    let value = store.get(keys::META_HEAD).expect("get").expect("M head");
    u64::from_be_bytes(value[..8].try_into().expect("u64"))
}

/// Adds deletes of every Merkle tile and of `M tree` to `batch`: the next open recomputes the
/// tree from the records.
fn drop_tree(store: &sled::Db, batch: &mut sled::Batch) {
    for item in store.scan_prefix([keys::TREE]) {
        let (key, _) = item.expect("scan tiles");
        batch.remove(key);
    }
    batch.remove(keys::META_TREE);
}

/// Applies a tampering batch and makes it durable.
fn apply(store: &sled::Db, batch: sled::Batch) {
    store.apply_batch(batch).expect("apply");
    store.flush().expect("flush");
}

/// Rewrites history with the documented layout: record `seq`'s body is changed by `change`, its
/// hash and those of every later record are recomputed and stored (frames of hash ‖ prev ‖
/// body, `crate::layout`), `M head` is rewritten, and the Merkle tiles and `M tree` are dropped
/// so that the next open recomputes them from the new bodies. Hash chain and tree are then
/// internally consistent.
pub(crate) fn rewrite_history(dir: &Path, seq: u64, change: impl FnOnce(&mut RecordedEvent)) {
    let store = open_store(dir);
    let head = stored_head(&store);
    let mut prev = GENESIS;
    crate::layout::rewrite(&store, |frames| {
        if seq > 1 {
            prev = frames[&(seq - 1)][..32].try_into().expect("hash");
        }
        let mut change = Some(change);
        for s in seq..=head {
            let value = frames.get_mut(&s).expect("record");
            let mut body = value[FRAME_HEADER..].to_vec();
            if let Some(change) = change.take() {
                let mut event = decode_body(&body).expect("decode");
                assert_eq!(
                    encode_body(&event).expect("encode"),
                    body,
                    "bodies round-trip"
                );
                change(&mut event);
                body = encode_body(&event).expect("encode");
                assert_ne!(
                    &body[..],
                    &value[FRAME_HEADER..],
                    "the change changes the body"
                );
            }
            let hash = chain_hash(&prev, s, &body);
            *value = frame(&hash, &prev, &body);
            prev = hash;
        }
    });
    let mut batch = sled::Batch::default();
    batch.insert(keys::META_HEAD, keys::head_value(head, &prev).as_slice());
    drop_tree(&store, &mut batch);
    apply(&store, batch);
    drop(store);
    forge_witness(dir, head, &prev);
}

/// The ledger may also remember its last durable record outside sled, in the file `HEAD` of the
/// directory (`coopledger-head 1 <seq, 20 digits> <hash in hex>`); whoever rewrites the store
/// rewrites that too (or removes it when its form is unknown).
fn forge_witness(dir: &Path, seq: u64, hash: &Hash) {
    let path = dir.join("HEAD");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.starts_with("coopledger-head 1 ") => {
            let forged = format!("coopledger-head 1 {seq:020} {}\n", to_hex(hash));
            std::fs::write(&path, forged).expect("rewrite the witness");
        }
        Ok(_) => std::fs::remove_file(&path).expect("remove the witness"),
        Err(_) => {}
    }
}

/// Removes the records after `keep` and rewrites `M head` to record `keep`; with `tiles` false
/// the Merkle tiles are dropped as well (and recomputed at the next open).
pub(crate) fn truncate_log(dir: &Path, keep: u64, tiles: bool) {
    let store = open_store(dir);
    let mut last: Hash = [0; 32];
    crate::layout::rewrite(&store, |frames| {
        frames.retain(|seq, _| *seq <= keep);
        last = frames[&keep][..32].try_into().expect("hash");
    });
    let mut batch = sled::Batch::default();
    batch.insert(keys::META_HEAD, keys::head_value(keep, &last).as_slice());
    if !tiles {
        drop_tree(&store, &mut batch);
    }
    apply(&store, batch);
    drop(store);
    forge_witness(dir, keep, &last);
}

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn expect_code(self, code: i32, what: &str) -> Run {
        assert_eq!(self.code, code, "{what}: {self:#?}");
        self
    }
}

/// Runs the binary in `cwd` with a clean environment (no ledger chosen unless `args` say so).
pub(crate) fn coopledger(cwd: &Path, args: &[&str]) -> Run {
    coopledger_with_stdin(cwd, args, None)
}

/// Like [`coopledger`], with `stdin`. A run refused because the ledger is still "in use" by a
/// handle this process has just dropped (see [`patiently`]) is retried.
pub(crate) fn coopledger_with_stdin(cwd: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    let run = || {
        let mut cmd = Command::cargo_bin("coopledger").expect("the coopledger binary");
        cmd.current_dir(cwd)
            .env_remove("COOPLEDGER_DB")
            .env_remove("COOPLEDGER_LOG")
            .env_remove("COOPLEDGER_SERVER")
            .env_remove("COOPLEDGER_TOKEN")
            .args(args);
        if let Some(text) = stdin {
            cmd.write_stdin(text);
        }
        let out = cmd.output().expect("run coopledger");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        };
        if run.code == 1 && run.stderr.contains("in use") {
            Err(run.stderr)
        } else {
            Ok(run)
        }
    };
    patiently(run).unwrap_or_else(|stderr| panic!("the ledger stayed in use: {stderr}"))
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Checks the exact field set and the lower-case hex of a proof as printed or served.
fn check_proof_json(value: &Value, inclusion: bool) {
    let (fields, hashes): (&[&str], &[&str]) = if inclusion {
        (
            &["leaf_index", "tree_size", "leaf_hash", "path", "root"],
            &["leaf_hash", "root"],
        )
    } else {
        (
            &["from", "to", "old_root", "new_root", "path"],
            &["old_root", "new_root"],
        )
    };
    assert_eq!(
        object_keys(value),
        fields.iter().copied().collect::<BTreeSet<_>>(),
        "{value}"
    );
    for field in hashes {
        assert!(is_hash(&value[field]), "{field} of {value}");
    }
    let path = value["path"].as_array().expect("path is an array");
    assert!(path.iter().all(is_hash), "path of {value}");
}

// ---------------------------------------------------------------------------------------------
// 1. Known answers.
// ---------------------------------------------------------------------------------------------

fn kat_leaves() -> Vec<Vec<u8>> {
    KAT_LEAVES.iter().map(|l| unhex(l)).collect()
}

#[test]
fn rfc6962_hashes_match_the_published_answers() {
    assert_eq!(to_hex(&empty_root()), KAT_EMPTY_ROOT);
    assert_eq!(
        to_hex(&leaf_hash(b"")),
        KAT_ROOTS[0],
        "the empty leaf's hash is not the empty tree's root"
    );
    assert_eq!(to_hex(&leaf_hash(b"L123456")), KAT_LEAF_L123456);
    let hashes: Vec<Hash> = kat_leaves().iter().map(|l| leaf_hash(l)).collect();
    assert_eq!(to_hex(&node_hash(&hashes[0], &hashes[1])), KAT_ROOTS[1]);
    assert_eq!(
        to_hex(&node_hash(&node_hash(&hashes[0], &hashes[1]), &hashes[2])),
        KAT_ROOTS[2]
    );
    let left = node_hash(
        &node_hash(&hashes[0], &hashes[1]),
        &node_hash(&hashes[2], &hashes[3]),
    );
    assert_eq!(to_hex(&left), KAT_ROOTS[3]);
    // Domain separation: a node is never the leaf hash of its children's concatenation.
    let mut joined = hashes[0].to_vec();
    joined.extend_from_slice(&hashes[1]);
    assert_ne!(leaf_hash(&joined), node_hash(&hashes[0], &hashes[1]));
    assert_ne!(
        node_hash(&hashes[0], &hashes[1]),
        node_hash(&hashes[1], &hashes[0])
    );
}

#[test]
fn tiles_generate_the_published_roots_paths_and_proofs() {
    let leaves = kat_leaves();
    // Written in one batch, a leaf at a time, and three at a time with reloads in between.
    for chunk in [8, 1, 3] {
        let (_dir, store) = tile_store(&leaves, chunk);
        let tiles = TileReader::new(&store);
        assert_eq!(
            to_hex(&proof::root(&tiles, 0).expect("root")),
            KAT_EMPTY_ROOT
        );
        for (size, root) in (1..).zip(KAT_ROOTS) {
            assert_eq!(
                to_hex(&proof::root(&tiles, size).expect("root")),
                root,
                "MTH(D[{size}]), written {chunk} at a time"
            );
        }
        for &(leaf, size, path) in KAT_INCLUSION {
            let got = proof::inclusion_path(&tiles, leaf - 1, size).expect("path");
            assert_eq!(hexes(&got), path, "PATH({}, D[{size}])", leaf - 1);
        }
        for &(from, to, path) in KAT_CONSISTENCY {
            let got = proof::consistency_path(&tiles, from, to).expect("proof");
            assert_eq!(hexes(&got), path, "PROOF({from}, D[{to}])");
        }
        // A tree size beyond what the tiles cover is an error, not a wrong answer.
        assert!(proof::root(&tiles, 9).is_err());
        assert!(proof::consistency_path(&tiles, 8, 9).is_err());
    }
}

#[test]
fn every_proof_of_the_reference_tree_matches_ct_merkle() {
    let leaves = kat_leaves();
    let (_dir, store) = tile_store(&leaves, 2);
    let tiles = TileReader::new(&store);
    let mut tree = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut roots = vec![empty_root()];
    for (n, leaf) in (1u64..).zip(&leaves) {
        tree.push(leaf.clone());
        roots.push(from_ct(tree.root().as_bytes()));
        assert_eq!(proof::root(&tiles, n).expect("root"), roots[n as usize]);
        for i in 0..n {
            let ours = inclusion_of(&tiles, &leaves, i, n);
            assert_eq!(
                concat(&ours.path),
                tree.prove_inclusion(i as usize).as_bytes(),
                "PATH({i}, D[{n}])"
            );
            assert_eq!(ours.verify(), Ok(()));
            assert!(ct_inclusion_ok(&ours, &leaves[i as usize]));
        }
        for m in 1..n {
            let ours = consistency_of(&tiles, m, n);
            assert_eq!(
                concat(&ours.path),
                tree.prove_consistency((n - m) as usize).as_bytes(),
                "PROOF({m}, D[{n}])"
            );
            assert_eq!(ours.verify(), Ok(()));
            assert!(ct_consistency_ok(&ours));
        }
    }
}

/// The corruptions transparency-dev/merkle `proof/verify_test.go` (`corruptInclusionProof`)
/// applies to each known-good inclusion proof; all must be refused.
fn corrupted_inclusions(p: &InclusionProof) -> Vec<(String, InclusionProof)> {
    let some = h(KAT_SOME_HASH);
    let with = |what: &str, change: &dyn Fn(&mut InclusionProof)| {
        let mut q = p.clone();
        change(&mut q);
        (what.to_owned(), q)
    };
    let mut out = vec![
        with("leaf index - 1", &|q| {
            q.leaf_index = q.leaf_index.wrapping_sub(1)
        }),
        with("leaf index + 1", &|q| q.leaf_index += 1),
        with("leaf index ^ 2", &|q| q.leaf_index ^= 2),
        with("tree size * 2", &|q| q.tree_size *= 2),
        with("tree size / 2", &|q| q.tree_size /= 2),
        with("wrong leaf", &|q| q.leaf_hash = leaf_hash(b"WrongLeaf")),
        with("empty root", &|q| q.root = empty_root()),
        with("random root", &|q| q.root = some),
        with("trailing garbage", &|q| q.path.push([0; 32])),
        with("trailing root", &|q| q.path.push(q.root)),
        with("preceding garbage", &|q| q.path.insert(0, [0; 32])),
        with("preceding root", &|q| q.path.insert(0, q.root)),
    ];
    for i in 0..p.path.len() {
        out.push(with(&format!("proof[{i}] bit 3"), &|q| q.path[i][0] ^= 8));
    }
    if !p.path.is_empty() {
        out.push(with("removed component", &|q| {
            q.path.pop();
        }));
    }
    if p.path.len() > 1 {
        out.push(with("inserted component", &|q| q.path.insert(1, some)));
    }
    out
}

/// `corruptConsistencyProof` of the same file.
fn corrupted_consistencies(p: &ConsistencyProof) -> Vec<(String, ConsistencyProof)> {
    let wrong = leaf_hash(b"WrongRoot");
    let with = |what: &str, change: &dyn Fn(&mut ConsistencyProof)| {
        let mut q = p.clone();
        change(&mut q);
        (what.to_owned(), q)
    };
    let mut out = vec![
        with("size1 - 1", &|q| q.from -= 1),
        with("size1 + 1", &|q| q.from += 1),
        with("size1 ^ 2", &|q| q.from ^= 2),
        with("size2 * 2", &|q| q.to *= 2),
        with("size2 / 2", &|q| q.to /= 2),
        with("wrong root1", &|q| q.old_root = wrong),
        with("wrong root2", &|q| q.new_root = wrong),
        with("swapped roots", &|q| {
            std::mem::swap(&mut q.old_root, &mut q.new_root)
        }),
        with("empty proof", &|q| q.path.clear()),
        with("trailing garbage", &|q| q.path.push([0; 32])),
        with("trailing root1", &|q| q.path.push(q.old_root)),
        with("trailing root2", &|q| q.path.push(q.new_root)),
        with("preceding garbage", &|q| q.path.insert(0, [0; 32])),
        with("preceding root1", &|q| q.path.insert(0, q.old_root)),
        with("preceding root2", &|q| q.path.insert(0, q.new_root)),
        with("preceding proof[0]", &|q| q.path.insert(0, q.path[0])),
        with("truncated proof", &|q| {
            q.path.pop();
        }),
    ];
    for i in 0..p.path.len() {
        out.push(with(&format!("proof[{i}] bit 4"), &|q| q.path[i][0] ^= 16));
    }
    out
}

#[test]
fn the_published_proofs_verify_and_their_corruptions_do_not() {
    let hashes: Vec<Hash> = kat_leaves().iter().map(|l| leaf_hash(l)).collect();
    for &(leaf, size, path) in KAT_INCLUSION {
        let p = InclusionProof {
            leaf_index: leaf - 1,
            tree_size: size,
            leaf_hash: hashes[leaf as usize - 1],
            path: path.iter().map(|x| h(x)).collect(),
            root: h(KAT_ROOTS[size as usize - 1]),
        };
        assert_eq!(p.verify(), Ok(()), "{p:?}");
        for (what, q) in corrupted_inclusions(&p) {
            assert!(
                q.verify().is_err(),
                "inclusion of leaf {} in {size} verified with {what}",
                leaf - 1
            );
        }
    }
    for &(from, to, path) in KAT_CONSISTENCY {
        let p = ConsistencyProof {
            from,
            to,
            old_root: h(KAT_ROOTS[from as usize - 1]),
            new_root: h(KAT_ROOTS[to as usize - 1]),
            path: path.iter().map(|x| h(x)).collect(),
        };
        assert_eq!(p.verify(), Ok(()), "{p:?}");
        if p.path.is_empty() {
            continue;
        }
        for (what, q) in corrupted_consistencies(&p) {
            assert!(
                q.verify().is_err(),
                "consistency {from} → {to} verified with {what}"
            );
        }
    }
    // The fixed cases of TestVerifyInclusion / TestVerifyConsistency.
    let (some, empty) = (h(KAT_SOME_HASH), empty_root());
    for (index, size) in [(0, 0), (0, 1), (1, 0), (2, 1)] {
        assert!(verify_inclusion(index, size, &some, &[], &empty).is_err());
    }
    let r1 = h(KAT_ROOTS[0]);
    let r2 = h(KAT_ROOTS[1]);
    assert_eq!(verify_consistency(1, 1, &r2, &r2, &[]), Ok(()));
    assert!(
        verify_consistency(1, 1, &r1, &r2, &[]).is_err(),
        "roots differ"
    );
    assert!(
        verify_consistency(1, 0, &r1, &r2, &[]).is_err(),
        "time travel"
    );
    assert!(
        verify_consistency(2, 1, &r1, &r2, &[]).is_err(),
        "time travel"
    );
    assert!(
        verify_consistency(1, 2, &r1, &r2, &[]).is_err(),
        "empty proof"
    );
    assert!(
        verify_consistency(1, 1, &empty, &empty, &[empty]).is_err(),
        "roots match but the proof is not empty"
    );
    // Unlike transparency-dev (which accepts 0 → n trivially), a proof from the empty tree is
    // refused here as malformed; sign_checkpoint never asks for one.
    assert!(matches!(
        verify_consistency(0, 0, &empty, &empty, &[]),
        Err(ProofError::Malformed(_))
    ));
    // Paths longer than any tree of 2^64 leaves are refused before any hashing.
    let long = vec![some; MAX_PATH + 1];
    assert!(matches!(
        verify_inclusion(0, u64::MAX, &some, &long, &some),
        Err(ProofError::Malformed(_))
    ));
    assert!(matches!(
        verify_consistency(1, u64::MAX, &some, &some, &long),
        Err(ProofError::Malformed(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// 2. Differential: real ledgers against ct-merkle.
// ---------------------------------------------------------------------------------------------

/// Builds a ledger of `total` events in batches of random sizes; where `head / 256` is even the
/// batches stop short of the next tile boundary and cross it one event at a time (partial tiles
/// rewritten across batches), where odd a batch may span it. Also one group commit of several
/// requests, and reopens (the frontier reloaded from the tiles).
fn build_ledger(dir: &Path, rng: &mut ChaCha8Rng, seed: u64, total: usize) -> u64 {
    let mut events = Synth::new(seed).programme(total).into_iter().peekable();
    let mut ledger = open_ledger(dir);
    let reopen = [
        rng.random_range(300..1_200u64),
        rng.random_range(1_200..2_400u64),
    ];
    let group_at = rng.random_range(500..2_000u64);
    let mut head = 0u64;
    let mut grouped = false;
    while events.peek().is_some() {
        let within = head % 256;
        let take = if (head / 256).is_multiple_of(2) {
            if within >= 254 || within <= 1 {
                1
            } else {
                rng.random_range(1..=200).min(254 - within)
            }
        } else {
            rng.random_range(1..=200)
        };
        if !grouped && head >= group_at {
            grouped = true;
            let requests: Vec<Request> = (0..3)
                .map(|_| {
                    events
                        .by_ref()
                        .take(take.max(3) as usize)
                        .collect::<Vec<_>>()
                })
                .filter(|batch| !batch.is_empty())
                .map(Request::append)
                .collect();
            for result in ledger.append_group(requests) {
                head += result.expect("group append").len() as u64;
            }
        } else {
            let batch: Vec<_> = events.by_ref().take(take as usize).collect();
            head += ledger.append(batch).expect("append").len() as u64;
        }
        if reopen
            .iter()
            .any(|&r| head >= r && head.saturating_sub(take) < r)
        {
            drop(ledger);
            ledger = open_ledger(dir);
        }
    }
    assert_eq!(ledger.reader().head().seq, total as u64);
    head
}

/// The leaf bytes: the record bodies as stored (after the 64-byte frame header).
fn stored_bodies(dir: &Path, head: u64) -> Vec<Vec<u8>> {
    let store = open_store(dir);
    let frames = crate::layout::frames(&store);
    (1..=head)
        .map(|seq| frames[&seq][FRAME_HEADER..].to_vec())
        .collect()
}

#[test]
fn ledger_proofs_match_ct_merkle_at_random_sizes_and_tile_boundaries() {
    let seed = seed("differential");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let total = rng.random_range(2_600..=3_000usize);
    let dir = tempdir();
    let head = build_ledger(dir.path(), &mut rng, seed, total);
    let bodies = stored_bodies(dir.path(), head);

    let ledger = open_existing(dir.path());
    let reader = ledger.reader();
    let mut sizes: BTreeSet<u64> = (1..=9).chain([head - 1, head]).collect();
    for k in 1..=head / 256 + 1 {
        sizes.extend([256 * k - 1, 256 * k, 256 * k + 1]);
    }
    for _ in 0..12 {
        sizes.insert(rng.random_range(1..=head));
    }
    sizes.retain(|&n| n <= head);

    let mut tree = MemoryBackedTree::<Sha256, Vec<u8>>::new();
    let mut ct_roots = vec![empty_root()];
    for &n in &sizes {
        while tree.len() < n {
            tree.push(bodies[tree.len() as usize].clone());
            ct_roots.push(from_ct(tree.root().as_bytes()));
        }
        let root = reader.merkle_root(n).expect("root");
        assert_eq!(
            root, ct_roots[n as usize],
            "root of {n} records (seed {seed})"
        );

        let mut leaves: BTreeSet<u64> = [0, n - 1, n / 2, (n - 1) / 256 * 256].into();
        for _ in 0..3 {
            leaves.insert(rng.random_range(0..n));
        }
        for i in leaves {
            let p = reader.inclusion_proof(i + 1, Some(n)).expect("inclusion");
            let what = format!("inclusion of leaf {i} in {n} (seed {seed})");
            assert_eq!((p.leaf_index, p.tree_size, p.root), (i, n, root), "{what}");
            assert_eq!(p.leaf_hash, sha_leaf(&bodies[i as usize]), "{what}");
            assert_eq!(
                concat(&p.path),
                tree.prove_inclusion(i as usize).as_bytes(),
                "{what}"
            );
            assert_eq!(p.verify(), Ok(()), "{what}");
            assert!(
                ct_inclusion_ok(&p, &bodies[i as usize]),
                "{what}: ct-merkle refuses it"
            );
        }

        let boundary = n / 256 * 256;
        let mut olds: BTreeSet<u64> = [1, n - 1, n, boundary, boundary.saturating_sub(1)].into();
        for _ in 0..3 {
            olds.insert(rng.random_range(1..=n));
        }
        olds.retain(|&m| m >= 1 && m <= n);
        for m in olds {
            let p = reader.consistency_proof(m, n).expect("consistency");
            let what = format!("consistency {m} → {n} (seed {seed})");
            assert_eq!((p.from, p.to), (m, n), "{what}");
            assert_eq!(
                (p.old_root, p.new_root),
                (ct_roots[m as usize], root),
                "{what}"
            );
            if m < n {
                assert_eq!(
                    concat(&p.path),
                    tree.prove_consistency((n - m) as usize).as_bytes(),
                    "{what}"
                );
            } else {
                assert!(p.path.is_empty(), "{what}");
            }
            assert_eq!(p.verify(), Ok(()), "{what}");
            assert!(ct_consistency_ok(&p), "{what}: ct-merkle refuses it");
        }
    }

    // The whole tree recomputed from the records is the stored one.
    assert_eq!(
        reader.verify_tree(&mut |_, _| {}).expect("verify_tree"),
        ct_roots[head as usize]
    );
    // Out of range.
    assert!(matches!(
        reader.merkle_root(head + 1),
        Err(Error::BeyondHead { .. })
    ));
    assert!(matches!(
        reader.inclusion_proof(0, None),
        Err(Error::BadArgument(_))
    ));
    assert!(matches!(
        reader.inclusion_proof(head + 1, None),
        Err(Error::BadArgument(_))
    ));
    assert!(matches!(
        reader.inclusion_proof(5, Some(4)),
        Err(Error::BadArgument(_))
    ));
    assert!(matches!(
        reader.inclusion_proof(1, Some(head + 1)),
        Err(Error::BeyondHead { .. })
    ));
    assert!(matches!(
        reader.consistency_proof(0, 3),
        Err(Error::BadArgument(_))
    ));
    assert!(matches!(
        reader.consistency_proof(4, 3),
        Err(Error::BadArgument(_))
    ));
    assert!(matches!(
        reader.consistency_proof(1, head + 1),
        Err(Error::BeyondHead { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// 3. Mutation.
// ---------------------------------------------------------------------------------------------

#[test]
fn every_flipped_bit_of_a_proof_is_refused_and_changed_numbers_only_pass_for_the_same_shape() {
    let leaves: Vec<Vec<u8>> = (0..700).map(|i| format!("leaf {i}").into_bytes()).collect();
    let (_dir, store) = tile_store(&leaves, 97);
    let tiles = TileReader::new(&store);
    let mut same_shape = Vec::new();

    for (index, size) in [
        (0, 1),
        (2, 3),
        (5, 8),
        (255, 256),
        (256, 257),
        (300, 513),
        (123, 700),
        (699, 700),
    ] {
        let p = inclusion_of(&tiles, &leaves, index, size);
        assert_eq!(p.verify(), Ok(()));
        let what = format!("inclusion of {index} in {size}");
        for bit in 0..256 {
            let mut q = p.clone();
            q.leaf_hash = flip(&p.leaf_hash, bit);
            assert_eq!(
                q.verify(),
                Err(ProofError::Mismatch),
                "{what}: leaf hash bit {bit}"
            );
            let mut q = p.clone();
            q.root = flip(&p.root, bit);
            assert_eq!(
                q.verify(),
                Err(ProofError::Mismatch),
                "{what}: root bit {bit}"
            );
            for i in 0..p.path.len() {
                let mut q = p.clone();
                q.path[i] = flip(&p.path[i], bit);
                assert_eq!(
                    q.verify(),
                    Err(ProofError::Mismatch),
                    "{what}: path[{i}] bit {bit}"
                );
            }
        }
        // An inclusion proof does not bind the tree size on its own: RFC 9162 verification
        // accepts other numbers exactly when the audit path has the same shape for them (the
        // signed checkpoint is what binds the size to the root). Everything else is refused.
        let shape = inclusion_shape(index, size);
        let leaf = &leaves[index as usize];
        for (i, n) in [
            (index.wrapping_sub(1), size),
            (index + 1, size),
            (index, size - 1),
            (index, size + 1),
        ] {
            let q = InclusionProof {
                leaf_index: i,
                tree_size: n,
                ..p.clone()
            };
            let expected = inclusion_shape(i, n).is_some() && inclusion_shape(i, n) == shape;
            assert_eq!(
                q.verify().is_ok(),
                expected,
                "{what} checked as leaf {i} of {n}: {:?}",
                q.verify()
            );
            if i < n {
                assert_eq!(
                    ct_inclusion_ok(&q, leaf),
                    expected,
                    "ct-merkle, leaf {i} of {n}"
                );
            }
            if i != index {
                assert!(!expected, "a changed leaf index never verifies");
            }
            if expected {
                same_shape.push(format!("{what} as leaf {i} of {n}"));
            }
        }
    }

    for (from, to) in [
        (1, 2),
        (3, 7),
        (4, 6),
        (6, 8),
        (255, 256),
        (256, 257),
        (256, 700),
        (511, 513),
        (699, 700),
        (7, 7),
    ] {
        let p = consistency_of(&tiles, from, to);
        assert_eq!(p.verify(), Ok(()));
        let what = format!("consistency {from} → {to}");
        for bit in 0..256 {
            let mut q = p.clone();
            q.old_root = flip(&p.old_root, bit);
            assert!(q.verify().is_err(), "{what}: old root bit {bit}");
            let mut q = p.clone();
            q.new_root = flip(&p.new_root, bit);
            assert!(q.verify().is_err(), "{what}: new root bit {bit}");
            for i in 0..p.path.len() {
                let mut q = p.clone();
                q.path[i] = flip(&p.path[i], bit);
                assert!(q.verify().is_err(), "{what}: path[{i}] bit {bit}");
            }
        }
        let shape = consistency_shape(from, to);
        for (m, n) in [
            (from - 1, to),
            (from + 1, to),
            (from, to - 1),
            (from, to + 1),
        ] {
            let q = ConsistencyProof {
                from: m,
                to: n,
                ..p.clone()
            };
            let expected = consistency_shape(m, n).is_some()
                && consistency_shape(m, n) == shape
                && (m != n || q.old_root == q.new_root);
            assert_eq!(
                q.verify().is_ok(),
                expected,
                "{what} checked as {m} → {n}: {:?}",
                q.verify()
            );
            if m >= 1 && m <= n {
                assert_eq!(ct_consistency_ok(&q), expected, "ct-merkle, {m} → {n}");
            }
            if expected {
                same_shape.push(format!("{what} as {m} → {n}"));
            }
        }
    }
    // Not vacuous: e.g. PROOF(4, D[6]) = [MTH(D[4:6])] also proves 4 → 7 to RFC 9162, for a
    // "tree of 7" whose root would be the root of 6; and PATH(5, D[8]) is PATH(5, D[7]) too.
    println!("accepted with other numbers (same shape): {same_shape:#?}");
    assert!(
        same_shape.contains(&"consistency 4 → 6 as 4 → 7".to_owned()),
        "{same_shape:#?}"
    );
}

fn signature_line(note: &str) -> (&str, &str, Vec<u8>) {
    let (text, sigs) = note.rsplit_once("\n\n").expect("a signed note");
    let line = sigs.trim_end_matches('\n');
    let rest = line.strip_prefix("— ").expect("a signature line");
    let (name, b64) = rest.split_once(' ').expect("name and signature");
    (text, name, STANDARD.decode(b64).expect("base64"))
}

#[test]
fn every_flipped_bit_of_a_checkpoint_signature_or_text_is_refused() {
    let (skey, vkey) = checkpoint::generate("proofs.test/mutation");
    let key = Key::parse(&skey).expect("key");
    let public = PublicKey::parse(&vkey).expect("verifier key");
    let root = h(KAT_ROOTS[7]);
    let note = key.sign(8, &root).expect("sign");
    let body = public.open(&note).expect("the signed checkpoint opens");
    assert_eq!(
        (body.origin.as_str(), body.size, body.root),
        ("proofs.test/mutation", 8, root)
    );
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(
        lines[..3],
        ["proofs.test/mutation", "8", STANDARD.encode(root).as_str()]
    );

    let (text, name, bytes) = signature_line(&note);
    assert_eq!(name, "proofs.test/mutation");
    assert_eq!(bytes.len(), 4 + 64, "key id and Ed25519 signature");
    let rebuild = |bytes: &[u8]| format!("{text}\n\n— {name} {}\n", STANDARD.encode(bytes));
    assert_eq!(rebuild(&bytes), note, "the note re-encodes to itself");
    // The signature bytes after the key id, then the key id itself.
    for bit in (32..bytes.len() * 8).chain(0..32) {
        let mut changed = bytes.clone();
        changed[bit / 8] ^= 1 << (bit % 8);
        assert!(
            public.open(&rebuild(&changed)).is_err(),
            "signature bit {bit} flipped still opens"
        );
    }
    // Every byte of the checkpoint text (origin, size, root and their newlines).
    let text_len = text.len() + 1;
    for at in 0..text_len {
        let mut changed = note.clone().into_bytes();
        changed[at] ^= 0x01;
        let changed = String::from_utf8_lossy(&changed).into_owned();
        assert!(
            public.open(&changed).is_err(),
            "text byte {at} flipped still opens"
        );
    }
    // Plausible forgeries: another size, root or origin under the original signature.
    let sig = &note[text_len..];
    for forged in [
        format!("proofs.test/mutation\n9\n{}\n{sig}", STANDARD.encode(root)),
        format!(
            "proofs.test/mutation\n8\n{}\n{sig}",
            STANDARD.encode(h(KAT_ROOTS[6]))
        ),
        format!("proofs.test/other\n8\n{}\n{sig}", STANDARD.encode(root)),
    ] {
        assert!(
            public.open(&forged).is_err(),
            "forged checkpoint opens:\n{forged}"
        );
    }
    // Another key, under the same name or another, does not open it.
    for name in ["proofs.test/mutation", "proofs.test/other"] {
        let (_, other) = checkpoint::generate(name);
        let other = PublicKey::parse(&other).expect("verifier key");
        assert!(other.open(&note).is_err(), "opened with another {name} key");
    }
}

fn good_inclusion_json() -> Value {
    let leaves: Vec<Vec<u8>> = (0..20).map(|i| vec![i as u8; 3]).collect();
    let (_dir, store) = tile_store(&leaves, 20);
    let p = inclusion_of(&TileReader::new(&store), &leaves, 5, 20);
    serde_json::to_value(&p).expect("serialise")
}

#[test]
fn malformed_proof_json_is_refused_without_panicking() {
    let good = good_inclusion_json();
    let parsed: InclusionProof = serde_json::from_value(good.clone()).expect("round trip");
    assert_eq!(parsed.verify(), Ok(()));
    let hash = good["root"].as_str().expect("root").to_owned();
    let with = |field: &str, value: Value| {
        let mut v = good.clone();
        v[field] = value;
        v
    };
    let mut without = good.clone();
    without.as_object_mut().expect("object").remove("root");
    let huge = good
        .to_string()
        .replace("\"tree_size\":20", "\"tree_size\":18446744073709551616");
    assert_ne!(huge, good.to_string());
    let cases = vec![
        ("63 hex digits", with("root", json!(&hash[..63]))),
        ("65 hex digits", with("root", json!(format!("{hash}0")))),
        ("empty hash", with("leaf_hash", json!(""))),
        ("not hex", with("leaf_hash", json!("zz".repeat(32)))),
        (
            "0x prefix",
            with("leaf_hash", json!(format!("0x{}", &hash[2..]))),
        ),
        (
            "spaces",
            with("leaf_hash", json!(format!(" {}", &hash[1..]))),
        ),
        (
            "non-ASCII",
            with("leaf_hash", json!(format!("é{}", &hash[2..]))),
        ),
        ("hash as number", with("root", json!(12))),
        ("hash as bytes", with("root", json!(vec![0u8; 32]))),
        ("short path entry", with("path", json!([&hash[..62]]))),
        (
            "path of 65",
            with("path", json!(vec![hash.clone(); MAX_PATH + 1])),
        ),
        ("path not an array", with("path", json!(hash.clone()))),
        ("null path", with("path", Value::Null)),
        ("negative index", with("leaf_index", json!(-1))),
        ("fractional index", with("leaf_index", json!(1.5))),
        ("index as string", with("leaf_index", json!("5"))),
        ("unknown field", with("extra", json!(1))),
        ("missing field", without),
    ];
    let texts = cases
        .into_iter()
        .map(|(what, value)| (what, value.to_string()))
        .chain([("size beyond u64", huge)]);
    for (what, text) in texts {
        let result = std::panic::catch_unwind(|| serde_json::from_str::<InclusionProof>(&text));
        match result {
            Ok(Err(_)) => {}
            Ok(Ok(p)) => panic!("{what}: accepted {p:?}"),
            Err(_) => panic!("{what}: the parser panicked"),
        }
    }
    // 64 hashes is the most a path can hold: parsed, then refused by the verifier.
    let long: InclusionProof =
        serde_json::from_value(with("path", json!(vec![hash.clone(); MAX_PATH]))).expect("64");
    assert!(long.verify().is_err());
    let text = serde_json::to_string(&long).expect("serialise");
    assert!(serde_json::from_str::<InclusionProof>(&format!("{text}x")).is_err());
    assert!(serde_json::from_str::<InclusionProof>(&text[..text.len() / 2]).is_err());

    let consistency =
        json!({"from": 1, "to": 2, "old_root": hash, "new_root": hash, "path": [hash]});
    assert!(serde_json::from_value::<ConsistencyProof>(consistency.clone()).is_ok());
    for (field, value) in [
        ("old_root", json!(&hash[..10])),
        ("path", json!(vec![hash.clone(); MAX_PATH + 1])),
        ("from", json!(-3)),
        ("extra", json!(true)),
    ] {
        let mut v = consistency.clone();
        v[field] = value;
        assert!(
            serde_json::from_value::<ConsistencyProof>(v).is_err(),
            "consistency proof with bad {field} accepted"
        );
    }
    for bad in ["", "{", "[]", "null", "{\"event\":{}}"] {
        assert!(
            serde_json::from_str::<Receipt>(bad).is_err(),
            "receipt {bad:?}"
        );
    }
}

#[test]
fn proof_json_refuses_hash_text_that_is_not_hex_digits() {
    // `parse_hex` decodes pairs with `u8::from_str_radix`, which also takes a leading `+`:
    // "+a" reads as 0x0a. A hash must be 64 hex digits and nothing else.
    let good = good_inclusion_json();
    let root = good["root"].as_str().expect("root").to_owned();
    let signed: String = root
        .as_bytes()
        .chunks(2)
        .map(|pair| format!("+{}", char::from(pair[1])))
        .collect();
    let mut accepted = Vec::new();
    for (field, value) in [("root", signed), ("leaf_hash", "+0".repeat(32))] {
        let mut v = good.clone();
        v[field] = json!(value);
        if let Ok(p) = serde_json::from_value::<InclusionProof>(v) {
            let read = if field == "root" { p.root } else { p.leaf_hash };
            accepted.push(format!("{field} {value:?} read as {}", to_hex(&read)));
        }
    }
    assert!(
        accepted.is_empty(),
        "hash text that is not 64 hex digits was accepted: {accepted:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. A rewritten or truncated history.
// ---------------------------------------------------------------------------------------------

struct Signed {
    key: Key,
    checkpoint: std::path::PathBuf,
    pubkey: std::path::PathBuf,
}

/// Signs a checkpoint of the head with a new key, saving the note and the verifier key in `files`.
fn sign_to_files(ledger: &mut Ledger, files: &Path, name: &str) -> Signed {
    let (skey, vkey) = checkpoint::generate(name);
    let key = Key::parse(&skey).expect("key");
    let note = sign_checkpoint(ledger, &key).expect("sign");
    let checkpoint = files.join("checkpoint.txt");
    let pubkey = files.join("key.pub");
    std::fs::write(&checkpoint, &note).expect("write checkpoint");
    std::fs::write(&pubkey, format!("{vkey}\n")).expect("write key");
    Signed {
        key,
        checkpoint,
        pubkey,
    }
}

fn verify_against(files: &Path, db: &Path, signed: &Signed) -> Run {
    coopledger(
        files,
        &[
            "--db",
            path_str(db),
            "verify",
            "--checkpoint",
            path_str(&signed.checkpoint),
            "--pubkey",
            path_str(&signed.pubkey),
        ],
    )
}

#[test]
fn a_rewritten_history_passes_the_chain_but_not_the_signed_checkpoint() {
    let (dir, files) = (tempdir(), tempdir());
    let db = dir.path();
    let mut synth = Synth::new(41);
    let mut ledger = Ledger::create(db).expect("open");
    ledger.append(synth.programme(40)).expect("append");
    let signed = sign_to_files(&mut ledger, files.path(), "proofs.test/rewrite");
    let signed_root = ledger.reader().merkle_root(40).expect("root");
    ledger.append(synth.programme(25)).expect("append");
    drop(ledger);
    verify_against(files.path(), db, &signed).expect_code(0, "an honest ledger verifies");

    // A record after the checkpoint's tree is not history the checkpoint speaks for.
    rewrite_history(db, 50, |e| e.envelope.recorded_by = "someone else".into());
    verify_against(files.path(), db, &signed)
        .expect_code(0, "a change after the signed tree is consistent with it");

    rewrite_history(db, 10, |e| e.envelope.recorded_by = "someone else".into());
    let report = verify_chain(db).expect("the chain alone cannot tell");
    assert_eq!(report.head_seq, 65);
    {
        let ledger = open_existing(db);
        let reader = ledger.reader();
        let record = reader.get_seq(10).expect("read").expect("record 10");
        assert_eq!(record.envelope.recorded_by, "someone else");
        reader
            .verify_tree(&mut |_, _| {})
            .expect("the recomputed tree matches the forged records");
        assert_ne!(reader.merkle_root(40).expect("root"), signed_root);
    }
    coopledger(files.path(), &["--db", path_str(db), "verify"])
        .expect_code(0, "the hash chain alone cannot tell");
    let run = verify_against(files.path(), db, &signed).expect_code(4, "history rewritten");
    assert!(
        run.stderr
            .contains("not consistent with the checkpoint of 40 records")
            && run.stderr.contains("rewritten"),
        "{run:#?}"
    );

    let mut ledger = open_existing(db);
    match sign_checkpoint(&mut ledger, &signed.key) {
        Err(e @ Error::Corrupt { .. }) => {
            assert!(e.to_string().contains("consistent"), "{e}");
        }
        other => panic!("signed over a rewritten history: {other:?}"),
    }
    let latest = ledger.reader().latest_checkpoint().expect("checkpoints");
    assert_eq!(
        latest.map(|(size, _)| size),
        Some(40),
        "only the first checkpoint is stored"
    );
}

#[test]
fn a_truncated_log_is_caught_with_or_without_its_tiles() {
    let (dir, files) = (tempdir(), tempdir());
    let db = dir.path();
    let mut ledger = Ledger::create(db).expect("open");
    ledger.append(Synth::new(42).programme(60)).expect("append");
    let signed = sign_to_files(&mut ledger, files.path(), "proofs.test/truncate");
    drop(ledger);

    // Records 46..=60 removed and the head moved back; the tiles and the views still cover 60.
    truncate_log(db, 45, true);
    match verify_chain(db) {
        Err(Error::ViewsDisagree(why)) => {
            assert!(why.contains("at sequence 60, the log at 45"), "{why}");
        }
        other => panic!("the views still tell: {other:?}"),
    }
    match patiently(|| Ledger::create(db)) {
        Err(e @ Error::CorruptTree(_)) => assert!(e.to_string().contains("removed"), "{e}"),
        other => panic!("opened a truncated log: {:?}", other.err()),
    }
    let run = verify_against(files.path(), db, &signed).expect_code(4, "truncated, tiles kept");
    assert!(run.stderr.contains("verification failed"), "{run:#?}");

    // The tiles and the views dropped too, and recomputed at open, so that the chain, the tree
    // and the views all agree: the checkpoint still tells.
    {
        let store = open_store(db);
        let mut batch = sled::Batch::default();
        drop_tree(&store, &mut batch);
        for item in store.scan_prefix([keys::VIEW]) {
            batch.remove(item.expect("scan views").0);
        }
        apply(&store, batch);
    }
    drop(open_existing(db));
    let report = verify_chain(db).expect("chain, tree and views agree again");
    assert_eq!(report.head_seq, 45);
    let run = verify_against(files.path(), db, &signed).expect_code(4, "truncated, tiles dropped");
    assert!(
        run.stderr.contains("signs 60 records but the log holds 45"),
        "{run:#?}"
    );
    let mut ledger = open_existing(db);
    match sign_checkpoint(&mut ledger, &signed.key) {
        Err(e @ Error::Corrupt { .. }) => assert!(e.to_string().contains("consistent"), "{e}"),
        other => panic!("signed over a truncated log: {other:?}"),
    }

    // Grown back past the signed size with other events: inconsistent, not merely shorter.
    let mut other = Synth::new(4_242);
    ledger
        .append((0..30).map(|_| other.activity()).collect())
        .expect("append");
    match sign_checkpoint(&mut ledger, &signed.key) {
        Err(e @ Error::Corrupt { .. }) => assert!(e.to_string().contains("consistent"), "{e}"),
        other => panic!("signed over a replaced history: {other:?}"),
    }
    drop(ledger);
    let run = verify_against(files.path(), db, &signed).expect_code(4, "replaced history");
    assert!(run.stderr.contains("not consistent"), "{run:#?}");
}

#[test]
fn signing_an_unchanged_empty_log_twice_works() {
    // A checkpoint of the empty tree is consistent with the empty tree: signing again (as
    // `coopledger checkpoint` run twice on a new ledger does) must not fail.
    let dir = tempdir();
    let mut ledger = Ledger::create(dir.path()).expect("open");
    let (skey, vkey) = checkpoint::generate("proofs.test/empty");
    let key = Key::parse(&skey).expect("key");
    let first = sign_checkpoint(&mut ledger, &key).expect("first checkpoint of the empty log");
    let public = PublicKey::parse(&vkey).expect("verifier key");
    let body = public.open(&first).expect("opens");
    assert_eq!((body.size, body.root), (0, empty_root()));
    let second = sign_checkpoint(&mut ledger, &key);
    assert!(
        second.is_ok(),
        "a second checkpoint of the unchanged empty log was refused: {second:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. The command line.
// ---------------------------------------------------------------------------------------------

#[test]
fn keygen_checkpoint_prove_and_verify_through_the_binary() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    ledger_with(&db, 51, 300);
    let dbs = path_str(&db);

    // keygen
    let run = coopledger(cwd, &["keygen", "--out", "k", "--name", "proofs.test/cli"])
        .expect_code(0, "keygen");
    let private = std::fs::read_to_string(cwd.join("k")).expect("private key");
    let public = std::fs::read_to_string(cwd.join("k.pub")).expect("verifier key");
    assert!(
        private.starts_with("PRIVATE+KEY+proofs.test/cli+"),
        "{private}"
    );
    assert_eq!(run.stdout.trim(), public.trim());
    assert!(public.starts_with("proofs.test/cli+"), "{public}");
    PublicKey::parse(public.trim()).expect("the .pub parses");
    assert_eq!(
        Key::load(&cwd.join("k")).expect("key").name(),
        "proofs.test/cli"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(cwd.join("k"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private key mode {mode:o}");
    }
    let run = coopledger(cwd, &["keygen", "--out", "k"]).expect_code(2, "keygen over a key");
    assert!(run.stderr.contains("refusing to overwrite"), "{run:#?}");
    assert_eq!(
        std::fs::read_to_string(cwd.join("k")).expect("key"),
        private
    );
    assert_eq!(
        std::fs::read_to_string(cwd.join("k.pub")).expect("pub"),
        public
    );
    std::fs::write(cwd.join("lonely.pub"), "mine").expect("write");
    coopledger(cwd, &["keygen", "--out", "lonely"]).expect_code(2, "keygen over a .pub");
    assert!(!cwd.join("lonely").exists());
    assert_eq!(
        std::fs::read_to_string(cwd.join("lonely.pub")).expect("pub"),
        "mine"
    );
    coopledger(cwd, &["keygen", "--out", "bad", "--name", "has space"])
        .expect_code(2, "a name with a space");
    assert!(!cwd.join("bad").exists() && !cwd.join("bad.pub").exists());

    // checkpoint
    let note = coopledger(cwd, &["--db", dbs, "checkpoint", "--key", "k"])
        .expect_code(0, "checkpoint")
        .stdout;
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(lines.len(), 5, "{note}");
    assert_eq!(lines[0], "proofs.test/cli");
    assert_eq!(lines[1], "300");
    let root: Hash = STANDARD
        .decode(lines[2])
        .expect("base64 root")
        .try_into()
        .expect("32 bytes");
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("— proofs.test/cli "), "{note}");
    let body = PublicKey::load(&cwd.join("k.pub"))
        .expect("pub")
        .open(&note)
        .expect("the printed note verifies");
    assert_eq!((body.size, body.root), (300, root));
    std::fs::write(cwd.join("cp.txt"), &note).expect("write");

    // prove
    let inclusions: [(u64, Option<u64>); 6] = [
        (1, None),
        (300, None),
        (257, Some(300)),
        (256, Some(256)),
        (5, Some(5)),
        (1, Some(1)),
    ];
    let mut printed = Vec::new();
    for (seq, size) in inclusions {
        let mut args = vec!["--db", dbs, "prove", "inclusion"];
        let (seq_s, size_s) = (seq.to_string(), size.map(|s| s.to_string()));
        args.extend(["--seq", &seq_s]);
        if let Some(s) = &size_s {
            args.extend(["--size", s]);
        }
        let run = coopledger(cwd, &args).expect_code(0, "prove inclusion");
        let value: Value = serde_json::from_str(&run.stdout).expect("JSON");
        check_proof_json(&value, true);
        let p: InclusionProof = serde_json::from_str(&run.stdout).expect("an inclusion proof");
        assert_eq!((p.leaf_index, p.tree_size), (seq - 1, size.unwrap_or(300)));
        assert_eq!(p.verify(), Ok(()), "{}", run.stdout);
        printed.push(value);
    }
    let consistencies = [
        (1u64, 300u64),
        (256, 257),
        (255, 300),
        (300, 300),
        (100, 200),
    ];
    for (from, to) in consistencies {
        let (f, t) = (from.to_string(), to.to_string());
        let run = coopledger(
            cwd,
            &[
                "--db",
                dbs,
                "prove",
                "consistency",
                "--from",
                &f,
                "--to",
                &t,
            ],
        )
        .expect_code(0, "prove consistency");
        let value: Value = serde_json::from_str(&run.stdout).expect("JSON");
        check_proof_json(&value, false);
        let p: ConsistencyProof = serde_json::from_str(&run.stdout).expect("a consistency proof");
        assert_eq!((p.from, p.to), (from, to));
        assert_eq!(p.verify(), Ok(()), "{}", run.stdout);
        if to == 300 {
            assert_eq!(p.new_root, root, "the proof reaches the checkpoint's root");
        }
        printed.push(value);
    }

    // bad arguments
    for (args, says) in [
        (
            vec!["inclusion", "--seq", "0"],
            "record 0 is not in a tree of 300",
        ),
        (
            vec!["inclusion", "--seq", "301"],
            "record 301 is not in a tree of 300",
        ),
        (
            vec!["inclusion", "--seq", "5", "--size", "4"],
            "record 5 is not in a tree of 4",
        ),
        (
            vec!["inclusion", "--seq", "5", "--size", "301"],
            "holds 300",
        ),
        (
            vec!["consistency", "--from", "9", "--to", "8"],
            "from 9 to 8",
        ),
        (
            vec!["consistency", "--from", "0", "--to", "8"],
            "from 0 to 8",
        ),
        (
            vec!["consistency", "--from", "1", "--to", "301"],
            "holds 300",
        ),
        (vec!["inclusion", "--seq", "-1"], "error:"),
        (vec!["inclusion", "--seq", "x"], "--seq"),
        (vec!["inclusion"], "--seq"),
        (vec!["consistency", "--from", "3"], "--to"),
    ] {
        let mut full = vec!["--db", dbs, "prove"];
        full.extend(&args);
        let run = coopledger(cwd, &full).expect_code(2, &format!("prove {args:?}"));
        assert!(run.stdout.is_empty(), "{run:#?}");
        assert!(
            run.stderr.contains(says),
            "prove {args:?} should say {says:?}: {run:#?}"
        );
    }

    // verify --checkpoint
    let run = coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "verify",
            "--checkpoint",
            "cp.txt",
            "--pubkey",
            "k.pub",
        ],
    )
    .expect_code(0, "verify an honest ledger");
    assert!(
        run.stdout.starts_with(
            "ok: checkpoint of 300 records by proofs.test/cli is consistent with the head 300"
        ),
        "{run:#?}"
    );
    coopledger(cwd, &["--db", dbs, "verify", "--checkpoint", "cp.txt"])
        .expect_code(2, "--checkpoint needs --pubkey");
    coopledger(
        cwd,
        &["keygen", "--out", "same-name", "--name", "proofs.test/cli"],
    )
    .expect_code(0, "keygen");
    coopledger(
        cwd,
        &[
            "keygen",
            "--out",
            "other-name",
            "--name",
            "proofs.test/other",
        ],
    )
    .expect_code(0, "keygen");
    for wrong in ["same-name.pub", "other-name.pub"] {
        let run = coopledger(
            cwd,
            &[
                "--db",
                dbs,
                "verify",
                "--checkpoint",
                "cp.txt",
                "--pubkey",
                wrong,
            ],
        )
        .expect_code(4, &format!("verify with {wrong}"));
        assert!(run.stderr.contains("verification failed"), "{run:#?}");
    }
    let forged = note.replacen("\n300\n", "\n299\n", 1);
    std::fs::write(cwd.join("forged.txt"), forged).expect("write");
    coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "verify",
            "--checkpoint",
            "forged.txt",
            "--pubkey",
            "k.pub",
        ],
    )
    .expect_code(4, "a forged size");

    // The printed proofs are the library's, and the head grows consistently.
    {
        let mut ledger = open_existing(&db);
        let reader = ledger.reader();
        let expected: Vec<Value> = inclusions
            .iter()
            .map(|&(seq, size)| serde_json::to_value(reader.inclusion_proof(seq, size).expect("p")))
            .chain(consistencies.iter().map(|&(from, to)| {
                serde_json::to_value(reader.consistency_proof(from, to).expect("p"))
            }))
            .map(|v| v.expect("JSON"))
            .collect();
        assert_eq!(printed, expected);
        assert_eq!(reader.merkle_root(300).expect("root"), root);
        let mut synth = Synth::new(52);
        ledger
            .append((0..20).map(|_| synth.activity()).collect())
            .expect("append");
    }
    coopledger(
        cwd,
        &[
            "--db",
            dbs,
            "verify",
            "--checkpoint",
            "cp.txt",
            "--pubkey",
            "k.pub",
        ],
    )
    .expect_code(0, "a grown ledger is consistent with the old checkpoint");
}

fn receipt_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("a receipt: {e}: {run:#?}"))
}

#[test]
fn receipts_verify_without_the_ledger_and_any_changed_field_fails() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    let receipts = ledger_with(&db, 61, 40);
    let dbs = path_str(&db);
    coopledger(
        cwd,
        &["keygen", "--out", "k", "--name", "proofs.test/receipts"],
    )
    .expect_code(0, "keygen");
    let key = cwd.join("k.pub");
    let keys = path_str(&key);

    // Before any checkpoint a receipt needs --key.
    let id7 = receipts[6].event_id.to_string();
    let run = coopledger(cwd, &["--db", dbs, "receipt", &id7]).expect_code(2, "no checkpoint");
    assert!(
        run.stderr
            .contains("no signed checkpoint includes record 7"),
        "{run:#?}"
    );
    coopledger(cwd, &["--db", dbs, "checkpoint", "--key", "k"]).expect_code(0, "checkpoint");
    {
        let mut ledger = open_existing(&db);
        let mut synth = Synth::new(62);
        ledger
            .append((0..10).map(|_| synth.activity()).collect())
            .expect("append");
    }
    let later = {
        let ledger = open_existing(&db);
        ledger
            .reader()
            .get_seq(45)
            .expect("read")
            .expect("record 45")
            .envelope
            .event_id
    }
    .to_string();

    let run = coopledger(cwd, &["--db", dbs, "receipt", &id7]).expect_code(0, "receipt");
    let bundle = receipt_of(&run);
    assert_eq!(
        object_keys(&bundle),
        BTreeSet::from(["checkpoint", "event", "proof", "record"])
    );
    assert_eq!(bundle["event"]["seq"], 7);
    assert_eq!(bundle["event"]["event_id"], id7.as_str());
    assert_eq!(
        bundle["proof"]["tree_size"], 40,
        "the stored checkpoint covering record 7"
    );
    check_proof_json(&bundle["proof"], true);
    std::fs::write(cwd.join("r.json"), &run.stdout).expect("write");

    // Verified elsewhere: no ledger there, none created.
    let elsewhere = tempdir();
    std::fs::copy(&key, elsewhere.path().join("k.pub")).expect("copy");
    std::fs::write(elsewhere.path().join("r.json"), &run.stdout).expect("write");
    let ok = coopledger(
        elsewhere.path(),
        &["verify-receipt", "r.json", "--pubkey", "k.pub"],
    )
    .expect_code(0, "verify-receipt without a ledger");
    assert!(
        ok.stdout.starts_with(&format!(
            "ok: event {id7} is record 7 of the 40 records signed by proofs.test/receipts"
        )),
        "{ok:#?}"
    );
    coopledger_with_stdin(
        elsewhere.path(),
        &["verify-receipt", "-", "--pubkey", "k.pub"],
        Some(&run.stdout),
    )
    .expect_code(0, "verify-receipt from stdin");
    let names: Vec<_> = std::fs::read_dir(elsewhere.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().into_string().expect("name"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(names, ["k.pub", "r.json"], "verify-receipt created files");

    // Record 45 is not in any stored checkpoint; --key signs one of the head.
    let run = coopledger(cwd, &["--db", dbs, "receipt", &later]).expect_code(2, "uncovered");
    assert!(
        run.stderr
            .contains("no signed checkpoint includes record 45"),
        "{run:#?}"
    );
    let run = coopledger(cwd, &["--db", dbs, "receipt", &later, "--key", "k"])
        .expect_code(0, "receipt --key");
    let signed = receipt_of(&run);
    assert_eq!(signed["proof"]["tree_size"], 50);
    assert_eq!(signed["proof"]["leaf_index"], 44);
    std::fs::write(cwd.join("r45.json"), &run.stdout).expect("write");
    coopledger(cwd, &["verify-receipt", "r45.json", "--pubkey", keys])
        .expect_code(0, "verify-receipt of the --key receipt");
    let unknown = id(999_999).to_string();
    coopledger(cwd, &["--db", dbs, "receipt", &unknown])
        .expect_code(5, "unknown event (not found)");

    // Any changed field of the event, the record, the proof or the checkpoint.
    let other_hash = to_hex(&leaf_hash(b"other"));
    let other_checkpoint = {
        let (skey, _) = checkpoint::generate("proofs.test/receipts");
        let key = Key::parse(&skey).expect("key");
        let p: InclusionProof = serde_json::from_value(bundle["proof"].clone()).expect("proof");
        key.sign(p.tree_size, &p.root).expect("sign")
    };
    let record = STANDARD
        .decode(bundle["record"].as_str().expect("record"))
        .expect("base64");
    let with_record = |at: usize| {
        let mut changed = record.clone();
        changed[at] ^= 0x01;
        json!(STANDARD.encode(changed))
    };
    let event = bundle["event"].as_object().expect("event").clone();
    let mut mutations: Vec<(String, Value)> = Vec::new();
    let mut mutate = |what: &str, change: &dyn Fn(&mut Value)| {
        let mut v = bundle.clone();
        change(&mut v);
        assert_ne!(v, bundle, "{what} changes the receipt");
        mutations.push((what.to_owned(), v));
    };
    mutate("event seq", &|v| v["event"]["seq"] = json!(8));
    mutate("event version", &|v| {
        v["event"]["version"] = json!(v["event"]["version"].as_u64().expect("version") + 1);
    });
    mutate("event recorded_by", &|v| {
        v["event"]["recorded_by"] = json!("someone else")
    });
    mutate("event recorded_at", &|v| {
        v["event"]["recorded_at"] = json!("2020-01-01T00:00:00Z");
    });
    mutate("event source", &|v| {
        v["event"]["source"] = json!("https://example.org/forged")
    });
    mutate("event without source", &|v| {
        v["event"].as_object_mut().expect("event").remove("source");
    });
    mutate("event hash", &|v| v["event"]["hash"] = json!(other_hash));
    mutate("event prev_hash", &|v| {
        v["event"]["prev_hash"] = json!(other_hash)
    });
    mutate("event id", &|v| v["event"]["event_id"] = json!(id(424_242)));
    mutate("event stream", &|v| {
        v["event"]["stream"] = json!(format!("activity/{}", id(31_337)));
    });
    mutate("event type", &|v| {
        let other = if v["event"]["type"] == "MeetingHeld" {
            "ActivityDelivered"
        } else {
            "MeetingHeld"
        };
        v["event"]["type"] = json!(other);
    });
    for (field, value) in &event {
        // Every payload field (whatever the event type) changed to another value of its kind.
        let envelope = [
            "seq",
            "event_id",
            "stream",
            "version",
            "recorded_at",
            "hash",
            "prev_hash",
            "type",
            "recorded_by",
            "source",
        ];
        if envelope.contains(&field.as_str()) {
            continue;
        }
        let changed = match value {
            Value::Number(n) => json!(n.as_u64().unwrap_or(0) + 1),
            Value::String(s) if s.len() == 10 && s.as_bytes()[4] == b'-' => {
                json!(if s == "2019-01-02" {
                    "2019-01-03"
                } else {
                    "2019-01-02"
                })
            }
            Value::String(s) => json!(format!("{s}x")),
            Value::Array(items) if !items.is_empty() => json!(items[..items.len() - 1]),
            Value::Array(_) => json!(["ES"]),
            other => json!({"changed": other.clone()}),
        };
        mutate(&format!("event {field}"), &|v| {
            v["event"][field] = changed.clone()
        });
    }
    mutate("record first byte", &|v| v["record"] = with_record(0));
    mutate("record middle byte", &|v| {
        v["record"] = with_record(record.len() / 2)
    });
    mutate("record last byte", &|v| {
        v["record"] = with_record(record.len() - 1)
    });
    mutate("proof leaf_index", &|v| v["proof"]["leaf_index"] = json!(7));
    mutate("proof tree_size", &|v| v["proof"]["tree_size"] = json!(39));
    mutate("proof leaf_hash", &|v| {
        v["proof"]["leaf_hash"] = json!(other_hash)
    });
    mutate("proof path[0]", &|v| {
        v["proof"]["path"][0] = json!(other_hash)
    });
    mutate("proof path shortened", &|v| {
        v["proof"]["path"].as_array_mut().expect("path").pop();
    });
    mutate("proof root", &|v| v["proof"]["root"] = json!(other_hash));
    mutate("checkpoint size", &|v| {
        let text = v["checkpoint"]
            .as_str()
            .expect("note")
            .replacen("\n40\n", "\n41\n", 1);
        v["checkpoint"] = json!(text);
    });
    mutate("checkpoint by another key", &|v| {
        v["checkpoint"] = json!(other_checkpoint)
    });
    mutate("checkpoint of another tree", &|v| {
        v["checkpoint"] = signed["checkpoint"].clone();
    });
    for (what, value) in mutations {
        let text = serde_json::to_string_pretty(&value).expect("JSON");
        std::fs::write(cwd.join("m.json"), text).expect("write");
        let run = coopledger(cwd, &["verify-receipt", "m.json", "--pubkey", keys]);
        assert_eq!(
            run.code, 4,
            "a receipt with a changed {what} must fail: {run:#?}"
        );
        assert!(
            run.stderr.contains("verification failed"),
            "{what}: {run:#?}"
        );
    }
}

#[test]
fn a_receipt_whose_event_claims_other_correlation_or_causation_ids_is_refused() {
    // The receipt's event is compared with the record field by field; the envelope's
    // correlation_id and causation_id are recorded in the body too and must be compared.
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    let receipts = ledger_with(&db, 71, 12);
    let (skey, vkey) = checkpoint::generate("proofs.test/ids");
    std::fs::write(cwd.join("k.pub"), format!("{vkey}\n")).expect("write");
    let bundle = {
        let mut ledger = open_existing(&db);
        let note = sign_checkpoint(&mut ledger, &Key::parse(&skey).expect("key")).expect("sign");
        receipt::build(&ledger.reader(), &receipts[3].event_id, &note).expect("receipt")
    };
    let public = PublicKey::parse(&vkey).expect("verifier key");
    receipt::verify(&bundle, &public).expect("the honest receipt verifies");
    let mut accepted = Vec::new();
    for field in ["correlation_id", "causation_id"] {
        let mut forged = bundle.clone();
        forged
            .event
            .insert(field.into(), json!(id(777).to_string()));
        std::fs::write(
            cwd.join("forged.json"),
            serde_json::to_string(&forged).expect("JSON"),
        )
        .expect("write");
        let run = coopledger(cwd, &["verify-receipt", "forged.json", "--pubkey", "k.pub"]);
        if run.code != 4 {
            accepted.push(format!("{field}: exit {}: {}", run.code, run.stdout.trim()));
        }
    }
    assert!(
        accepted.is_empty(),
        "receipts whose event claims ids the record does not hold were accepted: {accepted:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. HTTP.
// ---------------------------------------------------------------------------------------------

const STAFF: &str = "staff-token-proofs-0123456789";

/// An in-process server on 127.0.0.1:0 over the ledger in `path` (as in http.rs).
struct Server {
    base: String,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start_in(path: &Path, config: Config) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let handle = patiently(|| LedgerHandle::create(path)).expect("open");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = runtime.spawn(http::serve(listener, handle, config, async {
            let _ = stopped.await;
        }));
        Server {
            base,
            runtime,
            stop: Some(stop),
            done: Some(done),
        }
    }

    fn get(&self, path: &str) -> Response {
        client()
            .get(format!("{}{path}", self.base))
            .send()
            .expect("GET")
    }

    /// `POST /v1/checkpoint` with `token`.
    fn sign(&self, token: &str) -> Response {
        client()
            .post(format!("{}/v1/checkpoint", self.base))
            .bearer_auth(token)
            .send()
            .expect("POST")
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            self.runtime
                .block_on(done)
                .expect("server task")
                .expect("server result");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The status and JSON body of a response, checked against the OpenAPI document.
fn json_of(response: Response, path_template: &str) -> (StatusCode, Value) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().expect("body");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("{path_template} {status}: not a JSON body ({content_type}): {e}: {text:?}")
    });
    check_schema(path_template, "get", status.as_u16(), &body);
    (status, body)
}

/// A server whose reads need no token.
fn public_reads() -> Config {
    Config {
        public_reads: true,
        ..Config::default()
    }
}

fn checkpoint_text(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().expect("note")
}

#[test]
fn http_proofs_are_the_cli_json_and_the_checkpoint_covers_the_head() {
    let sandbox = tempdir();
    let cwd = sandbox.path();
    let db = cwd.join("db");
    ledger_with(&db, 81, 300);
    let dbs = path_str(&db);
    let queries = [
        (
            "/v1/proofs/inclusion",
            "seq=7",
            vec!["inclusion", "--seq", "7"],
        ),
        (
            "/v1/proofs/inclusion",
            "seq=257&size=300",
            vec!["inclusion", "--seq", "257", "--size", "300"],
        ),
        (
            "/v1/proofs/inclusion",
            "seq=256&size=256",
            vec!["inclusion", "--seq", "256", "--size", "256"],
        ),
        (
            "/v1/proofs/consistency",
            "from=5&to=300",
            vec!["consistency", "--from", "5", "--to", "300"],
        ),
        (
            "/v1/proofs/consistency",
            "from=256&to=257",
            vec!["consistency", "--from", "256", "--to", "257"],
        ),
        (
            "/v1/proofs/consistency",
            "from=300&to=300",
            vec!["consistency", "--from", "300", "--to", "300"],
        ),
    ];
    let printed: Vec<Value> = queries
        .iter()
        .map(|(_, _, args)| {
            let mut full = vec!["--db", dbs, "prove"];
            full.extend(args);
            let run = coopledger(cwd, &full).expect_code(0, "prove");
            serde_json::from_str(&run.stdout).expect("JSON")
        })
        .collect();

    let (skey, vkey) = checkpoint::generate("proofs.test/http");
    let public = PublicKey::parse(&vkey).expect("verifier key");
    let config = Config {
        tokens: Some(Tokens::parse("test", &format!("staff {STAFF}\n")).expect("tokens")),
        public_reads: true,
        key: Some(Arc::new(Key::parse(&skey).expect("key"))),
        ..Config::default()
    };
    let server = Server::start_in(&db, config);
    for ((path, query, _), cli) in queries.iter().zip(&printed) {
        let (status, body) = json_of(server.get(&format!("{path}?{query}")), path);
        assert_eq!(status, StatusCode::OK, "{path}?{query}: {body}");
        check_proof_json(&body, path.ends_with("inclusion"));
        assert_eq!(&body, cli, "{path}?{query} differs from `coopledger prove`");
    }
    let (_, head_proof) = json_of(
        server.get("/v1/proofs/inclusion?seq=300"),
        "/v1/proofs/inclusion",
    );
    let head_root = h(head_proof["root"].as_str().expect("root"));

    // Reads never sign (issue 13): nothing is served until staff ask for a checkpoint; it then
    // covers the head, and asking again while the head stands signs nothing new.
    let (status, _) = json_of(server.get("/v1/checkpoint"), "/v1/checkpoint");
    assert_eq!(status, StatusCode::NOT_FOUND, "a read signed a checkpoint");
    let signed = server.sign(STAFF);
    assert_eq!(signed.status(), StatusCode::CREATED);
    assert_eq!(signed.headers()["location"], "/v1/checkpoint");
    let note = signed.text().expect("note");
    let first = public.open(&note).expect("the signed checkpoint verifies");
    assert_eq!(
        (first.origin.as_str(), first.size, first.root),
        ("proofs.test/http", 300, head_root)
    );
    assert_eq!(checkpoint_text(server.get("/v1/checkpoint")), note);
    let again = server.sign(STAFF);
    assert_eq!(again.status(), StatusCode::OK, "the head has not moved");
    assert_eq!(again.text().expect("note"), note);

    // After an append the next checkpoint covers the new head and extends the first.
    let posted = client()
        .post(format!("{}/v1/events", server.base))
        .bearer_auth(STAFF)
        .body(format!(
            "{}\n",
            meeting(id(5_001), &["CV", "GH"], "2018-03-01")
        ))
        .send()
        .expect("POST");
    assert_eq!(posted.status(), StatusCode::CREATED, "{:?}", posted.text());
    assert_eq!(
        checkpoint_text(server.get("/v1/checkpoint")),
        note,
        "reads serve the latest as stored, however the head moved"
    );
    let signed = server.sign(STAFF);
    assert_eq!(signed.status(), StatusCode::CREATED);
    let later = public
        .open(&signed.text().expect("note"))
        .expect("verifies");
    assert_eq!(later.size, 301);
    let (_, head) = json_of(server.get("/v1/head"), "/v1/head");
    assert_eq!(head["seq"], 301);
    let (status, proof) = json_of(
        server.get("/v1/proofs/consistency?from=300&to=301"),
        "/v1/proofs/consistency",
    );
    assert_eq!(status, StatusCode::OK);
    let proof: ConsistencyProof = serde_json::from_value(proof).expect("proof");
    verify_consistency(300, 301, &first.root, &later.root, &proof.path)
        .expect("the new checkpoint extends the old one");

    // Out of range: 400 with an error body; a size beyond the head says so.
    for (path, query, kind) in [
        ("/v1/proofs/inclusion", "seq=0", "bad_request"),
        ("/v1/proofs/inclusion", "seq=302", "bad_request"),
        ("/v1/proofs/inclusion", "seq=5&size=4", "bad_request"),
        ("/v1/proofs/inclusion", "seq=1&size=302", "beyond_head"),
        ("/v1/proofs/consistency", "from=0&to=3", "bad_request"),
        ("/v1/proofs/consistency", "from=9&to=8", "bad_request"),
        ("/v1/proofs/consistency", "from=1&to=302", "beyond_head"),
    ] {
        let (status, body) = json_of(server.get(&format!("{path}?{query}")), path);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{query}: {body}");
        assert_eq!(body["error"], kind, "{path}?{query}: {body}");
    }
}

#[test]
fn http_malformed_proof_queries_are_400_with_an_error_body() {
    // The OpenAPI document promises a JSON `Error` body with every 400 of the proof endpoints.
    let dir = tempdir();
    ledger_with(dir.path(), 91, 10);
    let server = Server::start_in(dir.path(), public_reads());
    let mut not_json = Vec::new();
    for (path, query) in [
        ("/v1/proofs/inclusion", ""),
        ("/v1/proofs/inclusion", "seq=abc"),
        ("/v1/proofs/inclusion", "seq=-1"),
        ("/v1/proofs/inclusion", "seq=1&size=x"),
        ("/v1/proofs/inclusion", "seq=1&bogus=2"),
        ("/v1/proofs/consistency", "from=1"),
        ("/v1/proofs/consistency", "from=1&to=2.5"),
        ("/v1/proofs/consistency", "from=1&to=2&extra=3"),
    ] {
        let response = server.get(&format!("{path}?{query}"));
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = response.text().expect("body");
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{query}: {text}");
        match serde_json::from_str::<Value>(&text) {
            Ok(body) => check_schema(path, "get", 400, &body),
            Err(_) => not_json.push(format!("{path}?{query} → 400 {content_type} {text:?}")),
        }
    }
    assert!(
        not_json.is_empty(),
        "400 responses without the documented JSON error body: {not_json:#?}"
    );
}

#[test]
fn http_checkpoint_is_404_until_one_is_signed_when_the_server_has_no_key() {
    let dir = tempdir();
    ledger_with(dir.path(), 101, 10);
    {
        let server = Server::start_in(dir.path(), public_reads());
        let (status, body) = json_of(server.get("/v1/checkpoint"), "/v1/checkpoint");
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"], "not_found");
    }
    let (skey, vkey) = checkpoint::generate("proofs.test/nokey");
    let note = {
        let mut ledger = open_existing(dir.path());
        sign_checkpoint(&mut ledger, &Key::parse(&skey).expect("key")).expect("sign")
    };
    let server = Server::start_in(dir.path(), public_reads());
    let served = checkpoint_text(server.get("/v1/checkpoint"));
    assert_eq!(served, note, "the stored checkpoint is served as signed");
    let body = PublicKey::parse(&vkey)
        .expect("pub")
        .open(&served)
        .expect("verifies");
    assert_eq!(body.size, 10);
}
