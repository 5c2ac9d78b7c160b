//! Effective state of one stream (domain.md, "Effective state"), shared by the contextual rules
//! and the views.
//!
//! A stream's facts are kept in log order with their *effective* payload: a retracted fact holds
//! `None`, a corrected one holds the latest replacement. Folding that list gives the entity's
//! state; folding it with a date filter gives its state "as of a real-world date".

use std::collections::BTreeSet;

use proto_events::values::{ActivityKind, Participants, ParticipationStatus};
use proto_events::{CountryCode, Date, Fact, Stream};
use uuid::Uuid;

/// One fact of a stream, as it stands after corrections and retractions.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamFact {
    /// Sequence of the fact event.
    pub seq: u64,
    /// Its event id.
    pub event_id: Uuid,
    /// Its effective payload; `None` once retracted.
    pub fact: Option<Fact>,
}

/// The facts of one stream in log order.
pub type StreamFacts = Vec<StreamFact>;

/// What an entity contributes to the views.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Contribution {
    /// Nothing (no effective fact, or a kind of stream the views ignore).
    #[default]
    None,
    /// An effective meeting.
    Meeting {
        /// Involved countries, sorted and distinct.
        countries: Vec<CountryCode>,
    },
    /// An effective delivered activity.
    Activity {
        /// Involved countries (beneficiaries ∪ other countries), sorted and distinct.
        countries: Vec<CountryCode>,
        /// Beneficiaries, sorted and distinct.
        beneficiaries: Vec<CountryCode>,
        /// Its kind.
        kind: ActivityKind,
        /// Participants.
        participants: Participants,
    },
    /// An effective case.
    Case {
        /// Its countries plus every effective addition, sorted and distinct.
        countries: Vec<CountryCode>,
        /// Whether an effective closure exists.
        closed: bool,
    },
}

impl Contribution {
    /// The involved countries (empty for `None`).
    #[must_use]
    pub fn countries(&self) -> &[CountryCode] {
        match self {
            Contribution::None => &[],
            Contribution::Meeting { countries }
            | Contribution::Activity { countries, .. }
            | Contribution::Case { countries, .. } => countries,
        }
    }
}

/// A country's participation: status and the day it (last) joined.
pub type Participation = Option<(ParticipationStatus, Date)>;

/// The effective case state that the contextual rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseState {
    /// The day it was opened.
    pub opened_on: Date,
    /// Its countries, additions included.
    pub countries: BTreeSet<CountryCode>,
    /// Whether it is closed.
    pub closed: bool,
}

fn counts(fact: &Fact, on_or_before: Option<Date>) -> bool {
    on_or_before.is_none_or(|d| fact.date() <= d)
}

fn effective<'a>(
    facts: &'a [StreamFact],
    on_or_before: Option<Date>,
) -> impl Iterator<Item = &'a Fact> + 'a {
    facts
        .iter()
        .filter_map(|f| f.fact.as_ref())
        .filter(move |f| counts(f, on_or_before))
}

/// The participation of a country stream.
#[must_use]
pub fn participation(facts: &[StreamFact], on_or_before: Option<Date>) -> Participation {
    let mut state: Participation = None;
    for fact in effective(facts, on_or_before) {
        match fact {
            Fact::CountryJoined(j) => state = Some((j.participation.into(), j.joined_on)),
            Fact::ParticipationChanged(c) => {
                if let Some((status, _)) = &mut state {
                    *status = c.participation;
                }
            }
            _ => {}
        }
    }
    state
}

/// The state of a case stream; `None` while it has no effective `CaseOpened`.
#[must_use]
pub fn case_state(facts: &[StreamFact], on_or_before: Option<Date>) -> Option<CaseState> {
    let mut state: Option<CaseState> = None;
    for fact in effective(facts, on_or_before) {
        match (fact, &mut state) {
            (Fact::CaseOpened(o), _) => {
                state = Some(CaseState {
                    opened_on: o.opened_on,
                    countries: o.countries.iter().copied().collect(),
                    closed: false,
                });
            }
            (Fact::CaseCountryAdded(a), Some(s)) => {
                s.countries.insert(a.country);
            }
            (Fact::CaseClosed(_), Some(s)) => s.closed = true,
            _ => {}
        }
    }
    state
}

