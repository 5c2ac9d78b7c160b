//! Generating events: the generator's randomness, facts of every type, valid events against the
//! model's state, amendments, re-used ids and refused events.

use coopledger::proto_events::values::{
    CaseOutcome, Commodity, MeetingKind, Milestone, Participants, PartnerRole, Pillar,
    RetractionReason, Venue,
};
use coopledger::proto_events::{
    ActivityCancelled, ActivityDelivered, ActivityScheduled, CaseClosed, CaseCountryAdded,
    CaseMilestoneRecorded, CaseOpened, CountryCode, CountryJoined, CurrencyCode, Date,
    EventCorrected, EventRetracted, ExpectedVersion, Fact, MeetingHeld, NewEvent,
    ParticipationChanged, PartnerRegistered, Payload, Stream,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use super::data::{
    ACTIVITY_KINDS, CASE_TYPES, CHANGE_TO, CITIES, JOIN_AS, MEETING_KINDS, OUTCOMES, REASONS,
    STAFF, add_days, day, entity_id, event_id, pool,
};
use super::domain::{needs_two, stream_of};
use super::effective::CaseNow;
use super::model::RefState;
use super::rules::{fact_of, same_content};
use crate::support::cc;

/// The generator's randomness and id counter.
pub(super) struct G {
    pub(super) rng: ChaCha8Rng,
    pub(super) next: u64,
}

impl G {
    pub(super) fn new(seed: u64, next: u64) -> Self {
        G {
            rng: ChaCha8Rng::seed_from_u64(seed),
            next,
        }
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub(super) fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }

    pub(super) fn raw(&mut self) -> u64 {
        self.rng.random()
    }

    pub(super) fn fresh(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    pub(super) fn event_id(&mut self) -> Uuid {
        event_id(self.fresh())
    }

    pub(super) fn entity_id(&mut self) -> Uuid {
        entity_id(self.fresh())
    }

    /// `n` distinct countries of the pool, none of `exclude`.
    pub(super) fn countries(&mut self, n: usize, exclude: &[CountryCode]) -> Vec<CountryCode> {
        let mut candidates: Vec<CountryCode> = pool()
            .iter()
            .copied()
            .filter(|c| !exclude.contains(c))
            .collect();
        let mut out = Vec::new();
        while out.len() < n && !candidates.is_empty() {
            let i = self.below(candidates.len());
            out.push(candidates.swap_remove(i));
        }
        out
    }

    /// `min + below(extra)` distinct countries of the pool, none of `exclude`.
    pub(super) fn some_countries(
        &mut self,
        min: usize,
        extra: usize,
        exclude: &[CountryCode],
    ) -> Vec<CountryCode> {
        let n = min + self.below(extra);
        self.countries(n, exclude)
    }

    pub(super) fn day(&mut self) -> Date {
        day(self.below(1400))
    }

    pub(super) fn participants(&mut self) -> Participants {
        let total = 19 + self.below(22) as u32;
        let women = self.below(total as usize / 2 + 1) as u32;
        Participants {
            total,
            women: Some(women),
            men: self.chance(50).then_some(total - women),
        }
    }

    pub(super) fn venue(&mut self) -> Venue {
        if self.chance(25) {
            Venue::Virtual
        } else {
            let (city, country) = self.pick(&CITIES);
            Venue::Place {
                city: city.to_owned(),
                country: cc(country),
            }
        }
    }

    /// Wraps a payload in an envelope: usually with an id of ours, sometimes without (the
    /// ledger then chooses one).
    pub(super) fn wrap(
        &mut self,
        payload: impl Into<Payload>,
        expected: ExpectedVersion,
    ) -> NewEvent {
        let mut event = NewEvent::new(self.pick(&STAFF), payload);
        event.event_id = if self.chance(92) {
            Some(self.event_id())
        } else {
            None
        };
        event.expected_version = expected;
        if self.chance(50) {
            event.source = Some(format!(
                "https://example.org/crimjust/reports/{}",
                self.below(100_000)
            ));
        }
        if self.chance(15) {
            event.correlation_id = Some(self.entity_id());
        }
        event
    }

    pub(super) fn starting_version(&mut self) -> ExpectedVersion {
        if self.chance(30) {
            ExpectedVersion::New
        } else {
            ExpectedVersion::Any
        }
    }

    pub(super) fn continuing_version(&mut self, st: &RefState, stream: &Stream) -> ExpectedVersion {
        let current = st.version(stream);
        if current == 0 && self.chance(30) {
            ExpectedVersion::New
        } else if self.chance(40) {
            ExpectedVersion::Exact(current)
        } else {
            ExpectedVersion::Any
        }
    }
}

pub(super) fn meeting_fact(g: &mut G, meeting_id: Uuid) -> Fact {
    let kind = g.pick(&MEETING_KINDS);
    let n = if kind == MeetingKind::OperationalCoordination {
        2 + g.below(3)
    } else {
        1 + g.below(5)
    };
    let start = g.day();
    Fact::MeetingHeld(MeetingHeld {
        meeting_id,
        kind,
        title: format!("{} on the cocaine route", kind.as_str().replace('_', " ")),
        start,
        end: add_days(start, g.below(3)),
        venue: g.venue(),
        countries: g.countries(n, &[]),
        participants: g.chance(50).then(|| g.participants()),
    })
}

pub(super) fn activity_fact(g: &mut G, activity_id: Uuid) -> Fact {
    let kind = g.pick(&ACTIVITY_KINDS);
    let beneficiaries = g.some_countries(1, 4, &[]);
    let others = if needs_two(kind) && beneficiaries.len() < 2 {
        1 + g.below(2)
    } else {
        g.below(3)
    };
    let other_countries = g.countries(others, &beneficiaries);
    let start = g.day();
    Fact::ActivityDelivered(ActivityDelivered {
        activity_id,
        kind,
        title: format!(
            "{} on trafficking investigations",
            kind.as_str().replace('_', " ")
        ),
        pillar: g.pick(&[Pillar::CapacityBuilding, Pillar::InterregionalCooperation]),
        start,
        end: add_days(start, g.below(4)),
        venue: g.venue(),
        beneficiaries,
        other_countries,
        participants: g.participants(),
        institutions: Vec::new(),
    })
}

pub(super) fn scheduled_fact(g: &mut G, activity_id: Uuid) -> Fact {
    let kind = g.pick(&ACTIVITY_KINDS);
    let min = if needs_two(kind) { 2 } else { 1 };
    let beneficiaries = g.some_countries(min, 3, &[]);
    let start = g.day();
    Fact::ActivityScheduled(ActivityScheduled {
        activity_id,
        kind,
        title: format!("{} (planned)", kind.as_str().replace('_', " ")),
        start,
        end: add_days(start, g.below(4)),
        venue: g.venue(),
        beneficiaries,
    })
}

pub(super) fn case_opened_fact(g: &mut G, case_id: Uuid) -> Fact {
    let countries = g.some_countries(2, 2, &[]);
    let lead = g.pick(&countries);
    Fact::CaseOpened(CaseOpened {
        case_id,
        codename: format!("CORRIDOR-{}", g.below(1000)),
        case_type: g.pick(&CASE_TYPES),
        countries,
        lead,
        opened_on: g.day(),
    })
}

pub(super) fn milestone(g: &mut G, countries: &[CountryCode]) -> Milestone {
    let one = g.pick(countries);
    match g.below(9) {
        0 if countries.len() >= 2 => {
            let mut two = countries.to_vec();
            let from = two.swap_remove(g.below(two.len()));
            Milestone::MlaRequestSent {
                from,
                to: g.pick(&two),
            }
        }
        1 => Milestone::MlaRequestExecuted { country: one },
        2 => Milestone::ControlledDelivery {
            countries: countries[..1 + g.below(countries.len())].to_vec(),
        },
        3 | 4 => Milestone::Seizure {
            country: one,
            commodity: g.pick(&[
                Commodity::Cocaine,
                Commodity::Cannabis,
                Commodity::Precursors,
            ]),
            quantity_kg: f64::from(1 + g.below(3000) as u32) / 4.0,
        },
        5 => Milestone::Indictment {
            country: one,
            count: 1 + g.below(20) as u32,
        },
        6 => Milestone::AssetsFrozen {
            country: one,
            amount: f64::from(1000 + g.below(1_000_000) as u32),
            currency: CurrencyCode::parse("EUR").expect("currency"),
        },
        _ => Milestone::Arrests {
            country: one,
            count: 1 + g.below(40) as u32,
        },
    }
}

/// A valid next step of an open case: a milestone, a country joining it, or its closure.
pub(super) fn case_step_fact(g: &mut G, case_id: Uuid, case: &CaseNow) -> Fact {
    let countries: Vec<CountryCode> = case.countries.iter().copied().collect();
    let on = add_days(case.opened_on, g.below(400));
    let outside = g.countries(1, &countries);
    let roll = g.below(100);
    if roll < 62 || (roll < 82 && outside.is_empty()) {
        Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
            case_id,
            on,
            milestone: milestone(g, &countries),
        })
    } else if roll < 82 {
        Fact::CaseCountryAdded(CaseCountryAdded {
            case_id,
            country: outside[0],
            added_on: on,
        })
    } else {
        Fact::CaseClosed(CaseClosed {
            case_id,
            closed_on: on,
            outcome: g.pick(&OUTCOMES),
        })
    }
}

