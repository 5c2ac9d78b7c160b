//! The reference model's rules: domain.md, "Validation".

use std::collections::BTreeSet;

use coopledger::proto_events::values::{ActivityKind, Participants, today_utc};
use coopledger::proto_events::{CountryCode, Fact, NewEvent, Payload, Rule, Stream};

use super::model::RefState;

pub(super) fn starts_stream(f: &Fact) -> bool {
    matches!(
        f,
        Fact::PartnerRegistered(_)
            | Fact::MeetingHeld(_)
            | Fact::ActivityDelivered(_)
            | Fact::CaseOpened(_)
    )
}

pub(super) fn needs_two(kind: ActivityKind) -> bool {
    matches!(
        kind,
        ActivityKind::InvestigativeCaseForum | ActivityKind::WorkingGroup
    )
}

/// What the ledger compares to decide that a re-sent id carries the same event.
pub(super) fn same_content(a: &NewEvent, b: &NewEvent) -> bool {
    a.recorded_by == b.recorded_by
        && a.source == b.source
        && a.correlation_id == b.correlation_id
        && a.causation_id == b.causation_id
        && a.payload == b.payload
}

pub(super) fn fact_of(payload: &Payload) -> Option<&Fact> {
    match payload {
        Payload::Fact(f) => Some(f),
        Payload::Corrected(c) => Some(&c.replacement),
        Payload::Retracted(_) => None,
    }
}

pub(super) fn check_participants(p: &Participants, out: &mut BTreeSet<Rule>) {
    if p.total == 0 || p.total > 100_000 {
        out.insert(Rule::ParticipantsTotal);
    }
    let (w, m) = (p.women.unwrap_or(0), p.men.unwrap_or(0));
    if w > p.total || m > p.total || u64::from(w) + u64::from(m) > u64::from(p.total) {
        out.insert(Rule::ParticipantsBreakdown);
    }
}

/// The intrinsic rules that generated events may break (every other one holds by
/// construction).
pub(super) fn intrinsic(event: &NewEvent) -> BTreeSet<Rule> {
    let mut out = BTreeSet::new();
    let today = today_utc();
    match fact_of(&event.payload) {
        Some(Fact::ActivityDelivered(a)) => {
            check_participants(&a.participants, &mut out);
            if a.start > a.end {
                out.insert(Rule::StartAfterEnd);
            }
            if a.end > today {
                out.insert(Rule::DateInFuture);
            }
            if a.other_countries
                .iter()
                .any(|c| a.beneficiaries.contains(c))
            {
                out.insert(Rule::BeneficiaryAlsoOther);
            }
            let involved: BTreeSet<CountryCode> = a
                .beneficiaries
                .iter()
                .chain(&a.other_countries)
                .copied()
                .collect();
            if needs_two(a.kind) && involved.len() < 2 {
                out.insert(Rule::TooFewCountries);
            }
        }
        Some(Fact::MeetingHeld(m)) => {
            if let Some(p) = &m.participants {
                check_participants(p, &mut out);
            }
            if m.end > today {
                out.insert(Rule::DateInFuture);
            }
        }
        Some(Fact::CaseMilestoneRecorded(m)) if m.on > today => {
            out.insert(Rule::DateInFuture);
        }
        Some(Fact::CaseClosed(c)) if c.closed_on > today => {
            out.insert(Rule::DateInFuture);
        }
        _ => {}
    }
    out
}

impl RefState {
    /// domain.md, "Validation", the contextual rules.
    pub(super) fn contextual(
        &self,
        payload: &Payload,
        stream: &Stream,
        current: u64,
        rules: &mut BTreeSet<Rule>,
    ) {
        match payload {
            Payload::Fact(f) => {
                // A delivery may follow its own schedule; otherwise a new stream is needed.
                let delivers_schedule =
                    matches!(f, Fact::ActivityDelivered(_)) && self.scheduled(stream);
                if starts_stream(f) && current > 0 && !delivers_schedule {
                    rules.insert(Rule::StreamExists);
                    return;
                }
                match f {
                    Fact::CountryJoined(j)
                        if self
                            .participation(j.country)
                            .is_some_and(|(s, _)| s.is_active()) =>
                    {
                        rules.insert(Rule::AlreadyParticipant);
                    }
                    Fact::ParticipationChanged(c) if self.participation(c.country).is_none() => {
                        rules.insert(Rule::NotParticipant);
                    }
                    Fact::ActivityCancelled(_) => {
                        if current == 0 {
                            rules.insert(Rule::StreamMissing);
                        } else if !self.scheduled(stream) {
                            rules.insert(Rule::ActivityNotScheduled);
                        }
                    }
                    Fact::CaseCountryAdded(_)
                    | Fact::CaseMilestoneRecorded(_)
                    | Fact::CaseClosed(_) => {
                        let Stream::Case(id) = stream else {
                            unreachable!("case events go to case streams")
                        };
                        let Some(case) = self.case(*id).filter(|c| !c.closed) else {
                            rules.insert(Rule::CaseNotOpen);
                            return;
                        };
                        let date = match f {
                            Fact::CaseCountryAdded(a) => a.added_on,
                            Fact::CaseMilestoneRecorded(m) => m.on,
                            Fact::CaseClosed(c) => c.closed_on,
                            _ => unreachable!(),
                        };
                        if date < case.opened_on {
                            rules.insert(Rule::BeforeCaseOpened);
                        }
                        match f {
                            Fact::CaseCountryAdded(a) if case.countries.contains(&a.country) => {
                                rules.insert(Rule::CountryAlreadyInCase);
                            }
                            Fact::CaseMilestoneRecorded(m)
                                if m.milestone
                                    .countries()
                                    .iter()
                                    .any(|c| !case.countries.contains(c)) =>
                            {
                                rules.insert(Rule::CountryNotInCase);
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Payload::Corrected(c) => match self.find(c.target) {
                None => {
                    rules.insert(Rule::TargetMissing);
                }
                Some(at) => {
                    let target = &self.log[at];
                    let target_type = target.event.payload.event_type();
                    if !target_type.is_fact() {
                        rules.insert(Rule::TargetNotFact);
                    } else if self.is_retracted(c.target) {
                        rules.insert(Rule::TargetRetracted);
                    }
                    if c.replacement.event_type() != target_type || &target.stream != stream {
                        rules.insert(Rule::ReplacementMismatch);
                    }
                }
            },
            Payload::Retracted(r) => {
                if let Some(at) = self.find(r.target) {
                    if !self.log[at].event.payload.event_type().is_fact() {
                        rules.insert(Rule::TargetNotFact);
                    } else if self.is_retracted(r.target) {
                        rules.insert(Rule::TargetRetracted);
                    }
                }
            }
        }
    }
}
