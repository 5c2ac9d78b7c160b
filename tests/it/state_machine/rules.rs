//! The reference model's rules, written from domain.md, "Validation" and the README's "Rules
//! the domain reference leaves open" (not from the ledger's code): what the ledger must answer
//! to one event, given the records it already holds.
//!
//! Everything is recomputed from the whole log for each event: the stream's version by counting
//! its records, an id's record by searching, the effective state by `effective`.

use std::cell::OnceCell;
use std::collections::BTreeSet;

use coopledger::proto_events::values::{MeetingKind, Participants};
use coopledger::proto_events::{
    CountryCode, Date, EventCorrected, ExpectedVersion, Fact, NewEvent, Payload, Rule, Stream,
};

use super::domain::{milestone_countries, needs_two, stream_of, type_name};
use super::effective::{Snapshot, effective};
use super::model::RefRec;

/// The answer to one event.
#[derive(Debug)]
pub(super) enum Verdict {
    /// The same id and content as the record at this index of the log: its receipt again.
    Resent(usize),
    /// A new record on `stream`, which it brings to `version`.
    Recorded { stream: Stream, version: u64 },
    /// Refused, with every rule it breaks.
    Refused(BTreeSet<Rule>),
}

/// README, exit code 3: "conflict (expected version, an event id reused with other content)";
/// every other rule makes the input invalid.
pub(super) fn is_conflict(rule: Rule) -> bool {
    rule == Rule::ExpectedVersion || rule == Rule::EventIdReused
}

/// "re-sending the same id and content returns the original receipt" (domain.md, envelope
/// fields): the content is everything the event carries into its record — not its id, and not
/// `expected_version`, a condition on the append rather than part of what is recorded.
pub(super) fn same_content(a: &NewEvent, b: &NewEvent) -> bool {
    let NewEvent {
        event_id: _,
        recorded_by,
        source,
        expected_version: _,
        correlation_id,
        causation_id,
        payload,
    } = a;
    *recorded_by == b.recorded_by
        && *source == b.source
        && *correlation_id == b.correlation_id
        && *causation_id == b.causation_id
        && *payload == b.payload
}

/// The fact an event states: its own, or the replacement it proposes.
pub(super) fn fact_of(payload: &Payload) -> Option<&Fact> {
    match payload {
        Payload::Fact(f) => Some(f),
        Payload::Corrected(c) => Some(&c.replacement),
        Payload::Retracted(_) => None,
    }
}

/// "the day of recording": today in UTC, counted in whole days since 1970-01-01.
fn today() -> Date {
    let days = jiff::Timestamp::now().as_second().div_euclid(86_400);
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(days))
        .expect("today is a date")
}

/// "`participants.total` in 1..=100000, `women` and `men` ≤ total and `women + men ≤ total`".
fn participants_rules(p: &Participants, broken: &mut BTreeSet<Rule>) {
    if !(1..=100_000).contains(&p.total) {
        broken.insert(Rule::ParticipantsTotal);
    }
    let women = u64::from(p.women.unwrap_or(0));
    let men = u64::from(p.men.unwrap_or(0));
    let total = u64::from(p.total);
    if women > total || men > total || women + men > total {
        broken.insert(Rule::ParticipantsBreakdown);
    }
}

fn distinct(lists: &[&[CountryCode]]) -> usize {
    let mut seen: BTreeSet<CountryCode> = BTreeSet::new();
    for list in lists {
        for c in *list {
            seen.insert(*c);
        }
    }
    seen.len()
}

/// domain.md's intrinsic rules ("the payload alone") that generated events can break: dates in
/// order and not in the future for what happened, disjoint beneficiaries and other countries,
/// participant counts, two distinct countries where the kind needs them, a case's countries
/// and lead. The others (text lengths, codes, spans, early dates, quantities and counts) hold
/// by construction of every generated event, and `bad_input` tests them.
pub(super) fn intrinsic(event: &NewEvent) -> BTreeSet<Rule> {
    let mut broken = BTreeSet::new();
    let Some(fact) = fact_of(&event.payload) else {
        return broken;
    };
    let happened_on: Vec<Date> = match fact {
        Fact::MeetingHeld(m) => vec![m.start, m.end],
        Fact::ActivityDelivered(a) => vec![a.start, a.end],
        Fact::CaseMilestoneRecorded(m) => vec![m.on],
        Fact::CaseClosed(c) => vec![c.closed_on],
        _ => Vec::new(),
    };
    let today = today();
    if happened_on.iter().any(|d| *d > today) {
        broken.insert(Rule::DateInFuture);
    }
    match fact {
        Fact::MeetingHeld(m) => {
            if m.start > m.end {
                broken.insert(Rule::StartAfterEnd);
            }
            if let Some(p) = &m.participants {
                participants_rules(p, &mut broken);
            }
            if m.kind == MeetingKind::OperationalCoordination && distinct(&[&m.countries]) < 2 {
                broken.insert(Rule::TooFewCountries);
            }
        }
        Fact::ActivityScheduled(a) => {
            if a.start > a.end {
                broken.insert(Rule::StartAfterEnd);
            }
            if needs_two(a.kind) && distinct(&[&a.beneficiaries]) < 2 {
                broken.insert(Rule::TooFewCountries);
            }
        }
        Fact::ActivityDelivered(a) => {
            if a.start > a.end {
                broken.insert(Rule::StartAfterEnd);
            }
            participants_rules(&a.participants, &mut broken);
            for c in &a.other_countries {
                if a.beneficiaries.contains(c) {
                    broken.insert(Rule::BeneficiaryAlsoOther);
                }
            }
            if needs_two(a.kind) && distinct(&[&a.beneficiaries, &a.other_countries]) < 2 {
                broken.insert(Rule::TooFewCountries);
            }
        }
        Fact::CaseOpened(o) => {
            if distinct(&[&o.countries]) < 2 {
                broken.insert(Rule::TooFewCountries);
            }
            if !o.countries.contains(&o.lead) {
                broken.insert(Rule::LeadNotInCase);
            }
        }
        _ => {}
    }
    broken
}

