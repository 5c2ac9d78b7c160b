//! A deterministic generator of cooperation histories, for the demo, the benchmarks and the
//! tests. The same seed always gives the same events, event ids included, so a rerun of the demo
//! appends nothing new.
//!
//! Two programmes: [`Synth::programme`], a dense load (most activities span two regions, all
//! in 2016–2020), which the benchmarks and load tests use; and [`Synth::believable`], what
//! `coopledger demo --synthetic N` records: spread over 2016–2026 with the mix of a real
//! programme, every event labelled synthetic in its `source`. Countries, sizes and kinds follow
//! domain.md's reference facts: the phase I participants of Latin America and West Africa,
//! European partners, typical activities of 19–40 participants.

use std::collections::BTreeSet;

use proto_events::values::{
    ActivityKind, CaseOutcome, CaseType, Commodity, Institution, MeetingKind, Milestone,
    Participants, Participation, Pillar, RetractionReason, Venue,
};
use proto_events::{
    ActivityCancelled, ActivityDelivered, ActivityScheduled, CaseClosed, CaseCountryAdded,
    CaseMilestoneRecorded, CaseOpened, CountryCode, CountryJoined, Date, EventCorrected,
    EventRetracted, Fact, MeetingHeld, NewEvent, Payload,
};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

/// Latin America and the Caribbean.
pub const LAC: [&str; 15] = [
    "AR", "BO", "BR", "CO", "DO", "EC", "PA", "PE", "CL", "PY", "UY", "CR", "MX", "JM", "TT",
];
/// West Africa.
pub const WEST_AFRICA: [&str; 10] = ["CV", "GH", "GW", "NG", "LR", "GM", "SN", "CI", "TG", "BJ"];
/// European partners and venues.
pub const EUROPE: [&str; 6] = ["ES", "PT", "BE", "FR", "DE", "NL"];
/// Others seen in activities.
pub const OTHERS: [&str; 4] = ["ET", "ST", "EG", "US"];

const CITIES: [(&str, &str); 8] = [
    ("Vienna", "AT"),
    ("Lyon", "FR"),
    ("Accra", "GH"),
    ("Bogotá", "CO"),
    ("Madrid", "ES"),
    ("Lisbon", "PT"),
    ("Panama City", "PA"),
    ("Praia", "CV"),
];

fn cc(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap_or_else(|| unreachable!("{code} is a valid code"))
}

/// See the module documentation.
pub struct Synth {
    rng: ChaCha8Rng,
    seed: u64,
    counter: u64,
    joined: BTreeSet<CountryCode>,
    open_cases: Vec<(Uuid, Vec<CountryCode>, Date)>,
    facts: Vec<(Uuid, Fact)>,
    retracted: BTreeSet<Uuid>,
}

