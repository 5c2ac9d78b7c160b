//! The transitions: their kinds, how each is generated against the model's state, and their
//! weights.

use std::collections::BTreeSet;
use std::sync::Arc;

use coopledger::proto_events::values::{
    CaseOutcome, Commodity, Milestone, Participants, Participation, ParticipationStatus,
    PartnerRole, RetractionReason,
};
use coopledger::proto_events::{
    ActivityCancelled, CaseClosed, CaseCountryAdded, CaseMilestoneRecorded, CountryCode,
    CountryJoined, EventCorrected, EventRetracted, ExpectedVersion, Fact, NewEvent,
    ParticipationChanged, PartnerRegistered, Payload, Stream,
};
use proptest::prelude::*;
use proptest::strategy::Union;
use uuid::Uuid;

use super::data::{JOIN_AS, PARTNERS, add_days, day, pool, unknown_id};
use super::domain::stream_of;
use super::effective::CaseNow;
use super::generate::{
    G, activity_fact, amendment, bad_event, case_opened_fact, case_step_fact, meeting_fact,
    milestone, reused, tweak, valid_event, wrong_version,
};
use super::model::RefState;
use super::rules::fact_of;

/// One submission of a concurrent batch.
#[derive(Debug, Clone)]
pub(super) struct Sub {
    pub(super) events: Vec<NewEvent>,
    /// Submissions of one group race: for the same stream or target with different ids (one
    /// wins), or as identical retries of one event, id included (all get the same receipt).
    pub(super) group: Option<u8>,
    pub(super) identical: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AppendKind {
    Valid,
    Conflict,
    Resend,
    Reuse,
    Amend,
    BadAmend,
    BadFact,
    Large,
}

#[derive(Debug, Clone)]
pub(super) enum Transition {
    Append {
        kind: AppendKind,
        events: Vec<NewEvent>,
        next: u64,
    },
    Concurrent {
        subs: Vec<Sub>,
        next: u64,
    },
    /// Requests queued on the handle one after the other without waiting for the answers:
    /// decided in that order, usually several in one group commit.
    Pipelined {
        requests: Vec<Vec<NewEvent>>,
        next: u64,
    },
    Reopen,
    Get {
        pick: u64,
        unknown: Uuid,
    },
    ReadForward {
        from: u64,
        limit: u64,
    },
    ReadBackward {
        from: u64,
        limit: u64,
    },
    ReadStream {
        pick: u64,
        from_version: u64,
        limit: u64,
    },
    Head,
    SeqAtTime {
        picks: Vec<u64>,
    },
    ViewsAt {
        pick: u64,
    },
    Verify,
}

impl Transition {
    pub(super) fn label(&self) -> &'static str {
        match self {
            Transition::Append { kind, .. } => match kind {
                AppendKind::Valid => "append: valid batch (1-4 events)",
                AppendKind::Conflict => "append: conflicting expected_version",
                AppendKind::Resend => "append: idempotent re-send",
                AppendKind::Reuse => "append: id re-used with other content",
                AppendKind::Amend => "append: corrections/retractions",
                AppendKind::BadAmend => "append: invalid correction/retraction",
                AppendKind::BadFact => "append: batch with an invalid fact",
                AppendKind::Large => "append: large batch (parallel path)",
            },
            Transition::Concurrent { .. } => "concurrent batch (LedgerHandle)",
            Transition::Pipelined { .. } => "pipelined requests (LedgerHandle)",
            Transition::Reopen => "close and reopen",
            Transition::Get { .. } => "read: get(id)",
            Transition::ReadForward { .. } => "read: read_forward",
            Transition::ReadBackward { .. } => "read: read_backward",
            Transition::ReadStream { .. } => "read: read_stream + stream_version",
            Transition::Head => "read: head",
            Transition::SeqAtTime { .. } => "as-of: seq_at_time",
            Transition::ViewsAt { .. } => "as-of: views_at(Sequence | Time | Head)",
            Transition::Verify => "verify",
        }
    }
}

