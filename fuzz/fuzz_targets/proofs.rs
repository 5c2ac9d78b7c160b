//! The proof and receipt parsers and verifiers: any JSON never panics.
#![no_main]

use coopledger::audit::proof::{ConsistencyProof, InclusionProof};
use coopledger::audit::receipt::Receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = serde_json::from_slice::<InclusionProof>(data) {
        let _ = p.verify();
    }
    if let Ok(p) = serde_json::from_slice::<ConsistencyProof>(data) {
        let _ = p.verify();
    }
    if let Ok(r) = serde_json::from_slice::<Receipt>(data) {
        if let Ok(key) = coopledger::audit::checkpoint::PublicKey::parse(
            "fuzz.example/log+7d233aee+AZ+eSz/kahnMUbEEhPByimMsBMnC/nA8yfQYD2QWT0yA",
        ) {
            let _ = coopledger::audit::receipt::verify(&r, &key);
        }
    }
});
