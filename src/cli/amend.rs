//! `coopledger amend ENTITY --set FIELD=VALUE … --reason TEXT`: finds the entity's current
//! effective fact, changes the fields given, and appends the correction (an `EventCorrected`
//! with the full replacement; the log stays append-only).

use std::io::Write;

use coopledger::Reader;
use coopledger::entity::{StreamFacts, apply_to_facts};
use coopledger::ledger::MAX_PAGE;
use proto_events::sheet::amend::changed;
use proto_events::staff::{Mode, fact_to_object, parse_event};
use proto_events::values::today_utc;
use proto_events::{EventType, Fact, Payload, Stream, Violation};
use serde_json::{Value, json};
use uuid::Uuid;

use super::exit::{CliError, Code, Problem};
use super::{Cli, open_for_writing};

/// What `amend` was asked for.
pub struct Options<'a> {
    pub entity: &'a str,
    pub set: &'a [String],
    pub reason: &'a str,
    pub recorded_by: Option<&'a str>,
}

/// The fact an amendment corrects.
struct Target {
    event_id: Uuid,
    fact: Fact,
}

/// Corrects the entity's fact and prints the receipt.
pub fn run(cli: &Cli, options: &Options<'_>, out: &mut impl Write) -> Result<(), CliError> {
    let changes = options
        .set
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
                .ok_or_else(|| {
                    CliError::invalid(format!(
                        "error: --set {s:?}: expected FIELD=VALUE, e.g. participants.total=26"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let recorded_by = options.recorded_by.ok_or_else(|| {
        CliError::invalid(
            "error: who records the correction? give --recorded-by NAME or COOPLEDGER_RECORDED_BY",
        )
    })?;
    let mut writable = open_for_writing(cli)?;
    let target = find(&writable.ledger.reader(), options.entity)?;
    let replacement = changed(&target.fact, &changes).map_err(|v| set_error(&v))?;
    if Value::Object(replacement.clone()) == Value::Object(fact_to_object(&target.fact)) {
        return Err(CliError::invalid(format!(
            "error: nothing changes: the fact {} already has these values",
            target.event_id
        )));
    }
    let object = json!({
        "type": EventType::EventCorrected.name(),
        "recorded_by": recorded_by,
        "target": target.event_id,
        "replacement": replacement,
        "reason": options.reason,
    });
    let (event, _) =
        parse_event(&object.to_string(), Mode::Staff, today_utc()).map_err(|v| set_error(&v))?;
    let receipts = writable.ledger.append(vec![event]).map_err(|e| match e {
        coopledger::Error::Invalid(v) | coopledger::Error::Conflict(v) => set_error(&v),
        other => CliError::from(other),
    })?;
    for receipt in receipts {
        if cli.json {
            let line =
                serde_json::to_string(&receipt).map_err(|e| CliError::invalid(e.to_string()))?;
            writeln!(out, "{line}")?;
        } else {
            let fields: Vec<&str> = changes.iter().map(|(k, _)| k.as_str()).collect();
            writeln!(
                out,
                "corrected {} ({}): {}; recorded as event {} at sequence {}",
                target.event_id,
                target.fact.event_type(),
                fields.join(", "),
                receipt.event_id,
                receipt.seq
            )?;
        }
    }
    Ok(())
}

/// The problems of a correction, named by the `--set` field they come from.
fn set_error(violations: &[Violation]) -> CliError {
    let problems: Vec<Problem> = violations
        .iter()
        .map(|v| {
            let mut p = Problem::of(None, 0, v);
            if let Some(field) = v.field.strip_prefix("replacement.") {
                p.field = format!("--set {field}");
            }
            p
        })
        .collect();
    let code = if violations.iter().all(|v| v.rule.is_conflict()) {
        Code::Conflict
    } else {
        Code::Invalid
    };
    CliError::problems(code, problems, &[])
}

/// The effective facts of a stream (corrections and retractions applied).
fn facts(reader: &Reader, stream: &Stream) -> Result<StreamFacts, CliError> {
    let mut facts = StreamFacts::new();
    let mut from = 1;
    loop {
        let page = reader.read_stream(stream, from, MAX_PAGE)?;
        if page.is_empty() {
            return Ok(facts);
        }
        from += page.len() as u64;
        for event in &page {
            apply_to_facts(&mut facts, event);
        }
    }
}

/// The fact `entity` names: an event id (of a fact, or of a correction: its target), an
/// entity id (meeting, activity, case) or a stream (`country/GH`, `partner/interpol`).
fn find(reader: &Reader, entity: &str) -> Result<Target, CliError> {
    if let Ok(id) = entity.parse::<Uuid>() {
        if let Some(event) = reader.get(&id)? {
            let fact_id = match &event.payload {
                Payload::Fact(_) => id,
                Payload::Corrected(c) => c.target,
                Payload::Retracted(_) => {
                    return Err(CliError::invalid(format!(
                        "error: {id} is a retraction; a retraction is not corrected"
                    )));
                }
            };
            let facts = facts(reader, &event.envelope.stream)?;
            let fact = facts.into_iter().find(|f| f.event_id == fact_id);
            return match fact.and_then(|f| f.fact) {
                Some(fact) => Ok(Target {
                    event_id: fact_id,
                    fact,
                }),
                None => Err(CliError::invalid(format!(
                    "error: the fact {fact_id} is retracted; record it anew instead"
                ))),
            };
        }
        for stream in [Stream::Meeting(id), Stream::Activity(id), Stream::Case(id)] {
            if let Some(target) = defining_fact(reader, &stream)? {
                return Ok(target);
            }
        }
        return Err(CliError::not_found(format!(
            "error: no event, meeting, activity or case {id} in the ledger"
        )));
    }
    let stream: Stream = entity.parse().map_err(|e| {
        CliError::invalid(format!(
            "error: {entity:?} is neither an id nor a stream ({e})"
        ))
    })?;
    defining_fact(reader, &stream)?.ok_or_else(|| {
        CliError::not_found(format!("error: {stream} has no effective fact to correct"))
    })
}

/// The fact that says what an entity is: a meeting's `MeetingHeld`, an activity's delivery
/// (or else its schedule), a case's `CaseOpened`, a country's latest `CountryJoined`, a
/// partner's registration. Other facts are corrected by their event id.
fn defining_fact(reader: &Reader, stream: &Stream) -> Result<Option<Target>, CliError> {
    let preferred: &[EventType] = match stream {
        Stream::Meeting(_) => &[EventType::MeetingHeld],
        Stream::Activity(_) => &[EventType::ActivityDelivered, EventType::ActivityScheduled],
        Stream::Case(_) => &[EventType::CaseOpened],
        Stream::Country(_) => &[EventType::CountryJoined],
        Stream::Partner(_) => &[EventType::PartnerRegistered],
    };
    let facts = facts(reader, stream)?;
    for wanted in preferred {
        let found = facts.iter().rev().find_map(|f| {
            f.fact
                .as_ref()
                .filter(|fact| fact.event_type() == *wanted)
                .map(|fact| Target {
                    event_id: f.event_id,
                    fact: fact.clone(),
                })
        });
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}
