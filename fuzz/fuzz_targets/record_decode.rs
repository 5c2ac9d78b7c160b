//! The stored-record decoder: any bytes never panic the frame parser, the body decoder or the
//! prefix decoder, and whatever decodes encodes back to the same bytes when it is of the current
//! schema version.
#![no_main]

use coopledger::ledger::frame::Frame;
use libfuzzer_sys::fuzz_target;
use proto_events::codec::{decode_body, decode_prefix, encode_body, peek_header};

fuzz_target!(|data: &[u8]| {
    let _ = peek_header(data);
    let _ = decode_prefix(data);
    if let Ok(event) = decode_body(data) {
        if event.envelope.schema_version == event.envelope.event_type.schema_version() {
            let again = encode_body(&event).expect("a decoded event encodes");
            assert_eq!(again, data, "decode then encode must give the same bytes");
        }
    }
    if let Ok(frame) = Frame::parse(7, data) {
        let _ = frame.decode(7);
    }
});
