//! The JSON documents of the API that are more than a view or an event serialised: the head,
//! a verification, a list of events, a meeting's, activity's or case's page and listing, a step
//! of a replay. One implementation of each, used by the HTTP handlers and
//! by the report (which embeds the documents the page would have fetched), so the two cannot
//! drift apart. The tables among them also have a CSV form ([`crate::table`]).

use std::collections::{BTreeMap, HashMap};

use proto_events::hash::to_hex;
use proto_events::regions::programme_region;
use proto_events::staff::{fact_to_object, recorded_to_object};
use proto_events::{CountryCode, Date, Fact, Payload, RecordedEvent, Stream};
use serde_json::{Value, json};

use crate::entity::{StreamFacts, apply_to_facts};
use crate::error::Error;
use crate::ledger::{MAX_PAGE, Reader, Resolved, VerifyReport};
use crate::replay::{self, Effect};
use crate::table;
use crate::views::entities;
use crate::views::timeline::{TimelineFolder, TimelineView};
use crate::views::{CountryView, InterRegionalView};

/// `GET /v1/head`: `{"seq", "hash", "recorded_at"}` (`recorded_at` null for an empty log).
#[must_use]
pub fn head(reader: &Reader) -> Value {
    let head = reader.head();
    json!({
        "seq": head.seq,
        "hash": to_hex(&head.hash),
        "recorded_at": (head.seq > 0).then(|| head.recorded_at.to_string()),
    })
}

/// The outcome of a verification (the chain, then the views against a fold of the log) as a
/// document: `{"ok": true, "events", "head_seq", "head_hash", "verified_at"}`, or `{"ok":
/// false, "reason", "verified_at"}` with `first_bad_sequence` when a record is damaged (the
/// second member of the pair is then `false`). `verified_at` is when it ran (RFC 3339).
///
/// # Errors
/// Failures other than a failed verification (storage errors).
pub fn verification(reader: &Reader) -> Result<(Value, bool), Error> {
    let verified_at = proto_events::Timestamp::now().to_string();
    let outcome = reader
        .verify(&mut |_, _| {})
        .and_then(|report| reader.verify_views().map(|()| report));
    verification_document(outcome, verified_at)
}

/// [`verification`] of a verification run by the caller (`outcome`: the chain's, then the
/// views'), started at `verified_at`.
///
/// # Errors
/// As [`verification`].
pub fn verification_document(
    outcome: Result<VerifyReport, Error>,
    verified_at: String,
) -> Result<(Value, bool), Error> {
    match outcome {
        Ok(report) => Ok((
            json!({
                "ok": true,
                "events": report.events,
                "head_seq": report.head_seq,
                "head_hash": to_hex(&report.head_hash),
                "verified_at": verified_at,
            }),
            true,
        )),
        Err(Error::Corrupt { seq, reason }) => Ok((
            json!({"ok": false, "first_bad_sequence": seq, "reason": reason, "verified_at": verified_at}),
            false,
        )),
        Err(e @ Error::ViewsDisagree(_)) => Ok((
            json!({"ok": false, "reason": e.to_string(), "verified_at": verified_at}),
            false,
        )),
        Err(e) => Err(e),
    }
}

/// A list of recorded events: each its `log --json` object.
#[must_use]
pub fn events(events: &[RecordedEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| Value::Object(recorded_to_object(e)))
            .collect(),
    )
}

fn rows(value: impl serde::Serialize) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("cannot serialise: {e}")))
}

/// The countries listing as CSV: one row per country view, its counterparts as one JSON cell.
///
/// # Errors
/// [`Error::Internal`] when serialising fails.
pub fn countries_csv(countries: &[CountryView]) -> Result<String, Error> {
    table::csv_of(&rows(countries)?, &["counterparts"])
}

/// One table of the inter-regional view as CSV: its region pairs, or its corridors.
///
/// # Errors
/// As [`countries_csv`].
pub fn regions_csv(view: &InterRegionalView, corridors: bool) -> Result<String, Error> {
    if corridors {
        table::csv_of(&rows(&view.corridors)?, &[])
    } else {
        table::csv_of(&rows(&view.pairs)?, &[])
    }
}