impl Synth {
    /// A generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Synth {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
            counter: 0,
            joined: BTreeSet::new(),
            open_cases: Vec::new(),
            facts: Vec::new(),
            retracted: BTreeSet::new(),
        }
    }

    /// Treats `countries` as already joined (so the programme does not join them again).
    #[must_use]
    pub fn assume_joined(mut self, countries: &[CountryCode]) -> Self {
        self.joined.extend(countries.iter().copied());
        self
    }

    /// The next deterministic UUIDv7 (timestamp from the seed's epoch plus a counter).
    pub fn next_id(&mut self) -> Uuid {
        self.counter += 1;
        let millis = 1_500_000_000_000u64 + (self.seed % 1_000) * 1_000_000_000 + self.counter;
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.seed.to_be_bytes());
        random[8..].copy_from_slice(&(self.counter as u16).to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    fn pick(&mut self, pool: &[&str], n: usize) -> Vec<CountryCode> {
        let mut all: Vec<&str> = pool.to_vec();
        all.shuffle(&mut self.rng);
        all.into_iter().take(n).map(cc).collect()
    }

    fn date(&mut self) -> Date {
        let days = self.rng.random_range(0..1460);
        jiff::civil::date(2016, 3, 1)
            .checked_add(jiff::Span::new().days(days))
            .unwrap_or_else(|_| jiff::civil::date(2016, 3, 1))
    }

    fn wrap(&mut self, payload: impl Into<Payload>) -> NewEvent {
        let id = self.next_id();
        let mut event = NewEvent::new("synth.programme", payload).with_id(id);
        event.source = Some(format!(
            "https://example.org/crimjust/reports/{}",
            self.counter
        ));
        if let Payload::Fact(f) = &event.payload {
            self.facts.push((id, f.clone()));
        }
        event
    }

    /// A typical delivered activity (~300 bytes stored): 2–6 beneficiaries, 0–3 other
    /// countries, 19–40 participants.
    pub fn activity(&mut self) -> NewEvent {
        let lac = self.rng.random_range(1..=3);
        let wa = self.rng.random_range(1..=3);
        let mut beneficiaries = self.pick(&LAC, lac);
        beneficiaries.extend(self.pick(&WEST_AFRICA, wa));
        let others = self.rng.random_range(0..=2);
        let other_countries = self.pick(&EUROPE, others);
        let total = self.rng.random_range(19..=40);
        let women = self.rng.random_range(0..=total / 2);
        let kind = *[
            ActivityKind::Training,
            ActivityKind::Workshop,
            ActivityKind::InvestigativeCaseForum,
            ActivityKind::PracticalExercise,
            ActivityKind::TrainingOfTrainers,
            ActivityKind::CaseMentoring,
        ]
        .choose(&mut self.rng)
        .unwrap_or(&ActivityKind::Training);
        let start = self.date();
        let end = start.tomorrow().unwrap_or(start);
        let (city, country) = *CITIES.choose(&mut self.rng).unwrap_or(&CITIES[0]);
        let activity_id = self.next_id();
        self.wrap(Fact::ActivityDelivered(ActivityDelivered {
            activity_id,
            kind,
            title: format!(
                "{} on cocaine trafficking investigations",
                kind.as_str().replace('_', " ")
            ),
            pillar: Pillar::CapacityBuilding,
            start,
            end,
            venue: Venue::Place {
                city: city.to_owned(),
                country: cc(country),
            },
            beneficiaries,
            other_countries,
            participants: Participants {
                total,
                women: Some(women),
                men: Some(total - women),
            },
            institutions: Vec::new(),
        }))
    }

    fn meeting(&mut self) -> NewEvent {
        let mut countries = self.pick(&LAC, 2);
        countries.extend(self.pick(&WEST_AFRICA, 2));
        countries.extend(self.pick(&EUROPE, 1));
        let start = self.date();
        let meeting_id = self.next_id();
        self.wrap(Fact::MeetingHeld(MeetingHeld {
            meeting_id,
            kind: MeetingKind::NetworkMeeting,
            title: "Inter-regional network meeting".into(),
            start,
            end: start,
            venue: Venue::Virtual,
            countries,
            participants: None,
        }))
    }

    fn join(&mut self) -> Option<NewEvent> {
        let pool: Vec<&str> = LAC
            .iter()
            .chain(&WEST_AFRICA)
            .chain(&EUROPE)
            .copied()
            .collect();
        let candidates: Vec<CountryCode> = pool
            .into_iter()
            .map(cc)
            .filter(|c| !self.joined.contains(c))
            .collect();
        let country = *candidates.choose(&mut self.rng)?;
        self.joined.insert(country);
        let joined_on = self.date();
        Some(self.wrap(Fact::CountryJoined(CountryJoined {
            country,
            joined_on,
            participation: Participation::Beneficiary,
        })))
    }

    fn open_case(&mut self) -> NewEvent {
        let mut countries = self.pick(&LAC, 1);
        countries.extend(self.pick(&WEST_AFRICA, 1));
        countries.extend(self.pick(&EUROPE, 1));
        let case_id = self.next_id();
        let opened_on = jiff::civil::date(2017, 1, 10);
        self.open_cases
            .push((case_id, countries.clone(), opened_on));
        let lead = countries[0];
        self.wrap(Fact::CaseOpened(CaseOpened {
            case_id,
            codename: format!("CORRIDOR-{}", self.counter),
            case_type: CaseType::PostSeizureInvestigation,
            countries,
            lead,
            opened_on,
        }))
    }

    fn case_step(&mut self) -> Option<NewEvent> {
        let index = self.rng.random_range(0..self.open_cases.len().max(1));
        let (case_id, countries, _) = self.open_cases.get(index)?.clone();
        let on = jiff::civil::date(2018, 6, 1);
        let roll = self.rng.random_range(0..10);
        let fact = if roll < 6 {
            let country = *countries.choose(&mut self.rng)?;
            Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                case_id,
                on,
                milestone: Milestone::Seizure {
                    country,
                    commodity: Commodity::Cocaine,
                    quantity_kg: f64::from(self.rng.random_range(10..3000u32)),
                },
            })
        } else if roll < 8 {
            let pool: Vec<CountryCode> = EUROPE
                .iter()
                .map(|c| cc(c))
                .filter(|c| !countries.contains(c))
                .collect();
            let country = *pool.choose(&mut self.rng)?;
            if let Some(case) = self.open_cases.get_mut(index) {
                case.1.push(country);
            }
            Fact::CaseCountryAdded(CaseCountryAdded {
                case_id,
                country,
                added_on: on,
            })
        } else {
            self.open_cases.swap_remove(index);
            Fact::CaseClosed(CaseClosed {
                case_id,
                closed_on: jiff::civil::date(2019, 12, 1),
                outcome: CaseOutcome::Convicted,
            })
        };
        Some(self.wrap(fact))
    }

    fn correct_or_retract(&mut self) -> Option<NewEvent> {
        // A few tries at a random earlier fact: constant time whatever the history's length (a
        // list of every candidate made a long programme quadratic).
        let mut found = None;
        for _ in 0..20 {
            let at = self.rng.random_range(0..self.facts.len().max(1));
            if let Some((id, f)) = self.facts.get(at)
                && !self.retracted.contains(id)
                && matches!(f, Fact::ActivityDelivered(_) | Fact::MeetingHeld(_))
            {
                found = Some((*id, f.clone()));
                break;
            }
        }
        let (target, fact) = found?;
        if self.rng.random_bool(0.5) {
            self.retracted.insert(target);
            Some(self.wrap(Payload::Retracted(EventRetracted {
                target,
                reason: RetractionReason::EnteredInError,
                duplicate_of: None,
            })))
        } else {
            let mut replacement = fact;
            if let Fact::ActivityDelivered(a) = &mut replacement {
                a.participants.total += 1;
            }
            Some(self.wrap(Payload::Corrected(EventCorrected {
                target,
                replacement,
                reason: "figures revised after the final report".into(),
            })))
        }
    }

    /// `n` valid events of a whole programme, in an order the ledger accepts: joins first, then
    /// a mix of activities, meetings, cases and their steps, and a few corrections and
    /// retractions.
    pub fn programme(&mut self, n: usize) -> Vec<NewEvent> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let roll = self.rng.random_range(0..100);
            let event = match roll {
                0..=4 => self.join(),
                5..=59 => Some(self.activity()),
                60..=74 => Some(self.meeting()),
                75..=81 => Some(self.open_case()),
                82..=95 if !self.open_cases.is_empty() => self.case_step(),
                96..=99 => self.correct_or_retract(),
                _ => None,
            };
            out.extend(event);
        }
        out
    }
}

