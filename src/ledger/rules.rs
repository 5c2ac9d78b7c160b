//! Contextual rules (domain.md, "Validation"): what an event may say given what the ledger
//! already holds. Checked by the writer inside the append, against committed and staged records.

use proto_events::{EventType, ExpectedVersion, Fact, Payload, Rule, Stream, Violation};

use super::staging::Staging;
use crate::entity::{StreamFacts, activity_scheduled, case_state, participation};
use crate::error::Error;

/// Resolves the stream an event goes to: its entity's, or for a retraction its target's.
///
/// # Errors
/// [`Error::Invalid`] when a retraction's target is missing; storage errors.
pub fn resolve_stream(
    staging: &mut Staging,
    payload: &Payload,
) -> Result<Result<Stream, Violation>, Error> {
    if let Some(stream) = payload.stream() {
        return Ok(Ok(stream));
    }
    let Payload::Retracted(r) = payload else {
        return Ok(Err(Violation::new("", Rule::StreamMissing, "no stream")));
    };
    match staging.seq_of(&r.target)? {
        Some(seq) => Ok(Ok(staging.record(seq)?.envelope.stream)),
        None => Ok(Err(Violation::new("target", Rule::TargetMissing, r.target))),
    }
}

/// Checks the expected version of the stream.
#[must_use]
pub fn check_version(expected: ExpectedVersion, current: u64) -> Option<Violation> {
    let ok = match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::New => current == 0,
        ExpectedVersion::Exact(v) => current == v,
    };
    (!ok).then(|| {
        Violation::new(
            "expected_version",
            Rule::ExpectedVersion,
            format_args!("expected {expected}, stream is at version {current}"),
        )
    })
}

/// Checks every contextual rule of `payload` going to `stream` at version `current`, whose
/// effective facts so far are `facts`.
///
/// # Errors
/// Storage errors while reading a target.
pub fn check(
    staging: &mut Staging,
    payload: &Payload,
    stream: &Stream,
    current: u64,
    facts: &StreamFacts,
) -> Result<Vec<Violation>, Error> {
    let mut out = Vec::new();
    match payload {
        Payload::Fact(fact) => check_fact(fact, current, facts, &mut out),
        Payload::Corrected(c) => {
            if let Some(target_type) = check_target(staging, &c.target, &mut out)? {
                let replacement_type = c.replacement.event_type();
                let target_stream = match staging.seq_of(&c.target)? {
                    Some(seq) => Some(staging.record(seq)?.envelope.stream),
                    None => None,
                };
                if replacement_type != target_type {
                    out.push(Violation::new(
                        "replacement",
                        Rule::ReplacementMismatch,
                        format_args!("replacement is {replacement_type}, target is {target_type}"),
                    ));
                } else if target_stream.as_ref() != Some(stream) {
                    out.push(Violation::new(
                        "replacement",
                        Rule::ReplacementMismatch,
                        format_args!(
                            "replacement is about {stream}, target about {}",
                            target_stream.map_or_else(String::new, |s| s.to_string())
                        ),
                    ));
                }
            }
        }
        Payload::Retracted(r) => {
            check_target(staging, &r.target, &mut out)?;
        }
    }
    Ok(out)
}

/// Checks that a correction's or retraction's target exists, is a fact and is not retracted;
/// returns its type when it exists.
fn check_target(
    staging: &mut Staging,
    target: &uuid::Uuid,
    out: &mut Vec<Violation>,
) -> Result<Option<EventType>, Error> {
    let Some(seq) = staging.seq_of(target)? else {
        out.push(Violation::new("target", Rule::TargetMissing, target));
        return Ok(None);
    };
    let meta = staging.target(seq)?;
    if !meta.event_type.is_fact() {
        out.push(Violation::new(
            "target",
            Rule::TargetNotFact,
            format_args!("{target} is an {}", meta.event_type),
        ));
    } else if meta.retracted {
        out.push(Violation::new("target", Rule::TargetRetracted, target));
    }
    Ok(Some(meta.event_type))
}

fn check_fact(fact: &Fact, current: u64, facts: &StreamFacts, out: &mut Vec<Violation>) {
    // A delivery may follow its own schedule on the activity's stream; otherwise a fact that
    // starts a stream needs a new one.
    let delivers_schedule = matches!(fact, Fact::ActivityDelivered(_)) && activity_scheduled(facts);
    if fact.starts_stream() && current > 0 && !delivers_schedule {
        out.push(Violation::new(
            "",
            Rule::StreamExists,
            format_args!("{} already exists at version {current}", fact.stream()),
        ));
        return;
    }
    match fact {
        Fact::CountryJoined(j) => {
            if let Some((status, _)) = participation(facts, None).filter(|p| p.0.is_active()) {
                out.push(Violation::new(
                    "country",
                    Rule::AlreadyParticipant,
                    format_args!("{} is already a participant ({status})", j.country),
                ));
            }
        }
        Fact::ParticipationChanged(c) if participation(facts, None).is_none() => {
            out.push(Violation::new("country", Rule::NotParticipant, c.country));
        }
        Fact::ActivityCancelled(a) => {
            if current == 0 {
                out.push(Violation::new(
                    "activity_id",
                    Rule::StreamMissing,
                    a.activity_id,
                ));
            } else if !activity_scheduled(facts) {
                out.push(Violation::new(
                    "activity_id",
                    Rule::ActivityNotScheduled,
                    a.activity_id,
                ));
            }
        }
        Fact::CaseCountryAdded(_) | Fact::CaseMilestoneRecorded(_) | Fact::CaseClosed(_) => {
            check_case(fact, facts, out);
        }
        _ => {}
    }
}

fn check_case(fact: &Fact, facts: &StreamFacts, out: &mut Vec<Violation>) {
    let Some(case) = case_state(facts, None).filter(|c| !c.closed) else {
        let why = if case_state(facts, None).is_some() {
            "closed"
        } else {
            "not open"
        };
        out.push(Violation::new(
            "case_id",
            Rule::CaseNotOpen,
            format_args!("{} is {why}", fact.stream()),
        ));
        return;
    };
    let (field, date) = match fact {
        Fact::CaseCountryAdded(a) => ("added_on", a.added_on),
        Fact::CaseMilestoneRecorded(m) => ("on", m.on),
        Fact::CaseClosed(c) => ("closed_on", c.closed_on),
        _ => return,
    };
    if date < case.opened_on {
        out.push(Violation::new(
            field,
            Rule::BeforeCaseOpened,
            format_args!("{date} is before the case was opened, {}", case.opened_on),
        ));
    }
    match fact {
        Fact::CaseCountryAdded(a) if case.countries.contains(&a.country) => {
            out.push(Violation::new(
                "country",
                Rule::CountryAlreadyInCase,
                a.country,
            ));
        }
        Fact::CaseMilestoneRecorded(m) => {
            for c in m.milestone.countries() {
                if !case.countries.contains(&c) {
                    out.push(Violation::new("milestone", Rule::CountryNotInCase, c));
                }
            }
        }
        _ => {}
    }
}