/// A changed copy of a fact: same type, same entity.
pub(super) fn tweak(g: &mut G, fact: &Fact) -> Fact {
    let mut fact = fact.clone();
    match &mut fact {
        Fact::MeetingHeld(m) => {
            if g.chance(50) {
                let n = if m.kind == MeetingKind::OperationalCoordination {
                    2 + g.below(3)
                } else {
                    1 + g.below(5)
                };
                m.countries = g.countries(n, &[]);
            } else {
                m.title = format!("{} (revised)", m.title);
                m.participants = Some(g.participants());
            }
        }
        Fact::ActivityDelivered(a) => {
            if g.chance(50) {
                a.participants.total += 1 + g.below(5) as u32;
            } else {
                a.beneficiaries = g.some_countries(2, 3, &[]);
                a.other_countries = g.some_countries(0, 2, &a.beneficiaries);
            }
        }
        Fact::CaseOpened(o) => {
            if g.chance(50) {
                o.codename = format!("{}-B", o.codename);
            } else {
                o.countries = g.some_countries(2, 2, &[]);
                o.lead = g.pick(&o.countries);
            }
        }
        Fact::CountryJoined(j) => {
            j.joined_on = g.day();
            j.participation = g.pick(&JOIN_AS);
        }
        Fact::ParticipationChanged(c) => c.reason = format!("{} (revised)", c.reason),
        Fact::PartnerRegistered(p) => p.registered_on = g.day(),
        Fact::ActivityScheduled(a) => a.title = format!("{} (revised)", a.title),
        Fact::ActivityCancelled(a) => a.reason = format!("{} (revised)", a.reason),
        Fact::CaseCountryAdded(a) => a.added_on = add_days(a.added_on, 1),
        Fact::CaseMilestoneRecorded(m) => m.on = add_days(m.on, 1),
        Fact::CaseClosed(c) => {
            c.outcome = if c.outcome == CaseOutcome::Unknown {
                CaseOutcome::Convicted
            } else {
                CaseOutcome::Unknown
            };
        }
    }
    fact
}