/// Whether an activity stream is scheduled and still pending: an effective schedule, and no
/// effective cancellation or delivery since.
#[must_use]
pub fn activity_scheduled(facts: &[StreamFact]) -> bool {
    let mut scheduled = false;
    for fact in effective(facts, None) {
        match fact {
            Fact::ActivityScheduled(_) => scheduled = true,
            Fact::ActivityCancelled(_) | Fact::ActivityDelivered(_) => scheduled = false,
            _ => {}
        }
    }
    scheduled
}

/// What the stream contributes to the views.
#[must_use]
pub fn contribution(
    stream: &Stream,
    facts: &[StreamFact],
    on_or_before: Option<Date>,
) -> Contribution {
    match stream {
        Stream::Meeting(_) | Stream::Activity(_) => effective(facts, on_or_before)
            .map(|f| fact_contribution(f, None))
            .filter(|c| *c != Contribution::None)
            .last()
            .unwrap_or_default(),
        Stream::Case(_) => {
            case_state(facts, on_or_before).map_or(Contribution::None, |s| Contribution::Case {
                countries: s.countries.into_iter().collect(),
                closed: s.closed,
            })
        }
        Stream::Country(_) | Stream::Partner(_) => Contribution::None,
    }
}

/// What a meeting or delivered activity contributes on its own (the common case of a fact that
/// starts its stream); `None` for other facts or when dated after `on_or_before`.
#[must_use]
pub fn fact_contribution(fact: &Fact, on_or_before: Option<Date>) -> Contribution {
    if !counts(fact, on_or_before) {
        return Contribution::None;
    }
    match fact {
        Fact::MeetingHeld(m) => Contribution::Meeting {
            countries: sorted(m.countries.iter().copied()),
        },
        Fact::ActivityDelivered(a) => Contribution::Activity {
            countries: sorted(a.beneficiaries.iter().chain(&a.other_countries).copied()),
            beneficiaries: sorted(a.beneficiaries.iter().copied()),
            kind: a.kind,
            participants: a.participants,
        },
        _ => Contribution::None,
    }
}

fn sorted(countries: impl Iterator<Item = CountryCode>) -> Vec<CountryCode> {
    let mut list: Vec<CountryCode> = countries.collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// The most country and case streams whose facts a cache keeps (the writer's catalogue, a
/// fold); a stream not cached is read from the log when needed, so memory stays bounded.
pub const MAX_CACHED_STREAMS: usize = 16_384;

/// Whether the views and rules need this stream's facts kept in memory (country and case
/// streams are few and are consulted by every related append; meetings and activities are many
/// and only re-read when corrected or retracted).
#[must_use]
pub fn is_cached(stream: &Stream) -> bool {
    matches!(stream, Stream::Country(_) | Stream::Case(_))
}

/// Applies a recorded event to the facts of its stream: a fact is appended, a correction replaces
/// its target's payload, a retraction empties it.
pub fn apply_to_facts(facts: &mut StreamFacts, event: &proto_events::RecordedEvent) {
    use proto_events::Payload;
    match &event.payload {
        Payload::Fact(f) => facts.push(StreamFact {
            seq: event.sequence,
            event_id: event.envelope.event_id,
            fact: Some(f.clone()),
        }),
        Payload::Corrected(c) => {
            if let Some(target) = facts.iter_mut().find(|f| f.event_id == c.target) {
                target.fact = Some(c.replacement.clone());
            }
        }
        Payload::Retracted(r) => {
            if let Some(target) = facts.iter_mut().find(|f| f.event_id == r.target) {
                target.fact = None;
            }
        }
    }
}