/// A country's counterparts as CSV: `country`, then what it shares with it.
///
/// # Errors
/// As [`countries_csv`].
pub fn counterparts_csv(view: &CountryView) -> Result<String, Error> {
    let list: Vec<Value> = view
        .counterparts
        .iter()
        .map(|(c, n)| json!({"country": c, "meetings": n.meetings, "activities": n.activities, "cases": n.cases}))
        .collect();
    table::csv(&list, &["country", "meetings", "activities", "cases"], &[])
}

/// The timeline as CSV: one row per period.
///
/// # Errors
/// As [`countries_csv`].
pub fn timeline_csv(view: &TimelineView) -> Result<String, Error> {
    table::csv_of(&rows(&view.periods)?, &[])
}

/// One step of a replay (`replay --json`, an entity's history): the record's `seq`, `event_id`,
/// `type`, `stream`, `recorded_at` and `hash`, and the `effect` it had on the views.
///
/// # Errors
/// [`Error::Internal`] when serialising fails.
pub fn replay_step(event: &RecordedEvent, effect: &Effect) -> Result<Value, Error> {
    Ok(json!({
        "seq": event.sequence,
        "event_id": event.envelope.event_id,
        "type": event.envelope.event_type.name(),
        "stream": event.envelope.stream.to_string(),
        "recorded_at": event.envelope.recorded_at.to_string(),
        "hash": to_hex(&event.hash),
        "effect": rows(effect)?,
    }))
}

/// The records of `stream` up to sequence `upto` (a stream holds at most a few hundred).
fn stream_records(
    reader: &Reader,
    stream: &Stream,
    upto: u64,
) -> Result<Vec<RecordedEvent>, Error> {
    let mut out = Vec::new();
    let mut version = 1;
    loop {
        let page = reader.read_stream(stream, version, MAX_PAGE)?;
        if page.is_empty() {
            break;
        }
        version += page.len() as u64;
        out.extend(page.into_iter().filter(|e| e.sequence <= upto));
    }
    Ok(out)
}

/// The effective facts of a stream from its records.
fn facts_of(records: &[RecordedEvent]) -> StreamFacts {
    let mut facts = StreamFacts::new();
    for e in records {
        apply_to_facts(&mut facts, e);
    }
    facts
}

fn entity_kind(stream: &Stream) -> Option<&'static str> {
    match stream {
        Stream::Meeting(_) => Some("meeting"),
        Stream::Activity(_) => Some("activity"),
        Stream::Case(_) => Some("case"),
        Stream::Country(_) | Stream::Partner(_) => None,
    }
}

/// The kind, title and end of the last effective fact that names them (a case's title is its
/// codename, its kind its case type).
fn naming(facts: &StreamFacts, on: Option<Date>) -> (Option<String>, Option<String>, Option<Date>) {
    let mut out = (None, None, None);
    for fact in facts
        .iter()
        .filter_map(|f| f.fact.as_ref())
        .filter(|f| on.is_none_or(|d| f.date() <= d))
    {
        out = match fact {
            Fact::MeetingHeld(m) => (Some(m.kind.to_string()), Some(m.title.clone()), Some(m.end)),
            Fact::ActivityScheduled(a) => {
                (Some(a.kind.to_string()), Some(a.title.clone()), Some(a.end))
            }
            Fact::ActivityDelivered(a) => {
                (Some(a.kind.to_string()), Some(a.title.clone()), Some(a.end))
            }
            Fact::CaseOpened(c) => (
                Some(c.case_type.to_string()),
                Some(c.codename.clone()),
                None,
            ),
            _ => out,
        };
    }
    out
}

fn spans_regions(countries: &[CountryCode]) -> bool {
    let mut regions: Vec<_> = countries.iter().map(|c| programme_region(*c)).collect();
    regions.sort_unstable();
    regions.dedup();
    regions.len() >= 2
}