/// The first day of the believable programme.
const START: (i16, i8, i8) = (2016, 3, 1);
/// Its last day: a fixed day, so that the same seed gives the same events whatever day it is,
/// and one in the past of every run, as the dates of what happened must be.
const END: (i16, i8, i8) = (2026, 10, 31);

/// Capitals and hubs where the programme meets, by country.
const VENUES: [(&str, &str); 26] = [
    ("AR", "Buenos Aires"),
    ("BO", "La Paz"),
    ("BR", "Brasília"),
    ("CO", "Bogotá"),
    ("DO", "Santo Domingo"),
    ("EC", "Quito"),
    ("PA", "Panama City"),
    ("PE", "Lima"),
    ("CL", "Santiago"),
    ("PY", "Asunción"),
    ("UY", "Montevideo"),
    ("CR", "San José"),
    ("MX", "Mexico City"),
    ("JM", "Kingston"),
    ("TT", "Port of Spain"),
    ("CV", "Praia"),
    ("GH", "Accra"),
    ("GW", "Bissau"),
    ("NG", "Abuja"),
    ("LR", "Monrovia"),
    ("GM", "Banjul"),
    ("SN", "Dakar"),
    ("CI", "Abidjan"),
    ("TG", "Lomé"),
    ("BJ", "Cotonou"),
    ("PT", "Lisbon"),
];

const TOPICS: [&str; 10] = [
    "financial investigations of cocaine trafficking",
    "controlled deliveries",
    "container profiling at seaports",
    "airport interdiction",
    "mutual legal assistance in drug cases",
    "asset recovery",
    "digital evidence",
    "maritime interdiction",
    "integrity in the criminal justice chain",
    "prosecuting organised crime",
];

