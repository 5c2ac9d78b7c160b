//! Intrinsic validation: the rules of domain.md that the payload alone decides.
//!
//! Every rule is checked and every violation of an event is returned at once, so staff fix a file
//! in one pass. Contextual rules (expected version, open cases, targets of corrections) need the
//! ledger's state and live in the ledger.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::country::CountryCode;
use crate::envelope::NewEvent;
use crate::events::{
    ActivityCancelled, ActivityDelivered, ActivityScheduled, CaseClosed, CaseCountryAdded,
    CaseMilestoneRecorded, CaseOpened, CountryJoined, EventCorrected, EventRetracted, Fact,
    MeetingHeld, ParticipationChanged, PartnerRegistered, Payload,
};
use crate::stream::is_valid_slug;
use crate::unicode;
use crate::values::{ActivityKind, Date, MeetingKind, Milestone, Participants, Venue};

/// The longest title.
pub const MAX_TITLE: usize = 300;
/// The longest other short text (names, codenames, cities).
pub const MAX_NAME: usize = 300;
/// The longest reason.
pub const MAX_REASON: usize = 2000;
/// The longest `recorded_by`.
pub const MAX_RECORDED_BY: usize = 64;
/// The longest `source`.
pub const MAX_SOURCE: usize = 2048;
/// The most participants an event may report.
pub const MAX_PARTICIPANTS: u32 = 100_000;
/// The longest span of a meeting or activity, in days (first and last day included).
pub const MAX_SPAN_DAYS: i32 = 62;
/// The most entries in any list (there are 249 ISO 3166-1 countries).
pub const MAX_LIST: usize = 300;

/// The earliest date the ledger accepts.
#[must_use]
pub fn earliest_date() -> Date {
    jiff::civil::date(2000, 1, 1)
}

/// What kind of rule a [`Rule`] is, for the domain reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleKind {
    /// The event cannot be read: syntax, unknown or missing fields, wrong types, unknown codes.
    Structural,
    /// A rule of the payload alone (`crate::validate`).
    Intrinsic,
    /// A rule checked by the ledger against what it holds.
    Contextual,
    /// A size limit of a text or a batch.
    Limit,
}

impl RuleKind {
    /// The kind's lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Structural => "structural",
            RuleKind::Intrinsic => "intrinsic",
            RuleKind::Contextual => "contextual",
            RuleKind::Limit => "limit",
        }
    }
}

/// Declares [`Rule`] with its stable names, meanings (its variants' doc comments) and kinds, so
/// the domain reference and `coopledger schema` read them from one place.
macro_rules! rules {
    ($(#[$meta:meta])* pub enum $name:ident {
        $($(#[doc = $doc:literal])+ $variant:ident => $text:literal, $kind:ident;)+
    }) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[doc = $doc])+ $variant,)+
        }

        impl $name {
            /// Every rule, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable snake_case name.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// What breaking the rule means, in words (the variant's documentation).
            #[must_use]
            pub fn meaning(self) -> &'static str {
                match self {
                    $($name::$variant => concat!($($doc),+).trim(),)+
                }
            }

            /// Which kind of rule it is.
            #[must_use]
            pub fn kind(self) -> RuleKind {
                match self {
                    $($name::$variant => RuleKind::$kind,)+
                }
            }
        }
    };
}

