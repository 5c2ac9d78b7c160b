//! The forgery corpus: receipts and signed checkpoints changed in every field, to every length
//! and in every encoding, that `verify-receipt` and `verify --checkpoint` must refuse (issue 13,
//! item 6). The corpus is generated from one honest receipt of a real ledger, so every forgery
//! differs from a receipt the verifier accepts by exactly what its name says; every one goes
//! through the binary. (Checked through the library too, the corpus costs four times as long:
//! Ed25519 in an unoptimised test build.)
//!
//! A forgery is refused when the binary exits 4 (verification failed) or 2 (not a receipt, not
//! a checkpoint) and prints nothing on stdout, where the honest receipt prints `ok:`.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
use coopledger::audit::checkpoint::{self, Key, PublicKey};
use coopledger::audit::receipt;
use coopledger::audit::sign::sign_checkpoint;
use coopledger::ledger::frame::chain_hash;
use coopledger::merkle::{empty_root, leaf_hash};
use coopledger::proto_events::hash::to_hex;
use serde_json::{Map, Value, json};

use crate::proofs::{Run, coopledger, ledger_with, open_existing, path_str};
use crate::support::tempdir;

/// An honest receipt and what it was made with.
struct Honest {
    dir: tempfile::TempDir,
    receipt: Value,
    record: Vec<u8>,
    skey: String,
    vkey: String,
}

fn honest() -> Honest {
    let dir = tempdir();
    let db = dir.path().join("db");
    let receipts = ledger_with(&db, 13_006, 40);
    let (skey, vkey) = checkpoint::generate("forgery.test/log");
    std::fs::write(dir.path().join("k.pub"), format!("{vkey}\n")).expect("write key");
    let bundle = {
        let mut ledger = open_existing(&db);
        let note = sign_checkpoint(&mut ledger, &Key::parse(&skey).expect("key")).expect("sign");
        std::fs::write(dir.path().join("cp.txt"), &note).expect("write checkpoint");
        // A record whose base64 text ends in padding, so that every encoding of it differs.
        let reader = ledger.reader();
        let chosen = receipts
            .iter()
            .find(|r| reader.record_body(r.seq).expect("body").len() % 3 == 1)
            .expect("a record of 3k + 1 bytes");
        receipt::build(&reader, &chosen.event_id, &note).expect("receipt")
    };
    let record = STANDARD.decode(&bundle.record).expect("base64");
    Honest {
        dir,
        receipt: serde_json::to_value(&bundle).expect("JSON"),
        record,
        skey,
        vkey,
    }
}

/// Runs `verify-receipt` on `text`.
fn verify_receipt(cwd: &Path, text: &str) -> Run {
    std::fs::write(cwd.join("r.json"), text).expect("write");
    coopledger(cwd, &["verify-receipt", "r.json", "--pubkey", "k.pub"])
}

/// A receipt written by hand, field by field, so that keys can be repeated: `event` is a list of
/// (key, value text) pairs.
fn raw_receipt(receipt: &Value, event: &[(String, String)], tail: &str) -> String {
    let fields: Vec<String> = event
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect();
    format!(
        "{{\"event\":{{{}}},\"record\":{},\"proof\":{},\"checkpoint\":{}{tail}}}",
        fields.join(","),
        receipt["record"],
        receipt["proof"],
        receipt["checkpoint"]
    )
}

fn event_pairs(receipt: &Value) -> Vec<(String, String)> {
    receipt["event"]
        .as_object()
        .expect("event")
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

/// Another value for a field, of the same JSON kind where one exists.
fn other_value(value: &Value) -> Value {
    match value {
        Value::Number(n) => json!(n.as_u64().map_or(1, |n| n + 1)),
        Value::String(s) if s.len() == 10 && s.as_bytes().get(4) == Some(&b'-') => {
            json!(if s == "2019-01-02" {
                "2019-01-03"
            } else {
                "2019-01-02"
            })
        }
        Value::String(s) => json!(format!("{s}x")),
        Value::Array(items) if !items.is_empty() => json!(items[..items.len() - 1]),
        Value::Array(_) => json!(["ES"]),
        Value::Bool(b) => json!(!b),
        Value::Null => json!("x"),
        Value::Object(_) => json!({}),
    }
}

/// The other encodings of a value that mean the same to a lenient reader.
fn other_encodings(value: &Value) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match value {
        Value::Number(n) => {
            out.push(("as a string", format!("\"{n}\"")));
            out.push(("as a float", format!("{n}.0")));
            out.push(("with an exponent", format!("{n}e0")));
            out.push(("with a leading zero", format!("0{n}")));
        }
        Value::String(s) => {
            if s.to_uppercase() != *s {
                out.push(("in upper case", json!(s.to_uppercase()).to_string()));
            }
            if s.to_lowercase() != *s {
                out.push(("in lower case", json!(s.to_lowercase()).to_string()));
            }
            if let Some(t) = s.strip_suffix('Z') {
                out.push(("with +00:00 for Z", json!(format!("{t}+00:00")).to_string()));
            }
            out.push(("with a space after", json!(format!("{s} ")).to_string()));
        }
        _ => {}
    }
    out
}

