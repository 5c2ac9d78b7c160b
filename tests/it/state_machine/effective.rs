//! The reference model's effective state (domain.md, "Effective state") and which countries
//! have a view.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use coopledger::proto_events::values::ParticipationStatus;
use coopledger::proto_events::{CountryCode, Date, Fact, Payload, Stream};
use uuid::Uuid;

use super::model::{CaseNow, RefState};
use super::sut::Sut;

impl RefState {
    /// The effective facts of a stream, in order (domain.md, "Effective state").
    pub(super) fn facts(&self, stream: &Stream) -> Vec<Fact> {
        let mut facts: Vec<(Option<Uuid>, Option<Fact>)> = Vec::new();
        for rec in self.log.iter().filter(|r| &r.stream == stream) {
            match &rec.event.payload {
                Payload::Fact(f) => facts.push((rec.id, Some(f.clone()))),
                Payload::Corrected(c) => {
                    if let Some(slot) = facts.iter_mut().find(|(id, _)| *id == Some(c.target)) {
                        slot.1 = Some(c.replacement.clone());
                    }
                }
                Payload::Retracted(r) => {
                    if let Some(slot) = facts.iter_mut().find(|(id, _)| *id == Some(r.target)) {
                        slot.1 = None;
                    }
                }
            }
        }
        facts.into_iter().filter_map(|(_, f)| f).collect()
    }

    pub(super) fn participation(&self, c: CountryCode) -> Option<(ParticipationStatus, Date)> {
        let mut state = None;
        for fact in self.facts(&Stream::Country(c)) {
            match fact {
                Fact::CountryJoined(j) => state = Some((j.participation.into(), j.joined_on)),
                Fact::ParticipationChanged(ch) => {
                    if let Some((status, _)) = &mut state {
                        *status = ch.participation;
                    }
                }
                _ => {}
            }
        }
        state
    }

    pub(super) fn case(&self, id: Uuid) -> Option<CaseNow> {
        let mut state: Option<CaseNow> = None;
        for fact in self.facts(&Stream::Case(id)) {
            match (fact, &mut state) {
                (Fact::CaseOpened(o), _) => {
                    state = Some(CaseNow {
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

    /// Whether an activity stream holds an effective schedule and no effective cancellation.
    pub(super) fn scheduled(&self, stream: &Stream) -> bool {
        let mut scheduled = false;
        for fact in self.facts(stream) {
            match fact {
                Fact::ActivityScheduled(_) => scheduled = true,
                Fact::ActivityCancelled(_) | Fact::ActivityDelivered(_) => scheduled = false,
                _ => {}
            }
        }
        scheduled
    }
}

impl Sut {
    /// The countries with a view as of `k`: every country involved in an effective meeting,
    /// activity or case, or with an effective join (domain.md, "Views").
    pub(super) fn present(&self, k: u64) -> BTreeSet<CountryCode> {
        let recs = &self.log[..k as usize];
        let mut effective: HashMap<Uuid, Option<Fact>> = HashMap::new();
        let mut order: Vec<Uuid> = Vec::new();
        for a in recs {
            match &a.event.payload {
                Payload::Fact(f) => {
                    effective.insert(a.id, Some(f.clone()));
                    order.push(a.id);
                }
                Payload::Corrected(c) => {
                    if let Some(slot) = effective.get_mut(&c.target) {
                        *slot = Some(c.replacement.clone());
                    }
                }
                Payload::Retracted(r) => {
                    if let Some(slot) = effective.get_mut(&r.target) {
                        *slot = None;
                    }
                }
            }
        }
        let mut out = BTreeSet::new();
        let mut cases: BTreeMap<Uuid, BTreeSet<CountryCode>> = BTreeMap::new();
        let mut added: Vec<(Uuid, CountryCode)> = Vec::new();
        for id in order {
            match effective.get(&id).cloned().flatten() {
                Some(Fact::MeetingHeld(m)) => out.extend(m.countries),
                Some(Fact::ActivityDelivered(a)) => {
                    out.extend(a.beneficiaries);
                    out.extend(a.other_countries);
                }
                Some(Fact::CountryJoined(j)) => {
                    out.insert(j.country);
                }
                Some(Fact::CaseOpened(o)) => {
                    cases.insert(o.case_id, o.countries.into_iter().collect());
                }
                Some(Fact::CaseCountryAdded(a)) => added.push((a.case_id, a.country)),
                _ => {}
            }
        }
        for (case, country) in added {
            if let Some(countries) = cases.get_mut(&case) {
                countries.insert(country);
            }
        }
        out.extend(cases.into_values().flatten());
        out
    }
}
