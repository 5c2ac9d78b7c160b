//! The programme as an IATI 2.03 activity file (`coopledger export --format iati`): one parent
//! programme activity (`hierarchy="1"`) and one child activity (`hierarchy="2"`) per effective
//! scheduled, delivered or cancelled activity, with the partners as participating
//! organisations. The mapping is documented in `docs/iati.md`; every code comes from the IATI
//! codelists shipped in [`codelists`].
//!
//! Cases are never exported one by one: their codenames and open investigations are sensitive,
//! and IATI data is public. The programme carries only yearly counts of cases opened and closed.
//! Meetings are not IATI activities and are left out.
//!
//! The facts are read in one walk of the log up to the requested point (every record's hash
//! checked), and taken as they stand there: corrections applied, retractions removed, facts
//! dated after `on` left out.

pub mod codelists;
mod xml;

use std::collections::{BTreeMap, HashMap};

use proto_events::values::{ActivityKind, Institution, Participants, PartnerRole, Pillar, Venue};
use proto_events::{CountryCode, Date, Fact, RecordedEvent, Stream, Timestamp};
use uuid::Uuid;

use crate::entity::{StreamFacts, apply_to_facts, case_state};
use crate::error::Error;
use crate::ledger::{MAX_PAGE, Reader, Resolved};

/// What the file says about its publisher.
#[derive(Debug, Clone)]
pub struct Options {
    /// The reporting organisation's identifier (the prefix of every activity identifier).
    pub org_ref: String,
    /// The reporting organisation's type (OrganisationType codelist).
    pub org_type: String,
    /// The programme's title; by default one naming the accountable partner.
    pub title: Option<String>,
    /// When the file is generated.
    pub generated_at: Timestamp,
}

/// A partner as it stands.
#[derive(Debug, Clone)]
struct Partner {
    name: String,
    roles: Vec<PartnerRole>,
    since: Date,
}

/// Where an exported activity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Scheduled,
    Delivered,
    Cancelled,
}

/// An activity as it stands.
#[derive(Debug, Clone)]
struct Activity {
    id: Uuid,
    stage: Stage,
    kind: ActivityKind,
    title: String,
    pillar: Option<Pillar>,
    planned: Option<(Date, Date)>,
    actual: Option<(Date, Date)>,
    cancelled_on: Option<Date>,
    venue: Venue,
    beneficiaries: Vec<CountryCode>,
    other_countries: Vec<CountryCode>,
    participants: Option<Participants>,
    institutions: Vec<Institution>,
    last_recorded: Timestamp,
}

/// Everything the file holds.
#[derive(Debug, Clone)]
struct Programme {
    partners: Vec<Partner>,
    activities: Vec<Activity>,
    /// Per year: cases opened, cases closed.
    cases: BTreeMap<i16, (u64, u64)>,
    last_recorded: Option<Timestamp>,
}

fn effective(facts: &StreamFacts, on: Option<Date>) -> impl Iterator<Item = &Fact> {
    facts
        .iter()
        .filter_map(|f| f.fact.as_ref())
        .filter(move |f| on.is_none_or(|d| f.date() <= d))
}

fn activity(id: Uuid, facts: &StreamFacts, on: Option<Date>, last: Timestamp) -> Option<Activity> {
    let mut out: Option<Activity> = None;
    for fact in effective(facts, on) {
        match fact {
            Fact::ActivityScheduled(a) => {
                out = Some(Activity {
                    id,
                    stage: Stage::Scheduled,
                    kind: a.kind,
                    title: a.title.clone(),
                    pillar: None,
                    planned: Some((a.start, a.end)),
                    actual: None,
                    cancelled_on: None,
                    venue: a.venue.clone(),
                    beneficiaries: a.beneficiaries.clone(),
                    other_countries: Vec::new(),
                    participants: None,
                    institutions: Vec::new(),
                    last_recorded: last,
                });
            }
            Fact::ActivityDelivered(a) => {
                let planned = out.as_ref().and_then(|o| o.planned);
                out = Some(Activity {
                    id,
                    stage: Stage::Delivered,
                    kind: a.kind,
                    title: a.title.clone(),
                    pillar: Some(a.pillar),
                    planned,
                    actual: Some((a.start, a.end)),
                    cancelled_on: None,
                    venue: a.venue.clone(),
                    beneficiaries: a.beneficiaries.clone(),
                    other_countries: a.other_countries.clone(),
                    participants: Some(a.participants),
                    institutions: a.institutions.clone(),
                    last_recorded: last,
                });
            }
            Fact::ActivityCancelled(c) => {
                if let Some(o) = &mut out {
                    o.stage = Stage::Cancelled;
                    o.cancelled_on = Some(c.cancelled_on);
                }
            }
            _ => {}
        }
    }
    out
}