fn push(out: &mut Vec<(String, String)>, what: String, v: Value) {
    out.push((what, v.to_string()));
}

/// Every forged receipt: (what was forged, the receipt's text).
fn forged_receipts(h: &Honest) -> Vec<(String, String)> {
    let r = &h.receipt;
    let mut out: Vec<(String, String)> = Vec::new();
    let event = r["event"].as_object().expect("event").clone();
    let seq = event["seq"].as_u64().expect("seq");

    // Item 6: a chain hash "proved" over a prev_hash of the forger's choice, as receipts of
    // 0.1.0 showed them.
    for prev in [[0u8; 32], [0x5a; 32], leaf_hash(b"anything")] {
        let mut v = r.clone();
        v["event"]["prev_hash"] = json!(to_hex(&prev));
        v["event"]["hash"] = json!(to_hex(&chain_hash(&prev, seq, &h.record)));
        push(
            &mut out,
            format!("prev_hash {} with its hash", to_hex(&prev)),
            v,
        );
    }
    for field in ["hash", "prev_hash"] {
        let mut v = r.clone();
        v["event"][field] = json!(to_hex(&leaf_hash(field.as_bytes())));
        push(&mut out, format!("event with a {field}"), v);
    }
    // Every field of the event: removed, changed, of another kind, null, in another encoding.
    for (field, value) in &event {
        let mut v = r.clone();
        v["event"].as_object_mut().expect("event").remove(field);
        push(&mut out, format!("event without {field}"), v);
        for (how, changed) in [
            ("changed", other_value(value)),
            ("null", Value::Null),
            ("an object", json!({ "value": value })),
            ("a list", json!([value])),
        ] {
            let mut v = r.clone();
            v["event"][field] = changed;
            push(&mut out, format!("event {field} {how}"), v);
        }
        for (how, text) in other_encodings(value) {
            let mut pairs = event_pairs(r);
            for pair in &mut pairs {
                if pair.0 == *field {
                    pair.1.clone_from(&text);
                }
            }
            out.push((format!("event {field} {how}"), raw_receipt(r, &pairs, "")));
        }
    }
    // Duplicate keys: the forged value first (what a lenient reader shows) or last.
    for (field, value) in &event {
        let forged = other_value(value).to_string();
        for first in [true, false] {
            let mut pairs = event_pairs(r);
            let at = pairs.iter().position(|(k, _)| k == field).expect("field");
            pairs.insert(
                if first { at } else { at + 1 },
                (field.clone(), forged.clone()),
            );
            let order = if first { "first" } else { "last" };
            out.push((
                format!("event {field} given twice, the forged value {order}"),
                raw_receipt(r, &pairs, ""),
            ));
        }
    }
    let pairs = event_pairs(r);
    out.push((
        "record given twice".into(),
        raw_receipt(
            r,
            &pairs,
            &format!(",\"record\":{}", json!(STANDARD.encode(b"x"))),
        ),
    ));
    out.push((
        "checkpoint given twice".into(),
        raw_receipt(r, &pairs, &format!(",\"checkpoint\":{}", r["checkpoint"])),
    ));
    {
        let proof = r["proof"].to_string();
        let twice = proof.replacen('{', "{\"leaf_index\":7,", 1);
        out.push((
            "proof leaf_index given twice".into(),
            r.to_string().replacen(&proof, &twice, 1),
        ));
    }
    // Extra fields anywhere.
    for (what, pointer) in [
        ("an extra event field", "/event"),
        ("an extra receipt field", ""),
        ("an extra proof field", "/proof"),
    ] {
        let mut v = r.clone();
        v.pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .expect("object")
            .insert("note".into(), json!("trust me"));
        push(&mut out, what.into(), v);
    }
    // The record: every length, every byte changed, other base64 encodings.
    let record_b64 = r["record"].as_str().expect("record").to_owned();
    for len in 0..h.record.len() {
        let mut v = r.clone();
        v["record"] = json!(STANDARD.encode(&h.record[..len]));
        push(&mut out, format!("record cut to {len} bytes"), v);
    }
    for extra in [&[0u8][..], &[0xff], b"\x00\x00\x00\x00"] {
        let mut longer = h.record.clone();
        longer.extend_from_slice(extra);
        let mut v = r.clone();
        v["record"] = json!(STANDARD.encode(&longer));
        push(
            &mut out,
            format!("record with {} more bytes", extra.len()),
            v,
        );
    }
    for at in 0..h.record.len() {
        let mut changed = h.record.clone();
        changed[at] ^= 0x01;
        let mut v = r.clone();
        v["record"] = json!(STANDARD.encode(&changed));
        push(&mut out, format!("record byte {at} changed"), v);
    }
    let mut encodings = vec![
        (
            "with a newline",
            format!("{}\n{}", &record_b64[..8], &record_b64[8..]),
        ),
        ("with spaces", format!(" {record_b64} ")),
        ("with extra padding", format!("{record_b64}==")),
    ];
    // Records of every length mod 3, so that unpadded text differs from padded text.
    if STANDARD_NO_PAD.encode(&h.record) != record_b64 {
        encodings.push(("without padding", STANDARD_NO_PAD.encode(&h.record)));
    }
    if URL_SAFE.encode(&h.record) != record_b64 {
        encodings.push(("in the URL-safe alphabet", URL_SAFE.encode(&h.record)));
    }
    let stripped = record_b64.trim_end_matches('=');
    if stripped.len() < record_b64.len() {
        // The last character's unused low bits set: the same bytes to a lenient decoder.
        let (head, last) = stripped.split_at(stripped.len() - 1);
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let value = alphabet.find(last).expect("base64 digit");
        let bits = if record_b64.ends_with("==") {
            0x0f
        } else {
            0x03
        };
        let noisy = &alphabet[(value | bits)..=(value | bits)];
        if noisy != last {
            let padding = &record_b64[stripped.len()..];
            encodings.push((
                "with non-canonical trailing bits",
                format!("{head}{noisy}{padding}"),
            ));
        }
    }
    for (how, text) in encodings {
        let mut v = r.clone();
        v["record"] = json!(text);
        push(&mut out, format!("record {how}"), v);
    }
    // The proof: every number, every hash, every path length, other hash encodings.
    let path_len = r["proof"]["path"].as_array().expect("path").len();
    for (field, values) in [
        (
            "leaf_index",
            vec![json!(0), json!(seq), json!(u64::MAX), json!(-1), json!(6.0)],
        ),
        (
            "tree_size",
            vec![json!(0), json!(39), json!(41), json!(u64::MAX), json!("40")],
        ),
    ] {
        for value in values {
            let mut v = r.clone();
            v["proof"][field] = value.clone();
            push(&mut out, format!("proof {field} {value}"), v);
        }
    }
    let other = to_hex(&leaf_hash(b"other"));
    for field in ["leaf_hash", "root"] {
        let honest = r["proof"][field].as_str().expect("hash").to_owned();
        for (how, value) in [
            ("changed", json!(other)),
            ("in upper case", json!(honest.to_uppercase())),
            ("cut short", json!(&honest[..62])),
            ("one digit longer", json!(format!("{honest}0"))),
            ("with 0x", json!(format!("0x{honest}"))),
            ("in base64", json!(STANDARD.encode([0u8; 32]))),
            ("empty", json!("")),
        ] {
            let mut v = r.clone();
            v["proof"][field] = value;
            push(&mut out, format!("proof {field} {how}"), v);
        }
    }
    for at in 0..path_len {
        let mut v = r.clone();
        v["proof"]["path"][at] = json!(other);
        push(&mut out, format!("proof path[{at}] changed"), v);
        let mut v = r.clone();
        let upper = v["proof"]["path"][at]
            .as_str()
            .expect("hash")
            .to_uppercase();
        v["proof"]["path"][at] = json!(upper);
        push(&mut out, format!("proof path[{at}] in upper case"), v);
    }
    for len in (0..path_len).chain([path_len + 1, 64, 65]) {
        let mut v = r.clone();
        let path = v["proof"]["path"].as_array_mut().expect("path");
        let honest = path.clone();
        path.clear();
        for i in 0..len {
            path.push(honest.get(i).cloned().unwrap_or_else(|| json!(other)));
        }
        push(&mut out, format!("proof path of {len} hashes"), v);
    }
    // The checkpoint: another key, another tree, every line changed, other encodings.
    let note = r["checkpoint"].as_str().expect("note").to_owned();
    for (what, forged) in forged_notes(h, &note) {
        let mut v = r.clone();
        v["checkpoint"] = json!(forged);
        push(&mut out, format!("checkpoint {what}"), v);
    }
    out
}