/// One line of a listing: `stream`, `entity`, `id`, `kind`, `title`, `status`, `date` (its
/// start or opening), `end`, `countries`, `interregional`; `None` when nothing is effective.
fn entity_summary(stream: &Stream, facts: &StreamFacts, on: Option<Date>) -> Option<Value> {
    let entry = entities::entry(stream, facts, on)?;
    let (kind, title, end) = naming(facts, on);
    let id = match stream {
        Stream::Meeting(id) | Stream::Activity(id) | Stream::Case(id) => id.to_string(),
        Stream::Country(c) => c.to_string(),
        Stream::Partner(p) => p.clone(),
    };
    Some(json!({
        "stream": stream.to_string(),
        "entity": entity_kind(stream),
        "id": id,
        "kind": kind,
        "title": title,
        "status": entry.status.as_str(),
        "date": entry.date.to_string(),
        "end": end.map(|d| d.to_string()),
        "interregional": spans_regions(&entry.countries),
        "countries": entry.countries,
    }))
}

/// The most entities one listing page holds.
pub const MAX_ENTITIES_PAGE: usize = 100;

/// `GET /v1/entities?country=CC&offset=&limit=`: the meetings, activities and cases (involving
/// the country, when given) of `folder`, newest first, one page: `{"entities": [...], "total",
/// "offset", "limit", "as_of_sequence"}`.
///
/// # Errors
/// Storage errors; a record that fails its checks.
pub fn entity_list(
    reader: &Reader,
    folder: &TimelineFolder,
    country: Option<CountryCode>,
    offset: usize,
    limit: usize,
) -> Result<Value, Error> {
    let limit = limit.min(MAX_ENTITIES_PAGE);
    let (total, listed) = folder.entities().page(country, offset, limit);
    listing(reader, folder, total, &listed, offset, limit)
}

/// The first page of each of `countries`' listings ([`entity_list`] from offset 0), the
/// entities sorted in one pass.
///
/// # Errors
/// As [`entity_list`].
pub fn first_entity_lists(
    reader: &Reader,
    folder: &TimelineFolder,
    countries: &[CountryCode],
    limit: usize,
) -> Result<Vec<Value>, Error> {
    let limit = limit.min(MAX_ENTITIES_PAGE);
    let mut pages = folder.entities().first_pages(limit);
    countries
        .iter()
        .map(|c| {
            let (total, listed) = pages.remove(c).unwrap_or_default();
            listing(reader, folder, total, &listed, 0, limit)
        })
        .collect()
}

/// A listing document: the page `listed` of `total` entities, each summed up from its records
/// up to the folder's point.
fn listing(
    reader: &Reader,
    folder: &TimelineFolder,
    total: usize,
    listed: &[(&Stream, &entities::Entry)],
    offset: usize,
    limit: usize,
) -> Result<Value, Error> {
    let upto = folder.as_of();
    let on = folder.timeline().on;
    let mut page = Vec::new();
    for (stream, _) in listed {
        let facts = facts_of(&stream_records(reader, stream, upto)?);
        page.extend(entity_summary(stream, &facts, on));
    }
    Ok(json!({
        "entities": page,
        "total": total,
        "offset": offset,
        "limit": limit,
        "as_of_sequence": upto,
    }))
}

/// What each country is in an entity: a meeting's `participant`s, an activity's `beneficiary`
/// and `other` countries, a case's `member`s (`lead` too) and `added` ones.
fn roles(facts: &StreamFacts, on: Option<Date>) -> BTreeMap<CountryCode, Vec<&'static str>> {
    let mut roles: BTreeMap<CountryCode, Vec<&'static str>> = BTreeMap::new();
    let mut add = |c: CountryCode, role: &'static str| {
        let list = roles.entry(c).or_default();
        if !list.contains(&role) {
            list.push(role);
        }
    };
    let effective = facts
        .iter()
        .filter_map(|f| f.fact.as_ref())
        .filter(|f| on.is_none_or(|d| f.date() <= d));
    let mut latest: Vec<(CountryCode, &'static str)> = Vec::new();
    for fact in effective {
        match fact {
            Fact::MeetingHeld(m) => {
                latest = m.countries.iter().map(|c| (*c, "participant")).collect();
            }
            Fact::ActivityScheduled(a) => {
                latest = a
                    .beneficiaries
                    .iter()
                    .map(|c| (*c, "beneficiary"))
                    .collect();
            }
            Fact::ActivityDelivered(a) => {
                latest = a
                    .beneficiaries
                    .iter()
                    .map(|c| (*c, "beneficiary"))
                    .collect();
                latest.extend(a.other_countries.iter().map(|c| (*c, "other")));
            }
            Fact::CaseOpened(o) => {
                latest = o.countries.iter().map(|c| (*c, "member")).collect();
                latest.push((o.lead, "lead"));
            }
            Fact::CaseCountryAdded(x) => latest.push((x.country, "added")),
            _ => {}
        }
    }
    for (c, role) in latest {
        add(c, role);
    }
    roles
}