/// Reads the programme from records `1..=point.seq`.
fn collect(reader: &Reader, point: Resolved) -> Result<Programme, Error> {
    let mut partners: BTreeMap<String, StreamFacts> = BTreeMap::new();
    let mut activities: Vec<Uuid> = Vec::new();
    let mut streams: HashMap<Stream, (StreamFacts, Timestamp)> = HashMap::new();
    let mut next = 1u64;
    let mut last_recorded = None;
    while next <= point.seq {
        let limit = usize::try_from((point.seq - next + 1).min(MAX_PAGE as u64)).unwrap_or(1);
        let page = reader.read_forward(next, limit)?;
        let Some(last) = page.last().map(|e| e.sequence) else {
            break;
        };
        for event in &page {
            last_recorded = Some(event.envelope.recorded_at);
            take(event, &mut partners, &mut activities, &mut streams);
        }
        next = last + 1;
    }
    let on = point.on;
    let partners = partners
        .values()
        .filter_map(|facts| {
            effective(facts, on).last().and_then(|f| match f {
                Fact::PartnerRegistered(p) => Some(Partner {
                    name: p.name.clone(),
                    roles: p.roles.clone(),
                    since: p.registered_on,
                }),
                _ => None,
            })
        })
        .collect();
    let activities = activities
        .iter()
        .filter_map(|id| {
            let (facts, last) = streams.get(&Stream::Activity(*id))?;
            activity(*id, facts, on, *last)
        })
        .collect();
    let mut cases: BTreeMap<i16, (u64, u64)> = BTreeMap::new();
    for (stream, (facts, _)) in &streams {
        if !matches!(stream, Stream::Case(_)) {
            continue;
        }
        let Some(state) = case_state(facts, on) else {
            continue;
        };
        cases.entry(state.opened_on.year()).or_default().0 += 1;
        let closed = effective(facts, on).find_map(|f| match f {
            Fact::CaseClosed(c) => Some(c.closed_on),
            _ => None,
        });
        if let (true, Some(day)) = (state.closed, closed) {
            cases.entry(day.year()).or_default().1 += 1;
        }
    }
    Ok(Programme {
        partners,
        activities,
        cases,
        last_recorded,
    })
}

/// Adds one record to the facts of its stream (partners, activities and cases only).
fn take(
    event: &RecordedEvent,
    partners: &mut BTreeMap<String, StreamFacts>,
    activities: &mut Vec<Uuid>,
    streams: &mut HashMap<Stream, (StreamFacts, Timestamp)>,
) {
    let stream = &event.envelope.stream;
    match stream {
        Stream::Partner(slug) => {
            apply_to_facts(partners.entry(slug.clone()).or_default(), event);
        }
        Stream::Activity(_) | Stream::Case(_) => {
            if let Stream::Activity(id) = stream
                && !streams.contains_key(stream)
            {
                activities.push(*id);
            }
            let entry = streams
                .entry(stream.clone())
                .or_insert_with(|| (StreamFacts::new(), event.envelope.recorded_at));
            apply_to_facts(&mut entry.0, event);
            entry.1 = event.envelope.recorded_at;
        }
        Stream::Country(_) | Stream::Meeting(_) => {}
    }
}

/// The IATI activity file of the programme at `point`.
///
/// # Errors
/// [`Error::BadArgument`] for an organisation type that is not in the OrganisationType
/// codelist, an empty organisation identifier or title, or one with control characters; storage
/// errors; a record that fails its checks.
pub fn export(reader: &Reader, point: Resolved, options: &Options) -> Result<String, Error> {
    if !codelists::list("OrganisationType").contains_key(&options.org_type) {
        let known: Vec<String> = codelists::list("OrganisationType")
            .into_iter()
            .map(|(code, name)| format!("{code} {name}"))
            .collect();
        return Err(Error::BadArgument(format!(
            "organisation type {:?} is not in the IATI OrganisationType codelist ({})",
            options.org_type,
            known.join(", ")
        )));
    }
    let org_ref = options.org_ref.trim();
    if org_ref.is_empty() || org_ref.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::BadArgument(format!(
            "organisation identifier {:?} must be non-empty and hold no spaces",
            options.org_ref
        )));
    }
    if let Some(title) = &options.title
        && (title.trim().is_empty() || title.chars().any(char::is_control))
    {
        return Err(Error::BadArgument(format!(
            "title {title:?} must be non-empty and hold no control character"
        )));
    }
    let programme = collect(reader, point)?;
    xml::write(&programme, options, point)
        .map_err(|e| Error::Internal(format!("writing the IATI file: {e}")))
}