pub(super) fn t_valid(st: &RefState, g: &mut G) -> Transition {
    // Now and then an empty batch: accepted, no receipts, nothing written.
    let n = if g.chance(2) { 0 } else { 1 + g.below(4) };
    let mut work = st.without_expect();
    let mut events: Vec<NewEvent> = Vec::new();
    for _ in 0..n {
        let with_ids: Vec<NewEvent> = events
            .iter()
            .filter(|e| e.event_id.is_some())
            .cloned()
            .collect();
        let known = st.known();
        let event = if g.chance(6) && !with_ids.is_empty() {
            // The same event twice in one batch.
            g.pick(&with_ids)
        } else if g.chance(6) && !known.is_empty() {
            // A retry of an earlier event mixed with new ones.
            st.log[g.pick(&known)].event.clone()
        } else if g.chance(8) {
            amendment(g, &work).unwrap_or_else(|| valid_event(g, &work))
        } else {
            valid_event(g, &work)
        };
        let _ = work.decide(std::slice::from_ref(&event));
        events.push(event);
    }
    Transition::Append {
        kind: AppendKind::Valid,
        events,
        next: g.next,
    }
}

/// A batch of 128–160 events, large enough for the writer's parallel validation and encoding;
/// sometimes with an invalid event near its end.
pub(super) fn t_large(st: &RefState, g: &mut G) -> Transition {
    let n = 128 + g.below(33);
    let mut work = st.without_expect();
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        let id = g.entity_id();
        let fact = match g.below(10) {
            0..=5 => activity_fact(g, id),
            6..=8 => meeting_fact(g, id),
            _ => case_opened_fact(g, id),
        };
        let event = g.wrap(fact, ExpectedVersion::Any);
        let _ = work.decide(std::slice::from_ref(&event));
        events.push(event);
    }
    if g.chance(30) {
        let at = n - 1 - g.below(10);
        if let Payload::Fact(Fact::ActivityDelivered(a)) = &mut events[at].payload {
            a.other_countries = a.beneficiaries.clone();
        } else {
            let fact = Fact::CaseClosed(CaseClosed {
                case_id: g.entity_id(),
                closed_on: g.day(),
                outcome: CaseOutcome::Unknown,
            });
            events[at] = g.wrap(fact, ExpectedVersion::Any);
        }
    }
    Transition::Append {
        kind: AppendKind::Large,
        events,
        next: g.next,
    }
}

pub(super) fn t_conflict(st: &RefState, g: &mut G) -> Transition {
    let n = 1 + g.below(3);
    let p = g.below(n);
    let mut work = st.without_expect();
    let mut events = Vec::new();
    for i in 0..n {
        let mut event = valid_event(g, &work);
        if i == p {
            let open = work.open_cases();
            let roll = g.below(100);
            if roll < 30 && !open.is_empty() {
                // A step of an existing case that says the stream must be new.
                let (case_id, case) = g.pick(&open);
                let fact = case_step_fact(g, case_id, &case);
                event = g.wrap(fact, ExpectedVersion::New);
            } else if roll < 40
                && let Some(rec) = work
                    .log
                    .iter()
                    .find(|r| matches!(r.stream, Stream::Meeting(_)))
            {
                // A second meeting with an existing meeting's id, expected new.
                let Stream::Meeting(id) = rec.stream else {
                    unreachable!()
                };
                let fact = meeting_fact(g, id);
                event = g.wrap(fact, ExpectedVersion::New);
            } else {
                let stream = stream_of(fact_of(&event.payload).expect("a generated fact"));
                event.expected_version = wrong_version(g, work.version(&stream));
            }
        }
        let _ = work.decide(std::slice::from_ref(&event));
        events.push(event);
    }
    Transition::Append {
        kind: AppendKind::Conflict,
        events,
        next: g.next,
    }
}

pub(super) fn t_resend(st: &RefState, g: &mut G) -> Transition {
    let known = st.known();
    if known.is_empty() {
        return t_valid(st, g);
    }
    let original = st.log[g.pick(&known)].event.clone();
    let mut events = vec![original.clone()];
    if g.chance(25) {
        let fresh = valid_event(g, st);
        events.insert(g.below(2), fresh);
    }
    if g.chance(10) {
        events.push(original);
    }
    Transition::Append {
        kind: AppendKind::Resend,
        events,
        next: g.next,
    }
}