rules! {
    /// A rule an event broke. The snake_case name is stable: scripts may match on it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    #[non_exhaustive]
    pub enum Rule {
        /// The text is not well-formed JSON.
        Syntax => "syntax", Structural;
        /// The JSON value is not an object.
        NotAnObject => "not_an_object", Structural;
        /// `type` is missing or names no event type.
        UnknownType => "unknown_type", Structural;
        /// A field the event type does not have (a typo is never dropped silently).
        UnknownField => "unknown_field", Structural;
        /// A required field is absent.
        MissingField => "missing_field", Structural;
        /// A field given twice in one object (the JSON would silently keep only one).
        DuplicateField => "duplicate_field", Structural;
        /// A field has the wrong JSON type or an unknown enum value.
        InvalidValue => "invalid_value", Structural;
        /// Not an ISO 3166-1 alpha-2 code.
        CountryCode => "country_code", Structural;
        /// Not an ISO 4217 code.
        CurrencyCode => "currency_code", Structural;
        /// Not a calendar date (e.g. `2019-02-30`).
        InvalidDate => "invalid_date", Structural;
        /// The replacement's fields do not identify a fact type.
        ReplacementType => "replacement_type", Structural;
        /// `start` is after `end`.
        StartAfterEnd => "start_after_end", Intrinsic;
        /// A meeting or activity spans more than 62 days.
        SpanTooLong => "span_too_long", Intrinsic;
        /// A date before 2000-01-01.
        DateTooEarly => "date_too_early", Intrinsic;
        /// Something that happened is dated after the day it is recorded.
        DateInFuture => "date_in_future", Intrinsic;
        /// A country appears twice in a list.
        DuplicateCountry => "duplicate_country", Intrinsic;
        /// A value appears twice in a list.
        DuplicateItem => "duplicate_item", Intrinsic;
        /// A country is both a beneficiary and another country.
        BeneficiaryAlsoOther => "beneficiary_also_other", Intrinsic;
        /// `participants.total` outside 1..=100000.
        ParticipantsTotal => "participants_total", Intrinsic;
        /// `women`/`men` larger than `total`, or together larger than `total`.
        ParticipantsBreakdown => "participants_breakdown", Intrinsic;
        /// An empty text: nothing but white space and invisible characters (see [`crate::unicode`]).
        EmptyText => "empty_text", Intrinsic;
        /// A text longer than its limit.
        TextTooLong => "text_too_long", Intrinsic;
        /// A text with a control character.
        ControlCharacter => "control_character", Intrinsic;
        /// Fewer countries than the kind of event needs.
        TooFewCountries => "too_few_countries", Intrinsic;
        /// A list longer than the limit.
        TooManyItems => "too_many_items", Intrinsic;
        /// The case's `lead` is not one of its `countries`.
        LeadNotInCase => "lead_not_in_case", Intrinsic;
        /// A quantity or amount that is not a positive finite number.
        NotPositive => "not_positive", Intrinsic;
        /// A count below 1.
        CountBelowOne => "count_below_one", Intrinsic;
        /// Not a partner slug.
        InvalidSlug => "invalid_slug", Intrinsic;
        /// A request from a country to itself.
        SameCountry => "same_country", Intrinsic;
        /// A retraction whose `duplicate_of` is the target itself.
        SelfReference => "self_reference", Intrinsic;
        /// The nil UUID used as an id (of an event, of the target of a correction or retraction, or of
        /// a meeting, activity or case).
        NilId => "nil_id", Intrinsic;
        /// Two events of one submission share an event id.
        DuplicateEventId => "duplicate_event_id", Intrinsic;
        /// An event's text is larger than the limit.
        TooLarge => "too_large", Limit;
        /// More events in one submission than one batch may hold.
        TooManyEvents => "too_many_events", Limit;
        // Contextual rules, checked by the ledger against what it holds.
        /// The stream already exists but this event must start it.
        StreamExists => "stream_exists", Contextual;
        /// The stream this event continues does not exist.
        StreamMissing => "stream_missing", Contextual;
        /// The stream is not at the expected version (a conflict).
        ExpectedVersion => "expected_version", Contextual;
        /// The event id is already recorded with other content (a conflict).
        EventIdReused => "event_id_reused", Contextual;
        /// The country is already an active participant.
        AlreadyParticipant => "already_participant", Contextual;
        /// The country has not joined the programme.
        NotParticipant => "not_participant", Contextual;
        /// The case is not open (never opened, retracted or closed).
        CaseNotOpen => "case_not_open", Contextual;
        /// A date before the case's `opened_on`.
        BeforeCaseOpened => "before_case_opened", Contextual;
        /// A country that is not in the case.
        CountryNotInCase => "country_not_in_case", Contextual;
        /// A country already in the case.
        CountryAlreadyInCase => "country_already_in_case", Contextual;
        /// The activity has no effective schedule to cancel.
        ActivityNotScheduled => "activity_not_scheduled", Contextual;
        /// The target event is not in the ledger.
        TargetMissing => "target_missing", Contextual;
        /// The target event is retracted.
        TargetRetracted => "target_retracted", Contextual;
        /// The target is a correction or retraction, not a fact.
        TargetNotFact => "target_not_fact", Contextual;
        /// The replacement's type or entity differs from the target's.
        ReplacementMismatch => "replacement_mismatch", Contextual;
        /// An imported event's recording time is earlier than the ledger's head.
        RecordedAtBeforeHead => "recorded_at_before_head", Contextual;
        /// An imported event did not reproduce its exported sequence or hash.
        ImportMismatch => "import_mismatch", Contextual;
        // Intrinsic rules added later: new variants go at the end only (see the crate doc).
        /// A text with a bidirectional control (U+061C, U+200E, U+200F, U+202A..=U+202E,
        /// U+2066..=U+2069), which can make it display differently from what it says.
        BidiControl => "bidi_control", Intrinsic;
        /// An identifier (`recorded_by`, `codename`) with an invisible format character (General
        /// Category Cf, e.g. U+200D ZERO WIDTH JOINER), which makes it look like another.
        FormatCharacter => "format_character", Intrinsic;
        /// A line with the ledger's recorded fields (`seq`, `recorded_at`, `hash`, …) imported
        /// without `--verify-hashes`: they are either reproduced and checked, or refused.
        ExportNotVerified => "export_not_verified", Contextual;
        /// A recording time in the future: the ledger's clock would follow it.
        RecordedInFuture => "recorded_in_future", Contextual;
    }
}

