//! Enum variant order is part of the stored binary form: bincode writes a variant as its index,
//! so a reordered enum decodes old records as the wrong variant without any error.
//!
//! Every list below is written out by hand in today's order. If one of these tests fails, a
//! variant was reordered, renamed or removed: put it back. New variants go at the end, and then
//! the list here is extended at the end too.

use proto_events::codec;
use proto_events::events::EventType;
use proto_events::stream::Stream;
use proto_events::values::{
    ActivityKind, CaseOutcome, CaseType, Commodity, Institution, MeetingKind, Milestone,
    Participation, ParticipationStatus, PartnerRole, Pillar, RetractionReason, Venue,
};
use proto_events::{CountryCode, CurrencyCode};
use serde::Serialize;
use uuid::Uuid;

/// bincode's variable-length encoding of a `u32` variant index (`standard()` configuration).
fn varint(index: usize) -> Vec<u8> {
    let n = u32::try_from(index).expect("small index");
    if n < 251 {
        vec![u8::try_from(n).expect("fits")]
    } else {
        let mut v = vec![251];
        v.extend_from_slice(&u16::try_from(n).expect("fits").to_le_bytes());
        v
    }
}

fn encoded<T: Serialize>(value: &T) -> Vec<u8> {
    codec::encode_value(value).expect("encode")
}

/// Checks the names of `all` in order, their JSON form, and that each encodes as its index.
fn check<T: Serialize + Copy + std::fmt::Debug>(
    enum_name: &str,
    all: &[T],
    as_str: fn(T) -> &'static str,
    expected: &[&str],
) {
    let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
    assert_eq!(
        names, expected,
        "{enum_name}: variant order or names changed (new variants go at the end)"
    );
    for (index, variant) in all.iter().enumerate() {
        assert_eq!(
            encoded(variant),
            varint(index),
            "{enum_name}::{variant:?} must be stored as variant index {index}"
        );
        let json = serde_json::to_value(variant).expect("json");
        assert_eq!(
            json,
            serde_json::Value::String(as_str(*variant).to_owned()),
            "{enum_name}::{variant:?}: the staff JSON name differs from as_str"
        );
    }
}

#[test]
fn partner_role_order() {
    check(
        "PartnerRole",
        PartnerRole::ALL,
        PartnerRole::as_str,
        &["funding", "accountable", "implementing"],
    );
}

#[test]
fn participation_order() {
    check(
        "Participation",
        Participation::ALL,
        Participation::as_str,
        &["beneficiary", "associated", "partner", "observer"],
    );
}

#[test]
fn participation_status_order() {
    check(
        "ParticipationStatus",
        ParticipationStatus::ALL,
        ParticipationStatus::as_str,
        &[
            "beneficiary",
            "associated",
            "partner",
            "observer",
            "suspended",
            "withdrawn",
        ],
    );
}

#[test]
fn meeting_kind_order() {
    check(
        "MeetingKind",
        MeetingKind::ALL,
        MeetingKind::as_str,
        &[
            "bilateral_briefing",
            "steering_committee",
            "annual_meeting",
            "network_meeting",
            "high_level_meeting",
            "operational_coordination",
        ],
    );
}

#[test]
fn activity_kind_order() {
    check(
        "ActivityKind",
        ActivityKind::ALL,
        ActivityKind::as_str,
        &[
            "training",
            "training_of_trainers",
            "workshop",
            "practical_exercise",
            "investigative_case_forum",
            "working_group",
            "case_mentoring",
            "expert_meeting",
            "study_visit",
            "institutional_assessment",
        ],
    );
}

#[test]
fn pillar_order() {
    check(
        "Pillar",
        Pillar::ALL,
        Pillar::as_str,
        &[
            "capacity_building",
            "interregional_cooperation",
            "institutional_integrity",
            "strategic_knowledge",
        ],
    );
}

#[test]
fn institution_order() {
    check(
        "Institution",
        Institution::ALL,
        Institution::as_str,
        &[
            "police",
            "anti_drug_agency",
            "customs",
            "prosecution",
            "judiciary",
            "central_authority",
            "financial_intelligence_unit",
            "ministry",
            "civil_society",
        ],
    );
}

#[test]
fn case_type_order() {
    check(
        "CaseType",
        CaseType::ALL,
        CaseType::as_str,
        &[
            "post_seizure_investigation",
            "mutual_legal_assistance",
            "extradition",
            "controlled_delivery",
            "joint_investigation_team",
            "asset_recovery",
            "other",
        ],
    );
}

#[test]
fn commodity_order() {
    check(
        "Commodity",
        Commodity::ALL,
        Commodity::as_str,
        &["cocaine", "cannabis", "heroin", "precursors", "other"],
    );
}

#[test]
fn case_outcome_order() {
    check(
        "CaseOutcome",
        CaseOutcome::ALL,
        CaseOutcome::as_str,
        &[
            "convicted",
            "acquitted",
            "discontinued",
            "transferred",
            "unknown",
        ],
    );
}

