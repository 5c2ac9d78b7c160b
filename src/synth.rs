//! A deterministic generator of realistic cooperation histories, for the demo, the benchmarks and
//! the tests. The same seed always gives the same events, event ids included, so a rerun of the
//! demo appends nothing new.
//!
//! Countries, sizes and kinds follow domain.md's reference facts: the phase I participants of
//! Latin America and West Africa, European partners, typical activities of 19–40 participants.

use std::collections::BTreeSet;

use proto_events::values::{
    ActivityKind, CaseOutcome, CaseType, Commodity, MeetingKind, Milestone, Participants,
    Participation, Pillar, RetractionReason, Venue,
};
use proto_events::{
    ActivityDelivered, CaseClosed, CaseCountryAdded, CaseMilestoneRecorded, CaseOpened,
    CountryCode, CountryJoined, Date, EventCorrected, EventRetracted, Fact, MeetingHeld, NewEvent,
    Payload,
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
        let candidates: Vec<(Uuid, Fact)> = self
            .facts
            .iter()
            .filter(|(id, f)| {
                !self.retracted.contains(id)
                    && matches!(f, Fact::ActivityDelivered(_) | Fact::MeetingHeld(_))
            })
            .cloned()
            .collect();
        let (target, fact) = candidates.choose(&mut self.rng)?.clone();
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
