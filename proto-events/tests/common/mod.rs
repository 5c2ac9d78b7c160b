//! Helpers shared by the integration tests: fixed ids and times, golden files in hex, and the
//! `ActivityDelivered` schema-version-1 fixture (used by `golden.rs` and `upcast.rs`).
//!
//! Golden files live in `proto-events/tests/golden/v1/` (`v1` is the record format version, the
//! first byte of every body). They are only ever *read* by a normal test run. To (re)generate
//! them after a deliberate change of the stored form, run
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p proto-events --test golden --test upcast
//! ```
//!
//! and review the diff: a changed byte in an existing file means records already on disk would
//! no longer decode as they did. Never regenerate a file of an older schema version.

#![allow(dead_code)]

use std::path::PathBuf;

use proto_events::codec;
use proto_events::envelope::{Envelope, RecordedEvent};
use proto_events::events::{ActivityDelivered, EventType, Fact, Payload};
use proto_events::stream::Stream;
use proto_events::upcast::ActivityDeliveredV1;
use proto_events::values::{ActivityKind, Participants, Pillar, Venue};
use proto_events::{CountryCode, Timestamp};
use serde::Serialize;
use uuid::Uuid;

/// The file name of the `ActivityDelivered` schema-version-1 fixture.
pub const V1_FIXTURE: &str = "activity_delivered-lagos.schema1.hex";
/// The comment at the top of [`V1_FIXTURE`].
pub const V1_COMMENT: &str = "ActivityDelivered schema version 1 (before `institutions`), record format version 1.\n\
     Built by hand (upcast::ActivityDeliveredV1) in proto-events/tests/common/mod.rs; frozen.";

/// Whether this run regenerates golden files (`UPDATE_GOLDEN=1`).
pub fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// The directory of the golden vectors of record format version 1.
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/v1")
}

/// A fixed, UUIDv7-shaped id ending in `n`.
pub fn id(n: u16) -> Uuid {
    Uuid::from_u128(0x0190_f0a1_7c2e_7a10_8b3e_0000_0000_0000 | u128::from(n))
}

/// A country code that must exist.
pub fn cc(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap_or_else(|| panic!("{code} is not a country code"))
}

/// A list of country codes.
pub fn ccs(codes: &[&str]) -> Vec<CountryCode> {
    codes.iter().map(|c| cc(c)).collect()
}

/// A calendar date.
pub fn day(y: i16, m: i8, d: i8) -> jiff::civil::Date {
    jiff::civil::date(y, m, d)
}

/// A timestamp from RFC 3339 text.
pub fn ts(text: &str) -> Timestamp {
    text.parse()
        .unwrap_or_else(|e| panic!("bad timestamp {text}: {e}"))
}

/// Lower-case hex, 32 bytes a line, after `#` comment lines.
pub fn to_hex(comment: &str, bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in comment.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    for chunk in bytes.chunks(32) {
        for b in chunk {
            out.push_str(&format!("{b:02x}"));
        }
        out.push('\n');
    }
    out
}

/// Parses [`to_hex`] output (comment lines and whitespace ignored).
pub fn from_hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "odd number of hex digits ({})",
        digits.len()
    );
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .unwrap_or_else(|e| panic!("bad hex {:?}: {e}", &digits[i..i + 2]))
        })
        .collect()
}

/// Reads the golden file `name`. With `UPDATE_GOLDEN=1` it first writes `fresh` to it: always
/// when `current` (a vector of the schema version written today), and only if the file is missing
/// otherwise (a vector of an older version describes bytes already stored and is frozen).
pub fn golden_bytes(name: &str, comment: &str, fresh: &[u8], current: bool) -> Vec<u8> {
    let path = golden_dir().join(name);
    if updating() && (current || !path.exists()) {
        std::fs::create_dir_all(golden_dir()).expect("create the golden directory");
        std::fs::write(&path, to_hex(comment, fresh))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} cannot be read ({e}); generate it with \
             `UPDATE_GOLDEN=1 cargo test -p proto-events --test golden --test upcast`",
            path.display()
        )
    });
    from_hex(&text)
}