#[test]
fn retraction_reason_order() {
    check(
        "RetractionReason",
        RetractionReason::ALL,
        RetractionReason::as_str,
        &["duplicate", "entered_in_error", "out_of_scope"],
    );
}

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).expect("country")
}

#[test]
fn venue_order() {
    let place = Venue::Place {
        city: "Vienna".to_owned(),
        country: country("AT"),
    };
    let bytes = encoded(&place);
    assert_eq!(
        bytes.first(),
        Some(&0),
        "Venue::Place is variant 0: {bytes:?}"
    );
    assert_eq!(
        encoded(&Venue::Virtual),
        vec![1],
        "Venue::Virtual is variant 1"
    );
}

#[test]
fn milestone_order() {
    let (a, b) = (country("PT"), country("GW"));
    let all = [
        Milestone::MlaRequestSent { from: a, to: b },
        Milestone::MlaRequestExecuted { country: b },
        Milestone::ExtraditionRequested { from: a, to: b },
        Milestone::JitAgreementSigned {
            countries: vec![a, b],
        },
        Milestone::ControlledDelivery {
            countries: vec![a, b],
        },
        Milestone::Seizure {
            country: b,
            commodity: Commodity::Cocaine,
            quantity_kg: 2630.0,
        },
        Milestone::Arrests {
            country: b,
            count: 3,
        },
        Milestone::Indictment {
            country: b,
            count: 3,
        },
        Milestone::Conviction {
            country: b,
            count: 3,
        },
        Milestone::AssetsFrozen {
            country: a,
            amount: 10.0,
            currency: CurrencyCode::parse("EUR").expect("EUR"),
        },
    ];
    let expected = [
        "mla_request_sent",
        "mla_request_executed",
        "extradition_requested",
        "jit_agreement_signed",
        "controlled_delivery",
        "seizure",
        "arrests",
        "indictment",
        "conviction",
        "assets_frozen",
    ];
    let kinds: Vec<&str> = all.iter().map(Milestone::kind).collect();
    assert_eq!(kinds, expected, "Milestone kinds");
    for (index, m) in all.iter().enumerate() {
        let bytes = encoded(m);
        assert_eq!(
            bytes.first().map(|b| usize::from(*b)),
            Some(index),
            "Milestone::{} must be stored as variant {index}: {bytes:?}",
            m.kind()
        );
        // The staff JSON form is tagged by the same kind name.
        let json = serde_json::to_value(proto_events::events::CaseMilestoneRecorded {
            case_id: Uuid::from_u128(1),
            on: jiff::civil::date(2024, 9, 11),
            milestone: m.clone(),
        })
        .expect("json");
        assert_eq!(
            json.pointer("/milestone/kind"),
            Some(&serde_json::Value::String(expected[index].to_owned())),
            "{json}"
        );
    }
}

#[test]
fn stream_binary_kind_order() {
    let id = Uuid::from_u128(0x0190_f0a1_7c2e_7a10_8b3e_aaaa_aaaa_aaaa);
    let streams = [
        (Stream::Country(country("GH")), 0u8, "country"),
        (Stream::Partner("interpol".to_owned()), 1, "partner"),
        (Stream::Meeting(id), 2, "meeting"),
        (Stream::Activity(id), 3, "activity"),
        (Stream::Case(id), 4, "case"),
    ];
    for (stream, index, kind) in streams {
        let bytes = encoded(&stream);
        assert_eq!(
            bytes.first(),
            Some(&index),
            "{stream} must be stored with kind {index}: {bytes:?}"
        );
        assert!(
            stream.to_string().starts_with(&format!("{kind}/")),
            "{stream} should read {kind}/…"
        );
        let back: Stream = codec::decode_value(&bytes).expect("decode");
        assert_eq!(back, stream);
    }
}

#[test]
fn event_type_codes_and_names() {
    let expected = [
        (1u16, "PartnerRegistered"),
        (2, "CountryJoined"),
        (3, "ParticipationChanged"),
        (4, "MeetingHeld"),
        (5, "ActivityScheduled"),
        (6, "ActivityDelivered"),
        (7, "ActivityCancelled"),
        (8, "CaseOpened"),
        (9, "CaseCountryAdded"),
        (10, "CaseMilestoneRecorded"),
        (11, "CaseClosed"),
        (12, "EventCorrected"),
        (13, "EventRetracted"),
    ];
    let actual: Vec<(u16, &str)> = EventType::ALL
        .iter()
        .map(|t| (t.code(), t.name()))
        .collect();
    assert_eq!(actual, expected);
    for (code, name) in expected {
        let by_code = EventType::from_code(code);
        assert_eq!(by_code.map(EventType::name), Some(name), "code {code}");
        assert_eq!(EventType::from_name(name), by_code, "{name}");
    }
    assert_eq!(EventType::from_code(0), None);
    assert_eq!(EventType::from_code(14), None);
}
