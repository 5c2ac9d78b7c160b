//! Golden byte vectors of the stored binary form, one or more for every event type.
//!
//! Each case below builds a fixed [`RecordedEvent`] (fixed ids, recording time, sequence and
//! stream version). Its committed file `tests/golden/v1/<name>.schema<N>.hex` holds the bytes of
//! `codec::encode_body` in hex. The test decodes every committed file and compares it with the
//! value built here, and re-encodes that value and compares the bytes (for the schema version
//! written today; files of older versions are only decoded). A change in the stored form, such as
//! a reordered field or enum variant, therefore fails here instead of misreading records on disk.
//!
//! The files are only *read* by a normal run. They are written when the environment variable
//! `UPDATE_GOLDEN=1` is set:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p proto-events --test golden --test upcast
//! ```
//!
//! Do that only for a new case or a new schema version, and never overwrite a file of an older
//! version: it describes bytes already stored by ledgers in the field.

mod common;

use std::collections::BTreeSet;

use common::{cc, ccs, day, id, recorded};
use proto_events::CurrencyCode;
use proto_events::codec::{self, FORMAT_VERSION};
use proto_events::envelope::RecordedEvent;
use proto_events::events::{
    ActivityCancelled, ActivityDelivered, ActivityScheduled, CaseClosed, CaseCountryAdded,
    CaseMilestoneRecorded, CaseOpened, CountryJoined, EventCorrected, EventRetracted, EventType,
    Fact, MeetingHeld, ParticipationChanged, PartnerRegistered, Payload,
};
use proto_events::stream::Stream;
use proto_events::values::{
    ActivityKind, CaseOutcome, CaseType, Commodity, Institution, MeetingKind, Milestone,
    Participants, Participation, ParticipationStatus, PartnerRole, Pillar, RetractionReason, Venue,
};

/// One golden vector: the file stem and the event it must decode to.
struct Case {
    /// File name without the `.schema<N>.hex` suffix.
    name: &'static str,
    /// The schema version in the file's header (byte 3).
    schema: u8,
    event: RecordedEvent,
}

impl Case {
    fn file(&self) -> String {
        format!("{}.schema{}.hex", self.name, self.schema)
    }
}

fn fact(f: Fact) -> Payload {
    Payload::Fact(f)
}

fn place(city: &str, country: &str) -> Venue {
    Venue::Place {
        city: city.to_owned(),
        country: cc(country),
    }
}

fn milestone(on: jiff::civil::Date, milestone: Milestone) -> Payload {
    fact(Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
        case_id: id(0x0c01),
        on,
        milestone,
    }))
}

fn accra_forum() -> ActivityDelivered {
    ActivityDelivered {
        activity_id: id(0x0a02),
        kind: ActivityKind::InvestigativeCaseForum,
        title: "Investigative case forum, Accra".to_owned(),
        pillar: Pillar::InterregionalCooperation,
        start: day(2019, 10, 29),
        end: day(2019, 10, 30),
        venue: place("Accra", "GH"),
        beneficiaries: ccs(&["GH", "NG", "CV", "GW", "GM"]),
        other_countries: ccs(&["BR", "ES", "PT", "ET"]),
        participants: Participants {
            total: 31,
            women: None,
            men: None,
        },
        institutions: vec![
            Institution::Police,
            Institution::Prosecution,
            Institution::CentralAuthority,
        ],
    }
}