pub(super) fn t_reuse(st: &RefState, g: &mut G) -> Transition {
    let known = st.known();
    if known.is_empty() {
        return t_valid(st, g);
    }
    let original = st.log[g.pick(&known)].event.clone();
    let mut events = vec![reused(g, &original)];
    if g.chance(25) {
        // An id given twice in one batch, with other content the second time.
        let fresh = valid_event(g, st);
        let mut fresh = NewEvent {
            event_id: Some(g.event_id()),
            ..fresh
        };
        fresh.expected_version = ExpectedVersion::Any;
        let again = reused(g, &fresh);
        events = vec![fresh, again];
    } else if g.chance(30) {
        let fresh = valid_event(g, st);
        events.insert(0, fresh);
    }
    Transition::Append {
        kind: AppendKind::Reuse,
        events,
        next: g.next,
    }
}

pub(super) fn t_amend(st: &RefState, g: &mut G) -> Transition {
    let n = 1 + g.below(3);
    let mut work = st.without_expect();
    let mut events = Vec::new();
    for _ in 0..n {
        // Sometimes a new fact and its amendment in one batch.
        let event = match amendment(g, &work) {
            Some(e) if !(g.chance(20)) => e,
            _ => valid_event(g, &work),
        };
        let _ = work.decide(std::slice::from_ref(&event));
        events.push(event);
    }
    Transition::Append {
        kind: AppendKind::Amend,
        events,
        next: g.next,
    }
}

pub(super) fn t_bad_amend(st: &RefState, g: &mut G) -> Transition {
    let mut work = st.without_expect();
    let mut events = Vec::new();
    if g.chance(30) {
        let e = valid_event(g, &work);
        let _ = work.decide(std::slice::from_ref(&e));
        events.push(e);
    }
    let retracted = work.fact_targets(true);
    let live = work.fact_targets(false);
    let amendments = work.amendments();
    let reason = "entered against the wrong record".to_owned();
    let bad = match g.below(8) {
        0 if !retracted.is_empty() => {
            // Retract a retracted fact.
            let target = work.log[g.pick(&retracted)].id.expect("known id");
            Payload::Retracted(EventRetracted {
                target,
                reason: RetractionReason::EnteredInError,
                duplicate_of: None,
            })
        }
        1 if !retracted.is_empty() => {
            // Correct a retracted fact.
            let rec = &work.log[g.pick(&retracted)];
            let replacement = tweak(g, fact_of(&rec.event.payload).expect("fact"));
            Payload::Corrected(EventCorrected {
                target: rec.id.expect("known id"),
                replacement,
                reason,
            })
        }
        2 if !amendments.is_empty() => {
            // Correct a correction or a retraction.
            let target = work.log[g.pick(&amendments)].id.expect("known id");
            let id = g.entity_id();
            Payload::Corrected(EventCorrected {
                target,
                replacement: meeting_fact(g, id),
                reason,
            })
        }
        3 if !amendments.is_empty() => {
            // Retract a correction or a retraction.
            let target = work.log[g.pick(&amendments)].id.expect("known id");
            Payload::Retracted(EventRetracted {
                target,
                reason: RetractionReason::Duplicate,
                duplicate_of: None,
            })
        }
        4 if !live.is_empty() => {
            // A replacement about another entity (or of another type).
            let rec = &work.log[g.pick(&live)];
            let target = rec.id.expect("known id");
            let id = g.entity_id();
            let replacement = match fact_of(&rec.event.payload) {
                Some(Fact::MeetingHeld(_)) if g.chance(50) => activity_fact(g, id),
                Some(f @ (Fact::MeetingHeld(_) | Fact::ActivityDelivered(_))) => {
                    let mut other = tweak(g, f);
                    match &mut other {
                        Fact::MeetingHeld(m) => m.meeting_id = id,
                        Fact::ActivityDelivered(a) => a.activity_id = id,
                        _ => unreachable!(),
                    }
                    other
                }
                Some(Fact::CaseOpened(_)) => case_opened_fact(g, id),
                _ => meeting_fact(g, id),
            };
            Payload::Corrected(EventCorrected {
                target,
                replacement,
                reason,
            })
        }
        5 => {
            let id = g.entity_id();
            Payload::Corrected(EventCorrected {
                target: unknown_id(g.raw()),
                replacement: activity_fact(g, id),
                reason,
            })
        }
        _ => Payload::Retracted(EventRetracted {
            target: unknown_id(g.raw()),
            reason: RetractionReason::OutOfScope,
            duplicate_of: None,
        }),
    };
    let bad = g.wrap(bad, ExpectedVersion::Any);
    let _ = work.decide(std::slice::from_ref(&bad));
    events.push(bad);
    if g.chance(30) {
        events.push(valid_event(g, &work));
    }
    Transition::Append {
        kind: AppendKind::BadAmend,
        events,
        next: g.next,
    }
}

