//! The upcaster: stored `ActivityDelivered` bodies of schema version 1 (before `institutions`)
//! decode into today's shape.
//!
//! The committed fixture `tests/golden/v1/activity_delivered-lagos.schema1.hex` was built by hand
//! (today's encoder only writes version 2): header byte 3 = 1, then bincode of
//! `(sequence, stream_version, envelope, upcast::ActivityDeliveredV1)` through a mirror of the
//! codec's private envelope struct (`common::EnvelopeBin`). It is created once with
//! `UPDATE_GOLDEN=1 cargo test -p proto-events --test upcast` and never rewritten afterwards.

mod common;

use common::{V1_COMMENT, V1_FIXTURE, id, recorded};
use proto_events::codec::{self, DecodeError};
use proto_events::events::{ActivityDelivered, EventCorrected, EventType, Fact, Payload};
use proto_events::values::Institution;

fn fixture() -> Vec<u8> {
    common::golden_bytes(V1_FIXTURE, V1_COMMENT, &common::lagos_v1_body(), false)
}

fn delivered(payload: &Payload) -> &ActivityDelivered {
    match payload {
        Payload::Fact(Fact::ActivityDelivered(a)) => a,
        other => panic!("expected an ActivityDelivered fact, got {other:?}"),
    }
}

#[test]
fn fixture_header_says_activity_delivered_version_1() {
    let bytes = fixture();
    assert_eq!(
        bytes.get(..4),
        Some(&[1u8, 0, 6, 1][..]),
        "format 1, type code 6 (ActivityDelivered), schema version 1"
    );
    assert_eq!(
        codec::peek_header(&bytes),
        Ok((EventType::ActivityDelivered, 1))
    );
}

#[test]
fn version_1_fixture_decodes_into_todays_shape_with_no_institutions() {
    let bytes = fixture();
    let decoded = codec::decode_body(&bytes).unwrap_or_else(|e| panic!("fixture: {e}"));
    assert_eq!(decoded.envelope.schema_version, 1, "{decoded:#?}");
    assert_eq!(decoded.envelope.event_type, EventType::ActivityDelivered);
    let activity = delivered(&decoded.payload);
    assert_eq!(activity.institutions, Vec::<Institution>::new());
    let v1 = common::lagos_v1();
    assert_eq!(activity.title, v1.title);
    assert_eq!(activity.participants, v1.participants);
    assert_eq!(activity.other_countries, v1.other_countries);
    assert_eq!(decoded, common::lagos_v1_expected());
}

#[test]
fn committed_fixture_matches_the_frozen_v1_struct() {
    // If ActivityDeliveredV1 or the envelope layout changed, bytes written by old builds would
    // no longer be what this build expects.
    assert_eq!(
        fixture(),
        common::lagos_v1_body(),
        "upcast::ActivityDeliveredV1 or the stored envelope changed shape"
    );
}

#[test]
fn the_envelope_mirror_matches_the_codec() {
    // The hand-built body and encode_body agree for today's version, so the fixture's envelope
    // is laid out exactly as the codec lays it out.
    let mut event = common::lagos_v1_expected();
    event.envelope.schema_version = 2;
    event.envelope.correlation_id = Some(id(0x0f10));
    let activity = delivered(&event.payload).clone();
    let by_hand = common::body_by_hand(
        EventType::ActivityDelivered,
        2,
        event.sequence,
        event.stream_version,
        &event.envelope,
        &activity,
    );
    assert_eq!(codec::encode_body(&event).expect("encode"), by_hand);
}

#[test]
fn reencoding_an_upcast_event_writes_version_2() {
    let decoded = codec::decode_body(&fixture()).expect("fixture decodes");
    let again = codec::encode_body(&decoded).expect("encode");
    assert_eq!(again.get(3), Some(&2), "today's encoder writes schema 2");
    let redecoded = codec::decode_body(&again).expect("version 2 decodes");
    assert_eq!(redecoded.envelope.schema_version, 2);
    assert_eq!(redecoded.payload, decoded.payload);
}

#[test]
fn the_header_version_decides_the_layout() {
    // A version-2 body relabelled as version 1 leaves the institutions bytes unread.
    let mut event = common::lagos_v1_expected();
    event.envelope.schema_version = 2;
    if let Payload::Fact(Fact::ActivityDelivered(a)) = &mut event.payload {
        a.institutions = vec![Institution::Police, Institution::Customs];
    }
    let mut bytes = codec::encode_body(&event).expect("encode");
    bytes[3] = 1;
    let result = codec::decode_body(&bytes);
    assert!(
        matches!(result, Err(DecodeError::Trailing { .. })),
        "expected trailing bytes, got {result:?}"
    );
    // And a version-1 body relabelled as version 2 runs out of bytes.
    let mut v1 = fixture();
    v1[3] = 2;
    let result = codec::decode_body(&v1);
    assert!(
        matches!(result, Err(DecodeError::Body(_))),
        "expected a malformed body, got {result:?}"
    );
    // A version this build does not know is refused by name.
    let mut future = fixture();
    future[3] = 3;
    assert_eq!(
        codec::decode_body(&future),
        Err(DecodeError::SchemaVersion {
            event_type: EventType::ActivityDelivered,
            version: 3,
            current: 2,
        })
    );
}

#[test]
fn a_version_1_replacement_inside_a_correction_is_upcast_too() {
    // A correction stores its replacement as (type code, schema version, struct); a correction
    // written before version 2 holds a version-1 struct.
    let v1 = common::lagos_v1();
    let expected_replacement = delivered(&common::lagos_v1_expected().payload).clone();
    let reason = "Second source reports 20 % women".to_owned();
    let event = recorded(
        1300,
        2,
        id(0x0e30),
        None,
        1,
        Payload::Corrected(EventCorrected {
            target: id(0x0e01),
            replacement: Fact::ActivityDelivered(expected_replacement),
            reason: reason.clone(),
        }),
    );
    let payload_v1 = (id(0x0e01), (6u16, 1u8, &v1), &reason);
    let bytes = common::body_by_hand(
        EventType::EventCorrected,
        1,
        event.sequence,
        event.stream_version,
        &event.envelope,
        &payload_v1,
    );
    let decoded = codec::decode_body(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decoded, event);

    // The same replacement labelled with a version the build does not know is refused.
    let payload_v9 = (id(0x0e01), (6u16, 9u8, &v1), &reason);
    let bytes = common::body_by_hand(
        EventType::EventCorrected,
        1,
        event.sequence,
        event.stream_version,
        &event.envelope,
        &payload_v9,
    );
    let result = codec::decode_body(&bytes);
    assert!(
        matches!(&result, Err(DecodeError::Body(m)) if m.contains("schema version 9")),
        "expected an unsupported nested version, got {result:?}"
    );
}
