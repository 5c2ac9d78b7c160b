//! The event types of the cooperation domain (domain.md, "Event types"), as typed Rust.
//!
//! Field order is part of the stored binary form: **never reorder, remove or retype a field of a
//! shipped version**. A change is a new schema version of that event type plus an upcaster in
//! [`crate::upcast`]; see the crate documentation.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::country::CountryCode;
use crate::stream::Stream;
use crate::values::{
    ActivityKind, CaseOutcome, CaseType, Date, Institution, MeetingKind, Milestone, Participants,
    Participation, ParticipationStatus, PartnerRole, Pillar, RetractionReason, Venue, forms,
};

/// A partner organisation registered with the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerRegistered {
    /// Slug naming the partner, e.g. `interpol` (lower-case letters, digits, `-`).
    pub partner: String,
    /// Full name.
    pub name: String,
    /// What it does in the programme.
    pub roles: Vec<PartnerRole>,
    /// Since when.
    #[serde(with = "forms::date")]
    pub registered_on: Date,
}

/// A country joined the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryJoined {
    /// The country.
    pub country: CountryCode,
    /// When it joined.
    #[serde(with = "forms::date")]
    pub joined_on: Date,
    /// How it takes part.
    pub participation: Participation,
}

/// A country's participation changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipationChanged {
    /// The country.
    pub country: CountryCode,
    /// When it changed.
    #[serde(with = "forms::date")]
    pub changed_on: Date,
    /// The new status.
    pub participation: ParticipationStatus,
    /// Why.
    pub reason: String,
}

/// A meeting was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingHeld {
    /// The meeting's identity (its stream is `meeting/<meeting_id>`).
    pub meeting_id: Uuid,
    /// What kind of meeting.
    pub kind: MeetingKind,
    /// Title.
    pub title: String,
    /// First day.
    #[serde(with = "forms::date")]
    pub start: Date,
    /// Last day.
    #[serde(with = "forms::date")]
    pub end: Date,
    /// Where.
    #[serde(with = "forms::venue")]
    pub venue: Venue,
    /// The countries involved.
    pub countries: Vec<CountryCode>,
    /// How many took part, where known.
    #[serde(default)]
    pub participants: Option<Participants>,
}

/// An activity was scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityScheduled {
    /// The activity's identity (its stream is `activity/<activity_id>`).
    pub activity_id: Uuid,
    /// What kind of activity.
    pub kind: ActivityKind,
    /// Title.
    pub title: String,
    /// Planned first day.
    #[serde(with = "forms::date")]
    pub start: Date,
    /// Planned last day.
    #[serde(with = "forms::date")]
    pub end: Date,
    /// Where.
    #[serde(with = "forms::venue")]
    pub venue: Venue,
    /// The beneficiary countries.
    pub beneficiaries: Vec<CountryCode>,
}

/// An activity was delivered. Schema version 2 (version 1 had no `institutions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityDelivered {
    /// The activity's identity (its stream is `activity/<activity_id>`).
    pub activity_id: Uuid,
    /// What kind of activity.
    pub kind: ActivityKind,
    /// Title.
    pub title: String,
    /// The pillar it serves.
    pub pillar: Pillar,
    /// First day.
    #[serde(with = "forms::date")]
    pub start: Date,
    /// Last day.
    #[serde(with = "forms::date")]
    pub end: Date,
    /// Where.
    #[serde(with = "forms::venue")]
    pub venue: Venue,
    /// The beneficiary countries.
    pub beneficiaries: Vec<CountryCode>,
    /// Other countries taking part (not beneficiaries).
    #[serde(default)]
    pub other_countries: Vec<CountryCode>,
    /// How many took part.
    pub participants: Participants,
    /// Institutions whose officials took part.
    #[serde(default)]
    pub institutions: Vec<Institution>,
}

/// A scheduled activity was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityCancelled {
    /// The activity.
    pub activity_id: Uuid,
    /// When.
    #[serde(with = "forms::date")]
    pub cancelled_on: Date,
    /// Why.
    pub reason: String,
}

/// A cooperation case was opened between countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseOpened {
    /// The case's identity (its stream is `case/<case_id>`).
    pub case_id: Uuid,
    /// A codename (cases carry no personal data).
    pub codename: String,
    /// What kind of case.
    pub case_type: CaseType,
    /// The countries working on it (at least two).
    pub countries: Vec<CountryCode>,
    /// The leading country, one of `countries`.
    pub lead: CountryCode,
    /// When it was opened.
    #[serde(with = "forms::date")]
    pub opened_on: Date,
}

/// A country joined a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCountryAdded {
    /// The case.
    pub case_id: Uuid,
    /// The country added.
    pub country: CountryCode,
    /// When.
    #[serde(with = "forms::date")]
    pub added_on: Date,
}

/// A case reached a milestone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseMilestoneRecorded {
    /// The case.
    pub case_id: Uuid,
    /// When.
    #[serde(with = "forms::date")]
    pub on: Date,
    /// What happened.
    #[serde(with = "forms::milestone")]
    pub milestone: Milestone,
}