/// Countries that join in the believable programme (the story joins the others).
const LATER_JOINS: [(&str, Participation, (i16, i8, i8)); 12] = [
    ("CL", Participation::Associated, (2017, 4, 3)),
    ("PY", Participation::Beneficiary, (2018, 2, 12)),
    ("UY", Participation::Associated, (2018, 9, 3)),
    ("CR", Participation::Beneficiary, (2019, 5, 20)),
    ("MX", Participation::Observer, (2020, 1, 14)),
    ("JM", Participation::Beneficiary, (2021, 3, 8)),
    ("LR", Participation::Beneficiary, (2017, 6, 19)),
    ("GM", Participation::Beneficiary, (2018, 4, 23)),
    ("SN", Participation::Beneficiary, (2019, 10, 7)),
    ("CI", Participation::Beneficiary, (2021, 6, 14)),
    ("FR", Participation::Partner, (2017, 11, 6)),
    ("NL", Participation::Partner, (2022, 2, 1)),
];

fn day(d: (i16, i8, i8)) -> Date {
    jiff::civil::date(d.0, d.1, d.2)
}

fn plus(d: Date, days: i64) -> Date {
    d.checked_add(jiff::Span::new().days(days)).unwrap_or(d)
}

/// Which countries an activity or meeting reaches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reach {
    National,
    Regional,
    Interregional,
}

impl Synth {
    fn believable_date(&mut self) -> Date {
        let (start, end) = (day(START), day(END));
        let span = (end - start).get_days().max(1);
        plus(start, i64::from(self.rng.random_range(0..span)))
    }

    /// The event's `source`: it says plainly that the fact is generated.
    fn synthetic_source(&self) -> String {
        format!(
            "synthetic: generated by coopledger demo --synthetic (seed {}), not a recorded fact",
            self.seed
        )
    }

    fn synthetic(&mut self, payload: impl Into<Payload>) -> NewEvent {
        let mut event = self.wrap(payload);
        event.source = Some(self.synthetic_source());
        event
    }

    fn venue_in(&mut self, country: CountryCode, on: Date) -> Venue {
        // Mostly online during the pandemic, now and then otherwise.
        let virtual_share = if (2020..=2021).contains(&on.year()) {
            0.6
        } else {
            0.1
        };
        if self.rng.random_bool(virtual_share) {
            return Venue::Virtual;
        }
        match VENUES.iter().find(|(c, _)| *c == country.as_str()) {
            Some((_, city)) => Venue::Place {
                city: (*city).to_owned(),
                country,
            },
            None => Venue::Place {
                city: "Vienna".into(),
                country: cc("AT"),
            },
        }
    }

    fn reach(&mut self) -> Reach {
        match self.rng.random_range(0..100) {
            0..=64 => Reach::National,
            65..=87 => Reach::Regional,
            _ => Reach::Interregional,
        }
    }

    /// Beneficiaries and other countries for a reach: one country; two to four of one region;
    /// or countries of two regions (and a European partner now and then).
    fn countries_for(&mut self, reach: Reach) -> (Vec<CountryCode>, Vec<CountryCode>) {
        let lac_core = &LAC[..8];
        let wa = &WEST_AFRICA[..9];
        match reach {
            Reach::National => {
                let pool = if self.rng.random_bool(0.55) {
                    lac_core
                } else {
                    wa
                };
                (self.pick(pool, 1), Vec::new())
            }
            Reach::Regional => {
                let n = self.rng.random_range(2..=4);
                let pool: &[&str] = if self.rng.random_bool(0.55) { &LAC } else { wa };
                (self.pick(pool, n), Vec::new())
            }
            Reach::Interregional => {
                let (from_lac, from_wa) =
                    (self.rng.random_range(1..=2), self.rng.random_range(1..=2));
                let mut beneficiaries = self.pick(lac_core, from_lac);
                beneficiaries.extend(self.pick(wa, from_wa));
                let others = if self.rng.random_bool(0.5) {
                    self.pick(&EUROPE[..3], 1)
                } else {
                    Vec::new()
                };
                (beneficiaries, others)
            }
        }
    }

