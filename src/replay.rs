//! An auditor's replay: each recorded event with what it changed in the views — which counters
//! of which countries and region pairs moved, by how much, and what a correction or a retraction
//! undid.
//!
//! The change is the one the writer made when it recorded the event ([`decide`], from the
//! stream's effective facts before it); its counters are those [`ViewState::apply`] moves, read
//! off a zero state, so a replay reports exactly what maintenance and every fold apply. The walk
//! reads pages through [`Reader::read_forward`], which checks every record's hash and the links
//! between them as it goes.

use std::collections::{BTreeMap, HashMap};

use proto_events::values::{ActivityKind, Participants, ParticipationStatus};
use proto_events::{CountryCode, Date, ProgrammeRegion, RecordedEvent, Stream};
use serde::Serialize;

use crate::entity::{Contribution, StreamFacts, apply_to_facts, is_cached, participation};
use crate::error::Error;
use crate::ledger::{MAX_PAGE, Reader};
use crate::views::change::{Change, decide, needs_history};
use crate::views::index::{REGIONS, country_at};
use crate::views::state::{ACTIVITIES, CASES, MEETINGS, Tracker, ViewState};

/// An entity's contribution, as shown: what a change took away or added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContributionView {
    /// `meeting`, `activity` or `case`.
    pub entity: &'static str,
    /// The countries involved.
    pub countries: Vec<CountryCode>,
    /// An activity's kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActivityKind>,
    /// An activity's beneficiaries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beneficiaries: Option<Vec<CountryCode>>,
    /// An activity's participants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Participants>,
    /// Whether a case is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed: Option<bool>,
}

impl ContributionView {
    fn of(c: &Contribution) -> Option<Self> {
        let base = |entity, countries: &[CountryCode]| ContributionView {
            entity,
            countries: countries.to_vec(),
            kind: None,
            beneficiaries: None,
            participants: None,
            closed: None,
        };
        match c {
            Contribution::None => None,
            Contribution::Meeting { countries } => Some(base("meeting", countries)),
            Contribution::Activity {
                countries,
                beneficiaries,
                kind,
                participants,
            } => Some(ContributionView {
                kind: Some(*kind),
                beneficiaries: Some(beneficiaries.clone()),
                participants: Some(*participants),
                ..base("activity", countries)
            }),
            Contribution::Case { countries, closed } => Some(ContributionView {
                closed: Some(*closed),
                ..base("case", countries)
            }),
        }
    }
}

/// Meetings, activities and cases moved in one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    /// Meetings.
    pub meetings: i64,
    /// Activities.
    pub activities: i64,
    /// Cases.
    pub cases: i64,
}

impl Moved {
    fn of(cell: [i64; 3]) -> Option<Self> {
        (cell != [0; 3]).then_some(Moved {
            meetings: cell[MEETINGS],
            activities: cell[ACTIVITIES],
            cases: cell[CASES],
        })
    }
}

/// A participation before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipationMove {
    /// The status before (`null`: never joined).
    pub from: Option<ParticipationStatus>,
    /// The status after.
    pub to: Option<ParticipationStatus>,
    /// The day it (last) joined, after.
    pub joined_on: Option<Date>,
}

/// What moved in one country's row (only what moved is listed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountryMove {
    /// The country.
    pub country: CountryCode,
    /// Change in its meetings.
    #[serde(skip_serializing_if = "is_zero")]
    pub meetings: i64,
    /// Change in its activities.
    #[serde(skip_serializing_if = "is_zero")]
    pub activities: i64,
    /// Change per activity kind.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_kind: BTreeMap<String, i64>,
    /// Change in its participants.
    #[serde(skip_serializing_if = "is_zero")]
    pub participants_total: i64,
    /// Change in its women participants.
    #[serde(skip_serializing_if = "is_zero")]
    pub participants_women: i64,
    /// Change in its open cases.
    #[serde(skip_serializing_if = "is_zero")]
    pub cases_open: i64,
    /// Change in its closed cases.
    #[serde(skip_serializing_if = "is_zero")]
    pub cases_closed: i64,
    /// Its participation, when the event set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participation: Option<ParticipationMove>,
    /// Change in what it shares with each counterpart.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counterparts: BTreeMap<CountryCode, Moved>,
}

// serde's skip_serializing_if takes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// What moved in one region pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PairMove {
    /// The two regions, sorted by name.
    pub regions: [ProgrammeRegion; 2],
    /// What moved.
    #[serde(flatten)]
    pub moved: Moved,
}

/// What one event changed in the views.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// `none`, `participation` or `contribution`.
    pub change: &'static str,
    /// The contribution the event took away (a correction's or retraction's target, a case's
    /// state before a step).
    pub undid: Option<ContributionView>,
    /// The contribution it added.
    pub added: Option<ContributionView>,
    /// The countries whose counters moved.
    pub countries: Vec<CountryMove>,
    /// The region pairs whose counters moved.
    pub pairs: Vec<PairMove>,
    /// Change in the inter-regional meetings, activities and cases.
    pub interregional: i64,
    /// Change in those counted for the share.
    pub counted: i64,
}

