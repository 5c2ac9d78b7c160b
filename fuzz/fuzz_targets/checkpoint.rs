//! The checkpoint and signed-note parsers: any text never panics, and nothing but the note the
//! key signed verifies.
#![no_main]

use coopledger::audit::checkpoint::{Key, PublicKey, parse_unverified};
use libfuzzer_sys::fuzz_target;

const SKEY: &str =
    "PRIVATE+KEY+fuzz.example/log+7d233aee+ATIsEHOj0NbkYyQn98IgOegBE+yQAQKAuToLpeZ/10sc";
const VKEY: &str = "fuzz.example/log+7d233aee+AZ+eSz/kahnMUbEEhPByimMsBMnC/nA8yfQYD2QWT0yA";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_unverified(text);
    let _ = PublicKey::parse(text);
    let _ = Key::parse(text);
    if let Ok(key) = PublicKey::parse(VKEY) {
        if let Ok(body) = key.open(text) {
            // Only a note signed by the fuzz key can verify: re-signing its content must give
            // back exactly the same note.
            let signer = Key::parse(SKEY).expect("the fuzz signing key");
            assert_eq!(signer.sign(body.size, &body.root).expect("sign"), text);
        }
    }
});