    fn believable_activity(&mut self, out: &mut Vec<(Date, NewEvent)>) {
        let reach = self.reach();
        let (beneficiaries, other_countries) = self.countries_for(reach);
        let kind = match reach {
            Reach::National => *[
                ActivityKind::Training,
                ActivityKind::Training,
                ActivityKind::Workshop,
                ActivityKind::PracticalExercise,
                ActivityKind::TrainingOfTrainers,
                ActivityKind::CaseMentoring,
                ActivityKind::InstitutionalAssessment,
                ActivityKind::ExpertMeeting,
            ]
            .choose(&mut self.rng)
            .unwrap_or(&ActivityKind::Training),
            Reach::Regional => *[
                ActivityKind::Training,
                ActivityKind::Workshop,
                ActivityKind::WorkingGroup,
                ActivityKind::StudyVisit,
            ]
            .choose(&mut self.rng)
            .unwrap_or(&ActivityKind::Workshop),
            Reach::Interregional => *[
                ActivityKind::InvestigativeCaseForum,
                ActivityKind::InvestigativeCaseForum,
                ActivityKind::WorkingGroup,
                ActivityKind::StudyVisit,
            ]
            .choose(&mut self.rng)
            .unwrap_or(&ActivityKind::InvestigativeCaseForum),
        };
        let pillar = match (reach, self.rng.random_range(0..20)) {
            (Reach::Interregional, _) => Pillar::InterregionalCooperation,
            (_, 0..=1) => Pillar::InstitutionalIntegrity,
            (_, 2) => Pillar::StrategicKnowledge,
            _ => Pillar::CapacityBuilding,
        };
        // One activity in forty is announced for after the programme's last recorded day.
        let upcoming = self.rng.random_range(0..40) == 0;
        let start = if upcoming {
            plus(day(END), i64::from(self.rng.random_range(20..240)))
        } else {
            self.believable_date()
        };
        let end = plus(start, i64::from(self.rng.random_range(0..=4)));
        let host = beneficiaries.first().copied().unwrap_or_else(|| cc("AT"));
        let venue = self.venue_in(host, start);
        let topic = *TOPICS.choose(&mut self.rng).unwrap_or(&TOPICS[0]);
        let place = match &venue {
            Venue::Place { city, .. } => city.clone(),
            Venue::Virtual => "online".into(),
        };
        let name = kind.as_str().replace('_', " ");
        let title = format!(
            "{}{} on {topic}, {place}",
            name[..1].to_uppercase(),
            &name[1..]
        );
        let total = match reach {
            Reach::National => self.rng.random_range(12..=30),
            _ => self.rng.random_range(18..=40),
        };
        let women = self.rng.random_range(total / 8..=total / 2);
        let institutions = {
            let all = Institution::ALL;
            let n = self.rng.random_range(1..=3);
            let mut chosen: Vec<Institution> =
                all.choose_multiple(&mut self.rng, n).copied().collect();
            chosen.sort_unstable();
            chosen
        };
        let activity_id = self.next_id();
        // One activity in eight was announced first; one of those in five was called off.
        if upcoming || self.rng.random_range(0..8) == 0 {
            let planned_on = plus(start, -i64::from(self.rng.random_range(30..120))).min(day(END));
            let scheduled = self.synthetic(Fact::ActivityScheduled(ActivityScheduled {
                activity_id,
                kind,
                title: title.clone(),
                start,
                end,
                venue: venue.clone(),
                beneficiaries: beneficiaries.clone(),
            }));
            out.push((planned_on, scheduled));
            if upcoming {
                return;
            }
            if self.rng.random_range(0..5) == 0 {
                let cancelled_on = plus(start, -i64::from(self.rng.random_range(1..25)));
                let cancelled = self.synthetic(Fact::ActivityCancelled(ActivityCancelled {
                    activity_id,
                    cancelled_on,
                    reason: "postponed at the request of the host country".into(),
                }));
                out.push((cancelled_on, cancelled));
                return;
            }
        }
        let delivered = self.synthetic(Fact::ActivityDelivered(ActivityDelivered {
            activity_id,
            kind,
            title,
            pillar,
            start,
            end,
            venue,
            beneficiaries,
            other_countries,
            participants: Participants {
                total,
                women: Some(women),
                men: Some(total - women),
            },
            institutions,
        }));
        out.push((start, delivered));
    }