/// Every golden case of the schema versions written today, plus older versions still read.
#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut push = |name: &'static str, schema: u8, event: RecordedEvent| {
        cases.push(Case {
            name,
            schema,
            event,
        });
    };

    let mut e = recorded(
        1,
        1,
        id(0x0e01),
        None,
        1,
        fact(Fact::PartnerRegistered(PartnerRegistered {
            partner: "interpol".to_owned(),
            name: "International Criminal Police Organization".to_owned(),
            roles: vec![PartnerRole::Implementing],
            registered_on: day(2016, 8, 30),
        })),
    );
    e.envelope.source = Some("https://www.unodc.org/crimjust/partners".to_owned());
    e.envelope.correlation_id = Some(id(0x0f01));
    push("partner_registered", 1, e);

    push(
        "country_joined",
        1,
        recorded(
            2,
            1,
            id(0x0e02),
            None,
            1,
            fact(Fact::CountryJoined(CountryJoined {
                country: cc("CV"),
                joined_on: day(2016, 7, 21),
                participation: Participation::Beneficiary,
            })),
        ),
    );

    let mut e = recorded(
        250,
        2,
        id(0x0e03),
        None,
        1,
        fact(Fact::ParticipationChanged(ParticipationChanged {
            country: cc("BO"),
            changed_on: day(2019, 3, 1),
            participation: ParticipationStatus::Suspended,
            reason: "Focal point vacant; «réunion» postponed".to_owned(),
        })),
    );
    e.envelope.causation_id = Some(id(0x0f02));
    push("participation_changed", 1, e);

    let mut e = recorded(
        251,
        1,
        id(0x0e04),
        None,
        1,
        fact(Fact::MeetingHeld(MeetingHeld {
            meeting_id: id(0x0b01),
            kind: MeetingKind::BilateralBriefing,
            title: "Briefings with the permanent missions in Vienna".to_owned(),
            start: day(2017, 8, 17),
            end: day(2017, 8, 25),
            venue: place("Vienna", "AT"),
            countries: ccs(&["AR", "BR", "CO", "EC", "DO", "PA"]),
            participants: Some(Participants {
                total: 18,
                women: Some(7),
                men: None,
            }),
        })),
    );
    e.envelope.source = Some("UNODC news item, 25 Aug 2017".to_owned());
    push("meeting_held-place", 1, e);

    let mut e = recorded(
        65_536,
        1,
        id(0x0e05),
        None,
        1,
        fact(Fact::MeetingHeld(MeetingHeld {
            meeting_id: id(0x0b02),
            kind: MeetingKind::OperationalCoordination,
            title: "Coordination call PT–GW".to_owned(),
            start: day(2024, 9, 12),
            end: day(2024, 9, 12),
            venue: Venue::Virtual,
            countries: ccs(&["PT", "GW"]),
            participants: None,
        })),
    );
    e.envelope.correlation_id = Some(id(0x0f03));
    e.envelope.causation_id = Some(id(0x0f04));
    push("meeting_held-virtual", 1, e);

    push(
        "activity_scheduled-place",
        1,
        recorded(
            70_000,
            1,
            id(0x0e06),
            None,
            1,
            fact(Fact::ActivityScheduled(ActivityScheduled {
                activity_id: id(0x0a03),
                kind: ActivityKind::WorkingGroup,
                title: "Working group on controlled deliveries".to_owned(),
                start: day(2019, 11, 12),
                end: day(2019, 11, 14),
                venue: place("Bogotá", "CO"),
                beneficiaries: ccs(&["BE", "CO", "EC"]),
            })),
        ),
    );

    push(
        "activity_scheduled-virtual",
        1,
        recorded(
            70_001,
            1,
            id(0x0e07),
            None,
            1,
            fact(Fact::ActivityScheduled(ActivityScheduled {
                activity_id: id(0x0a04),
                kind: ActivityKind::Training,
                title: "Online training on open-source intelligence".to_owned(),
                start: day(2020, 4, 6),
                end: day(2020, 4, 6),
                venue: Venue::Virtual,
                beneficiaries: vec![],
            })),
        ),
    );

    let mut e = recorded(
        u64::from(u32::MAX) + 1,
        1,
        id(0x0e08),
        None,
        2,
        fact(Fact::ActivityDelivered(accra_forum())),
    );
    e.envelope.source = Some("https://www.unodc.org/crimjust/accra-2019".to_owned());
    push("activity_delivered-place", 2, e);

    push(
        "activity_delivered-virtual",
        2,
        recorded(
            70_003,
            2,
            id(0x0e09),
            None,
            2,
            fact(Fact::ActivityDelivered(ActivityDelivered {
                activity_id: id(0x0a04),
                kind: ActivityKind::Training,
                title: "Online training on open-source intelligence".to_owned(),
                pillar: Pillar::CapacityBuilding,
                start: day(2020, 4, 6),
                end: day(2020, 4, 6),
                venue: Venue::Virtual,
                beneficiaries: ccs(&["DO"]),
                other_countries: vec![],
                participants: Participants {
                    total: 40,
                    women: Some(22),
                    men: Some(18),
                },
                institutions: vec![],
            })),
        ),
    );

    push(
        "activity_cancelled",
        1,
        recorded(
            70_004,
            2,
            id(0x0e0a),
            None,
            1,
            fact(Fact::ActivityCancelled(ActivityCancelled {
                activity_id: id(0x0a03),
                cancelled_on: day(2019, 11, 1),
                reason: "Venue unavailable".to_owned(),
            })),
        ),
    );

    let mut e = recorded(
        80_000,
        1,
        id(0x0e0b),
        None,
        1,
        fact(Fact::CaseOpened(CaseOpened {
            case_id: id(0x0c01),
            codename: "LISBON-BISSAU".to_owned(),
            case_type: CaseType::PostSeizureInvestigation,
            countries: ccs(&["PT", "GW", "VE"]),
            lead: cc("PT"),
            opened_on: day(2024, 7, 9),
        })),
    );
    e.envelope.source = Some("Case forum, Lisbon, 9–11 Jul 2024".to_owned());
    push("case_opened", 1, e);

    push(
        "case_country_added",
        1,
        recorded(
            80_001,
            2,
            id(0x0e0c),
            None,
            1,
            fact(Fact::CaseCountryAdded(CaseCountryAdded {
                case_id: id(0x0c01),
                country: cc("ES"),
                added_on: day(2024, 8, 2),
            })),
        ),
    );

    let milestones: [(&'static str, Milestone); 10] = [
        (
            "case_milestone_recorded-mla_request_sent",
            Milestone::MlaRequestSent {
                from: cc("PT"),
                to: cc("GW"),
            },
        ),
        (
            "case_milestone_recorded-mla_request_executed",
            Milestone::MlaRequestExecuted { country: cc("GW") },
        ),
        (
            "case_milestone_recorded-extradition_requested",
            Milestone::ExtraditionRequested {
                from: cc("GW"),
                to: cc("VE"),
            },
        ),
        (
            "case_milestone_recorded-jit_agreement_signed",
            Milestone::JitAgreementSigned {
                countries: ccs(&["PT", "GW", "ES"]),
            },
        ),
        (
            "case_milestone_recorded-controlled_delivery",
            Milestone::ControlledDelivery {
                countries: ccs(&["VE", "GW"]),
            },
        ),
        (
            "case_milestone_recorded-seizure",
            Milestone::Seizure {
                country: cc("GW"),
                commodity: Commodity::Cocaine,
                quantity_kg: 2630.0,
            },
        ),
        (
            "case_milestone_recorded-arrests",
            Milestone::Arrests {
                country: cc("GW"),
                count: 5,
            },
        ),
        (
            "case_milestone_recorded-indictment",
            Milestone::Indictment {
                country: cc("GW"),
                count: 300,
            },
        ),
        (
            "case_milestone_recorded-conviction",
            Milestone::Conviction {
                country: cc("PT"),
                count: 1,
            },
        ),
        (
            "case_milestone_recorded-assets_frozen",
            Milestone::AssetsFrozen {
                country: cc("PT"),
                amount: 1_250_000.75,
                currency: CurrencyCode::parse("EUR").expect("EUR"),
            },
        ),
    ];
    for (n, (name, m)) in (0u16..).zip(milestones) {
        let mut e = recorded(
            80_010 + u64::from(n),
            3 + u64::from(n),
            id(0x0e10 + n),
            None,
            1,
            milestone(day(2024, 9, 11), m),
        );
        if n % 2 == 0 {
            e.envelope.source = Some(format!("Case file, entry {n}"));
        }
        push(name, 1, e);
    }

    push(
        "case_closed",
        1,
        recorded(
            80_100,
            13,
            id(0x0e20),
            None,
            1,
            fact(Fact::CaseClosed(CaseClosed {
                case_id: id(0x0c01),
                closed_on: day(2025, 3, 31),
                outcome: CaseOutcome::Convicted,
            })),
        ),
    );

    // The Lagos workshop: one source said 5 women among 30, another 20 %: a correction.
    let lagos = ActivityDelivered {
        activity_id: id(0x0a01),
        kind: ActivityKind::Workshop,
        title: "Workshop on financial investigations, Lagos".to_owned(),
        pillar: Pillar::CapacityBuilding,
        start: day(2018, 7, 16),
        end: day(2018, 7, 18),
        venue: place("Lagos", "NG"),
        beneficiaries: ccs(&["NG", "GH"]),
        other_countries: ccs(&["ES"]),
        participants: Participants {
            total: 30,
            women: Some(6),
            men: Some(24),
        },
        institutions: vec![Institution::FinancialIntelligenceUnit],
    };
    let mut e = recorded(
        90_000,
        2,
        id(0x0e21),
        None,
        1,
        Payload::Corrected(EventCorrected {
            target: id(0x0e01),
            replacement: Fact::ActivityDelivered(lagos),
            reason: "Second source reports 20 % women (6 of 30)".to_owned(),
        }),
    );
    e.envelope.causation_id = Some(id(0x0e01));
    push("event_corrected-activity_delivered", 1, e);

    push(
        "event_corrected-case_milestone_recorded",
        1,
        recorded(
            90_001,
            14,
            id(0x0e22),
            None,
            1,
            Payload::Corrected(EventCorrected {
                target: id(0x0e15),
                replacement: Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id: id(0x0c01),
                    on: day(2024, 9, 11),
                    milestone: Milestone::Seizure {
                        country: cc("GW"),
                        commodity: Commodity::Cocaine,
                        quantity_kg: 2_630.5,
                    },
                }),
                reason: "Weighed again by the judicial police".to_owned(),
            }),
        ),
    );

    push(
        "event_retracted-duplicate",
        1,
        recorded(
            u64::MAX,
            u64::MAX,
            id(0x0e23),
            Some(Stream::Activity(id(0x0a02))),
            1,
            Payload::Retracted(EventRetracted {
                target: id(0x0e24),
                reason: RetractionReason::Duplicate,
                duplicate_of: Some(id(0x0e08)),
            }),
        ),
    );

    push(
        "event_retracted-entered_in_error",
        1,
        recorded(
            90_003,
            2,
            id(0x0e25),
            Some(Stream::Partner("transparency-international".to_owned())),
            1,
            Payload::Retracted(EventRetracted {
                target: id(0x0e26),
                reason: RetractionReason::EnteredInError,
                duplicate_of: None,
            }),
        ),
    );

    cases
}

