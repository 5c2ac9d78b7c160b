//! Stored views are bound to the records they were folded from (issue 13, item 7). One counter
//! byte changed in a stored view, through sled with the documented layout (`docs/format.md`,
//! "Stored views"), used to be served by the CLI and the API while `verify` said ok. Now:
//!
//! - changed alone, the views disagree with their digest: opening the ledger refuses them
//!   (exit 4), so nothing serves them, and `verify` names the damage;
//! - changed with a recomputed digest (whoever controls the directory can), the ledger opens,
//!   but `verify` and `verify --checkpoint` refold the views from the log and report the
//!   difference (exit 4), and so does `GET /v1/verify`; a report says so in its verification
//!   and shows the views folded from the records it verified.

use std::path::Path;

use coopledger::store::sled::keys;
use coopledger::views::digest::Digest;
use coopledger::{Ledger, LedgerHandle};
use serde_json::Value;

use crate::support::{client, tempdir};

fn bin(db: &Path, args: &[&str]) -> (i32, String, String) {
    let out = assert_cmd::Command::cargo_bin("coopledger")
        .expect("binary")
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A ledger of a synthetic programme, a signed checkpoint of it, and GH's meetings.
fn ledger(dir: &Path, files: &Path) -> u64 {
    let mut ledger = Ledger::create(dir).expect("create");
    ledger
        .append(coopledger::synth::Synth::new(31).programme(400))
        .expect("append");
    let (private, public) = coopledger::audit::checkpoint::generate("views.test/tamper");
    let key = coopledger::audit::checkpoint::Key::parse(&private).expect("key");
    let note = coopledger::audit::sign::sign_checkpoint(&mut ledger, &key).expect("sign");
    std::fs::write(files.join("cp.txt"), note).expect("checkpoint");
    std::fs::write(files.join("k.pub"), format!("{public}\n")).expect("key");
    let gh = ledger
        .reader()
        .views()
        .country_view("GH".parse().expect("GH"))
        .expect("GH is in the programme");
    gh.meetings
}

/// Adds one to the first counter (meetings) of GH's stored row: after the view format byte,
/// bincode writes the i64 zig-zag encoded (n as 2n), one byte while below 251, so the byte goes
/// up by two. With `forge`, the digest in `V s` is recomputed over the changed parts, as the
/// documented format allows anyone to.
fn tamper(dir: &Path, forge: bool) {
    let db = sled::open(dir).expect("sled");
    let key = keys::view(b"cGH");
    let mut row = db.get(&key).expect("get").expect("GH's row").to_vec();
    assert!(
        row[1] < 249 && row[1].is_multiple_of(2),
        "meetings, zig-zag, in one byte"
    );
    row[1] += 2;
    db.insert(&key, row).expect("insert");
    if forge {
        let parts: Vec<(Vec<u8>, Vec<u8>)> = db
            .scan_prefix([keys::VIEW])
            .map(|item| item.expect("scan"))
            .filter(|(k, _)| &k[..] != keys::view(b"s").as_slice())
            .map(|(k, v)| (keys::view_part(&k).to_vec(), v.to_vec()))
            .collect();
        let digest = Digest::of(parts.iter().map(|(p, v)| (p.as_slice(), v.as_slice())));
        let s_key = keys::view(b"s");
        let mut sequence = db.get(&s_key).expect("get").expect("V s").to_vec();
        assert_eq!(sequence.len(), 1 + 8 + 32, "format ‖ sequence ‖ digest");
        sequence[9..].copy_from_slice(&digest.value());
        db.insert(&s_key, sequence).expect("insert");
    }
    db.flush().expect("flush");
}

#[test]
fn a_changed_view_is_refused_at_open_and_a_forged_one_is_named_by_verify() {
    let (dir, files) = (tempdir(), tempdir());
    let db = dir.path();
    let meetings = ledger(db, files.path());
    let (cp, pubkey) = (files.path().join("cp.txt"), files.path().join("k.pub"));
    let verify_checkpoint = [
        "verify",
        "--checkpoint",
        cp.to_str().expect("path"),
        "--pubkey",
        pubkey.to_str().expect("path"),
    ];
    assert_eq!(bin(db, &["verify"]).0, 0, "the honest ledger verifies");

    // 1. The row changed alone: refused at open, named by verify, repaired by rebuild.
    tamper(db, false);
    for args in [&["--json", "country", "GH"][..], &["regions"], &["verify"]] {
        let (code, out, err) = bin(db, args);
        assert_eq!(code, 4, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?} served: {out}");
        assert!(err.contains("differ from their digest"), "{args:?}: {err}");
    }
    assert!(LedgerHandle::open(db).is_err(), "no server can start on it");
    // The remedy the refusal names works: `rebuild` refolds them, and then all is served.
    let (code, out, err) = bin(db, &["-v", "rebuild"]);
    assert_eq!(code, 0, "rebuild refused the views it is for: {out}{err}");
    assert_eq!(
        err.matches("views rebuilt").count(),
        1,
        "the log is folded once, at open: {err}"
    );
    assert_eq!(bin(db, &["verify"]).0, 0, "verify after the rebuild");
    let (code, out, _) = bin(db, &["--json", "country", "GH"]);
    assert_eq!(code, 0);
    let served: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        served["meetings"], meetings,
        "the rebuilt views are the log's"
    );

    // 2. With a forged digest: it opens and would serve the forged count, but verify refolds.
    tamper(db, true);
    let (code, out, _) = bin(db, &["--json", "country", "GH"]);
    assert_eq!(code, 0);
    let served: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        served["meetings"],
        meetings + 1,
        "the forgery is what is stored"
    );
    for args in [&["verify"][..], &verify_checkpoint] {
        let (code, out, err) = bin(db, args);
        assert_eq!(code, 4, "{args:?}: {out}{err}");
        assert!(
            err.contains("the stored views disagree with the log")
                && err.contains(&format!(
                    "meetings of GH: stored {}, the log says {meetings}",
                    meetings + 1
                )),
            "{args:?}: {err}"
        );
    }
    // A report says so too, and shows the views of the log it verified, not the forged ones.
    let out = files.path().join("report.html");
    let (code, stdout, err) = bin(db, &["report", "--out", out.to_str().expect("path")]);
    assert_eq!(code, 0, "{stdout}{err}");
    let html = std::fs::read_to_string(&out).expect("report");
    let marker = "<script type=\"application/json\" id=\"coopledger-report\">";
    let start = html.find(marker).expect("embedded documents") + marker.len();
    let end = start + html[start..].find("</script>").expect("end of documents");
    let report: Value = serde_json::from_str(&html[start..end]).expect("json");
    let verified = &report["documents"]["/v1/verify"];
    assert_eq!(verified["ok"], false, "{verified}");
    assert!(
        verified["reason"]
            .as_str()
            .is_some_and(|r| r.contains("meetings of GH")),
        "{verified}"
    );
    let countries = report["documents"]["/v1/countries"]
        .as_array()
        .expect("countries");
    let gh = countries.iter().find(|c| c["country"] == "GH").expect("GH");
    assert_eq!(gh["meetings"], meetings, "the report shows the log's count");

    // Through the API: `GET /v1/verify` says so too.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let handle = LedgerHandle::open(db).expect("open");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = coopledger::http::Config {
        public_reads: true,
        tokens: Some(
            coopledger::http::auth::Tokens::parse("t", "reader reader-token-0123456789\n")
                .expect("tokens"),
        ),
        ..coopledger::http::Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(coopledger::http::serve(listener, handle, config, async {
        let _ = stopped.await;
    }));
    let response = client()
        .get(format!("{base}/v1/verify"))
        .bearer_auth("reader-token-0123456789")
        .send()
        .expect("GET /v1/verify");
    assert_eq!(response.status().as_u16(), 500);
    let body: Value = response.json().expect("json");
    assert_eq!(body["ok"], false);
    assert!(
        body["reason"]
            .as_str()
            .is_some_and(|r| r.contains("meetings of GH")),
        "{body}"
    );
    let _ = stop.send(());
    rt.block_on(server).expect("task").expect("server");
}
