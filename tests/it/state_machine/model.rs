//! The reference model's state (the accepted log) and its predictions for each submission.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use coopledger::proto_events::{CountryCode, NewEvent, Payload, Rule, Stream};
use uuid::Uuid;

use super::data::{PARTNERS, pool};
use super::effective::{CaseNow, Membership, Snapshot, effective};
use super::rules::{Verdict, judge};
use super::transitions::Sub;

// ---------------------------------------------------------------------------------------------
// The reference model.

/// An accepted event in the reference log. `id` is `None` when the ledger chose it (an event
/// sent without id, or the winner of a contested concurrent group): the model cannot name it.
#[derive(Debug, Clone)]
pub(super) struct RefRec {
    pub(super) id: Option<Uuid>,
    pub(super) stream: Stream,
    pub(super) event: NewEvent,
}

/// What one event of an accepted batch must get.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum EvExpect {
    /// A new record on `stream` at `version` (the sequence follows the head).
    New { stream: Stream, version: u64 },
    /// The original receipt of an event already in the log.
    Existing(Uuid),
    /// The receipt of event `index` of the same batch (the same id and content twice).
    SameAs(usize),
}

/// Why a batch must be refused: every event that fails (by index) and every rule it breaks.
/// Each event is judged against the batch without the events before it that failed. The ledger
/// may report the first failing event only, or all of them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Refusal {
    pub(super) failures: Vec<(usize, BTreeSet<Rule>)>,
}

pub(super) type BatchExpect = Result<Vec<EvExpect>, Refusal>;

/// The prediction for one submission.
#[derive(Debug, Clone)]
pub(super) enum SubExpect {
    /// It succeeds or fails on its own, whatever else is submitted with it.
    Alone(BatchExpect),
    /// One of several identical submissions racing for one stream or target: exactly one wins
    /// (`winner`) and the others get `refusal`, or all get `refusal` (`winner` is `None`).
    Contested {
        group: u8,
        winner: Option<Vec<EvExpect>>,
        refusal: Refusal,
    },
    /// One of several copies of the same submission, ids included, sent at once: every copy
    /// gets the same answer, and at most one set of records is written.
    Identical { group: u8, expect: BatchExpect },
}

/// The reference state: the accepted log in a canonical order (concurrent submissions in
/// submission order; the ledger's order may differ, but they touch distinct streams, so every
/// rule sees the same state either way), the id counter, and the predictions for the last
/// transition.
#[derive(Debug, Clone, Default)]
pub(super) struct RefState {
    pub(super) next: u64,
    pub(super) log: Vec<RefRec>,
    pub(super) expect: Vec<SubExpect>,
}

impl RefState {
    pub(super) fn version(&self, stream: &Stream) -> u64 {
        self.log.iter().filter(|r| &r.stream == stream).count() as u64
    }

    pub(super) fn is_retracted(&self, id: Uuid) -> bool {
        self.log
            .iter()
            .any(|r| matches!(&r.event.payload, Payload::Retracted(x) if x.target == id))
    }