/// A case was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseClosed {
    /// The case.
    pub case_id: Uuid,
    /// When.
    #[serde(with = "forms::date")]
    pub closed_on: Date,
    /// How it ended.
    pub outcome: CaseOutcome,
}

/// A correction: `replacement` replaces the whole payload of the `target` event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCorrected {
    /// The event corrected.
    pub target: Uuid,
    /// Its full replacement payload (same type, same entity).
    pub replacement: Fact,
    /// Why (1–2000 characters).
    pub reason: String,
}

/// A retraction: the `target` event counts for nothing from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRetracted {
    /// The event retracted.
    pub target: Uuid,
    /// Why.
    pub reason: RetractionReason,
    /// The event it duplicates, for `reason: duplicate`.
    #[serde(default)]
    pub duplicate_of: Option<Uuid>,
}

/// The type of an event, with the stable numeric code used in the stored form.
///
/// Codes are never reused or renumbered; a new type takes the next free code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventType {
    /// [`PartnerRegistered`], code 1.
    PartnerRegistered,
    /// [`CountryJoined`], code 2.
    CountryJoined,
    /// [`ParticipationChanged`], code 3.
    ParticipationChanged,
    /// [`MeetingHeld`], code 4.
    MeetingHeld,
    /// [`ActivityScheduled`], code 5.
    ActivityScheduled,
    /// [`ActivityDelivered`], code 6.
    ActivityDelivered,
    /// [`ActivityCancelled`], code 7.
    ActivityCancelled,
    /// [`CaseOpened`], code 8.
    CaseOpened,
    /// [`CaseCountryAdded`], code 9.
    CaseCountryAdded,
    /// [`CaseMilestoneRecorded`], code 10.
    CaseMilestoneRecorded,
    /// [`CaseClosed`], code 11.
    CaseClosed,
    /// [`EventCorrected`], code 12.
    EventCorrected,
    /// [`EventRetracted`], code 13.
    EventRetracted,
}

impl EventType {
    /// Every event type, in code order.
    pub const ALL: [EventType; 13] = [
        EventType::PartnerRegistered,
        EventType::CountryJoined,
        EventType::ParticipationChanged,
        EventType::MeetingHeld,
        EventType::ActivityScheduled,
        EventType::ActivityDelivered,
        EventType::ActivityCancelled,
        EventType::CaseOpened,
        EventType::CaseCountryAdded,
        EventType::CaseMilestoneRecorded,
        EventType::CaseClosed,
        EventType::EventCorrected,
        EventType::EventRetracted,
    ];

    /// The PascalCase name used as `type` in the staff JSON form.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            EventType::PartnerRegistered => "PartnerRegistered",
            EventType::CountryJoined => "CountryJoined",
            EventType::ParticipationChanged => "ParticipationChanged",
            EventType::MeetingHeld => "MeetingHeld",
            EventType::ActivityScheduled => "ActivityScheduled",
            EventType::ActivityDelivered => "ActivityDelivered",
            EventType::ActivityCancelled => "ActivityCancelled",
            EventType::CaseOpened => "CaseOpened",
            EventType::CaseCountryAdded => "CaseCountryAdded",
            EventType::CaseMilestoneRecorded => "CaseMilestoneRecorded",
            EventType::CaseClosed => "CaseClosed",
            EventType::EventCorrected => "EventCorrected",
            EventType::EventRetracted => "EventRetracted",
        }
    }

    /// The stable code written in the stored form.
    #[must_use]
    pub fn code(self) -> u16 {
        match self {
            EventType::PartnerRegistered => 1,
            EventType::CountryJoined => 2,
            EventType::ParticipationChanged => 3,
            EventType::MeetingHeld => 4,
            EventType::ActivityScheduled => 5,
            EventType::ActivityDelivered => 6,
            EventType::ActivityCancelled => 7,
            EventType::CaseOpened => 8,
            EventType::CaseCountryAdded => 9,
            EventType::CaseMilestoneRecorded => 10,
            EventType::CaseClosed => 11,
            EventType::EventCorrected => 12,
            EventType::EventRetracted => 13,
        }
    }

    /// The type with this stored code.
    #[must_use]
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The type with this staff-form name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The schema version this build writes for the type. Older versions are upcast on read.
    #[must_use]
    pub fn schema_version(self) -> u8 {
        match self {
            EventType::ActivityDelivered => 2,
            _ => 1,
        }
    }

    /// Whether events of this type record a fact (everything but corrections and retractions).
    #[must_use]
    pub fn is_fact(self) -> bool {
        !matches!(self, EventType::EventCorrected | EventType::EventRetracted)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fact event's payload: something that happened in the world.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// See [`PartnerRegistered`].
    PartnerRegistered(PartnerRegistered),
    /// See [`CountryJoined`].
    CountryJoined(CountryJoined),
    /// See [`ParticipationChanged`].
    ParticipationChanged(ParticipationChanged),
    /// See [`MeetingHeld`].
    MeetingHeld(MeetingHeld),
    /// See [`ActivityScheduled`].
    ActivityScheduled(ActivityScheduled),
    /// See [`ActivityDelivered`].
    ActivityDelivered(ActivityDelivered),
    /// See [`ActivityCancelled`].
    ActivityCancelled(ActivityCancelled),
    /// See [`CaseOpened`].
    CaseOpened(CaseOpened),
    /// See [`CaseCountryAdded`].
    CaseCountryAdded(CaseCountryAdded),
    /// See [`CaseMilestoneRecorded`].
    CaseMilestoneRecorded(CaseMilestoneRecorded),
    /// See [`CaseClosed`].
    CaseClosed(CaseClosed),
}

