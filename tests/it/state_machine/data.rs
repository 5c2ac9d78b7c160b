//! Reference data of the generators (countries, cities, staff, partners, kinds) and the ids
//! this test sets.

use std::sync::OnceLock;

use coopledger::proto_events::values::{
    ActivityKind, CaseOutcome, CaseType, MeetingKind, Participation, ParticipationStatus,
    RetractionReason,
};
use coopledger::proto_events::{CountryCode, Date};
use uuid::Uuid;

use crate::support::cc;

// ---------------------------------------------------------------------------------------------
// Reference data and ids.

pub(super) const LAC: [&str; 8] = ["AR", "BO", "BR", "CO", "DO", "EC", "PA", "PE"];
pub(super) const WEST_AFRICA: [&str; 4] = ["CV", "GH", "GW", "NG"];
pub(super) const EUROPE: [&str; 3] = ["ES", "PT", "BE"];
pub(super) const OTHERS: [&str; 2] = ["ET", "MX"];

pub(super) const CITIES: [(&str, &str); 6] = [
    ("Vienna", "AT"),
    ("Lyon", "FR"),
    ("Accra", "GH"),
    ("Bogotá", "CO"),
    ("Madrid", "ES"),
    ("Praia", "CV"),
];

pub(super) const STAFF: [&str; 4] = [
    "staff.vienna",
    "staff.accra",
    "staff.bogota",
    "synth.programme",
];

pub(super) const PARTNERS: [(&str, &str); 6] = [
    ("unodc", "United Nations Office on Drugs and Crime"),
    ("interpol", "INTERPOL"),
    ("transparency-international", "Transparency International"),
    ("eu-crp", "EU Cocaine Route Programme"),
    ("ameripol", "AMERIPOL"),
    ("afripol", "AFRIPOL"),
];

pub(super) const MEETING_KINDS: [MeetingKind; 6] = [
    MeetingKind::BilateralBriefing,
    MeetingKind::SteeringCommittee,
    MeetingKind::AnnualMeeting,
    MeetingKind::NetworkMeeting,
    MeetingKind::HighLevelMeeting,
    MeetingKind::OperationalCoordination,
];

pub(super) const ACTIVITY_KINDS: [ActivityKind; 8] = [
    ActivityKind::Training,
    ActivityKind::TrainingOfTrainers,
    ActivityKind::Workshop,
    ActivityKind::PracticalExercise,
    ActivityKind::InvestigativeCaseForum,
    ActivityKind::WorkingGroup,
    ActivityKind::CaseMentoring,
    ActivityKind::StudyVisit,
];

pub(super) const JOIN_AS: [Participation; 4] = [
    Participation::Beneficiary,
    Participation::Associated,
    Participation::Partner,
    Participation::Observer,
];

pub(super) const CHANGE_TO: [ParticipationStatus; 5] = [
    ParticipationStatus::Suspended,
    ParticipationStatus::Withdrawn,
    ParticipationStatus::Withdrawn,
    ParticipationStatus::Associated,
    ParticipationStatus::Observer,
];

pub(super) const CASE_TYPES: [CaseType; 4] = [
    CaseType::PostSeizureInvestigation,
    CaseType::MutualLegalAssistance,
    CaseType::ControlledDelivery,
    CaseType::JointInvestigationTeam,
];

pub(super) const OUTCOMES: [CaseOutcome; 4] = [
    CaseOutcome::Convicted,
    CaseOutcome::Acquitted,
    CaseOutcome::Discontinued,
    CaseOutcome::Transferred,
];

pub(super) const REASONS: [RetractionReason; 3] = [
    RetractionReason::Duplicate,
    RetractionReason::EnteredInError,
    RetractionReason::OutOfScope,
];

pub(super) fn pool() -> &'static [CountryCode] {
    static POOL: OnceLock<Vec<CountryCode>> = OnceLock::new();
    POOL.get_or_init(|| {
        LAC.iter()
            .chain(&WEST_AFRICA)
            .chain(&EUROPE)
            .chain(&OTHERS)
            .map(|c| cc(c))
            .collect()
    })
}

pub(super) fn add_days(d: Date, n: usize) -> Date {
    d.checked_add(jiff::Span::new().days(n as i64))
        .expect("date in range")
}

/// Day `n` from 2016-01-01 (the programme's phase I; always well before today).
pub(super) fn day(n: usize) -> Date {
    add_days(jiff::civil::date(2016, 1, 1), n)
}

/// Event ids this test sets (UUIDv7 layout, a counter in the low bits).
pub(super) fn event_id(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_f0a1_7c2e_7c30, 0x8d5a_0000_0000_0000 | n)
}

/// Entity ids (meetings, activities, cases) and correlation ids.
pub(super) fn entity_id(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_f0a1_7c2e_7d40, 0x9e6b_0000_0000_0000 | n)
}

/// Ids that are never used for anything: `get` must find nothing.
pub(super) fn unknown_id(n: u64) -> Uuid {
    Uuid::from_u64_pair(
        0x0190_f0a1_7c2e_7e50,
        0xaf7c_0000_0000_0000 | (n & 0xffff_ffff_ffff),
    )
}