/// `GET /v1/entities/{stream}`: a meeting, activity or case as the ledger says at `point`: its
/// summary, its facts (each with its effective payload, or `null` once retracted, and the
/// records that corrected or retracted it), the countries involved with their roles, and its
/// history: every record of the stream with what it changed in the views (as `replay` shows).
/// `None` when the stream has no record up to the point.
///
/// # Errors
/// [`Error::BadArgument`] for a country or partner stream; storage errors; a record that fails
/// its checks.
pub fn entity(reader: &Reader, stream: &Stream, point: Resolved) -> Result<Option<Value>, Error> {
    let Some(kind) = entity_kind(stream) else {
        return Err(Error::BadArgument(format!(
            "{stream} is not a meeting, activity or case (see /v1/countries and /v1/streams)"
        )));
    };
    let records = stream_records(reader, stream, point.seq)?;
    if records.is_empty() {
        return Ok(None);
    }
    let mut facts = StreamFacts::new();
    let mut history = Vec::new();
    let mut amended: HashMap<uuid::Uuid, (Vec<u64>, Option<u64>)> = HashMap::new();
    for e in &records {
        let (effect, after) = replay::effect(e, &facts, point.on);
        history.push(json!({
            "record": Value::Object(recorded_to_object(e)),
            "effect": rows(&effect)?,
        }));
        match &e.payload {
            Payload::Corrected(c) => amended.entry(c.target).or_default().0.push(e.sequence),
            Payload::Retracted(r) => amended.entry(r.target).or_default().1 = Some(e.sequence),
            Payload::Fact(_) => {}
        }
        facts = after.unwrap_or_else(|| {
            let mut next = facts.clone();
            apply_to_facts(&mut next, e);
            next
        });
    }
    let type_of: HashMap<uuid::Uuid, &'static str> = records
        .iter()
        .map(|e| (e.envelope.event_id, e.envelope.event_type.name()))
        .collect();
    let fact_list: Vec<Value> = facts
        .iter()
        .map(|f| {
            let (corrected_by, retracted_by) =
                amended.get(&f.event_id).cloned().unwrap_or_default();
            json!({
                "seq": f.seq,
                "event_id": f.event_id,
                "type": type_of.get(&f.event_id).copied(),
                "effective": f.fact.as_ref().map(|x| Value::Object(fact_to_object(x))),
                "counts": f.fact.as_ref().is_some_and(|x| point.on.is_none_or(|d| x.date() <= d)),
                "corrected_by": corrected_by,
                "retracted_by": retracted_by,
            })
        })
        .collect();
    let countries: Vec<Value> = roles(&facts, point.on)
        .into_iter()
        .map(|(c, roles)| {
            json!({"country": c, "name": c.name(), "programme_region": programme_region(c), "roles": roles})
        })
        .collect();
    Ok(Some(json!({
        "stream": stream.to_string(),
        "entity": kind,
        "summary": entity_summary(stream, &facts, point.on),
        "facts": fact_list,
        "countries": countries,
        "history": history,
        "on": point.on.map(|d| d.to_string()),
        "as_of_sequence": point.seq,
    })))
}

/// A listing page (see [`entity_list`]) as CSV: one row per entity.
///
/// # Errors
/// As [`countries_csv`].
pub fn entity_list_csv(listing: &Value) -> Result<String, Error> {
    let rows = listing["entities"].as_array().cloned().unwrap_or_default();
    table::csv(&rows, &[], &[])
}