/// A recorded event with a fixed envelope; the stream is the payload's unless given.
pub fn recorded(
    sequence: u64,
    stream_version: u64,
    event_id: Uuid,
    stream: Option<Stream>,
    schema_version: u8,
    payload: Payload,
) -> RecordedEvent {
    let stream = stream
        .or_else(|| payload.stream())
        .expect("a retraction needs an explicit stream");
    RecordedEvent {
        sequence,
        stream_version,
        envelope: Envelope {
            event_id,
            stream,
            event_type: payload.event_type(),
            schema_version,
            recorded_by: "staff.vienna".to_owned(),
            recorded_at: ts("2019-11-05T10:15:30.123456789Z"),
            source: None,
            correlation_id: None,
            causation_id: None,
        },
        payload,
        prev_hash: [0; 32],
        hash: [0; 32],
    }
}

/// A mirror of the codec's private `EnvelopeBin`: same fields, same order, same serde attributes.
/// Used to write bodies of older schema versions that today's encoder no longer produces.
#[derive(Serialize)]
pub struct EnvelopeBin {
    pub event_id: Uuid,
    pub stream: Stream,
    pub recorded_by: String,
    #[serde(with = "proto_events::values::forms::timestamp")]
    pub recorded_at: Timestamp,
    pub source: Option<String>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
}

impl EnvelopeBin {
    /// The stored envelope fields of `envelope`.
    pub fn of(envelope: &Envelope) -> Self {
        EnvelopeBin {
            event_id: envelope.event_id,
            stream: envelope.stream.clone(),
            recorded_by: envelope.recorded_by.clone(),
            recorded_at: envelope.recorded_at,
            source: envelope.source.clone(),
            correlation_id: envelope.correlation_id,
            causation_id: envelope.causation_id,
        }
    }
}

/// A body by hand: format byte, type code, the given schema version, then bincode of
/// `(sequence, stream_version, envelope, payload)`.
pub fn body_by_hand<P: Serialize>(
    event_type: EventType,
    schema_version: u8,
    sequence: u64,
    stream_version: u64,
    envelope: &Envelope,
    payload: &P,
) -> Vec<u8> {
    let mut out = vec![codec::FORMAT_VERSION];
    out.extend_from_slice(&event_type.code().to_be_bytes());
    out.push(schema_version);
    let tuple = (sequence, stream_version, EnvelopeBin::of(envelope), payload);
    out.extend(codec::encode_value(&tuple).expect("encode a body by hand"));
    out
}

/// The Lagos workshop of 16–18 July 2018 as `ActivityDelivered` schema version 1 (no
/// `institutions` field).
pub fn lagos_v1() -> ActivityDeliveredV1 {
    ActivityDeliveredV1 {
        activity_id: id(0x0a01),
        kind: ActivityKind::Workshop,
        title: "Workshop on financial investigations, Lagos".to_owned(),
        pillar: Pillar::CapacityBuilding,
        start: day(2018, 7, 16),
        end: day(2018, 7, 18),
        venue: Venue::Place {
            city: "Lagos".to_owned(),
            country: cc("NG"),
        },
        beneficiaries: ccs(&["NG", "GH"]),
        other_countries: ccs(&["ES"]),
        participants: Participants {
            total: 30,
            women: Some(5),
            men: None,
        },
    }
}

/// What the schema-1 fixture decodes to today: the same activity with no institutions, and an
/// envelope that says schema version 1.
pub fn lagos_v1_expected() -> RecordedEvent {
    let v1 = lagos_v1();
    let today = ActivityDelivered {
        activity_id: v1.activity_id,
        kind: v1.kind,
        title: v1.title,
        pillar: v1.pillar,
        start: v1.start,
        end: v1.end,
        venue: v1.venue,
        beneficiaries: v1.beneficiaries,
        other_countries: v1.other_countries,
        participants: v1.participants,
        institutions: Vec::new(),
    };
    let mut event = recorded(
        1234,
        1,
        id(0x0e01),
        None,
        1,
        Payload::Fact(Fact::ActivityDelivered(today)),
    );
    event.envelope.recorded_at = ts("2018-07-20T08:30:00Z");
    event.envelope.source = Some("https://www.unodc.org/crimjust/lagos-2018".to_owned());
    event
}

/// The schema-1 fixture's bytes as built today from [`lagos_v1`] (written to [`V1_FIXTURE`]).
pub fn lagos_v1_body() -> Vec<u8> {
    let expected = lagos_v1_expected();
    body_by_hand(
        EventType::ActivityDelivered,
        1,
        expected.sequence,
        expected.stream_version,
        &expected.envelope,
        &lagos_v1(),
    )
}