/// Every forged variant of a signed checkpoint: (what was forged, the note).
fn forged_notes(h: &Honest, note: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (text, sig) = note.split_once("\n\n").expect("a signed note");
    let lines: Vec<&str> = text.lines().collect();
    let [origin, size, root] = lines[..] else {
        panic!("a checkpoint of three lines: {note}")
    };
    let with = |origin: &str, size: &str, root: &str, sig: &str| {
        format!("{origin}\n{size}\n{root}\n\n{sig}")
    };
    let other_root = STANDARD.encode(leaf_hash(b"other"));
    for (what, forged) in [
        (
            "origin changed",
            with("forgery.test/other", size, root, sig),
        ),
        (
            "size + 1",
            with(
                origin,
                &format!("{}", size.parse::<u64>().expect("size") + 1),
                root,
                sig,
            ),
        ),
        (
            "size with a leading zero",
            with(origin, &format!("0{size}"), root, sig),
        ),
        (
            "size with a plus sign",
            with(origin, &format!("+{size}"), root, sig),
        ),
        ("root changed", with(origin, size, &other_root, sig)),
        (
            "root without padding",
            with(origin, size, root.trim_end_matches('='), sig),
        ),
        (
            "with an extension line",
            format!("{text}\nextension\n\n{sig}"),
        ),
        ("with CRLF line ends", note.replace('\n', "\r\n")),
        ("without its signature", format!("{text}\n")),
        (
            "signature name changed",
            note.replacen("— forgery.test/log ", "— forgery.test/other ", 1),
        ),
        (
            "signature with a hyphen for the em dash",
            note.replacen("— ", "-- ", 1),
        ),
    ] {
        out.push((what.to_owned(), forged));
    }
    let sig_b64 = sig
        .trim_end_matches('\n')
        .rsplit_once(' ')
        .expect("signature line")
        .1
        .to_owned();
    let bytes = STANDARD.decode(&sig_b64).expect("base64");
    for len in [0, 4, 67, 69] {
        let mut b = bytes.clone();
        b.resize(len, 0);
        out.push((
            format!("signature of {len} bytes"),
            note.replacen(&sig_b64, &STANDARD.encode(&b), 1),
        ));
    }
    out.push((
        "signature without padding".into(),
        note.replacen(&sig_b64, sig_b64.trim_end_matches('='), 1),
    ));
    // Signed by another key of the same name.
    let (other_skey, _) = checkpoint::generate("forgery.test/log");
    let parsed = checkpoint::parse_unverified(note).expect("parses");
    let other_key = Key::parse(&other_skey).expect("key");
    out.push((
        "signed by another key of the same name".into(),
        other_key.sign(parsed.size, &parsed.root).expect("sign"),
    ));
    // Signed by the log's own key: a tree of 0 leaves whose root is not the empty tree's.
    let key = Key::parse(&h.skey).expect("key");
    out.push((
        "of 0 leaves with a non-empty root, signed by the log's key".into(),
        key.sign(0, &leaf_hash(b"not empty")).expect("sign"),
    ));
    out
}