impl Rule {
    /// Whether breaking this rule is a conflict with concurrent writers (expected version, reused
    /// id) rather than invalid input.
    #[must_use]
    pub fn is_conflict(self) -> bool {
        matches!(self, Rule::ExpectedVersion | Rule::EventIdReused)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event sits in the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// 0-based index of the event in its file or request.
    pub index: usize,
    /// 1-based line where the event starts; 0 when the event did not come from text.
    pub line: usize,
}

/// One broken rule: which event, which field, which rule, which value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Where the event is in its input, when it came from text.
    pub position: Option<Position>,
    /// The event's id, when it has one.
    pub event_id: Option<Uuid>,
    /// Path of the offending field, e.g. `participants.women` or `beneficiaries[2]`
    /// (empty for the event as a whole).
    pub field: String,
    /// The rule broken.
    pub rule: Rule,
    /// The offending value, as text.
    pub value: String,
}

impl Violation {
    /// A violation without position or event id (the caller adds them).
    #[must_use]
    pub fn new(field: impl Into<String>, rule: Rule, value: impl fmt::Display) -> Self {
        Violation {
            position: None,
            event_id: None,
            field: field.into(),
            rule,
            value: value.to_string(),
        }
    }
}

impl fmt::Display for Violation {
    /// `line 3 (event 0190…): start: start_after_end (2019-10-30 > 2019-10-29)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.position {
            if p.line > 0 {
                write!(f, "line {}", p.line)?;
            } else {
                write!(f, "event #{}", p.index + 1)?;
            }
            if let Some(id) = self.event_id {
                write!(f, " (event {id})")?;
            }
            f.write_str(": ")?;
        } else if let Some(id) = self.event_id {
            write!(f, "event {id}: ")?;
        }
        let field = if self.field.is_empty() {
            "(event)"
        } else {
            &self.field
        };
        write!(f, "{field}: {} ({})", self.rule, self.value)
    }
}

/// Checks every intrinsic rule of `event`, as recorded on `today` (UTC), returning all
/// violations (empty when the event is valid). Positions are left for the caller to fill in.
#[must_use]
pub fn validate(event: &NewEvent, today: Date) -> Vec<Violation> {
    let mut v = Checker {
        out: Vec::new(),
        prefix: String::new(),
        today,
    };
    v.identifier("recorded_by", &event.recorded_by, MAX_RECORDED_BY);
    if let Some(source) = &event.source {
        v.text("source", source, MAX_SOURCE);
    }
    if event.event_id.is_some_and(|id| id.is_nil()) {
        v.push("event_id", Rule::NilId, Uuid::nil());
    }
    match &event.payload {
        Payload::Fact(fact) => v.fact(fact),
        Payload::Corrected(c) => v.corrected(c),
        Payload::Retracted(r) => v.retracted(r),
    }
    for violation in &mut v.out {
        violation.event_id = event.event_id;
    }
    v.out
}