/// domain.md, "Validation": the ledger's answer to `event` when it holds `log`.
pub(super) fn judge(log: &[RefRec], event: &NewEvent) -> Verdict {
    let mut broken = BTreeSet::new();

    // "an event id already present with different content is a conflict"; with the same
    // content it is a re-send. Either way the id names an event already judged: the product
    // reports `event_id_reused` alone, not the rules the other content would break too (which
    // the domain text, "every broken rule is reported", leaves open for an event that is not
    // new).
    if let Some(id) = event.event_id {
        for (at, rec) in log.iter().enumerate() {
            if rec.id == Some(id) {
                if same_content(&rec.event, event) {
                    return Verdict::Resent(at);
                }
                broken.insert(Rule::EventIdReused);
                return Verdict::Refused(broken);
            }
        }
    }

    broken.extend(intrinsic(event));

    // domain.md, "Streams": "Corrections and retractions go to the stream of their target."
    let target_id = match &event.payload {
        Payload::Fact(_) => None,
        Payload::Corrected(c) => Some(c.target),
        Payload::Retracted(r) => Some(r.target),
    };
    let target: Option<&RefRec> =
        target_id.and_then(|id| log.iter().find(|rec| rec.id == Some(id)));
    let stream = match (&event.payload, target) {
        (_, Some(t)) => t.stream.clone(),
        (Payload::Fact(f), None) => stream_of(f),
        // No target to take the stream from: the replacement names its entity.
        (Payload::Corrected(c), None) => stream_of(&c.replacement),
        (Payload::Retracted(_), None) => {
            broken.insert(Rule::TargetMissing);
            return Verdict::Refused(broken);
        }
    };
    let version = version_rule(log, &stream, event.expected_version, &mut broken);

    match &event.payload {
        Payload::Fact(fact) => fact_rules(log, fact, version, &mut broken),
        Payload::Corrected(c) => correction_rules(log, c, target, &mut broken),
        Payload::Retracted(r) => {
            // "a retraction's target exists and is not already retracted"; README: it must be a
            // fact.
            if !matches!(target.map(|t| &t.event.payload), Some(Payload::Fact(_))) {
                broken.insert(Rule::TargetNotFact);
            }
            if is_retracted(log, r.target) {
                broken.insert(Rule::TargetRetracted);
            }
        }
    }

    if broken.is_empty() {
        Verdict::Recorded {
            stream,
            version: version + 1,
        }
    } else {
        Verdict::Refused(broken)
    }
}

/// "the expected version": `new` (the stream must not exist) or exactly the stream's version,
/// the number of records it holds, which this returns.
fn version_rule(
    log: &[RefRec],
    stream: &Stream,
    expected: ExpectedVersion,
    broken: &mut BTreeSet<Rule>,
) -> u64 {
    let mut version = 0;
    for rec in log {
        if rec.stream == *stream {
            version += 1;
        }
    }
    let holds = match expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::New => version == 0,
        ExpectedVersion::Exact(v) => v == version,
    };
    if !holds {
        broken.insert(Rule::ExpectedVersion);
    }
    version
}

/// "a correction's target exists, is not retracted, is a fact event, and the replacement has
/// the same type and the same entity id".
fn correction_rules(
    log: &[RefRec],
    c: &EventCorrected,
    target: Option<&RefRec>,
    broken: &mut BTreeSet<Rule>,
) {
    let Some(t) = target else {
        broken.insert(Rule::TargetMissing);
        return;
    };
    match &t.event.payload {
        Payload::Fact(target_fact) => {
            if is_retracted(log, c.target) {
                broken.insert(Rule::TargetRetracted);
            }
            if type_name(target_fact) != type_name(&c.replacement)
                || stream_of(&c.replacement) != t.stream
            {
                broken.insert(Rule::ReplacementMismatch);
            }
        }
        // README: "a correction or retraction must target a fact (a wrong correction is fixed
        // by another correction, not retracted)". A replacement is a fact, so its type cannot
        // be a correction's or a retraction's either.
        Payload::Corrected(_) | Payload::Retracted(_) => {
            broken.insert(Rule::TargetNotFact);
            broken.insert(Rule::ReplacementMismatch);
        }
    }
}