impl Fact {
    /// The event type.
    #[must_use]
    pub fn event_type(&self) -> EventType {
        match self {
            Fact::PartnerRegistered(_) => EventType::PartnerRegistered,
            Fact::CountryJoined(_) => EventType::CountryJoined,
            Fact::ParticipationChanged(_) => EventType::ParticipationChanged,
            Fact::MeetingHeld(_) => EventType::MeetingHeld,
            Fact::ActivityScheduled(_) => EventType::ActivityScheduled,
            Fact::ActivityDelivered(_) => EventType::ActivityDelivered,
            Fact::ActivityCancelled(_) => EventType::ActivityCancelled,
            Fact::CaseOpened(_) => EventType::CaseOpened,
            Fact::CaseCountryAdded(_) => EventType::CaseCountryAdded,
            Fact::CaseMilestoneRecorded(_) => EventType::CaseMilestoneRecorded,
            Fact::CaseClosed(_) => EventType::CaseClosed,
        }
    }

    /// The stream (entity) the fact is about.
    #[must_use]
    pub fn stream(&self) -> Stream {
        match self {
            Fact::PartnerRegistered(e) => Stream::Partner(e.partner.clone()),
            Fact::CountryJoined(e) => Stream::Country(e.country),
            Fact::ParticipationChanged(e) => Stream::Country(e.country),
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

    /// Whether this fact starts its stream (domain.md: "a …Delivered, …Held, CaseOpened or
    /// PartnerRegistered starts a new stream").
    #[must_use]
    pub fn starts_stream(&self) -> bool {
        matches!(
            self,
            Fact::PartnerRegistered(_)
                | Fact::MeetingHeld(_)
                | Fact::ActivityDelivered(_)
                | Fact::CaseOpened(_)
        )
    }

    /// The real-world date the fact counts from for "as of date" views: a meeting's or
    /// activity's `start`, a case's `opened_on`, a milestone's `on`, and so on.
    #[must_use]
    pub fn date(&self) -> Date {
        match self {
            Fact::PartnerRegistered(e) => e.registered_on,
            Fact::CountryJoined(e) => e.joined_on,
            Fact::ParticipationChanged(e) => e.changed_on,
            Fact::MeetingHeld(e) => e.start,
            Fact::ActivityScheduled(e) => e.start,
            Fact::ActivityDelivered(e) => e.start,
            Fact::ActivityCancelled(e) => e.cancelled_on,
            Fact::CaseOpened(e) => e.opened_on,
            Fact::CaseCountryAdded(e) => e.added_on,
            Fact::CaseMilestoneRecorded(e) => e.on,
            Fact::CaseClosed(e) => e.closed_on,
        }
    }

    /// The countries involved (domain.md, "Regions"): a meeting's `countries`, an activity's
    /// `beneficiaries ∪ other_countries`, a case's `countries`. Empty for other facts.
    #[must_use]
    pub fn involved_countries(&self) -> BTreeSet<CountryCode> {
        match self {
            Fact::MeetingHeld(e) => e.countries.iter().copied().collect(),
            Fact::ActivityDelivered(e) => e
                .beneficiaries
                .iter()
                .chain(&e.other_countries)
                .copied()
                .collect(),
            Fact::CaseOpened(e) => e.countries.iter().copied().collect(),
            _ => BTreeSet::new(),
        }
    }
}

/// Any event's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// Something that happened.
    Fact(Fact),
    /// A correction of an earlier fact.
    Corrected(EventCorrected),
    /// A retraction of an earlier fact.
    Retracted(EventRetracted),
}

impl Payload {
    /// The event type.
    #[must_use]
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::Fact(f) => f.event_type(),
            Payload::Corrected(_) => EventType::EventCorrected,
            Payload::Retracted(_) => EventType::EventRetracted,
        }
    }

    /// The stream the event goes to, when the payload alone says so. A retraction goes to its
    /// target's stream, which only the ledger knows, so it returns `None`.
    #[must_use]
    pub fn stream(&self) -> Option<Stream> {
        match self {
            Payload::Fact(f) => Some(f.stream()),
            Payload::Corrected(c) => Some(c.replacement.stream()),
            Payload::Retracted(_) => None,
        }
    }

    /// The fact, if this is one.
    #[must_use]
    pub fn as_fact(&self) -> Option<&Fact> {
        match self {
            Payload::Fact(f) => Some(f),
            _ => None,
        }
    }
}

impl From<Fact> for Payload {
    fn from(f: Fact) -> Self {
        Payload::Fact(f)
    }
}