struct Checker {
    out: Vec<Violation>,
    /// Prepended to field paths (`replacement.` inside a correction).
    prefix: String,
    today: Date,
}

impl Checker {
    fn push(&mut self, field: &str, rule: Rule, value: impl fmt::Display) {
        self.out.push(Violation::new(
            format!("{}{field}", self.prefix),
            rule,
            value,
        ));
    }

    fn text(&mut self, field: &str, text: &str, max: usize) {
        let chars = text.chars().count();
        // `"\u{200b}\u{200b}\u{200b}"` is as empty as `""`, and the quote shows why.
        if text.chars().all(unicode::is_invisible) {
            self.push(field, Rule::EmptyText, format_args!("{text:?}"));
        }
        if chars > max {
            self.push(
                field,
                Rule::TextTooLong,
                format_args!("{chars} characters, at most {max}"),
            );
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            self.push(field, Rule::ControlCharacter, c.escape_unicode());
        }
        if let Some(found) = unicode::find(text, unicode::is_bidi_control) {
            self.push(field, Rule::BidiControl, found);
        }
    }

    /// A text that identifies someone or something: also without invisible format characters
    /// (a bidirectional control is reported as such by [`Checker::text`]).
    fn identifier(&mut self, field: &str, text: &str, max: usize) {
        self.text(field, text, max);
        let hidden = |c| unicode::is_format(c) && !unicode::is_bidi_control(c);
        if let Some(found) = unicode::find(text, hidden) {
            self.push(field, Rule::FormatCharacter, found);
        }
    }

    /// An id must name something: the nil UUID is the "no id" of many tools, and as an entity id
    /// it would gather unrelated events into one stream (`activity/00000000-…`).
    fn id(&mut self, field: &str, id: Uuid) {
        if id.is_nil() {
            self.push(field, Rule::NilId, id);
        }
    }

    fn date(&mut self, field: &str, date: Date, happened: bool) {
        if date < earliest_date() {
            self.push(
                field,
                Rule::DateTooEarly,
                format_args!("{date} is before 2000-01-01"),
            );
        }
        let today = self.today;
        if happened && date > today {
            self.push(
                field,
                Rule::DateInFuture,
                format_args!("{date} is after the day of recording, {today}"),
            );
        }
    }

    fn span(&mut self, start: Date, end: Date, happened: bool) {
        self.date("start", start, happened);
        self.date("end", end, happened);
        if start > end {
            self.push(
                "start",
                Rule::StartAfterEnd,
                format_args!("{start} > end {end}"),
            );
        } else {
            // Both dates are valid and ordered, so the span is small and cannot overflow.
            let days = (end - start).get_days() + 1;
            if days > MAX_SPAN_DAYS {
                self.push(
                    "end",
                    Rule::SpanTooLong,
                    format_args!("{days} days from {start} to {end}, at most {MAX_SPAN_DAYS}"),
                );
            }
        }
    }

    /// Checks a country list for duplicates and length; returns its distinct members.
    fn countries(&mut self, field: &str, list: &[CountryCode]) -> BTreeSet<CountryCode> {
        let mut seen = BTreeSet::new();
        if list.len() > MAX_LIST {
            self.push(
                field,
                Rule::TooManyItems,
                format_args!("{} entries, at most {MAX_LIST}", list.len()),
            );
        }
        for (i, c) in list.iter().enumerate() {
            if !seen.insert(*c) {
                self.push(&format!("{field}[{i}]"), Rule::DuplicateCountry, c);
            }
        }
        seen
    }

    fn distinct<T: Ord + Copy + fmt::Display>(&mut self, field: &str, list: &[T]) {
        let mut seen = BTreeSet::new();
        for (i, item) in list.iter().enumerate() {
            if !seen.insert(*item) {
                self.push(&format!("{field}[{i}]"), Rule::DuplicateItem, item);
            }
        }
    }