fn is_retracted(log: &[RefRec], id: uuid::Uuid) -> bool {
    for rec in log {
        if let Payload::Retracted(r) = &rec.event.payload
            && r.target == id
        {
            return true;
        }
    }
    false
}

/// The contextual rules of a fact, against the log and the version its stream is at.
fn fact_rules(log: &[RefRec], fact: &Fact, version: u64, broken: &mut BTreeSet<Rule>) {
    // The effective state of the whole log, computed when a rule first needs it.
    let snapshot: OnceCell<Snapshot<'_>> = OnceCell::new();
    let now = || snapshot.get_or_init(|| effective(log.iter().map(|r| (r.id, &r.event.payload))));

    // "a `…Delivered`, `…Held`, `CaseOpened` or `PartnerRegistered` starts a new stream".
    let starts_a_stream = matches!(
        fact,
        Fact::ActivityDelivered(_)
            | Fact::MeetingHeld(_)
            | Fact::CaseOpened(_)
            | Fact::PartnerRegistered(_)
    );
    // The product departs from that wording for one case, which neither domain.md nor the
    // README states: an `ActivityDelivered` may follow its own open `ActivityScheduled` on the
    // activity's stream (commit 5012f8d, "A scheduled activity's delivery follows its schedule
    // on the activity's stream"; `tests/it/ledger.rs` pins it). Modelled as the product does it.
    if starts_a_stream && version > 0 {
        let delivers_its_schedule =
            matches!(fact, Fact::ActivityDelivered(a) if now().scheduled(a.activity_id));
        if !delivers_its_schedule {
            broken.insert(Rule::StreamExists);
        }
    }

    match fact {
        // "`CountryJoined` needs the country not already an active participant".
        Fact::CountryJoined(j) if now().membership(j.country).is_some_and(|m| m.is_active()) => {
            broken.insert(Rule::AlreadyParticipant);
        }
        // README: "a `ParticipationChanged` needs a country that joined".
        Fact::ParticipationChanged(c) if now().membership(c.country).is_none() => {
            broken.insert(Rule::NotParticipant);
        }
        // domain.md has no contextual rule for a cancellation. The product's, from the rules'
        // own descriptions ("The stream this event continues does not exist", "The activity
        // has no effective schedule to cancel") and commit 5012f8d ("a delivered activity
        // cannot be cancelled"): a cancellation continues an existing stream (and a missing
        // one is reported as that alone) whose activity is scheduled.
        Fact::ActivityCancelled(a) => {
            if version == 0 {
                broken.insert(Rule::StreamMissing);
            } else if !now().scheduled(a.activity_id) {
                broken.insert(Rule::ActivityNotScheduled);
            }
        }
        Fact::CaseCountryAdded(_) | Fact::CaseMilestoneRecorded(_) | Fact::CaseClosed(_) => {
            case_step_rules(now(), fact, broken);
        }
        _ => {}
    }
}

/// "milestones, country additions and closure need an open case, dates not before `opened_on`,
/// and countries that are in the case".
fn case_step_rules(now: &Snapshot<'_>, fact: &Fact, broken: &mut BTreeSet<Rule>) {
    let (case_id, on, named) = match fact {
        Fact::CaseCountryAdded(a) => (a.case_id, a.added_on, Vec::new()),
        Fact::CaseMilestoneRecorded(m) => (m.case_id, m.on, milestone_countries(&m.milestone)),
        Fact::CaseClosed(c) => (c.case_id, c.closed_on, Vec::new()),
        _ => unreachable!("only a case's steps"),
    };
    // A case that is not open (never opened, opening retracted, or closed) is reported as that
    // alone: the product does not go on to check the date and countries of a step it refuses
    // anyway, although "every broken rule is reported" (README) would also name them for a
    // closed case.
    let Some(case) = now.case(case_id).filter(|case| !case.closed) else {
        broken.insert(Rule::CaseNotOpen);
        return;
    };
    if on < case.opened_on {
        broken.insert(Rule::BeforeCaseOpened);
    }
    for c in &named {
        if !case.countries.contains(c) {
            broken.insert(Rule::CountryNotInCase);
        }
    }
    // For an addition "countries that are in the case" cannot mean the added one: the product
    // refuses a country already in it (the rule `country_already_in_case`, "A country already
    // in the case").
    if let Fact::CaseCountryAdded(a) = fact
        && case.countries.contains(&a.country)
    {
        broken.insert(Rule::CountryAlreadyInCase);
    }
}