/// One valid event against `st`: a join, a status change, a meeting, an activity, a case or a
/// step of an open case.
pub(super) fn valid_event(g: &mut G, st: &RefState) -> NewEvent {
    let roll = g.below(100);
    // Each list is computed only for the rolls that use it.
    let joinable = if roll < 10 { st.joinable() } else { Vec::new() };
    if roll < 10 && !joinable.is_empty() {
        let country = g.pick(&joinable);
        let expected = g.continuing_version(st, &Stream::Country(country));
        let fact = Fact::CountryJoined(CountryJoined {
            country,
            joined_on: g.day(),
            participation: g.pick(&JOIN_AS),
        });
        return g.wrap(fact, expected);
    }
    let active = if roll < 14 { st.active() } else { Vec::new() };
    if roll < 14 && !active.is_empty() {
        let country = g.pick(&active);
        let expected = g.continuing_version(st, &Stream::Country(country));
        let fact = Fact::ParticipationChanged(ParticipationChanged {
            country,
            changed_on: g.day(),
            participation: g.pick(&CHANGE_TO),
            reason: "steering committee decision".into(),
        });
        return g.wrap(fact, expected);
    }
    let partners = st.unregistered_partners();
    if (14..17).contains(&roll) && !partners.is_empty() {
        let (slug, name) = g.pick(&partners);
        let fact = Fact::PartnerRegistered(PartnerRegistered {
            partner: slug.to_owned(),
            name: name.to_owned(),
            roles: if g.chance(50) {
                vec![PartnerRole::Implementing]
            } else {
                vec![PartnerRole::Accountable, PartnerRole::Implementing]
            },
            registered_on: g.day(),
        });
        let expected = g.starting_version();
        return g.wrap(fact, expected);
    }
    if (17..21).contains(&roll) {
        let scheduled = st.scheduled_activities();
        if !scheduled.is_empty() && g.chance(60) {
            // Re-plan or cancel a scheduled activity.
            let activity_id = g.pick(&scheduled);
            let fact = if g.chance(50) {
                Fact::ActivityCancelled(ActivityCancelled {
                    activity_id,
                    cancelled_on: g.day(),
                    reason: "the host country asked to postpone".into(),
                })
            } else {
                scheduled_fact(g, activity_id)
            };
            let expected = g.continuing_version(st, &Stream::Activity(activity_id));
            return g.wrap(fact, expected);
        }
        let id = g.entity_id();
        let fact = scheduled_fact(g, id);
        let expected = g.continuing_version(st, &Stream::Activity(id));
        return g.wrap(fact, expected);
    }
    if roll < 36 {
        let id = g.entity_id();
        let fact = meeting_fact(g, id);
        let expected = g.starting_version();
        return g.wrap(fact, expected);
    }
    let open = if roll >= 72 {
        st.open_cases()
    } else {
        Vec::new()
    };
    if roll >= 72 && !open.is_empty() {
        let (case_id, case) = g.pick(&open);
        let fact = case_step_fact(g, case_id, &case);
        let expected = g.continuing_version(st, &Stream::Case(case_id));
        return g.wrap(fact, expected);
    }
    let id = g.entity_id();
    let fact = if roll >= 60 {
        case_opened_fact(g, id)
    } else {
        activity_fact(g, id)
    };
    let expected = g.starting_version();
    g.wrap(fact, expected)
}