    fn believable_meeting(&mut self, out: &mut Vec<(Date, NewEvent)>) {
        let roll = self.rng.random_range(0..100);
        let (kind, countries, title) = match roll {
            0..=39 => {
                let country = self.pick(&LAC[..8], 1);
                let name = country.first().map_or("", |c| c.name()).to_owned();
                (
                    MeetingKind::BilateralBriefing,
                    country,
                    format!("Briefing of the Permanent Mission of {name} to UN Vienna"),
                )
            }
            40..=64 => {
                let (c, _) = self.countries_for(Reach::Regional);
                (
                    MeetingKind::NetworkMeeting,
                    c,
                    "Regional network meeting".into(),
                )
            }
            65..=79 => {
                let (mut c, others) = self.countries_for(Reach::Interregional);
                c.extend(others);
                (
                    MeetingKind::OperationalCoordination,
                    c,
                    "Operational coordination meeting".into(),
                )
            }
            80..=89 => {
                let mut c = self.pick(&LAC[..8], 5);
                c.extend(self.pick(&WEST_AFRICA[..4], 3));
                c.extend(self.pick(&EUROPE[..3], 2));
                (
                    MeetingKind::AnnualMeeting,
                    c,
                    "Annual meeting of focal points".into(),
                )
            }
            _ => {
                let mut c = self.pick(&LAC[..8], 6);
                c.extend(self.pick(&WEST_AFRICA[..4], 4));
                (
                    MeetingKind::SteeringCommittee,
                    c,
                    "Steering committee".into(),
                )
            }
        };
        let start = self.believable_date();
        let end = if kind == MeetingKind::BilateralBriefing {
            start
        } else {
            plus(start, i64::from(self.rng.random_range(0..=2)))
        };
        let venue = if kind == MeetingKind::BilateralBriefing {
            Venue::Place {
                city: "Vienna".into(),
                country: cc("AT"),
            }
        } else {
            let host = countries.first().copied().unwrap_or_else(|| cc("AT"));
            self.venue_in(host, start)
        };
        let meeting_id = self.next_id();
        let total = self.rng.random_range(6..=60);
        let event = self.synthetic(Fact::MeetingHeld(MeetingHeld {
            meeting_id,
            kind,
            title,
            start,
            end,
            venue,
            countries,
            participants: Some(Participants {
                total,
                women: None,
                men: None,
            }),
        }));
        out.push((start, event));
    }