    fn venue(&mut self, venue: &Venue) {
        if let Venue::Place { city, .. } = venue {
            self.text("venue.city", city, MAX_NAME);
        }
    }

    fn participants(&mut self, field: &str, p: &Participants) {
        if p.total == 0 || p.total > MAX_PARTICIPANTS {
            self.push(
                &format!("{field}.total"),
                Rule::ParticipantsTotal,
                format_args!("{} not in 1..={MAX_PARTICIPANTS}", p.total),
            );
        }
        for (name, part) in [("women", p.women), ("men", p.men)] {
            if let Some(n) = part.filter(|n| *n > p.total) {
                self.push(
                    &format!("{field}.{name}"),
                    Rule::ParticipantsBreakdown,
                    format_args!("{n} > total {}", p.total),
                );
            }
        }
        if let (Some(w), Some(m)) = (p.women, p.men)
            && u64::from(w) + u64::from(m) > u64::from(p.total)
        {
            self.push(
                field,
                Rule::ParticipantsBreakdown,
                format_args!("women {w} + men {m} > total {}", p.total),
            );
        }
    }

    fn at_least_two(&mut self, field: &str, kind: impl fmt::Display, countries: usize) {
        if countries < 2 {
            self.push(
                field,
                Rule::TooFewCountries,
                format_args!("{kind} involves {countries} distinct countries, at least 2"),
            );
        }
    }

    fn fact(&mut self, fact: &Fact) {
        match fact {
            Fact::PartnerRegistered(e) => self.partner(e),
            Fact::CountryJoined(e) => self.joined(e),
            Fact::ParticipationChanged(e) => self.changed(e),
            Fact::MeetingHeld(e) => self.meeting(e),
            Fact::ActivityScheduled(e) => self.scheduled(e),
            Fact::ActivityDelivered(e) => self.delivered(e),
            Fact::ActivityCancelled(e) => self.cancelled(e),
            Fact::CaseOpened(e) => self.case_opened(e),
            Fact::CaseCountryAdded(e) => self.case_country(e),
            Fact::CaseMilestoneRecorded(e) => self.milestone(e),
            Fact::CaseClosed(e) => self.closed(e),
        }
    }

    fn partner(&mut self, e: &PartnerRegistered) {
        if !is_valid_slug(&e.partner) {
            self.push(
                "partner",
                Rule::InvalidSlug,
                format_args!("{:?}", e.partner),
            );
        }
        self.text("name", &e.name, MAX_NAME);
        if e.roles.is_empty() {
            self.push("roles", Rule::TooManyItems, "no roles, at least 1");
        }
        self.distinct("roles", &e.roles);
        self.date("registered_on", e.registered_on, false);
    }

    fn joined(&mut self, e: &CountryJoined) {
        self.date("joined_on", e.joined_on, false);
    }

    fn changed(&mut self, e: &ParticipationChanged) {
        self.date("changed_on", e.changed_on, false);
        self.text("reason", &e.reason, MAX_REASON);
    }

    fn meeting(&mut self, e: &MeetingHeld) {
        self.id("meeting_id", e.meeting_id);
        self.text("title", &e.title, MAX_TITLE);
        self.span(e.start, e.end, true);
        self.venue(&e.venue);
        let distinct = self.countries("countries", &e.countries);
        if e.kind == MeetingKind::OperationalCoordination {
            self.at_least_two("countries", e.kind, distinct.len());
        }
        if let Some(p) = &e.participants {
            self.participants("participants", p);
        }
    }

    fn scheduled(&mut self, e: &ActivityScheduled) {
        self.id("activity_id", e.activity_id);
        self.text("title", &e.title, MAX_TITLE);
        self.span(e.start, e.end, false);
        self.venue(&e.venue);
        let distinct = self.countries("beneficiaries", &e.beneficiaries);
        if needs_two(e.kind) {
            self.at_least_two("beneficiaries", e.kind, distinct.len());
        }
    }

