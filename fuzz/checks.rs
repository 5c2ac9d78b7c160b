//! The properties the fuzz targets check, shared with `tests/it/fuzz_regressions.rs`, which
//! replays every input kept under `fuzz/regressions/<target>/`.

#![allow(dead_code)]

use coopledger::audit::checkpoint::{Key, PublicKey, parse_unverified};
use coopledger::audit::receipt::Receipt;
use coopledger::ledger::frame::Frame;
use coopledger::merkle::{ConsistencyProof, InclusionProof};
use proto_events::codec::{decode_body, decode_prefix, encode_body, peek_header};
use proto_events::staff::{Mode, parse_text, to_staff_object};

/// The staff JSON parser: any bytes, as a file or one line at a time, never panic; whatever
/// parses writes back and parses again to the same events.
pub fn staff_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let today = jiff::civil::date(2026, 1, 1);
    for mode in [Mode::Staff, Mode::Export] {
        if let Ok(events) = parse_text(text, mode, today) {
            for parsed in events {
                let line = serde_json::Value::Object(to_staff_object(&parsed.event)).to_string();
                let again =
                    parse_text(&line, Mode::Staff, today).expect("a written event parses again");
                assert_eq!(again[0].event, parsed.event, "round trip of {line}");
            }
        }
    }
}

/// The stored-record decoder: any bytes never panic the frame parser, the body decoder or the
/// prefix decoder; whatever decodes encodes (current schema version) to bytes that decode to the
/// same event, and agrees with the prefix decoder. (bincode accepts non-minimal varints, so the
/// bytes themselves need not come back identical; stored records are hash-checked anyway.)
pub fn record_decode(data: &[u8]) {
    let _ = peek_header(data);
    let _ = decode_prefix(data);
    if let Ok(event) = decode_body(data) {
        let prefix = decode_prefix(data).expect("a decodable body has a decodable prefix");
        assert_eq!(prefix.sequence, event.sequence);
        assert_eq!(prefix.event_id, event.envelope.event_id);
        assert_eq!(prefix.stream, event.envelope.stream);
        let again = encode_body(&event).expect("a decoded event encodes");
        let back = decode_body(&again).expect("an encoded event decodes");
        // Compared as bytes: a NaN (which the rules never let in, but a damaged record may
        // hold) is not equal to itself.
        assert_eq!(
            encode_body(&back).expect("encodes again"),
            again,
            "decode and encode must settle on one encoding"
        );
    }
    if let Ok(frame) = Frame::parse(7, data) {
        let _ = frame.decode(7);
    }
}

/// The checkpoint and signed-note parsers: any text never panics, and nothing but the note the
/// key signed verifies.
pub fn checkpoint(data: &[u8]) {
    const SKEY: &str =
        "PRIVATE+KEY+fuzz.example/log+7d233aee+ATIsEHOj0NbkYyQn98IgOegBE+yQAQKAuToLpeZ/10sc";
    const VKEY: &str = "fuzz.example/log+7d233aee+AZ+eSz/kahnMUbEEhPByimMsBMnC/nA8yfQYD2QWT0yA";

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_unverified(text);
    let _ = PublicKey::parse(text);
    let _ = Key::parse(text);
    let _ = coopledger::witness::cosignature::Cosigner::parse(text);
    let _ = coopledger::witness::cosignature::CosignatureVerifier::parse(text);
    // A tile path (tlog-tiles) is refused or parsed, never a panic (`tlog_tiles` panics on some).
    let _ = coopledger::http::tlog::parse_tile_path(text);
    // A witness request parses only in its one form: it writes back to the same text.
    if let Ok(request) = coopledger::witness::AddCheckpoint::parse(text) {
        assert_eq!(request.to_body(), text);
    }
    if let Ok(key) = PublicKey::parse(VKEY)
        && let Ok(body) = key.open(text)
    {
        // Only a note signed by the fuzz key can verify: re-signing its content must give
        // back exactly the same note.
        let signer = Key::parse(SKEY).expect("the fuzz signing key");
        // (A note may carry extra newlines at its end; they are not part of it.)
        let canonical = format!("{}\n", text.trim_end_matches('\n'));
        assert_eq!(signer.sign(body.size, &body.root).expect("sign"), canonical);
    }
}

/// The proof and receipt parsers and verifiers: any JSON never panics.
pub fn proofs(data: &[u8]) {
    if let Ok(p) = serde_json::from_slice::<InclusionProof>(data) {
        let _ = p.verify();
    }
    if let Ok(p) = serde_json::from_slice::<ConsistencyProof>(data) {
        let _ = p.verify();
    }
    if let Ok(r) = serde_json::from_slice::<Receipt>(data)
        && let Ok(key) = coopledger::audit::checkpoint::PublicKey::parse(
            "fuzz.example/log+7d233aee+AZ+eSz/kahnMUbEEhPByimMsBMnC/nA8yfQYD2QWT0yA",
        )
    {
        let _ = coopledger::audit::receipt::verify(&r, &key);
    }
}
