//! The event vocabulary as `/work/shared/docs/domain.md` describes it, written out for the model
//! rather than taken from the library: the stream of each fact ("Streams"), the name of its type,
//! the countries a milestone names and the kinds that need two countries.

use coopledger::proto_events::values::{ActivityKind, Milestone};
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