    /// The effective state of the whole log, recomputed.
    pub(super) fn snapshot(&self) -> Snapshot<'_> {
        effective(self.log.iter().map(|r| (r.id, &r.event.payload)))
    }

    /// Activities (in order of first record) with a schedule still open.
    pub(super) fn scheduled_activities(&self) -> Vec<Uuid> {
        let snapshot = self.snapshot();
        let mut ids: Vec<Uuid> = Vec::new();
        for rec in &self.log {
            if let Stream::Activity(id) = rec.stream
                && !ids.contains(&id)
                && snapshot.scheduled(id)
            {
                ids.push(id);
            }
        }
        ids
    }

    pub(super) fn unregistered_partners(&self) -> Vec<(&'static str, &'static str)> {
        PARTNERS
            .iter()
            .copied()
            .filter(|(slug, _)| self.version(&Stream::Partner((*slug).to_owned())) == 0)
            .collect()
    }

    /// Every case stream of the log, whether its opening counts or not.
    pub(super) fn case_ids(&self) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for rec in &self.log {
            if let Stream::Case(id) = rec.stream
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    }

    pub(super) fn case(&self, id: Uuid) -> Option<CaseNow> {
        self.snapshot().case(id)
    }

    pub(super) fn open_cases(&self) -> Vec<(Uuid, CaseNow)> {
        let mut open = Vec::new();
        for (id, case) in self.snapshot().cases() {
            if !case.closed {
                open.push((id, case));
            }
        }
        open
    }

    pub(super) fn closed_cases(&self) -> Vec<Uuid> {
        let mut closed = Vec::new();
        for (id, case) in self.snapshot().cases() {
            if case.closed {
                closed.push(id);
            }
        }
        closed
    }

    /// The pool countries whose membership (`None` if they never joined) passes `test`.
    fn countries_where(&self, test: impl Fn(Option<Membership>) -> bool) -> Vec<CountryCode> {
        let snapshot = self.snapshot();
        let mut out = Vec::new();
        for c in pool() {
            if test(snapshot.membership(*c)) {
                out.push(*c);
            }
        }
        out
    }

    pub(super) fn active(&self) -> Vec<CountryCode> {
        self.countries_where(|m| m.is_some_and(|m| m.is_active()))
    }

    /// Countries that may join: never joined, suspended or withdrawn.
    pub(super) fn joinable(&self) -> Vec<CountryCode> {
        self.countries_where(|m| !m.is_some_and(|m| m.is_active()))
    }

    pub(super) fn never_joined(&self) -> Vec<CountryCode> {
        self.countries_where(|m| m.is_none())
    }

    /// Indices of accepted events whose id the model knows.
    pub(super) fn known(&self) -> Vec<usize> {
        (0..self.log.len())
            .filter(|i| self.log[*i].id.is_some())
            .collect()
    }

    /// Indices of facts with a known id, retracted or not.
    pub(super) fn fact_targets(&self, retracted: bool) -> Vec<usize> {
        (0..self.log.len())
            .filter(|i| {
                let r = &self.log[*i];
                matches!(r.event.payload, Payload::Fact(_))
                    && r.id.is_some_and(|id| self.is_retracted(id) == retracted)
            })
            .collect()
    }

    /// Indices of corrections and retractions with a known id.
    pub(super) fn amendments(&self) -> Vec<usize> {
        (0..self.log.len())
            .filter(|i| {
                let r = &self.log[*i];
                !matches!(r.event.payload, Payload::Fact(_)) && r.id.is_some()
            })
            .collect()
    }

    pub(super) fn without_expect(&self) -> RefState {
        RefState {
            next: self.next,
            log: self.log.clone(),
            expect: Vec::new(),
        }
    }

    /// Predicts one atomic batch and, when it must be accepted, adds it to the log.
    pub(super) fn decide(&mut self, events: &[NewEvent]) -> BatchExpect {
        let start = self.log.len();
        let mut positions = Vec::new();
        let mut outs = Vec::new();
        let mut failures = Vec::new();
        for (index, event) in events.iter().enumerate() {
            match self.decide_one(event, start, &positions) {
                Ok(out) => {
                    if matches!(out, EvExpect::New { .. }) {
                        positions.push(index);
                    }
                    outs.push(out);
                }
                Err(rules) => failures.push((index, rules)),
            }
        }
        if !failures.is_empty() {
            // All or nothing: the batch's accepted events go again.
            self.log.truncate(start);
            return Err(Refusal { failures });
        }
        Ok(outs)
    }

    /// Decides one event of a batch against the log so far (the batch's accepted events
    /// included), and records it when it is new. `start` is where the batch began in the log,
    /// `positions` the batch index of each of its new records.
    pub(super) fn decide_one(
        &mut self,
        event: &NewEvent,
        start: usize,
        positions: &[usize],
    ) -> Result<EvExpect, BTreeSet<Rule>> {
        match judge(&self.log, event) {
            Verdict::Resent(at) if at >= start => Ok(EvExpect::SameAs(positions[at - start])),
            Verdict::Resent(at) => Ok(EvExpect::Existing(
                self.log[at].id.expect("a re-sent event has an id"),
            )),
            Verdict::Refused(rules) => Err(rules),
            Verdict::Recorded { stream, version } => {
                self.log.push(RefRec {
                    id: event.event_id,
                    stream: stream.clone(),
                    event: event.clone(),
                });
                Ok(EvExpect::New { stream, version })
            }
        }
    }

    /// Predicts a group of concurrent submissions. Those outside a contested group touch
    /// distinct streams and refer to no other submission, so each is decided against the state
    /// before the group; each contested group has exactly one winner when its first member
    /// passes, and the others then fail against the state after it.
    pub(super) fn predict_concurrent(&mut self, subs: &[Sub]) -> Vec<SubExpect> {
        let before = self.without_expect();
        let mut accepted: Vec<Vec<NewEvent>> = Vec::new();
        let mut groups: BTreeMap<u8, SubExpect> = BTreeMap::new();
        let mut expects = Vec::new();
        for sub in subs {
            match sub.group {
                None => {
                    let outcome = before.clone().decide(&sub.events);
                    if outcome.is_ok() {
                        accepted.push(sub.events.clone());
                    }
                    expects.push(SubExpect::Alone(outcome));
                }
                Some(group) if sub.identical => {
                    if let Entry::Vacant(slot) = groups.entry(group) {
                        let expect = before.clone().decide(&sub.events);
                        if expect.is_ok() {
                            accepted.push(sub.events.clone());
                        }
                        slot.insert(SubExpect::Identical { group, expect });
                    }
                    expects.push(groups[&group].clone());
                }
                Some(group) => {
                    if let Entry::Vacant(slot) = groups.entry(group) {
                        let members: Vec<&Sub> =
                            subs.iter().filter(|s| s.group == Some(group)).collect();
                        let mut after = before.clone();
                        let expect = match after.decide(&members[0].events) {
                            Ok(outs) => {
                                let refusal = match members.get(1) {
                                    Some(second) => {
                                        after.clone().decide(&second.events).expect_err(
                                            "contested submissions must exclude each other",
                                        )
                                    }
                                    None => Refusal {
                                        failures: vec![(0, BTreeSet::new())],
                                    },
                                };
                                // The winner's id is the ledger's choice: the model keeps the
                                // content only.
                                accepted.push(
                                    members[0]
                                        .events
                                        .iter()
                                        .map(|e| NewEvent {
                                            event_id: None,
                                            ..e.clone()
                                        })
                                        .collect(),
                                );
                                SubExpect::Contested {
                                    group,
                                    winner: Some(outs),
                                    refusal,
                                }
                            }
                            Err(refusal) => SubExpect::Contested {
                                group,
                                winner: None,
                                refusal,
                            },
                        };
                        slot.insert(expect);
                    }
                    expects.push(groups[&group].clone());
                }
            }
        }
        for events in &accepted {
            let applied = self.decide(events);
            assert!(
                applied.is_ok(),
                "concurrent submissions must not depend on each other: {applied:?}"
            );
        }
        expects
    }
}