fn refused(run: &Run) -> bool {
    matches!(run.code, 2 | 4) && run.stdout.is_empty()
}

#[test]
fn every_forged_receipt_is_refused_by_the_binary_and_the_library() {
    let h = honest();
    let cwd = h.dir.path();
    let honest_text = serde_json::to_string_pretty(&h.receipt).expect("JSON");
    let run = verify_receipt(cwd, &honest_text).expect_code(0, "the honest receipt");
    assert!(run.stdout.starts_with("ok: event "), "{run:#?}");
    assert!(
        h.receipt["event"].get("hash").is_none() && h.receipt["event"].get("prev_hash").is_none(),
        "a receipt shows hashes it cannot prove: {}",
        h.receipt["event"]
    );

    let corpus = forged_receipts(&h);
    println!("{} forged receipts", corpus.len());
    assert!(
        corpus.len() > 300,
        "the corpus has {} forgeries",
        corpus.len()
    );
    // Two workers (the machine has two cores), each with its own file.
    let accepted = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for worker in 0..2 {
            let (corpus, accepted) = (&corpus, &accepted);
            scope.spawn(move || {
                let file = format!("r{worker}.json");
                for (what, text) in corpus.iter().skip(worker).step_by(2) {
                    let mut wrong = Vec::new();
                    std::fs::write(cwd.join(&file), text).expect("write");
                    let run = coopledger(cwd, &["verify-receipt", &file, "--pubkey", "k.pub"]);
                    if !refused(&run) {
                        wrong.push(format!(
                            "binary: {what}: exit {}: {}{}",
                            run.code, run.stdout, run.stderr
                        ));
                    }
                    accepted.lock().expect("lock").extend(wrong);
                }
            });
        }
    });
    let accepted = accepted.into_inner().expect("lock");
    assert!(
        accepted.is_empty(),
        "{} of {} forged receipts were accepted: {accepted:#?}",
        accepted.len(),
        corpus.len()
    );
}

