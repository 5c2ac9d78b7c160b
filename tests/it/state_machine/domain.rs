//! The event vocabulary as `/work/shared/docs/domain.md` describes it, written out for the model
//! rather than taken from the library: the stream of each fact ("Streams"), the name of its type,
//! the countries a milestone names, the countries an event involves and each pool country's
//! programme region ("Regions").

use coopledger::proto_events::values::{ActivityKind, Milestone, ParticipationStatus};
use coopledger::proto_events::{CountryCode, Fact, Stream};

/// domain.md, "Streams": `country/GH`, `partner/<slug>`, `meeting/<uuid>`, `activity/<uuid>`,
/// `case/<uuid>` — the entity the event is about.
pub(super) fn stream_of(fact: &Fact) -> Stream {
    match fact {
        Fact::CountryJoined(e) => Stream::Country(e.country),
        Fact::ParticipationChanged(e) => Stream::Country(e.country),
        Fact::PartnerRegistered(e) => Stream::Partner(e.partner.clone()),
        Fact::MeetingHeld(e) => Stream::Meeting(e.meeting_id),
        Fact::ActivityScheduled(e) => Stream::Activity(e.activity_id),
        Fact::ActivityDelivered(e) => Stream::Activity(e.activity_id),
        Fact::ActivityCancelled(e) => Stream::Activity(e.activity_id),
        Fact::CaseOpened(e) => Stream::Case(e.case_id),
        Fact::CaseCountryAdded(e) => Stream::Case(e.case_id),
        Fact::CaseMilestoneRecorded(e) => Stream::Case(e.case_id),
        Fact::CaseClosed(e) => Stream::Case(e.case_id),
    }
}

/// The event type's name, as in domain.md's table of event types.
pub(super) fn type_name(fact: &Fact) -> &'static str {
    match fact {
        Fact::PartnerRegistered(_) => "PartnerRegistered",
        Fact::CountryJoined(_) => "CountryJoined",
        Fact::ParticipationChanged(_) => "ParticipationChanged",
        Fact::MeetingHeld(_) => "MeetingHeld",
        Fact::ActivityScheduled(_) => "ActivityScheduled",
        Fact::ActivityDelivered(_) => "ActivityDelivered",
        Fact::ActivityCancelled(_) => "ActivityCancelled",
        Fact::CaseOpened(_) => "CaseOpened",
        Fact::CaseCountryAdded(_) => "CaseCountryAdded",
        Fact::CaseMilestoneRecorded(_) => "CaseMilestoneRecorded",
        Fact::CaseClosed(_) => "CaseClosed",
    }
}

/// The countries a milestone names: `from` and `to`; `country`; or `countries` (domain.md's
/// table, `CaseMilestoneRecorded`).
pub(super) fn milestone_countries(m: &Milestone) -> Vec<CountryCode> {
    let mut out = Vec::new();
    match m {
        Milestone::MlaRequestSent { from, to } | Milestone::ExtraditionRequested { from, to } => {
            out.push(*from);
            out.push(*to);
        }
        Milestone::JitAgreementSigned { countries }
        | Milestone::ControlledDelivery { countries } => {
            out.extend(countries.iter().copied());
        }
        Milestone::MlaRequestExecuted { country }
        | Milestone::Seizure { country, .. }
        | Milestone::Arrests { country, .. }
        | Milestone::Indictment { country, .. }
        | Milestone::Conviction { country, .. }
        | Milestone::AssetsFrozen { country, .. } => out.push(*country),
    }
    out
}

/// The kinds that "involve at least two distinct countries" (domain.md, intrinsic rules; the
/// third, `operational_coordination`, is a meeting kind).
pub(super) fn needs_two(kind: ActivityKind) -> bool {
    matches!(
        kind,
        ActivityKind::InvestigativeCaseForum | ActivityKind::WorkingGroup
    )
}