/// What `event` changes in the views, given its stream's effective facts before it (facts dated
/// after `on` counting for nothing); with the stream's facts after it when they were computed.
#[must_use]
pub fn effect(
    event: &RecordedEvent,
    before: &StreamFacts,
    on: Option<Date>,
) -> (Effect, Option<StreamFacts>) {
    let (change, after) = decide(event, before, on);
    let mut state = ViewState::default();
    let mut tracker = Tracker::default();
    state.apply(&change, &mut tracker);
    let (kind, undid, added) = match &change {
        Change::None => ("none", None, None),
        Change::Participation { .. } => ("participation", None, None),
        Change::Contribution { before, after } => (
            "contribution",
            ContributionView::of(before),
            ContributionView::of(after),
        ),
    };
    let moved_participation = match &change {
        Change::Participation {
            country,
            participation: to,
        } => Some((
            *country,
            ParticipationMove {
                from: participation(before, on).map(|p| p.0),
                to: to.map(|p| p.0),
                joined_on: to.map(|p| p.1),
            },
        )),
        _ => None,
    };
    let mut countries: Vec<CountryMove> = tracker
        .touched
        .iter()
        .filter_map(|i| Some((country_at(i)?, state.rows.get(i)?)))
        .map(|(country, row)| CountryMove {
            country,
            meetings: row.meetings,
            activities: row.activities,
            by_kind: ActivityKind::ALL
                .iter()
                .map(|k| (k.as_str().to_owned(), row.by_kind[*k as usize]))
                .filter(|(_, n)| *n != 0)
                .collect(),
            participants_total: row.participants_total,
            participants_women: row.participants_women,
            cases_open: row.cases_open,
            cases_closed: row.cases_closed,
            participation: moved_participation
                .as_ref()
                .filter(|(c, _)| *c == country)
                .map(|(_, p)| p.clone()),
            counterparts: row
                .counterparts
                .iter()
                .enumerate()
                .filter_map(|(j, cell)| Some((country_at(j)?, Moved::of(*cell)?)))
                .collect(),
        })
        .filter(|m| {
            m.participation.is_some()
                || m.meetings != 0
                || m.activities != 0
                || m.participants_total != 0
                || m.participants_women != 0
                || m.cases_open != 0
                || m.cases_closed != 0
                || !m.counterparts.is_empty()
        })
        .collect();
    countries.sort_by_key(|m| m.country);
    let mut pairs = Vec::new();
    for i in 0..REGIONS {
        for j in i..REGIONS {
            if let Some(moved) = Moved::of(state.regions.pairs[i][j]) {
                pairs.push(PairMove {
                    regions: [ProgrammeRegion::ALL[i], ProgrammeRegion::ALL[j]],
                    moved,
                });
            }
        }
    }
    let effect = Effect {
        change: kind,
        undid,
        added,
        countries,
        pairs,
        interregional: state.regions.interregional,
        counted: state.regions.counted,
    };
    (effect, after)
}

/// The facts of the streams a walk has met, for the streams the views keep in memory (countries
/// and cases), and the log for the others (as the view folder does).
struct History<'a> {
    reader: &'a Reader,
    cached: HashMap<Stream, StreamFacts>,
}

impl History<'_> {
    fn before(&mut self, event: &RecordedEvent) -> Result<StreamFacts, Error> {
        let stream = &event.envelope.stream;
        if !needs_history(event) {
            return Ok(StreamFacts::new());
        }
        if is_cached(stream)
            && let Some(facts) = self.cached.get(stream)
        {
            return Ok(facts.clone());
        }
        self.reader.stream_facts_before(stream, event.sequence)
    }

    fn after(&mut self, event: &RecordedEvent, before: StreamFacts, after: Option<StreamFacts>) {
        let stream = &event.envelope.stream;
        if is_cached(stream) {
            let facts = after.unwrap_or_else(|| {
                let mut facts = before;
                apply_to_facts(&mut facts, event);
                facts
            });
            self.cached.insert(stream.clone(), facts);
        }
    }
}

/// Walks records `from..=to` (only `stream`'s, when given) and hands each, with its effect, to
/// `each`; returns how many were replayed.
///
/// # Errors
/// [`Error::BeyondHead`] when `to` is beyond the head; [`Error::BadArgument`] when `from > to`;
/// a record that fails its checks; `each`'s error.
pub fn replay(
    reader: &Reader,
    from: u64,
    to: Option<u64>,
    stream: Option<&Stream>,
    each: &mut dyn FnMut(&RecordedEvent, &Effect) -> Result<(), Error>,
) -> Result<u64, Error> {
    let head = reader.head().seq;
    let to = to.unwrap_or(head);
    if to > head {
        return Err(Error::BeyondHead {
            what: format!("a replay to sequence {to}"),
            head,
        });
    }
    let from = from.max(1);
    if from > to && to > 0 {
        return Err(Error::BadArgument(format!(
            "a replay from {from} to {to} (need from ≤ to)"
        )));
    }
    let mut history = History {
        reader,
        cached: HashMap::new(),
    };
    let mut done = 0u64;
    let mut one = |event: &RecordedEvent| -> Result<(), Error> {
        let before = history.before(event)?;
        let (effect, after) = effect(event, &before, None);
        history.after(event, before, after);
        done += 1;
        each(event, &effect)
    };
    match stream {
        Some(stream) => {
            let mut version = 1;
            loop {
                let page = reader.read_stream(stream, version, MAX_PAGE)?;
                if page.is_empty() {
                    break;
                }
                version += page.len() as u64;
                for event in page.iter().filter(|e| (from..=to).contains(&e.sequence)) {
                    one(event)?;
                }
            }
        }
        None => {
            let mut next = from;
            while next <= to {
                let limit = usize::try_from((to - next + 1).min(MAX_PAGE as u64)).unwrap_or(1);
                let page = reader.read_forward(next, limit)?;
                let Some(last) = page.last().map(|e| e.sequence) else {
                    break;
                };
                for event in &page {
                    one(event)?;
                }
                next = last + 1;
            }
        }
    }
    Ok(done)
}