#[test]
fn a_forged_prev_hash_and_a_duplicate_key_are_named() {
    let h = honest();
    let cwd = h.dir.path();
    let mut v = h.receipt.clone();
    let seq = v["event"]["seq"].as_u64().expect("seq");
    let prev = [7u8; 32];
    v["event"]["prev_hash"] = json!(to_hex(&prev));
    v["event"]["hash"] = json!(to_hex(&chain_hash(&prev, seq, &h.record)));
    let run = verify_receipt(cwd, &v.to_string()).expect_code(4, "forged prev_hash");
    assert!(
        run.stderr.contains("`hash`") && run.stderr.contains("no inclusion proof proves"),
        "{run:#?}"
    );

    let mut pairs = event_pairs(&h.receipt);
    pairs.insert(0, ("recorded_by".into(), json!("someone else").to_string()));
    let run =
        verify_receipt(cwd, &raw_receipt(&h.receipt, &pairs, "")).expect_code(2, "duplicate key");
    assert!(
        run.stderr.contains("not a receipt")
            && run.stderr.contains("duplicate field `recorded_by`"),
        "{run:#?}"
    );

    let mut v = h.receipt.clone();
    v["event"]["recorded_by"] = json!("someone else");
    let run = verify_receipt(cwd, &v.to_string()).expect_code(4, "changed field");
    assert!(
        run.stderr
            .contains("`recorded_by` is not what the record holds"),
        "{run:#?}"
    );
}