    fn believable_case(&mut self, out: &mut Vec<(Date, NewEvent)>, budget: usize) {
        let mut countries = self.pick(&LAC[..8], 1);
        countries.extend(self.pick(&WEST_AFRICA[..4], 1));
        if self.rng.random_bool(0.4) {
            countries.extend(self.pick(&EUROPE[..3], 1));
        }
        // Opened early enough for most cases to reach a closure before the programme's end.
        let span = (day(END) - day(START)).get_days().max(400) - 200;
        let opened_on = plus(day(START), i64::from(self.rng.random_range(0..span)));
        let case_id = self.next_id();
        let lead = *countries.choose(&mut self.rng).unwrap_or(&countries[0]);
        let case_type = *CaseType::ALL
            .choose(&mut self.rng)
            .unwrap_or(&CaseType::Other);
        let number = self.counter;
        out.push((
            opened_on,
            self.synthetic(Fact::CaseOpened(CaseOpened {
                case_id,
                codename: format!("Synthetic case {number}"),
                case_type,
                countries: countries.clone(),
                lead,
                opened_on,
            })),
        ));
        let mut on = opened_on;
        let steps = self.rng.random_range(1..=4).min(budget.saturating_sub(1));
        for _ in 0..steps {
            on = plus(on, i64::from(self.rng.random_range(20..150)));
            if on > day(END) {
                return;
            }
            let country = *countries.choose(&mut self.rng).unwrap_or(&lead);
            let fact = match self.rng.random_range(0..10) {
                0..=3 => Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id,
                    on,
                    milestone: Milestone::Seizure {
                        country,
                        commodity: Commodity::Cocaine,
                        quantity_kg: f64::from(self.rng.random_range(20..3000u32)),
                    },
                }),
                4..=5 => Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id,
                    on,
                    milestone: Milestone::Arrests {
                        country,
                        count: self.rng.random_range(1..=25),
                    },
                }),
                6 => Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id,
                    on,
                    milestone: Milestone::MlaRequestSent {
                        from: countries[0],
                        to: countries[countries.len() - 1],
                    },
                }),
                7 => {
                    let candidates: Vec<CountryCode> = EUROPE[..3]
                        .iter()
                        .map(|c| cc(c))
                        .filter(|c| !countries.contains(c))
                        .collect();
                    let Some(added) = candidates.choose(&mut self.rng).copied() else {
                        continue;
                    };
                    countries.push(added);
                    Fact::CaseCountryAdded(CaseCountryAdded {
                        case_id,
                        country: added,
                        added_on: on,
                    })
                }
                _ => Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id,
                    on,
                    milestone: Milestone::Indictment {
                        country,
                        count: self.rng.random_range(1..=12),
                    },
                }),
            };
            out.push((on, self.synthetic(fact)));
        }
        let closed_on = plus(on, i64::from(self.rng.random_range(60..400)));
        if budget > steps + 1 && closed_on <= day(END) && self.rng.random_bool(0.65) {
            let outcome = *[
                CaseOutcome::Convicted,
                CaseOutcome::Convicted,
                CaseOutcome::Convicted,
                CaseOutcome::Discontinued,
                CaseOutcome::Transferred,
                CaseOutcome::Acquitted,
                CaseOutcome::Unknown,
            ]
            .choose(&mut self.rng)
            .unwrap_or(&CaseOutcome::Unknown);
            out.push((
                closed_on,
                self.synthetic(Fact::CaseClosed(CaseClosed {
                    case_id,
                    closed_on,
                    outcome,
                })),
            ));
        }
    }

    /// A correction of a delivered activity's participants, or a retraction of a meeting or
    /// activity entered twice, a while after it (never both for one target).
    fn believable_amendment(&mut self, out: &mut Vec<(Date, NewEvent)>) {
        // A few tries at a random earlier event: constant time whatever the programme's size.
        let mut found = None;
        for _ in 0..20 {
            let at = self.rng.random_range(0..out.len().max(1));
            if let Some((_, e)) = out.get(at)
                && let (
                    Payload::Fact(f @ (Fact::ActivityDelivered(_) | Fact::MeetingHeld(_))),
                    Some(id),
                ) = (&e.payload, e.event_id)
                && !self.retracted.contains(&id)
            {
                found = Some((at, id, f.clone()));
                break;
            }
        }
        let Some((at, target, fact)) = found else {
            return;
        };
        // Amended once: a target is never both corrected and retracted.
        self.retracted.insert(target);
        let when = plus(out[at].0, i64::from(self.rng.random_range(10..120))).min(day(END));
        let event = match fact {
            Fact::ActivityDelivered(mut a) if self.rng.random_bool(0.7) => {
                let extra = self.rng.random_range(1..=4);
                a.participants.total += extra;
                a.participants.men = a.participants.men.map(|m| m + extra);
                self.synthetic(Payload::Corrected(EventCorrected {
                    target,
                    replacement: Fact::ActivityDelivered(a),
                    reason: "the final attendance list counts more participants".into(),
                }))
            }
            _ => self.synthetic(Payload::Retracted(EventRetracted {
                target,
                reason: RetractionReason::EnteredInError,
                duplicate_of: None,
            })),
        };
        out.push((when, event));
    }

    /// A believable programme of `n` events spread over 2016–2026, in the order a programme
    /// records them (by date): a few more countries joining; activities, mostly national (one
    /// beneficiary country), a minority regional, a smaller share inter-regional (case forums
    /// always); meetings from bilateral briefings to steering committees; cases between
    /// countries of two regions through their milestones to their closure; a few corrections
    /// and retractions. Every event's `source` says it is synthetic; the same seed gives the
    /// same events.
    pub fn believable(&mut self, n: usize) -> Vec<NewEvent> {
        let mut out: Vec<(Date, NewEvent)> = Vec::with_capacity(n + 8);
        for (code, participation, on) in LATER_JOINS {
            let country = cc(code);
            if out.len() < n && self.joined.insert(country) {
                let joined = self.synthetic(Fact::CountryJoined(CountryJoined {
                    country,
                    joined_on: day(on),
                    participation,
                }));
                out.push((day(on), joined));
            }
        }
        while out.len() < n {
            let left = n - out.len();
            match self.rng.random_range(0..100) {
                0..=61 => self.believable_activity(&mut out),
                62..=81 => self.believable_meeting(&mut out),
                82..=96 => self.believable_case(&mut out, left),
                _ => self.believable_amendment(&mut out),
            }
        }
        out.truncate(n);
        // Recorded in date order; a stable sort keeps each case's steps after its opening and
        // an amendment after its target, which come first among equal dates.
        out.sort_by_key(|(d, _)| *d);
        out.into_iter().map(|(_, e)| e).collect()
    }
}