/// A valid correction or retraction of a fact of `st` that is not retracted.
pub(super) fn amendment(g: &mut G, st: &RefState) -> Option<NewEvent> {
    let targets = st.fact_targets(false);
    if targets.is_empty() {
        return None;
    }
    let rec = &st.log[g.pick(&targets)];
    let target = rec.id?;
    let expected = if g.chance(30) {
        ExpectedVersion::Exact(st.version(&rec.stream))
    } else {
        ExpectedVersion::Any
    };
    if g.chance(55) {
        let current = fact_of(&rec.event.payload)?;
        let replacement = tweak(g, current);
        Some(g.wrap(
            Payload::Corrected(EventCorrected {
                target,
                replacement,
                reason: "figures revised after the final report".into(),
            }),
            expected,
        ))
    } else {
        let reason = g.pick(&REASONS);
        let others: Vec<Uuid> = st
            .fact_targets(false)
            .into_iter()
            .filter_map(|i| st.log[i].id)
            .filter(|id| *id != target)
            .collect();
        let duplicate_of =
            (reason == RetractionReason::Duplicate && !others.is_empty()).then(|| g.pick(&others));
        Some(g.wrap(
            Payload::Retracted(EventRetracted {
                target,
                reason,
                duplicate_of,
            }),
            expected,
        ))
    }
}

pub(super) fn wrong_version(g: &mut G, current: u64) -> ExpectedVersion {
    if current > 0 && g.chance(40) {
        ExpectedVersion::New
    } else if current >= 2 && g.chance(30) {
        ExpectedVersion::Exact(current - 1 - g.below(current as usize - 1) as u64)
    } else {
        ExpectedVersion::Exact(current + 1 + g.below(3) as u64)
    }
}

/// An accepted event's id with other content.
pub(super) fn reused(g: &mut G, original: &NewEvent) -> NewEvent {
    let mut event = original.clone();
    match g.below(3) {
        0 => {
            event.source = Some(format!(
                "{} (second source)",
                original.source.as_deref().unwrap_or("report")
            ));
        }
        1 => event.recorded_by = format!("{}.retry", original.recorded_by),
        _ => {
            event.payload = match &original.payload {
                Payload::Fact(f) => Payload::Fact(tweak(g, f)),
                Payload::Corrected(c) => Payload::Corrected(EventCorrected {
                    reason: format!("{} (again)", c.reason),
                    ..c.clone()
                }),
                Payload::Retracted(r) => Payload::Retracted(EventRetracted {
                    reason: if r.reason == RetractionReason::OutOfScope {
                        RetractionReason::EnteredInError
                    } else {
                        RetractionReason::OutOfScope
                    },
                    ..r.clone()
                }),
            };
        }
    }
    if same_content(&event, original) {
        event.source = Some("https://example.org/crimjust/other".into());
    }
    event
}

/// An event that the state refuses: a stale or impossible expected version, or a retraction
/// of a retracted fact.
pub(super) fn bad_event(g: &mut G, st: &RefState) -> NewEvent {
    let retracted = st.fact_targets(true);
    if !retracted.is_empty() && g.chance(50) {
        let target = st.log[g.pick(&retracted)].id.expect("known id");
        return g.wrap(
            Payload::Retracted(EventRetracted {
                target,
                reason: RetractionReason::EnteredInError,
                duplicate_of: None,
            }),
            ExpectedVersion::Any,
        );
    }
    let mut event = valid_event(g, st);
    let stream = stream_of(fact_of(&event.payload).expect("a generated fact"));
    event.expected_version = wrong_version(g, st.version(&stream));
    event
}