pub(super) fn t_bad_fact(st: &RefState, g: &mut G) -> Transition {
    let mut work = st.without_expect();
    let mut events = Vec::new();
    for _ in 0..g.below(3) {
        let e = valid_event(g, &work);
        let _ = work.decide(std::slice::from_ref(&e));
        events.push(e);
    }
    let open = work.open_cases();
    let closed = work.closed_cases();
    let active = work.active();
    let never = work.never_joined();
    let meetings: Vec<Uuid> = work
        .log
        .iter()
        .filter_map(|r| match r.stream {
            Stream::Meeting(id) => Some(id),
            _ => None,
        })
        .collect();
    let retracted_cases: Vec<Uuid> = work
        .case_ids()
        .into_iter()
        .filter(|id| work.case(*id).is_none())
        .collect();
    let scheduled = work.scheduled_activities();
    let delivered: Vec<Uuid> = work
        .log
        .iter()
        .filter_map(|r| match &r.event.payload {
            Payload::Fact(Fact::ActivityDelivered(a)) => Some(a.activity_id),
            _ => None,
        })
        .collect();
    let registered: Vec<&str> = PARTNERS
        .iter()
        .map(|(slug, _)| *slug)
        .filter(|slug| work.version(&Stream::Partner((*slug).to_owned())) > 0)
        .collect();
    let fact = match g.below(14) {
        9 if !retracted_cases.is_empty() => {
            // A step of a case whose opening was retracted.
            let case_id = g.pick(&retracted_cases);
            Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                case_id,
                on: day(1500),
                milestone: Milestone::MlaRequestExecuted {
                    country: g.pick(pool()),
                },
            })
        }
        10 if !scheduled.is_empty() => {
            // Delivered on the stream of a scheduled activity: domain.md says a delivery starts
            // its stream, the product accepts it as the schedule's delivery (see
            // `rules::fact_rules`), so this one is accepted unless the rest of the batch fails.
            let id = g.pick(&scheduled);
            activity_fact(g, id)
        }
        11 => {
            // A cancellation of something never scheduled (or delivered).
            let activity_id = if !delivered.is_empty() && g.chance(60) {
                g.pick(&delivered)
            } else {
                g.entity_id()
            };
            Fact::ActivityCancelled(ActivityCancelled {
                activity_id,
                cancelled_on: g.day(),
                reason: "no longer needed".into(),
            })
        }
        12 if !registered.is_empty() => Fact::PartnerRegistered(PartnerRegistered {
            partner: g.pick(&registered).to_owned(),
            name: "Registered twice".into(),
            roles: vec![PartnerRole::Funding],
            registered_on: g.day(),
        }),
        0 if !closed.is_empty() => {
            // A milestone of a closed case.
            let case_id = g.pick(&closed);
            let on = day(1500);
            let country = g.pick(pool());
            Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                case_id,
                on,
                milestone: Milestone::Arrests { country, count: 3 },
            })
        }
        1 if !open.is_empty() => {
            // A milestone naming a country outside the case.
            let (case_id, case) = g.pick(&open);
            let inside: Vec<CountryCode> = case.countries.iter().copied().collect();
            let outside = g.countries(1, &inside);
            Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                case_id,
                on: add_days(case.opened_on, 10),
                milestone: Milestone::Seizure {
                    country: outside[0],
                    commodity: Commodity::Cocaine,
                    quantity_kg: 120.5,
                },
            })
        }
        2 if !open.is_empty() => {
            // A country already in the case.
            let (case_id, case) = g.pick(&open);
            let inside: Vec<CountryCode> = case.countries.iter().copied().collect();
            Fact::CaseCountryAdded(CaseCountryAdded {
                case_id,
                country: g.pick(&inside),
                added_on: add_days(case.opened_on, 3),
            })
        }
        3 if !open.is_empty() => {
            // A closure dated before the opening.
            let (case_id, case) = g.pick(&open);
            let closed_on = case
                .opened_on
                .checked_sub(jiff::Span::new().days(1 + g.below(30) as i64))
                .expect("date in range");
            Fact::CaseClosed(CaseClosed {
                case_id,
                closed_on,
                outcome: CaseOutcome::Discontinued,
            })
        }
        4 if !active.is_empty() => Fact::CountryJoined(CountryJoined {
            country: g.pick(&active),
            joined_on: g.day(),
            participation: Participation::Beneficiary,
        }),
        5 if !meetings.is_empty() => {
            let id = g.pick(&meetings);
            meeting_fact(g, id)
        }
        6 if !never.is_empty() => Fact::ParticipationChanged(ParticipationChanged {
            country: g.pick(&never),
            changed_on: g.day(),
            participation: ParticipationStatus::Suspended,
            reason: "never joined".into(),
        }),
        7 => {
            // Women outnumbering the total (an intrinsic rule).
            let id = g.entity_id();
            let mut fact = activity_fact(g, id);
            if let Fact::ActivityDelivered(a) = &mut fact {
                a.participants = Participants {
                    total: 20,
                    women: Some(25),
                    men: None,
                };
            }
            fact
        }
        _ => Fact::CaseClosed(CaseClosed {
            case_id: g.entity_id(),
            closed_on: g.day(),
            outcome: CaseOutcome::Unknown,
        }),
    };
    let bad = g.wrap(fact, ExpectedVersion::Any);
    let _ = work.decide(std::slice::from_ref(&bad));
    events.push(bad);
    if g.chance(30) {
        events.push(valid_event(g, &work));
    }
    Transition::Append {
        kind: AppendKind::BadFact,
        events,
        next: g.next,
    }
}