fn comment(case: &Case) -> String {
    format!(
        "{} schema version {}, record format version {FORMAT_VERSION}: codec::encode_body bytes.\n\
         Built and checked by proto-events/tests/golden.rs; never edit by hand.",
        case.event.payload.event_type(),
        case.schema,
    )
}

#[test]
fn every_golden_vector_decodes_to_its_event_and_reencodes_to_its_bytes() {
    let mut failures = Vec::new();
    for case in cases() {
        let event_type = case.event.payload.event_type();
        let current = event_type.schema_version() == case.schema;
        let fresh = codec::encode_body(&case.event)
            .unwrap_or_else(|e| panic!("{}: encode failed: {e}", case.name));
        let bytes = common::golden_bytes(&case.file(), &comment(&case), &fresh, current);

        // The header names the format, the type and the schema version.
        let code = event_type.code().to_be_bytes();
        let header = [FORMAT_VERSION, code[0], code[1], case.schema];
        if bytes.get(..4) != Some(&header[..]) {
            failures.push(format!(
                "{}: header {:?}, expected {header:?}",
                case.file(),
                bytes.get(..4)
            ));
            continue;
        }

        match codec::decode_body(&bytes) {
            Ok(decoded) if decoded == case.event => {}
            Ok(decoded) => failures.push(format!(
                "{}: decoded to\n{decoded:#?}\nexpected\n{:#?}",
                case.file(),
                case.event
            )),
            Err(e) => failures.push(format!("{}: does not decode: {e}", case.file())),
        }

        match codec::peek_header(&bytes) {
            Ok(found) if found == (event_type, case.schema) => {}
            other => failures.push(format!("{}: peek_header gave {other:?}", case.file())),
        }
        match codec::decode_prefix(&bytes) {
            Ok(p)
                if p.event_type == event_type
                    && p.schema_version == case.schema
                    && p.sequence == case.event.sequence
                    && p.stream_version == case.event.stream_version
                    && p.event_id == case.event.envelope.event_id
                    && p.stream == case.event.envelope.stream => {}
            other => failures.push(format!("{}: decode_prefix gave {other:?}", case.file())),
        }

        if current && fresh != bytes {
            failures.push(format!(
                "{}: encoding the expected event no longer gives the committed bytes\n\
                 committed: {}\nnow:       {}",
                case.file(),
                common::to_hex("", &bytes).replace('\n', ""),
                common::to_hex("", &fresh).replace('\n', "")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn older_schema_vectors_still_decode() {
    // Written by tests/upcast.rs; the golden suite keeps reading it like any other vector.
    let bytes = common::golden_bytes(
        common::V1_FIXTURE,
        common::V1_COMMENT,
        &common::lagos_v1_body(),
        false,
    );
    let decoded = codec::decode_body(&bytes)
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", common::V1_FIXTURE));
    assert_eq!(decoded, common::lagos_v1_expected());
}

#[test]
fn every_event_type_and_current_schema_version_has_a_golden_vector() {
    let covered: BTreeSet<(EventType, u8)> = cases()
        .iter()
        .map(|c| (c.event.payload.event_type(), c.schema))
        .collect();
    let missing: Vec<String> = EventType::ALL
        .into_iter()
        .filter(|t| !covered.contains(&(*t, t.schema_version())))
        .map(|t| format!("{t} schema {}", t.schema_version()))
        .collect();
    assert!(missing.is_empty(), "no golden vector for {missing:?}");
    assert_eq!(
        covered.len(),
        13,
        "expected 13 (type, version) pairs: {covered:?}"
    );
}

#[test]
fn every_milestone_kind_has_a_golden_vector() {
    let kinds: BTreeSet<&str> = cases()
        .iter()
        .filter_map(|c| match &c.event.payload {
            Payload::Fact(Fact::CaseMilestoneRecorded(m)) => Some(m.milestone.kind()),
            _ => None,
        })
        .collect();
    let expected: BTreeSet<&str> = [
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
    ]
    .into_iter()
    .collect();
    assert_eq!(kinds, expected);
}

#[test]
fn golden_directory_holds_only_known_vectors() {
    if common::updating() {
        // Other tests of this run are writing the directory right now.
        return;
    }
    let known: BTreeSet<String> = cases()
        .iter()
        .map(Case::file)
        .chain([common::V1_FIXTURE.to_owned()])
        .collect();
    let dir = common::golden_dir();
    let found: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let unknown: Vec<&String> = found.difference(&known).collect();
    let absent: Vec<&String> = known.difference(&found).collect();
    assert!(
        unknown.is_empty() && absent.is_empty(),
        "files without a case: {unknown:?}; cases without a file: {absent:?}"
    );
}

#[test]
fn golden_cases_are_valid_events() {
    // Fixtures should be events the ledger accepts, so the vectors show real records.
    for case in cases() {
        let env = &case.event.envelope;
        let event = proto_events::NewEvent {
            event_id: Some(env.event_id),
            recorded_by: env.recorded_by.clone(),
            source: env.source.clone(),
            expected_version: proto_events::ExpectedVersion::Any,
            correlation_id: env.correlation_id,
            causation_id: env.causation_id,
            payload: case.event.payload.clone(),
        };
        let violations = proto_events::validate::validate(&event, day(2025, 6, 30));
        assert!(violations.is_empty(), "{}: {violations:?}", case.name);
    }
}