    fn delivered(&mut self, e: &ActivityDelivered) {
        self.id("activity_id", e.activity_id);
        self.text("title", &e.title, MAX_TITLE);
        self.span(e.start, e.end, true);
        self.venue(&e.venue);
        let beneficiaries = self.countries("beneficiaries", &e.beneficiaries);
        let others = self.countries("other_countries", &e.other_countries);
        for (i, c) in e.other_countries.iter().enumerate() {
            if beneficiaries.contains(c) {
                self.push(
                    &format!("other_countries[{i}]"),
                    Rule::BeneficiaryAlsoOther,
                    c,
                );
            }
        }
        if needs_two(e.kind) {
            let involved = beneficiaries.union(&others).count();
            self.at_least_two("beneficiaries", e.kind, involved);
        }
        self.participants("participants", &e.participants);
        self.distinct("institutions", &e.institutions);
    }

    fn cancelled(&mut self, e: &ActivityCancelled) {
        self.id("activity_id", e.activity_id);
        self.date("cancelled_on", e.cancelled_on, false);
        self.text("reason", &e.reason, MAX_REASON);
    }

    fn case_opened(&mut self, e: &CaseOpened) {
        self.id("case_id", e.case_id);
        self.identifier("codename", &e.codename, MAX_NAME);
        self.date("opened_on", e.opened_on, false);
        let distinct = self.countries("countries", &e.countries);
        self.at_least_two("countries", "a case", distinct.len());
        if !distinct.contains(&e.lead) {
            self.push("lead", Rule::LeadNotInCase, e.lead);
        }
    }

    fn case_country(&mut self, e: &CaseCountryAdded) {
        self.id("case_id", e.case_id);
        self.date("added_on", e.added_on, false);
    }

    fn milestone(&mut self, e: &CaseMilestoneRecorded) {
        self.id("case_id", e.case_id);
        self.date("on", e.on, true);
        match &e.milestone {
            Milestone::MlaRequestSent { from, to }
            | Milestone::ExtraditionRequested { from, to } => {
                if from == to {
                    self.push("milestone.to", Rule::SameCountry, to);
                }
            }
            Milestone::JitAgreementSigned { countries }
            | Milestone::ControlledDelivery { countries } => {
                let distinct = self.countries("milestone.countries", countries);
                if distinct.is_empty() {
                    self.push(
                        "milestone.countries",
                        Rule::TooFewCountries,
                        "no countries, at least 1",
                    );
                }
            }
            Milestone::Seizure { quantity_kg, .. } => {
                if !(quantity_kg.is_finite() && *quantity_kg > 0.0) {
                    self.push("milestone.quantity_kg", Rule::NotPositive, quantity_kg);
                }
            }
            Milestone::Arrests { count, .. }
            | Milestone::Indictment { count, .. }
            | Milestone::Conviction { count, .. } => {
                if *count < 1 {
                    self.push("milestone.count", Rule::CountBelowOne, count);
                }
            }
            Milestone::AssetsFrozen { amount, .. } => {
                if !(amount.is_finite() && *amount > 0.0) {
                    self.push("milestone.amount", Rule::NotPositive, amount);
                }
            }
            Milestone::MlaRequestExecuted { .. } => {}
        }
    }

    fn closed(&mut self, e: &CaseClosed) {
        self.id("case_id", e.case_id);
        self.date("closed_on", e.closed_on, true);
    }

    fn corrected(&mut self, c: &EventCorrected) {
        self.id("target", c.target);
        self.text("reason", &c.reason, MAX_REASON);
        let outer = std::mem::replace(&mut self.prefix, "replacement.".to_owned());
        self.fact(&c.replacement);
        self.prefix = outer;
    }

    fn retracted(&mut self, r: &EventRetracted) {
        self.id("target", r.target);
        if let Some(duplicate_of) = r.duplicate_of {
            self.id("duplicate_of", duplicate_of);
        }
        if r.duplicate_of == Some(r.target) {
            self.push("duplicate_of", Rule::SelfReference, r.target);
        }
    }
}

fn needs_two(kind: ActivityKind) -> bool {
    matches!(
        kind,
        ActivityKind::InvestigativeCaseForum | ActivityKind::WorkingGroup
    )
}
