//! The reference model's effective state (domain.md, "Effective state"), recomputed from the
//! whole list of records every time it is asked for: no state is carried from one append to
//! the next, and every question (a country's participation, a case, an activity's schedule) is
//! answered by plain loops over the facts that count.

use std::collections::{BTreeMap, BTreeSet};

use coopledger::proto_events::values::{Participation, ParticipationStatus};
use coopledger::proto_events::{CountryCode, Date, Fact, Payload};
use uuid::Uuid;

/// The facts that count in a log (or a prefix of it), in log order.
pub(super) struct Snapshot<'a> {
    pub(super) facts: Vec<&'a Fact>,
}

/// domain.md, "Effective state": "For each fact event E: if a retraction of E is in the log, E
/// counts for nothing; otherwise, if corrections of E are in the log, the one with the highest
/// sequence replaces E's payload (keeping E's place in the log); otherwise E counts as
/// recorded." `records` are (event id, payload) in sequence order; an id is `None` where the
/// model does not know it (no amendment can name such a fact).
pub(super) fn effective<'a>(
    records: impl IntoIterator<Item = (Option<Uuid>, &'a Payload)>,
) -> Snapshot<'a> {
    let records: Vec<(Option<Uuid>, &'a Payload)> = records.into_iter().collect();
    let mut retracted: BTreeSet<Uuid> = BTreeSet::new();
    let mut latest_correction: BTreeMap<Uuid, &'a Fact> = BTreeMap::new();
    for (_, payload) in &records {
        match payload {
            Payload::Retracted(r) => {
                retracted.insert(r.target);
            }
            // In sequence order, so the last one written is the one with the highest sequence.
            Payload::Corrected(c) => {
                latest_correction.insert(c.target, &c.replacement);
            }
            Payload::Fact(_) => {}
        }
    }
    let mut facts = Vec::new();
    for (id, payload) in &records {
        let Payload::Fact(as_recorded) = payload else {
            continue;
        };
        match id {
            Some(id) if retracted.contains(id) => {}
            Some(id) => facts.push(latest_correction.get(id).copied().unwrap_or(as_recorded)),
            None => facts.push(as_recorded),
        }
    }
    Snapshot { facts }
}

/// A country's place in the programme: its latest status and the day it last joined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Membership {
    pub(super) status: ParticipationStatus,
    pub(super) joined_on: Date,
}

impl Membership {
    /// README, "Rules the domain reference leaves open": "a suspended or withdrawn country may
    /// join again" — every other status makes it an active participant, which may not
    /// (domain.md: "`CountryJoined` needs the country not already an active participant").
    pub(super) fn is_active(&self) -> bool {
        !matches!(
            self.status,
            ParticipationStatus::Suspended | ParticipationStatus::Withdrawn
        )
    }
}

/// A case as the rules and the views see it: "a case's `countries` plus every country added to
/// it" (domain.md, "Regions"), and whether an effective `CaseClosed` exists ("Views").
#[derive(Debug, Clone)]
pub(super) struct CaseNow {
    pub(super) opened_on: Date,
    pub(super) countries: BTreeSet<CountryCode>,
    pub(super) closed: bool,
}

fn joined_as(p: Participation) -> ParticipationStatus {
    match p {
        Participation::Beneficiary => ParticipationStatus::Beneficiary,
        Participation::Associated => ParticipationStatus::Associated,
        Participation::Partner => ParticipationStatus::Partner,
        Participation::Observer => ParticipationStatus::Observer,
    }
}

impl Snapshot<'_> {
    /// The country's membership: `None` while no effective `CountryJoined` of it comes first;
    /// then each join sets the status and the day, each change the status, in log order
    /// (domain.md, "Principles": "Order is the ledger's gap-free sequence number").
    pub(super) fn membership(&self, country: CountryCode) -> Option<Membership> {
        let mut now: Option<Membership> = None;
        for fact in &self.facts {
            match fact {
                Fact::CountryJoined(j) if j.country == country => {
                    now = Some(Membership {
                        status: joined_as(j.participation),
                        joined_on: j.joined_on,
                    });
                }
                Fact::ParticipationChanged(c) if c.country == country => {
                    if let Some(m) = now.as_mut() {
                        m.status = c.participation;
                    }
                }
                _ => {}
            }
        }
        now
    }

    /// Every case with an effective `CaseOpened`, by id.
    pub(super) fn cases(&self) -> BTreeMap<Uuid, CaseNow> {
        let mut cases: BTreeMap<Uuid, CaseNow> = BTreeMap::new();
        for fact in &self.facts {
            if let Fact::CaseOpened(o) = fact {
                cases.insert(
                    o.case_id,
                    CaseNow {
                        opened_on: o.opened_on,
                        countries: o.countries.iter().copied().collect(),
                        closed: false,
                    },
                );
            }
        }
        for fact in &self.facts {
            match fact {
                Fact::CaseCountryAdded(a) => {
                    if let Some(case) = cases.get_mut(&a.case_id) {
                        case.countries.insert(a.country);
                    }
                }
                Fact::CaseClosed(c) => {
                    if let Some(case) = cases.get_mut(&c.case_id) {
                        case.closed = true;
                    }
                }
                _ => {}
            }
        }
        cases
    }

    /// One case: its effective opening, the countries added to it and whether it closed.
    pub(super) fn case(&self, id: Uuid) -> Option<CaseNow> {
        let mut case: Option<CaseNow> = None;
        for fact in &self.facts {
            if let Fact::CaseOpened(o) = fact
                && o.case_id == id
            {
                case = Some(CaseNow {
                    opened_on: o.opened_on,
                    countries: o.countries.iter().copied().collect(),
                    closed: false,
                });
            }
        }
        let mut case = case?;
        for fact in &self.facts {
            match fact {
                Fact::CaseCountryAdded(a) if a.case_id == id => {
                    case.countries.insert(a.country);
                }
                Fact::CaseClosed(c) if c.case_id == id => case.closed = true,
                _ => {}
            }
        }
        Some(case)
    }

    /// Whether the activity has an effective schedule still open: its last effective
    /// `ActivityScheduled`, `ActivityDelivered` or `ActivityCancelled` is a schedule.
    pub(super) fn scheduled(&self, activity: Uuid) -> bool {
        let mut scheduled = false;
        for fact in &self.facts {
            match fact {
                Fact::ActivityScheduled(a) if a.activity_id == activity => scheduled = true,
                Fact::ActivityDelivered(a) if a.activity_id == activity => scheduled = false,
                Fact::ActivityCancelled(a) if a.activity_id == activity => scheduled = false,
                _ => {}
            }
        }
        scheduled
    }
}