/// `verify --checkpoint` on each forged checkpoint file: exit 4 for a note that fails its check,
/// exit 2 for a file that is not a signed note at all; never `ok`.
#[test]
fn every_forged_checkpoint_is_refused_by_verify_and_a_non_checkpoint_is_invalid_input() {
    let h = honest();
    let cwd = h.dir.path();
    let db = cwd.join("db");
    let dbs = path_str(&db);
    let verify = |text: &str| {
        std::fs::write(cwd.join("forged.txt"), text).expect("write");
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
    };
    let note = std::fs::read_to_string(cwd.join("cp.txt")).expect("checkpoint");
    verify(&note).expect_code(0, "the honest checkpoint");
    let key = PublicKey::parse(&h.vkey).expect("verifier key");
    let mut wrong = Vec::new();
    for (what, forged) in forged_notes(&h, &note) {
        if key.open(&forged).is_ok() {
            wrong.push(format!("library opened: {what}"));
        }
        let run = verify(&forged);
        let not_a_note = what == "with CRLF line ends";
        let expected = if not_a_note { 2 } else { 4 };
        if run.code != expected || !run.stdout.is_empty() {
            wrong.push(format!(
                "{what}: exit {} (not {expected}): {}{}",
                run.code, run.stdout, run.stderr
            ));
        }
    }
    let zero = Key::parse(&h.skey)
        .expect("key")
        .sign(0, &leaf_hash(b"not empty"))
        .expect("sign");
    let run = verify(&zero).expect_code(4, "size 0, root not empty");
    assert!(run.stderr.contains("a tree of 0 leaves"), "{run:#?}");
    let empty = Key::parse(&h.skey)
        .expect("key")
        .sign(0, &empty_root())
        .expect("sign");
    verify(&empty).expect_code(0, "size 0, the empty root");

    // Files that are not checkpoints at all: invalid input, not a tamper alarm.
    for (what, text) in [
        ("an empty file", String::new()),
        ("a receipt", h.receipt.to_string()),
        ("a line of text", "hello\n".to_owned()),
        ("binary bytes", "\u{1}\u{2}\u{3}".to_owned()),
    ] {
        let run = verify(&text);
        if run.code != 2 || !run.stderr.contains("is not a signed checkpoint") {
            wrong.push(format!("{what}: exit {}: {}", run.code, run.stderr));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Item 12: a key file of the wrong kind is named by its path and kind; no key material is ever
/// printed, on any command that reads a key.
#[test]
fn a_key_of_the_wrong_kind_is_named_and_never_printed() {
    let h = honest();
    let cwd = h.dir.path();
    std::fs::write(cwd.join("k"), format!("{}\n", h.skey)).expect("write");
    std::fs::write(cwd.join("junk"), "not a key at all\n").expect("write");
    // A private key line damaged in its id: named as malformed, its seed never repeated.
    let id = h.skey.split('+').nth(3).expect("id").to_owned();
    let damaged = h.skey.replacen(&format!("+{id}+"), "+00000000+", 1);
    std::fs::write(cwd.join("damaged.key"), format!("{damaged}\n")).expect("write");
    let secret = h.skey.splitn(5, '+').nth(4).expect("seed").to_owned();
    let public = h.vkey.splitn(3, '+').nth(2).expect("key").to_owned();
    let db = cwd.join("db");
    let dbs = path_str(&db);
    std::fs::write(cwd.join("r.json"), h.receipt.to_string()).expect("write");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["verify", "--checkpoint", "cp.txt", "--pubkey", "k"],
            "holds a private key",
        ),
        (
            vec!["verify-receipt", "r.json", "--pubkey", "k"],
            "holds a private key",
        ),
        (
            vec!["verify", "--checkpoint", "cp.txt", "--pubkey", "junk"],
            "holds no key line",
        ),
        (vec!["checkpoint", "--key", "k.pub"], "holds a verifier key"),
        (vec!["checkpoint", "--key", "junk"], "holds no key line"),
        (
            vec![
                "receipt",
                "0190f0a1-7c2e-7a10-8b3e-000000000001",
                "--key",
                "k.pub",
            ],
            "holds a verifier key",
        ),
        (vec!["checkpoint", "--key", "missing.key"], "cannot be read"),
        (
            vec!["checkpoint", "--key", "damaged.key"],
            "malformed private key (the id does not match the name and key)",
        ),
    ];
    for (args, says) in cases {
        let mut full = vec!["--db", dbs];
        full.extend(args.iter().copied());
        let run = coopledger(cwd, &full).expect_code(2, &args.join(" "));
        assert!(run.stderr.contains(says), "{args:?}: {run:#?}");
        for material in [&secret, &public] {
            assert!(
                !run.stderr.contains(material.as_str()) && !run.stdout.contains(material.as_str()),
                "{args:?} printed key material: {run:#?}"
            );
        }
    }
}

#[test]
fn a_receipt_without_the_unproven_fields_is_accepted_with_its_fields_in_any_order() {
    let h = honest();
    let cwd = h.dir.path();
    let mut pairs = event_pairs(&h.receipt);
    pairs.reverse();
    verify_receipt(cwd, &raw_receipt(&h.receipt, &pairs, ""))
        .expect_code(0, "the same fields in another order");
    let object: Map<String, Value> = h.receipt["event"].as_object().expect("event").clone();
    assert!(object.contains_key("seq") && object.contains_key("event_id"));
}
