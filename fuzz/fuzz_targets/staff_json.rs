//! The staff JSON parser: any bytes, as a file or one line at a time, never panic; whatever
//! parses writes back and parses again to the same events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto_events::staff::{Mode, parse_text, to_staff_object};

fuzz_target!(|data: &[u8]| {
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
});