/// Every activity kind, by its staff-JSON name, in the order of domain.md's table
/// (`ActivityDelivered`); a view's `by_kind` lists each of them.
pub(super) const ACTIVITY_KIND_NAMES: [(ActivityKind, &str); 10] = [
    (ActivityKind::Training, "training"),
    (ActivityKind::TrainingOfTrainers, "training_of_trainers"),
    (ActivityKind::Workshop, "workshop"),
    (ActivityKind::PracticalExercise, "practical_exercise"),
    (
        ActivityKind::InvestigativeCaseForum,
        "investigative_case_forum",
    ),
    (ActivityKind::WorkingGroup, "working_group"),
    (ActivityKind::CaseMentoring, "case_mentoring"),
    (ActivityKind::ExpertMeeting, "expert_meeting"),
    (ActivityKind::StudyVisit, "study_visit"),
    (
        ActivityKind::InstitutionalAssessment,
        "institutional_assessment",
    ),
];

pub(super) fn kind_name(kind: ActivityKind) -> &'static str {
    let mut name = "";
    for (k, n) in ACTIVITY_KIND_NAMES {
        if k == kind {
            name = n;
        }
    }
    assert!(!name.is_empty(), "{kind:?} is not in domain.md's table");
    name
}

/// A participation status by its staff-JSON name (domain.md, `CountryJoined` and
/// `ParticipationChanged`).
pub(super) fn status_name(status: ParticipationStatus) -> &'static str {
    match status {
        ParticipationStatus::Beneficiary => "beneficiary",
        ParticipationStatus::Associated => "associated",
        ParticipationStatus::Partner => "partner",
        ParticipationStatus::Observer => "observer",
        ParticipationStatus::Suspended => "suspended",
        ParticipationStatus::Withdrawn => "withdrawn",
    }
}

/// The generators' countries with their ISO 3166-1 English short name (domain.md, "Views":
/// "ISO short name") and their M49 codes (region, sub-region, intermediate region) from the
/// domain's M49 table (`/work/shared/data/iso3166-m49.csv`, whose `name` column spells BO
/// "Bolivia, Plurinational State of" where ISO 3166-1 has "Bolivia (Plurinational State of)").
const M49: [(&str, &str, &str, &str, Option<&str>); 17] = [
    ("AR", "Argentina", "019", "419", Some("005")),
    ("BE", "Belgium", "150", "155", None),
    (
        "BO",
        "Bolivia (Plurinational State of)",
        "019",
        "419",
        Some("005"),
    ),
    ("BR", "Brazil", "019", "419", Some("005")),
    ("CO", "Colombia", "019", "419", Some("005")),
    ("CV", "Cabo Verde", "002", "202", Some("011")),
    ("DO", "Dominican Republic", "019", "419", Some("029")),
    ("EC", "Ecuador", "019", "419", Some("005")),
    ("ES", "Spain", "150", "039", None),
    ("ET", "Ethiopia", "002", "202", Some("014")),
    ("GH", "Ghana", "002", "202", Some("011")),
    ("GW", "Guinea-Bissau", "002", "202", Some("011")),
    ("MX", "Mexico", "019", "419", Some("013")),
    ("NG", "Nigeria", "002", "202", Some("011")),
    ("PA", "Panama", "019", "419", Some("013")),
    ("PE", "Peru", "019", "419", Some("005")),
    ("PT", "Portugal", "150", "039", None),
];

/// A pool country's name and M49 codes.
pub(super) fn m49(
    c: CountryCode,
) -> (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
) {
    for (code, name, region, sub_region, intermediate) in M49 {
        if code == c.as_str() {
            return (name, region, sub_region, intermediate);
        }
    }
    panic!("{c} is not a country of the generators' pool");
}

/// domain.md, "Regions": the programme region of a country, from its M49 membership, the rows
/// of the table tried in order.
pub(super) fn programme_region(c: CountryCode) -> &'static str {
    let (_, region, sub_region, intermediate) = m49(c);
    if sub_region == "419" {
        "latin_america_caribbean"
    } else if intermediate == Some("011") {
        "west_africa"
    } else if region == "002" {
        "other_africa"
    } else if region == "150" {
        "europe"
    } else {
        "other"
    }
}