/// 2–6 requests of 1–3 events, each generated against the state the earlier ones leave (so
/// they step cases opened, amend facts recorded and retract again what was retracted just
/// before); about one in five is refused.
pub(super) fn t_pipelined(st: &RefState, g: &mut G) -> Transition {
    let k = 2 + g.below(5);
    let mut work = st.without_expect();
    let mut requests = Vec::new();
    for _ in 0..k {
        let mut tmp = work.without_expect();
        let mut events = Vec::new();
        for _ in 0..1 + g.below(3) {
            let event = match g.below(12) {
                0..=2 => amendment(g, &tmp).unwrap_or_else(|| valid_event(g, &tmp)),
                3 => bad_event(g, &tmp),
                _ => valid_event(g, &tmp),
            };
            let _ = tmp.decide(std::slice::from_ref(&event));
            events.push(event);
        }
        let _ = work.decide(&events);
        requests.push(events);
    }
    Transition::Pipelined {
        requests,
        next: g.next,
    }
}

/// 2–8 submissions (plus contested members) on pairwise distinct streams, except the members
/// of a contested group, which race for one.
pub(super) fn t_concurrent(st: &RefState, g: &mut G) -> Transition {
    let n = 2 + g.below(7);
    let mut used: BTreeSet<Stream> = BTreeSet::new();
    let mut subs: Vec<Sub> = Vec::new();
    let mut groups = 0u8;
    let alone = |events: Vec<NewEvent>| Sub {
        events,
        group: None,
        identical: false,
    };
    let mut attempts = 0;
    let all_open = st.open_cases();
    let all_known = st.known();
    while subs.len() < n && attempts < 100 {
        attempts += 1;
        let roll = g.below(100);
        let open: Vec<(Uuid, CaseNow)> = all_open
            .iter()
            .filter(|(id, _)| !used.contains(&Stream::Case(*id)))
            .cloned()
            .collect();
        let known: Vec<usize> = all_known
            .iter()
            .copied()
            .filter(|i| !used.contains(&st.log[*i].stream))
            .collect();
        match roll {
            0..=7 => {
                // New events then an invalid one: refused, and rolled back inside the group.
                let mut tmp = st.without_expect();
                let mut events = Vec::new();
                for _ in 0..1 + g.below(2) {
                    let id = g.entity_id();
                    let fact = if g.chance(50) {
                        activity_fact(g, id)
                    } else {
                        case_opened_fact(g, id)
                    };
                    used.insert(stream_of(&fact));
                    let e = g.wrap(fact, ExpectedVersion::Any);
                    let _ = tmp.decide(std::slice::from_ref(&e));
                    events.push(e);
                }
                let id = g.entity_id();
                let mut bad = activity_fact(g, id);
                used.insert(stream_of(&bad));
                if let Fact::ActivityDelivered(a) = &mut bad {
                    a.participants.women = Some(a.participants.total + 1);
                }
                events.push(g.wrap(bad, ExpectedVersion::Any));
                subs.push(alone(events));
            }
            8..=14 => {
                // The same new event sent by 2–3 tasks at once (a retry storm).
                let id = g.entity_id();
                let fact = if g.chance(50) {
                    meeting_fact(g, id)
                } else {
                    activity_fact(g, id)
                };
                used.insert(stream_of(&fact));
                let mut event = g.wrap(fact, ExpectedVersion::Any);
                if event.event_id.is_none() {
                    event.event_id = Some(g.event_id());
                }
                for _ in 0..2 + g.below(2) {
                    subs.push(Sub {
                        events: vec![event.clone()],
                        group: Some(groups),
                        identical: true,
                    });
                }
                groups += 1;
            }
            15..=34 => {
                let id = g.entity_id();
                let fact = match g.below(3) {
                    0 => meeting_fact(g, id),
                    1 => activity_fact(g, id),
                    _ => case_opened_fact(g, id),
                };
                used.insert(stream_of(&fact));
                let expected = g.starting_version();
                subs.push(alone(vec![g.wrap(fact, expected)]));
            }
            35..=44 => {
                // A case and its first steps in one submission.
                let id = g.entity_id();
                let opened = case_opened_fact(g, id);
                used.insert(stream_of(&opened));
                let mut tmp = st.without_expect();
                let first = g.wrap(opened, ExpectedVersion::New);
                let _ = tmp.decide(std::slice::from_ref(&first));
                let mut events = vec![first];
                for _ in 0..1 + g.below(2) {
                    if let Some(case) = tmp.case(id).filter(|c| !c.closed) {
                        let fact = case_step_fact(g, id, &case);
                        let expected = g.continuing_version(&tmp, &Stream::Case(id));
                        let e = g.wrap(fact, expected);
                        let _ = tmp.decide(std::slice::from_ref(&e));
                        events.push(e);
                    }
                }
                subs.push(alone(events));
            }
            45..=54 => {
                let joinable: Vec<CountryCode> = st
                    .joinable()
                    .into_iter()
                    .filter(|c| !used.contains(&Stream::Country(*c)))
                    .collect();
                if joinable.is_empty() {
                    continue;
                }
                let country = g.pick(&joinable);
                used.insert(Stream::Country(country));
                let expected = g.continuing_version(st, &Stream::Country(country));
                let fact = Fact::CountryJoined(CountryJoined {
                    country,
                    joined_on: g.day(),
                    participation: g.pick(&JOIN_AS),
                });
                subs.push(alone(vec![g.wrap(fact, expected)]));
            }
            55..=66 => {
                if open.is_empty() {
                    continue;
                }
                let (case_id, case) = g.pick(&open);
                used.insert(Stream::Case(case_id));
                let fact = case_step_fact(g, case_id, &case);
                let expected = ExpectedVersion::Exact(st.version(&Stream::Case(case_id)));
                subs.push(alone(vec![g.wrap(fact, expected)]));
            }
            67..=74 => {
                // A stale or impossible expected version on an existing stream.
                if open.is_empty() {
                    continue;
                }
                let (case_id, case) = g.pick(&open);
                used.insert(Stream::Case(case_id));
                let fact = case_step_fact(g, case_id, &case);
                let expected = wrong_version(g, st.version(&Stream::Case(case_id)));
                subs.push(alone(vec![g.wrap(fact, expected)]));
            }
            75..=84 => {
                if known.is_empty() {
                    continue;
                }
                let rec = &st.log[g.pick(&known)];
                used.insert(rec.stream.clone());
                subs.push(alone(vec![rec.event.clone()]));
            }
            85..=89 => {
                if known.is_empty() {
                    continue;
                }
                let rec = &st.log[g.pick(&known)];
                used.insert(rec.stream.clone());
                let event = reused(g, &rec.event);
                subs.push(alone(vec![event]));
            }
            _ => {
                // A contested group: identical submissions but for their ids.
                let members = 2 + g.below(2);
                let targets: Vec<usize> = st
                    .fact_targets(false)
                    .into_iter()
                    .filter(|i| !used.contains(&st.log[*i].stream))
                    .collect();
                let template = if !open.is_empty() && (targets.is_empty() || g.chance(60)) {
                    let (case_id, case) = g.pick(&open);
                    used.insert(Stream::Case(case_id));
                    let fact = Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                        case_id,
                        on: add_days(case.opened_on, g.below(100)),
                        milestone: milestone(
                            g,
                            &case.countries.iter().copied().collect::<Vec<_>>(),
                        ),
                    });
                    let expected = ExpectedVersion::Exact(st.version(&Stream::Case(case_id)));
                    g.wrap(fact, expected)
                } else if !targets.is_empty() {
                    let rec = &st.log[g.pick(&targets)];
                    used.insert(rec.stream.clone());
                    let payload = Payload::Retracted(EventRetracted {
                        target: rec.id.expect("known id"),
                        reason: RetractionReason::Duplicate,
                        duplicate_of: None,
                    });
                    g.wrap(payload, ExpectedVersion::Any)
                } else {
                    continue;
                };
                for _ in 0..members {
                    let mut e = template.clone();
                    e.event_id = Some(g.event_id());
                    subs.push(Sub {
                        events: vec![e],
                        group: Some(groups),
                        identical: false,
                    });
                }
                groups += 1;
            }
        }
    }
    Transition::Concurrent { subs, next: g.next }
}

/// Every kind of transition, with its weight, generated against `state`.
pub(super) fn strategy(state: &RefState) -> BoxedStrategy<Transition> {
    let state = Arc::new(state.without_expect());
    let generated = |f: fn(&RefState, &mut G) -> Transition| {
        let state = Arc::clone(&state);
        any::<u64>()
            .prop_map(move |seed| f(&state, &mut G::new(seed, state.next)))
            .boxed()
    };
    let reads = |f: fn(&mut G) -> Transition| {
        any::<u64>()
            .prop_map(move |seed| f(&mut G::new(seed, 0)))
            .boxed()
    };
    Union::new_weighted(vec![
        (24, generated(t_valid)),
        (6, generated(t_conflict)),
        (6, generated(t_resend)),
        (4, generated(t_reuse)),
        (8, generated(t_amend)),
        (5, generated(t_bad_amend)),
        (4, generated(t_bad_fact)),
        (1, generated(t_large)),
        (6, generated(t_concurrent)),
        (4, generated(t_pipelined)),
        (2, Just(Transition::Reopen).boxed()),
        (
            4,
            reads(|g| Transition::Get {
                pick: g.raw(),
                unknown: unknown_id(g.raw()),
            }),
        ),
        (
            2,
            reads(|g| Transition::ReadForward {
                from: g.raw(),
                limit: g.raw(),
            }),
        ),
        (
            2,
            reads(|g| Transition::ReadBackward {
                from: g.raw(),
                limit: g.raw(),
            }),
        ),
        (
            3,
            reads(|g| Transition::ReadStream {
                pick: g.raw(),
                from_version: g.raw(),
                limit: g.raw(),
            }),
        ),
        (1, Just(Transition::Head).boxed()),
        (
            3,
            reads(|g| Transition::SeqAtTime {
                picks: (0..4).map(|_| g.raw()).collect(),
            }),
        ),
        (2, reads(|g| Transition::ViewsAt { pick: g.raw() })),
        (2, Just(Transition::Verify).boxed()),
    ])
    .boxed()
}
