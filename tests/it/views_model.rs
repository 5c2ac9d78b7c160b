//! Model-based test of the views (domain.md, "Effective state", "Regions", "Views" and
//! "Validation"), through a real sled directory.
//!
//! A proptest strategy generates abstract histories (joins, status changes, meetings, delivered
//! activities, cases and their steps, corrections, retractions, deliberately invalid events and
//! multi-event batches). A harness resolves each abstract step against a naive model of the
//! ledger into concrete events, predicts with the model whether the ledger must accept them,
//! appends them, and compares the library's views with the model's at every prefix. At the end
//! it compares `views_at` for earlier sequences and real-world dates. A second property checks
//! that the digest of the incrementally maintained views survives a reopen, a rebuild and a
//! second reopen.
//!
//! The model is independent of `coopledger::views` and `coopledger::entity`: it keeps the list of
//! accepted events and recomputes everything from it with plain loops and `BTreeMap`s.
//!
//! Every run prints its proptest seed; rerun one with `PROPTEST_RNG_SEED=<seed>`. More cases:
//! `VIEWS_MODEL_CASES=<n>`. Generator coverage: `VIEWS_MODEL_STATS=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use coopledger::proto_events::staff::to_staff_object;
use coopledger::proto_events::values::today_utc;
use coopledger::proto_events::values::{
    ActivityKind, CaseOutcome, CaseType, Commodity, MeetingKind, Milestone, Participants,
    Participation, ParticipationStatus, Pillar, RetractionReason, Venue,
};
use coopledger::proto_events::{
    ActivityDelivered, CaseClosed, CaseCountryAdded, CaseMilestoneRecorded, CaseOpened,
    CountryCode, CountryJoined, CurrencyCode, Date, EventCorrected, EventRetracted, Fact,
    MeetingHeld, NewEvent, ParticipationChanged, Payload,
};
use coopledger::views::ViewState;
use coopledger::{AsOf, Ledger, ViewName};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, subsequence};
use proptest::test_runner::RngSeed;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::support::{seed, tempdir};

// ---------------------------------------------------------------------------------------------
// Reference data of the model (written out here, not taken from the library).

const LAC: &str = "latin_america_caribbean";
const WEST_AFRICA: &str = "west_africa";
const OTHER_AFRICA: &str = "other_africa";
const EUROPE: &str = "europe";
const OTHER: &str = "other";

/// A country of the pool with its M49 codes (region, sub-region, intermediate region) and its
/// programme region, from `iso3166-m49.csv` and domain.md's "Regions".
struct PoolCountry {
    code: &'static str,
    region: &'static str,
    m49: [Option<&'static str>; 3],
}

const fn pc(
    code: &'static str,
    region: &'static str,
    m49: [Option<&'static str>; 3],
) -> PoolCountry {
    PoolCountry { code, region, m49 }
}

const POOL: [PoolCountry; 14] = [
    pc("AR", LAC, [Some("019"), Some("419"), Some("005")]),
    pc("BR", LAC, [Some("019"), Some("419"), Some("005")]),
    pc("CO", LAC, [Some("019"), Some("419"), Some("005")]),
    pc("MX", LAC, [Some("019"), Some("419"), Some("013")]),
    pc("CV", WEST_AFRICA, [Some("002"), Some("202"), Some("011")]),
    pc("GH", WEST_AFRICA, [Some("002"), Some("202"), Some("011")]),
    pc("GW", WEST_AFRICA, [Some("002"), Some("202"), Some("011")]),
    pc("NG", WEST_AFRICA, [Some("002"), Some("202"), Some("011")]),
    pc("ET", OTHER_AFRICA, [Some("002"), Some("202"), Some("014")]),
    pc("EG", OTHER_AFRICA, [Some("002"), Some("015"), None]),
    pc("ES", EUROPE, [Some("150"), Some("039"), None]),
    pc("PT", EUROPE, [Some("150"), Some("039"), None]),
    pc("BE", EUROPE, [Some("150"), Some("155"), None]),
    pc("US", OTHER, [Some("019"), Some("021"), None]),
];

/// Every activity kind with its JSON name (`by_kind` lists them all, zeros included).
const ACTIVITY_KINDS: [(ActivityKind, &str); 10] = [
    (ActivityKind::Training, "training"),
    (ActivityKind::TrainingOfTrainers, "training_of_trainers"),
    (ActivityKind::Workshop, "workshop"),
    (ActivityKind::PracticalExercise, "practical_exercise"),
    (
        ActivityKind::InvestigativeCaseForum,
        "investigative_case_forum",
    ),
    (ActivityKind::WorkingGroup, "working_group"),
    (ActivityKind::CaseMentoring, "case_mentoring"),
    (ActivityKind::ExpertMeeting, "expert_meeting"),
    (ActivityKind::StudyVisit, "study_visit"),
    (
        ActivityKind::InstitutionalAssessment,
        "institutional_assessment",
    ),
];

const MEETING_KINDS: [MeetingKind; 6] = [
    MeetingKind::BilateralBriefing,
    MeetingKind::SteeringCommittee,
    MeetingKind::AnnualMeeting,
    MeetingKind::NetworkMeeting,
    MeetingKind::HighLevelMeeting,
    MeetingKind::OperationalCoordination,
];

const JOIN_AS: [Participation; 4] = [
    Participation::Beneficiary,
    Participation::Associated,
    Participation::Partner,
    Participation::Observer,
];

/// Status changes, weighted towards suspension and withdrawal.
const CHANGE_TO: [ParticipationStatus; 8] = [
    ParticipationStatus::Suspended,
    ParticipationStatus::Withdrawn,
    ParticipationStatus::Suspended,
    ParticipationStatus::Withdrawn,
    ParticipationStatus::Beneficiary,
    ParticipationStatus::Associated,
    ParticipationStatus::Partner,
    ParticipationStatus::Observer,
];

fn status_name(s: ParticipationStatus) -> &'static str {
    match s {
        ParticipationStatus::Beneficiary => "beneficiary",
        ParticipationStatus::Associated => "associated",
        ParticipationStatus::Partner => "partner",
        ParticipationStatus::Observer => "observer",
        ParticipationStatus::Suspended => "suspended",
        ParticipationStatus::Withdrawn => "withdrawn",
    }
}

fn joined_status(p: Participation) -> ParticipationStatus {
    match p {
        Participation::Beneficiary => ParticipationStatus::Beneficiary,
        Participation::Associated => ParticipationStatus::Associated,
        Participation::Partner => ParticipationStatus::Partner,
        Participation::Observer => ParticipationStatus::Observer,
    }
}

/// "Active participant" as the ledger reads it: joined and neither suspended nor withdrawn.
fn is_active(s: ParticipationStatus) -> bool {
    !matches!(
        s,
        ParticipationStatus::Suspended | ParticipationStatus::Withdrawn
    )
}

fn code(i: usize) -> CountryCode {
    CountryCode::parse(POOL[i % POOL.len()].code).expect("pool country code")
}

fn pool_codes() -> Vec<CountryCode> {
    (0..POOL.len()).map(code).collect()
}

fn pool_entry(c: CountryCode) -> &'static PoolCountry {
    POOL.iter()
        .find(|p| p.code == c.as_str())
        .unwrap_or_else(|| panic!("{c} is outside the test pool"))
}

fn region(c: CountryCode) -> &'static str {
    pool_entry(c).region
}

fn base_date() -> Date {
    jiff::civil::date(2015, 1, 1)
}

/// Day `n` of the generated period (2015-01-01 + n days; n < 2600 keeps it before 2022-02).
fn day(n: u32) -> Date {
    add_days(base_date(), i64::from(n))
}

fn add_days(d: Date, n: i64) -> Date {
    d.checked_add(jiff::Span::new().days(n))
        .expect("date in range")
}

fn event_id(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_f0a1_7c2e_7a10, 0x8b3e_0000_0000_0000 | n)
}

fn entity_id(n: u64) -> Uuid {
    Uuid::from_u64_pair(0x0190_f0a1_7c2e_7b20, 0x9c4f_0000_0000_0000 | n)
}

// ---------------------------------------------------------------------------------------------
// The model: the accepted log, its effective state, the contextual rules, and the views.

#[derive(Debug, Clone)]
struct Rec {
    seq: u64,
    id: Uuid,
    payload: Payload,
}

#[derive(Debug, Clone, Default)]
struct Model {
    recs: Vec<Rec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Meeting = 0,
    Activity = 1,
    Case = 2,
}

/// An effective meeting, delivered activity or case, as it counts in the views.
#[derive(Debug, Clone)]
struct Entity {
    kind: Kind,
    countries: BTreeSet<CountryCode>,
    activity: Option<ActivityFacts>,
    closed: bool,
}

#[derive(Debug, Clone)]
struct ActivityFacts {
    kind: &'static str,
    beneficiaries: BTreeSet<CountryCode>,
    total: u64,
    women: u64,
}

/// A case as the rules see it (effective facts, no date filter).
#[derive(Debug, Clone)]
struct CaseNow {
    opened_on: Date,
    countries: BTreeSet<CountryCode>,
    closed: bool,
}

/// The effective state as of a sequence, optionally restricted to facts dated on or before a day.
#[derive(Debug, Clone, Default)]
struct State {
    participation: BTreeMap<CountryCode, (ParticipationStatus, Date)>,
    entities: Vec<Entity>,
    cases: BTreeMap<Uuid, CaseNow>,
}

/// The date a fact counts from in "as of date" views.
fn fact_date(f: &Fact) -> Date {
    match f {
        Fact::CountryJoined(e) => e.joined_on,
        Fact::ParticipationChanged(e) => e.changed_on,
        Fact::MeetingHeld(e) => e.start,
        Fact::ActivityDelivered(e) => e.start,
        Fact::CaseOpened(e) => e.opened_on,
        Fact::CaseCountryAdded(e) => e.added_on,
        Fact::CaseMilestoneRecorded(e) => e.on,
        Fact::CaseClosed(e) => e.closed_on,
        other => panic!("the generator never writes {other:?}"),
    }
}

/// The few intrinsic rules (domain.md, "Validation") that the invalid steps break on purpose;
/// every other generated event satisfies all intrinsic rules by construction.
fn intrinsic(f: &Fact) -> Result<(), String> {
    let today = today_utc();
    let happened: Vec<Date> = match f {
        Fact::MeetingHeld(m) => vec![m.start, m.end],
        Fact::ActivityDelivered(a) => vec![a.start, a.end],
        Fact::CaseMilestoneRecorded(m) => vec![m.on],
        Fact::CaseClosed(c) => vec![c.closed_on],
        _ => Vec::new(),
    };
    if let Some(d) = happened.into_iter().find(|d| *d > today) {
        return Err(format!("intrinsic: {d} is after the day of recording"));
    }
    if let Fact::ActivityDelivered(a) = f {
        if let Some(c) = a
            .other_countries
            .iter()
            .find(|c| a.beneficiaries.contains(c))
        {
            return Err(format!(
                "intrinsic: {c} is a beneficiary and another country"
            ));
        }
        let p = a.participants;
        let (w, m) = (p.women.unwrap_or(0), p.men.unwrap_or(0));
        if p.total == 0 || p.total > 100_000 || w > p.total || m > p.total || w + m > p.total {
            return Err(format!("intrinsic: participants {p:?}"));
        }
    }
    Ok(())
}

fn case_of(f: &Fact) -> Option<Uuid> {
    match f {
        Fact::CaseOpened(e) => Some(e.case_id),
        Fact::CaseCountryAdded(e) => Some(e.case_id),
        Fact::CaseMilestoneRecorded(e) => Some(e.case_id),
        Fact::CaseClosed(e) => Some(e.case_id),
        _ => None,
    }
}

fn starts_stream(f: &Fact) -> bool {
    matches!(
        f,
        Fact::PartnerRegistered(_)
            | Fact::MeetingHeld(_)
            | Fact::ActivityDelivered(_)
            | Fact::CaseOpened(_)
    )
}

impl Model {
    fn head(&self) -> u64 {
        self.recs.last().map_or(0, |r| r.seq)
    }

    fn push(&mut self, id: Uuid, payload: Payload) -> u64 {
        let seq = self.head() + 1;
        self.recs.push(Rec { seq, id, payload });
        seq
    }

    fn rec(&self, id: Uuid) -> Option<&Rec> {
        self.recs.iter().find(|r| r.id == id)
    }

    /// Whether a retraction of `id` is in the log up to `upto`.
    fn is_retracted(&self, id: Uuid, upto: u64) -> bool {
        self.recs
            .iter()
            .filter(|r| r.seq <= upto)
            .any(|r| matches!(&r.payload, Payload::Retracted(x) if x.target == id))
    }

    /// The payload of fact `rec` after the corrections up to `upto`: the one with the highest
    /// sequence wins; the original when there is none.
    fn corrected(&self, rec: &Rec, upto: u64) -> Option<Fact> {
        let Payload::Fact(original) = &rec.payload else {
            return None;
        };
        let mut best: Option<(u64, &Fact)> = None;
        for r in self.recs.iter().filter(|r| r.seq <= upto) {
            if let Payload::Corrected(c) = &r.payload
                && c.target == rec.id
                && best.is_none_or(|(s, _)| r.seq > s)
            {
                best = Some((r.seq, &c.replacement));
            }
        }
        Some(best.map_or(original, |(_, f)| f).clone())
    }

    /// domain.md, "Effective state": every fact up to `upto` that is not retracted, with its
    /// latest correction's payload, in the place (sequence) of the original.
    fn effective(&self, upto: u64) -> Vec<(u64, Uuid, Fact)> {
        let mut out = Vec::new();
        for rec in self.recs.iter().filter(|r| r.seq <= upto) {
            if !matches!(rec.payload, Payload::Fact(_)) || self.is_retracted(rec.id, upto) {
                continue;
            }
            if let Some(f) = self.corrected(rec, upto) {
                out.push((rec.seq, rec.id, f));
            }
        }
        out
    }

    fn state(&self, upto: u64, on_or_before: Option<Date>) -> State {
        let facts: Vec<Fact> = self
            .effective(upto)
            .into_iter()
            .map(|(_, _, f)| f)
            .filter(|f| on_or_before.is_none_or(|d| fact_date(f) <= d))
            .collect();
        let mut st = State::default();
        // Participation: the fold in sequence order.
        for f in &facts {
            match f {
                Fact::CountryJoined(j) => {
                    st.participation
                        .insert(j.country, (joined_status(j.participation), j.joined_on));
                }
                Fact::ParticipationChanged(c) => {
                    if let Some(p) = st.participation.get_mut(&c.country) {
                        p.0 = c.participation;
                    }
                }
                _ => {}
            }
        }
        // Cases: an effective opening, plus every effective addition, closed if any effective
        // closure.
        for f in &facts {
            if let Fact::CaseOpened(o) = f {
                st.cases.insert(
                    o.case_id,
                    CaseNow {
                        opened_on: o.opened_on,
                        countries: o.countries.iter().copied().collect(),
                        closed: false,
                    },
                );
            }
        }
        for f in &facts {
            match f {
                Fact::CaseCountryAdded(a) => {
                    if let Some(case) = st.cases.get_mut(&a.case_id) {
                        case.countries.insert(a.country);
                    }
                }
                Fact::CaseClosed(c) => {
                    if let Some(case) = st.cases.get_mut(&c.case_id) {
                        case.closed = true;
                    }
                }
                _ => {}
            }
        }
        for f in &facts {
            match f {
                Fact::MeetingHeld(m) => st.entities.push(Entity {
                    kind: Kind::Meeting,
                    countries: m.countries.iter().copied().collect(),
                    activity: None,
                    closed: false,
                }),
                Fact::ActivityDelivered(a) => {
                    let kind = ACTIVITY_KINDS
                        .iter()
                        .find(|(k, _)| *k == a.kind)
                        .map(|(_, name)| *name)
                        .expect("activity kind");
                    st.entities.push(Entity {
                        kind: Kind::Activity,
                        countries: a
                            .beneficiaries
                            .iter()
                            .chain(&a.other_countries)
                            .copied()
                            .collect(),
                        activity: Some(ActivityFacts {
                            kind,
                            beneficiaries: a.beneficiaries.iter().copied().collect(),
                            total: u64::from(a.participants.total),
                            women: u64::from(a.participants.women.unwrap_or(0)),
                        }),
                        closed: false,
                    });
                }
                _ => {}
            }
        }
        for case in st.cases.values() {
            st.entities.push(Entity {
                kind: Kind::Case,
                countries: case.countries.clone(),
                activity: None,
                closed: case.closed,
            });
        }
        st
    }

    /// The contextual rules of domain.md's "Validation", as far as the generated events can
    /// break them (all generated events satisfy the intrinsic rules). `Err` names the rule.
    fn check(&self, payload: &Payload) -> Result<(), String> {
        let head = self.head();
        match payload {
            Payload::Fact(f) => {
                intrinsic(f)?;
                self.check_fact(f)
            }
            Payload::Corrected(c) => {
                intrinsic(&c.replacement)?;
                let target = self.rec(c.target).ok_or("correction: target missing")?;
                let Payload::Fact(original) = &target.payload else {
                    return Err("correction: target is not a fact".into());
                };
                if self.is_retracted(target.id, head) {
                    return Err("correction: target retracted".into());
                }
                if original.event_type() != c.replacement.event_type() {
                    return Err("correction: replacement of another type".into());
                }
                if original.stream() != c.replacement.stream() {
                    return Err("correction: replacement about another entity".into());
                }
                Ok(())
            }
            Payload::Retracted(r) => {
                let target = self.rec(r.target).ok_or("retraction: target missing")?;
                if !matches!(target.payload, Payload::Fact(_)) {
                    return Err("retraction: target is not a fact".into());
                }
                if self.is_retracted(target.id, head) {
                    return Err("retraction: target already retracted".into());
                }
                Ok(())
            }
        }
    }

    fn check_fact(&self, f: &Fact) -> Result<(), String> {
        if starts_stream(f)
            && self
                .recs
                .iter()
                .any(|r| matches!(&r.payload, Payload::Fact(g) if g.stream() == f.stream()))
        {
            return Err(format!("{} already exists", f.stream()));
        }
        let st = self.state(self.head(), None);
        match f {
            Fact::CountryJoined(j) => match st.participation.get(&j.country) {
                Some((s, _)) if is_active(*s) => {
                    Err(format!("{} is already an active participant", j.country))
                }
                _ => Ok(()),
            },
            Fact::ParticipationChanged(c) if !st.participation.contains_key(&c.country) => {
                Err(format!("{} never joined", c.country))
            }
            Fact::CaseCountryAdded(_) | Fact::CaseMilestoneRecorded(_) | Fact::CaseClosed(_) => {
                let id = case_of(f).expect("case event");
                let case = st
                    .cases
                    .get(&id)
                    .ok_or("case not open (never opened or retracted)")?;
                if case.closed {
                    return Err("case closed".into());
                }
                if fact_date(f) < case.opened_on {
                    return Err("dated before the case was opened".into());
                }
                match f {
                    Fact::CaseCountryAdded(a) if case.countries.contains(&a.country) => {
                        Err(format!("{} already in the case", a.country))
                    }
                    Fact::CaseMilestoneRecorded(m) => {
                        match m
                            .milestone
                            .countries()
                            .into_iter()
                            .find(|c| !case.countries.contains(c))
                        {
                            Some(c) => Err(format!("milestone names {c}, not in the case")),
                            None => Ok(()),
                        }
                    }
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }
}

fn country_json(c: CountryCode, st: &State, as_of: u64) -> Option<Value> {
    let involved: Vec<&Entity> = st
        .entities
        .iter()
        .filter(|e| e.countries.contains(&c))
        .collect();
    let participation = st.participation.get(&c);
    if participation.is_none() && involved.is_empty() {
        return None;
    }
    let mut meetings = 0u64;
    let mut activities = 0u64;
    let mut by_kind: BTreeMap<&str, u64> =
        ACTIVITY_KINDS.iter().map(|(_, name)| (*name, 0)).collect();
    let (mut participants, mut women) = (0u64, 0u64);
    let (mut open, mut closed) = (0u64, 0u64);
    let mut counterparts: BTreeMap<CountryCode, [u64; 3]> = BTreeMap::new();
    for e in &involved {
        match e.kind {
            Kind::Meeting => meetings += 1,
            Kind::Activity => {
                let a = e.activity.as_ref().expect("activity facts");
                activities += 1;
                *by_kind.get_mut(a.kind).expect("kind listed") += 1;
                if a.beneficiaries.contains(&c) {
                    participants += a.total;
                    women += a.women;
                }
            }
            Kind::Case if e.closed => closed += 1,
            Kind::Case => open += 1,
        }
        for other in e.countries.iter().filter(|o| **o != c) {
            counterparts.entry(*other).or_default()[e.kind as usize] += 1;
        }
    }
    let entry = pool_entry(c);
    let counterparts: Map<String, Value> = counterparts
        .into_iter()
        .map(|(o, [m, a, k])| {
            (
                o.as_str().to_owned(),
                json!({"meetings": m, "activities": a, "cases": k}),
            )
        })
        .collect();
    Some(json!({
        "country": c.as_str(),
        "name": c.name(),
        "m49": {"region": entry.m49[0], "sub_region": entry.m49[1], "intermediate_region": entry.m49[2]},
        "programme_region": entry.region,
        "participation": {
            "status": participation.map(|p| status_name(p.0)),
            "joined_on": participation.map(|p| p.1.to_string()),
        },
        "meetings": meetings,
        "activities": {"total": activities, "by_kind": by_kind},
        "participants": {"total": participants, "women": women},
        "cases": {"open": open, "closed": closed},
        "counterparts": counterparts,
        "as_of_sequence": as_of,
    }))
}

fn regions_json(st: &State, as_of: u64) -> Value {
    let mut pairs: BTreeMap<(&str, &str), [u64; 3]> = BTreeMap::new();
    let (mut interregional, mut counted) = (0u64, 0u64);
    let mut corridors: BTreeMap<(CountryCode, CountryCode), u64> = BTreeMap::new();
    for e in &st.entities {
        if e.countries.is_empty() {
            continue;
        }
        counted += 1;
        let mut per_region: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &e.countries {
            *per_region.entry(region(*c)).or_default() += 1;
        }
        if per_region.len() >= 2 {
            interregional += 1;
        }
        for (r1, n1) in &per_region {
            for r2 in per_region.keys() {
                if r1 < r2 || (r1 == r2 && *n1 >= 2) {
                    pairs.entry((*r1, *r2)).or_default()[e.kind as usize] += 1;
                }
            }
        }
        for a in &e.countries {
            for b in &e.countries {
                if a < b && region(*a) != region(*b) {
                    *corridors.entry((*a, *b)).or_default() += 1;
                }
            }
        }
    }
    let share = if counted > 0 {
        interregional as f64 / counted as f64
    } else {
        0.0
    };
    let mut corridors: Vec<((CountryCode, CountryCode), u64)> = corridors.into_iter().collect();
    corridors.sort_by(|(x, nx), (y, ny)| ny.cmp(nx).then(x.cmp(y)));
    json!({
        "pairs": pairs
            .into_iter()
            .map(|((a, b), [m, ac, k])| json!({"regions": [a, b], "meetings": m, "activities": ac, "cases": k}))
            .collect::<Vec<_>>(),
        "interregional": {"events": interregional, "share": share},
        "corridors": corridors
            .into_iter()
            .map(|((a, b), n)| json!({"countries": [a.as_str(), b.as_str()], "events": n}))
            .collect::<Vec<_>>(),
        "as_of_sequence": as_of,
    })
}

/// Both views of the model, as JSON.
struct Expected {
    countries: BTreeMap<CountryCode, Value>,
    regions: Value,
}

impl Model {
    fn views(&self, upto: u64, on_or_before: Option<Date>, as_of: u64) -> Expected {
        let st = self.state(upto, on_or_before);
        Expected {
            countries: pool_codes()
                .into_iter()
                .filter_map(|c| country_json(c, &st, as_of).map(|v| (c, v)))
                .collect(),
            regions: regions_json(&st, as_of),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing the library's views with the model's.

/// Paths where two JSON values differ (numbers with a fractional part compare within 1e-9).
fn diff(path: &str, lib: &Value, model: &Value, out: &mut Vec<String>) {
    if out.len() >= 20 {
        return;
    }
    match (lib, model) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(&p, x, y, out),
                    (x, y) => out.push(format!("{p}: library {x:?}, model {y:?}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            if (x - y).abs() > 1e-9 {
                out.push(format!("{path}: library {x}, model {y}"));
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(format!("{path}: library {a}, model {b}")),
    }
}

fn compare(what: &str, views: &ViewState, expected: &Expected) -> Result<(), String> {
    let mut out = Vec::new();
    for c in pool_codes() {
        let lib = views
            .country_view(c)
            .map(|v| serde_json::to_value(v).expect("country view JSON"));
        match (&lib, expected.countries.get(&c)) {
            (Some(l), Some(m)) => diff(c.as_str(), l, m, &mut out),
            (None, None) => {}
            (l, m) => out.push(format!(
                "{c}: library has {}, model has {}",
                if l.is_some() { "a view" } else { "no view" },
                if m.is_some() { "a view" } else { "no view" }
            )),
        }
    }
    let present: BTreeSet<CountryCode> = views.countries().collect();
    let model_present: BTreeSet<CountryCode> = expected.countries.keys().copied().collect();
    if present != model_present {
        out.push(format!(
            "countries(): library {present:?}, model {model_present:?}"
        ));
    }
    let regions = serde_json::to_value(views.interregional_view()).expect("inter-regional JSON");
    diff("interregional_view", &regions, &expected.regions, &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        let mut msg = format!(
            "{what}: the views differ from the model:\n  {}",
            out.join("\n  ")
        );
        let _ = write!(
            msg,
            "\n  library inter-regional view: {regions}\n  model inter-regional view:   {}",
            expected.regions
        );
        Err(msg)
    }
}

// ---------------------------------------------------------------------------------------------
// Abstract histories.

/// Number of kinds of deliberately invalid events (see [`Harness::invalid`]).
const INVALID_KINDS: u8 = 18;

#[derive(Debug, Clone)]
enum Op {
    Join {
        country: Index,
        as_: u8,
        day: u32,
    },
    Change {
        country: Index,
        to: u8,
        day: u32,
    },
    Meeting {
        countries: Vec<usize>,
        kind: u8,
        day: u32,
        span: u8,
    },
    Activity {
        beneficiaries: Vec<usize>,
        others: Vec<usize>,
        kind: u8,
        total: u32,
        women: Option<u32>,
        men: bool,
        day: u32,
        span: u8,
    },
    OpenCase {
        countries: Vec<usize>,
        lead: Index,
        day: u32,
    },
    AddCountry {
        case: Index,
        country: Index,
        after: u16,
    },
    Milestone {
        case: Index,
        pick: Index,
        kind: u8,
        after: u16,
    },
    Close {
        case: Index,
        after: u16,
    },
    Correct {
        target: Index,
        seed: u64,
    },
    Retract {
        target: Index,
        reason: u8,
    },
    /// One event the ledger must refuse.
    Invalid {
        kind: u8,
        pick: Index,
    },
    /// Drop the ledger and open it again (stored views and catalogue reloaded from sled).
    Reopen,
    /// Several events in one append; with `poison`, an invalid one at that position, and the
    /// whole batch must be refused.
    Batch {
        ops: Vec<Op>,
        poison: Option<(Index, u8, Index)>,
    },
}

fn countries(min: usize, max: usize) -> impl Strategy<Value = Vec<usize>> {
    subsequence((0..POOL.len()).collect::<Vec<_>>(), min..=max).prop_shuffle()
}

fn base_op() -> BoxedStrategy<Op> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..4, 0u32..2555).prop_map(|(country, as_, day)| Op::Join { country, as_, day }),
        2 => (any::<Index>(), 0u8..8, 0u32..2555).prop_map(|(country, to, day)| Op::Change { country, to, day }),
        3 => (countries(1, 5), 0u8..6, 0u32..2555, 0u8..4)
            .prop_map(|(countries, kind, day, span)| Op::Meeting { countries, kind, day, span }),
        4 => (
            countries(1, 4),
            countries(0, 3),
            0u8..10,
            1u32..=60,
            proptest::option::of(0u32..=60),
            any::<bool>(),
            0u32..2555,
            0u8..4
        )
            .prop_map(|(beneficiaries, others, kind, total, women, men, day, span)| Op::Activity {
                beneficiaries,
                others,
                kind,
                total,
                women,
                men,
                day,
                span
            }),
        2 => (countries(2, 4), any::<Index>(), 0u32..2555)
            .prop_map(|(countries, lead, day)| Op::OpenCase { countries, lead, day }),
        2 => (any::<Index>(), any::<Index>(), 0u16..400)
            .prop_map(|(case, country, after)| Op::AddCountry { case, country, after }),
        2 => (any::<Index>(), any::<Index>(), 0u8..5, 0u16..400)
            .prop_map(|(case, pick, kind, after)| Op::Milestone { case, pick, kind, after }),
        1 => (any::<Index>(), 0u16..400).prop_map(|(case, after)| Op::Close { case, after }),
        4 => (any::<Index>(), any::<u64>()).prop_map(|(target, seed)| Op::Correct { target, seed }),
        2 => (any::<Index>(), 0u8..3).prop_map(|(target, reason)| Op::Retract { target, reason }),
    ]
    .boxed()
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        25 => base_op(),
        4 => (0..INVALID_KINDS, any::<Index>()).prop_map(|(kind, pick)| Op::Invalid { kind, pick }),
        3 => (
            vec(base_op(), 2..=4),
            proptest::option::weighted(0.4, (any::<Index>(), 0..INVALID_KINDS, any::<Index>()))
        )
            .prop_map(|(ops, poison)| Op::Batch { ops, poison }),
        1 => Just(Op::Reopen),
    ]
}

/// A small deterministic generator for the details of corrections.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// `min..=max` distinct pool indices.
    fn subset(&mut self, min: usize, max: usize) -> Vec<usize> {
        let n = min + self.below(max - min + 1);
        let mut all: Vec<usize> = (0..POOL.len()).collect();
        let mut out = Vec::new();
        for _ in 0..n {
            let i = self.below(all.len());
            out.push(all.remove(i));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Building events.

fn meeting_fact(meeting_id: Uuid, countries: &[usize], kind: u8, start: Date, span: u8) -> Fact {
    let countries: Vec<CountryCode> = countries.iter().map(|i| code(*i)).collect();
    let mut kind = MEETING_KINDS[usize::from(kind) % MEETING_KINDS.len()];
    if kind == MeetingKind::OperationalCoordination && countries.len() < 2 {
        kind = MeetingKind::NetworkMeeting;
    }
    Fact::MeetingHeld(MeetingHeld {
        meeting_id,
        kind,
        title: format!("CRIMJUST {}", kind.as_str().replace('_', " ")),
        start,
        end: add_days(start, i64::from(span)),
        venue: if span.is_multiple_of(2) {
            Venue::Virtual
        } else {
            Venue::Place {
                city: "Vienna".into(),
                country: CountryCode::parse("AT").expect("AT"),
            }
        },
        participants: (span == 1).then_some(Participants {
            total: 12,
            women: Some(5),
            men: None,
        }),
        countries,
    })
}

#[allow(clippy::too_many_arguments)]
fn activity_fact(
    activity_id: Uuid,
    beneficiaries: &[usize],
    others: &[usize],
    kind: u8,
    total: u32,
    women: Option<u32>,
    men: bool,
    start: Date,
    span: u8,
) -> Fact {
    let beneficiaries: Vec<CountryCode> = beneficiaries.iter().map(|i| code(*i)).collect();
    let other_countries: Vec<CountryCode> = others
        .iter()
        .map(|i| code(*i))
        .filter(|c| !beneficiaries.contains(c))
        .collect();
    let mut kind = ACTIVITY_KINDS[usize::from(kind) % ACTIVITY_KINDS.len()].0;
    let needs_two = matches!(
        kind,
        ActivityKind::InvestigativeCaseForum | ActivityKind::WorkingGroup
    );
    if needs_two && beneficiaries.len() + other_countries.len() < 2 {
        kind = ActivityKind::Training;
    }
    let total = total.max(1);
    let women = women.map(|w| w.min(total));
    Fact::ActivityDelivered(ActivityDelivered {
        activity_id,
        kind,
        title: format!(
            "{} on cocaine trafficking investigations",
            kind.as_str().replace('_', " ")
        ),
        pillar: [
            Pillar::CapacityBuilding,
            Pillar::InterregionalCooperation,
            Pillar::InstitutionalIntegrity,
            Pillar::StrategicKnowledge,
        ][usize::from(span) % 4],
        start,
        end: add_days(start, i64::from(span)),
        venue: Venue::Place {
            city: "Accra".into(),
            country: CountryCode::parse("GH").expect("GH"),
        },
        beneficiaries,
        other_countries,
        participants: Participants {
            total,
            women,
            men: (men && women.is_some()).then(|| total - women.unwrap_or(0)),
        },
        institutions: Vec::new(),
    })
}

fn case_opened_fact(case_id: Uuid, countries: &[usize], lead: usize, opened_on: Date) -> Fact {
    let countries: Vec<CountryCode> = countries.iter().map(|i| code(*i)).collect();
    Fact::CaseOpened(CaseOpened {
        case_id,
        codename: format!("LIONFISH-{}", case_id.as_u64_pair().1 & 0xffff),
        case_type: CaseType::ALL[lead % CaseType::ALL.len()],
        lead: countries[lead % countries.len()],
        countries,
        opened_on,
    })
}

fn milestone(kind: u8, countries: &[CountryCode], pick: usize, n: u16) -> Milestone {
    let a = countries[pick % countries.len()];
    let b = countries[(pick + 1) % countries.len()];
    match kind % 5 {
        0 => Milestone::Seizure {
            country: a,
            commodity: Commodity::Cocaine,
            quantity_kg: 10.0 + f64::from(n),
        },
        1 => Milestone::MlaRequestSent { from: a, to: b },
        2 => Milestone::Arrests {
            country: a,
            count: 1 + u32::from(n % 40),
        },
        3 => Milestone::ControlledDelivery {
            countries: vec![a, b],
        },
        _ => Milestone::AssetsFrozen {
            country: a,
            amount: 1000.0 + f64::from(n),
            currency: CurrencyCode::parse("EUR").expect("EUR"),
        },
    }
}

/// A replacement of `fact`: same type, same entity, some fields changed.
fn tweak(fact: &Fact, rng: &mut Rng) -> Fact {
    let shift = |d: Date, rng: &mut Rng| {
        let n = i64::try_from(rng.below(401)).unwrap_or(0) - 200;
        let d = add_days(d, n);
        d.clamp(base_date(), day(2900))
    };
    match fact {
        Fact::CountryJoined(j) => Fact::CountryJoined(CountryJoined {
            country: j.country,
            joined_on: if rng.coin() {
                shift(j.joined_on, rng)
            } else {
                j.joined_on
            },
            participation: JOIN_AS[rng.below(JOIN_AS.len())],
        }),
        Fact::ParticipationChanged(c) => Fact::ParticipationChanged(ParticipationChanged {
            country: c.country,
            changed_on: shift(c.changed_on, rng),
            participation: CHANGE_TO[rng.below(CHANGE_TO.len())],
            reason: "Corrected after the steering committee".into(),
        }),
        Fact::MeetingHeld(m) => {
            let countries: Vec<usize> = if rng.coin() {
                rng.subset(0, 5)
            } else {
                m.countries.iter().map(|c| pool_index(*c)).collect()
            };
            let kind = if rng.coin() {
                rng.below(MEETING_KINDS.len())
            } else {
                MEETING_KINDS.iter().position(|k| *k == m.kind).unwrap_or(0)
            };
            let start = if rng.coin() {
                shift(m.start, rng)
            } else {
                m.start
            };
            meeting_fact(
                m.meeting_id,
                &countries,
                kind as u8,
                start,
                rng.below(4) as u8,
            )
        }
        Fact::ActivityDelivered(a) => {
            let (beneficiaries, others): (Vec<usize>, Vec<usize>) = if rng.coin() {
                (rng.subset(1, 4), rng.subset(0, 3))
            } else {
                (
                    a.beneficiaries.iter().map(|c| pool_index(*c)).collect(),
                    a.other_countries.iter().map(|c| pool_index(*c)).collect(),
                )
            };
            let kind = if rng.coin() {
                rng.below(ACTIVITY_KINDS.len())
            } else {
                ACTIVITY_KINDS
                    .iter()
                    .position(|(k, _)| *k == a.kind)
                    .unwrap_or(0)
            };
            let total = 1 + rng.below(60) as u32;
            let women = rng.coin().then(|| rng.below(total as usize + 1) as u32);
            let start = if rng.coin() {
                shift(a.start, rng)
            } else {
                a.start
            };
            activity_fact(
                a.activity_id,
                &beneficiaries,
                &others,
                kind as u8,
                total,
                women,
                rng.coin(),
                start,
                rng.below(4) as u8,
            )
        }
        Fact::CaseOpened(o) => {
            let countries: Vec<usize> = if rng.coin() {
                rng.subset(2, 4)
            } else {
                o.countries.iter().map(|c| pool_index(*c)).collect()
            };
            let opened_on = if rng.coin() {
                shift(o.opened_on, rng)
            } else {
                o.opened_on
            };
            case_opened_fact(o.case_id, &countries, rng.below(8), opened_on)
        }
        Fact::CaseCountryAdded(a) => Fact::CaseCountryAdded(CaseCountryAdded {
            case_id: a.case_id,
            // May name a country already in the case: corrections are not re-checked against
            // the case, and the views must still count each country once.
            country: if rng.coin() {
                code(rng.below(POOL.len()))
            } else {
                a.country
            },
            added_on: shift(a.added_on, rng),
        }),
        Fact::CaseMilestoneRecorded(m) => Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
            case_id: m.case_id,
            on: shift(m.on, rng),
            milestone: m.milestone.clone(),
        }),
        Fact::CaseClosed(c) => Fact::CaseClosed(CaseClosed {
            case_id: c.case_id,
            closed_on: shift(c.closed_on, rng),
            outcome: CaseOutcome::ALL[rng.below(CaseOutcome::ALL.len())],
        }),
        other => other.clone(),
    }
}

fn pool_index(c: CountryCode) -> usize {
    POOL.iter()
        .position(|p| p.code == c.as_str())
        .expect("pool country")
}

// ---------------------------------------------------------------------------------------------
// The harness: resolves abstract steps, appends, and checks.

static CORRECTIONS: AtomicU64 = AtomicU64::new(0);
static RETRACTIONS: AtomicU64 = AtomicU64::new(0);
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static REFUSED_EVENTS: AtomicU64 = AtomicU64::new(0);
static REFUSED_BATCHES: AtomicU64 = AtomicU64::new(0);

struct Harness {
    dir: tempfile::TempDir,
    ledger: Option<Ledger>,
    model: Model,
    history: Vec<String>,
    events: u64,
    entities: u64,
}

/// An event of a step: its id, payload, and what the model predicts for it.
struct Planned {
    id: Uuid,
    payload: Payload,
    predicted: Result<(), String>,
}

impl Harness {
    fn new() -> Self {
        let dir = tempdir();
        let ledger = Ledger::create(dir.path()).expect("open the ledger");
        Harness {
            dir,
            ledger: Some(ledger),
            model: Model::default(),
            history: Vec::new(),
            events: 0,
            entities: 0,
        }
    }

    fn ledger(&mut self) -> &mut Ledger {
        self.ledger.as_mut().expect("ledger open")
    }

    fn reopen(&mut self) {
        drop(self.ledger.take());
        self.ledger = Some(Ledger::create(self.dir.path()).expect("reopen the ledger"));
    }

    fn next_event_id(&mut self) -> Uuid {
        self.events += 1;
        event_id(self.events)
    }

    fn next_entity_id(&mut self) -> Uuid {
        self.entities += 1;
        entity_id(self.entities)
    }

    fn history(&self) -> String {
        self.history.join("\n")
    }

    /// Resolves a valid step against `m` (the model including the earlier events of the same
    /// batch); `None` when the step does not apply (e.g. a case step with no open case).
    fn valid(&mut self, m: &Model, op: &Op) -> Option<Payload> {
        let st = m.state(m.head(), None);
        let open_cases: Vec<(Uuid, CaseNow)> = st
            .cases
            .iter()
            .filter(|(_, c)| !c.closed)
            .map(|(id, c)| (*id, c.clone()))
            .collect();
        let live: Vec<&Rec> = m
            .recs
            .iter()
            .filter(|r| matches!(r.payload, Payload::Fact(_)) && !m.is_retracted(r.id, m.head()))
            .collect();
        let fact = match op {
            Op::Join {
                country,
                as_,
                day: d,
            } => {
                // Never joined, suspended or withdrawn (re-joining after withdrawal).
                let candidates: Vec<CountryCode> = pool_codes()
                    .into_iter()
                    .filter(|c| st.participation.get(c).is_none_or(|(s, _)| !is_active(*s)))
                    .collect();
                if candidates.is_empty() {
                    return None;
                }
                Fact::CountryJoined(CountryJoined {
                    country: candidates[country.index(candidates.len())],
                    joined_on: day(*d),
                    participation: JOIN_AS[usize::from(*as_) % JOIN_AS.len()],
                })
            }
            Op::Change {
                country,
                to,
                day: d,
            } => {
                let joined: Vec<CountryCode> = st.participation.keys().copied().collect();
                if joined.is_empty() {
                    return None;
                }
                Fact::ParticipationChanged(ParticipationChanged {
                    country: joined[country.index(joined.len())],
                    changed_on: day(*d),
                    participation: CHANGE_TO[usize::from(*to) % CHANGE_TO.len()],
                    reason: "Decision of the steering committee".into(),
                })
            }
            Op::Meeting {
                countries,
                kind,
                day: d,
                span,
            } => meeting_fact(self.next_entity_id(), countries, *kind, day(*d), *span),
            Op::Activity {
                beneficiaries,
                others,
                kind,
                total,
                women,
                men,
                day: d,
                span,
            } => activity_fact(
                self.next_entity_id(),
                beneficiaries,
                others,
                *kind,
                *total,
                *women,
                *men,
                day(*d),
                *span,
            ),
            Op::OpenCase {
                countries,
                lead,
                day: d,
            } => case_opened_fact(
                self.next_entity_id(),
                countries,
                lead.index(countries.len()),
                day(*d),
            ),
            Op::AddCountry {
                case,
                country,
                after,
            } => {
                if open_cases.is_empty() {
                    return None;
                }
                let (case_id, c) = &open_cases[case.index(open_cases.len())];
                let outside: Vec<CountryCode> = pool_codes()
                    .into_iter()
                    .filter(|x| !c.countries.contains(x))
                    .collect();
                if outside.is_empty() {
                    return None;
                }
                Fact::CaseCountryAdded(CaseCountryAdded {
                    case_id: *case_id,
                    country: outside[country.index(outside.len())],
                    added_on: add_days(c.opened_on, i64::from(*after)),
                })
            }
            Op::Milestone {
                case,
                pick,
                kind,
                after,
            } => {
                if open_cases.is_empty() {
                    return None;
                }
                let (case_id, c) = &open_cases[case.index(open_cases.len())];
                let members: Vec<CountryCode> = c.countries.iter().copied().collect();
                Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id: *case_id,
                    on: add_days(c.opened_on, i64::from(*after)),
                    milestone: milestone(*kind, &members, pick.index(members.len()), *after),
                })
            }
            Op::Close { case, after } => {
                if open_cases.is_empty() {
                    return None;
                }
                let (case_id, c) = &open_cases[case.index(open_cases.len())];
                Fact::CaseClosed(CaseClosed {
                    case_id: *case_id,
                    closed_on: add_days(c.opened_on, i64::from(*after)),
                    outcome: CaseOutcome::ALL[usize::from(*after) % CaseOutcome::ALL.len()],
                })
            }
            Op::Correct { target, seed } => {
                if live.is_empty() {
                    return None;
                }
                let rec = live[target.index(live.len())];
                let current = m.corrected(rec, m.head()).expect("a fact");
                CORRECTIONS.fetch_add(1, Ordering::Relaxed);
                return Some(Payload::Corrected(EventCorrected {
                    target: rec.id,
                    replacement: tweak(&current, &mut Rng(*seed)),
                    reason: "Figures revised after the final report".into(),
                }));
            }
            Op::Retract { target, reason } => {
                if live.is_empty() {
                    return None;
                }
                RETRACTIONS.fetch_add(1, Ordering::Relaxed);
                return Some(Payload::Retracted(EventRetracted {
                    target: live[target.index(live.len())].id,
                    reason: RetractionReason::ALL
                        [usize::from(*reason) % RetractionReason::ALL.len()],
                    duplicate_of: None,
                }));
            }
            Op::Invalid { .. } | Op::Batch { .. } | Op::Reopen => return None,
        };
        Some(Payload::Fact(fact))
    }

    /// An event the ledger must refuse, of kind `kind` if the log allows it, else of the next
    /// kind that it allows (the last kind, a retraction of an unknown event, always applies).
    fn invalid(&mut self, m: &Model, kind: u8, pick: Index) -> Payload {
        for k in (0..INVALID_KINDS).map(|i| (kind + i) % INVALID_KINDS) {
            if let Some(p) = self.invalid_of_kind(m, k, pick) {
                return p;
            }
        }
        unreachable!("the last kind always applies")
    }

    fn invalid_of_kind(&mut self, m: &Model, kind: u8, pick: Index) -> Option<Payload> {
        let head = m.head();
        let st = m.state(head, None);
        let choose = |n: usize| pick.index(n.max(1));
        let facts = |want: fn(&Fact) -> bool, retracted: bool| -> Vec<&Rec> {
            m.recs
                .iter()
                .filter(|r| matches!(&r.payload, Payload::Fact(f) if want(f)))
                .filter(|r| m.is_retracted(r.id, head) == retracted)
                .collect()
        };
        let any = |_: &Fact| true;
        let open: Vec<(&Uuid, &CaseNow)> = st.cases.iter().filter(|(_, c)| !c.closed).collect();
        let closed: Vec<(&Uuid, &CaseNow)> = st.cases.iter().filter(|(_, c)| c.closed).collect();
        let payload = match kind {
            // A correction of a retracted event.
            0 => {
                let recs = facts(any, true);
                let rec = recs.get(choose(recs.len()))?;
                let Payload::Fact(f) = &rec.payload else {
                    return None;
                };
                Payload::Corrected(EventCorrected {
                    target: rec.id,
                    replacement: tweak(f, &mut Rng(u64::from(kind))),
                    reason: "Correcting a retracted event".into(),
                })
            }
            // A milestone, or a second closure, on a closed case.
            1 => {
                let (id, case) = closed.get(choose(closed.len()))?;
                let members: Vec<CountryCode> = case.countries.iter().copied().collect();
                if pick.index(2) == 0 {
                    Payload::Fact(Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                        case_id: **id,
                        on: add_days(case.opened_on, 1),
                        milestone: milestone(0, &members, 0, 5),
                    }))
                } else {
                    Payload::Fact(Fact::CaseClosed(CaseClosed {
                        case_id: **id,
                        closed_on: add_days(case.opened_on, 2),
                        outcome: CaseOutcome::Unknown,
                    }))
                }
            }
            // A country added to a case it is already in.
            2 => {
                let (id, case) = open.get(choose(open.len()))?;
                let members: Vec<CountryCode> = case.countries.iter().copied().collect();
                Payload::Fact(Fact::CaseCountryAdded(CaseCountryAdded {
                    case_id: **id,
                    country: members[choose(members.len())],
                    added_on: case.opened_on,
                }))
            }
            // An active participant joining again.
            3 => {
                let active: Vec<CountryCode> = st
                    .participation
                    .iter()
                    .filter(|(_, (s, _))| is_active(*s))
                    .map(|(c, _)| *c)
                    .collect();
                Payload::Fact(Fact::CountryJoined(CountryJoined {
                    country: *active.get(choose(active.len()))?,
                    joined_on: day(100),
                    participation: Participation::Beneficiary,
                }))
            }
            // A second MeetingHeld on the same meeting (even a retracted one).
            4 => {
                let recs: Vec<&Rec> = m
                    .recs
                    .iter()
                    .filter(|r| matches!(&r.payload, Payload::Fact(Fact::MeetingHeld(_))))
                    .collect();
                let Payload::Fact(Fact::MeetingHeld(mh)) = &recs.get(choose(recs.len()))?.payload
                else {
                    return None;
                };
                Payload::Fact(meeting_fact(mh.meeting_id, &[0, 4], 3, day(1000), 0))
            }
            // A retraction of a retraction.
            5 => {
                let recs: Vec<&Rec> = m
                    .recs
                    .iter()
                    .filter(|r| matches!(r.payload, Payload::Retracted(_)))
                    .collect();
                Payload::Retracted(EventRetracted {
                    target: recs.get(choose(recs.len()))?.id,
                    reason: RetractionReason::EnteredInError,
                    duplicate_of: None,
                })
            }
            // A correction of a correction.
            6 => {
                let recs: Vec<&Rec> = m
                    .recs
                    .iter()
                    .filter(|r| matches!(r.payload, Payload::Corrected(_)))
                    .collect();
                let rec = recs.get(choose(recs.len()))?;
                let Payload::Corrected(c) = &rec.payload else {
                    return None;
                };
                Payload::Corrected(EventCorrected {
                    target: rec.id,
                    replacement: c.replacement.clone(),
                    reason: "Correcting a correction".into(),
                })
            }
            // A replacement about another entity (another meeting, activity or case id).
            7 => {
                let recs = facts(
                    |f| {
                        matches!(
                            f,
                            Fact::MeetingHeld(_) | Fact::ActivityDelivered(_) | Fact::CaseOpened(_)
                        )
                    },
                    false,
                );
                let rec = recs.get(choose(recs.len()))?;
                let current = m.corrected(rec, head)?;
                let other = self.next_entity_id();
                let replacement = match current {
                    Fact::MeetingHeld(mut x) => {
                        x.meeting_id = other;
                        Fact::MeetingHeld(x)
                    }
                    Fact::ActivityDelivered(mut x) => {
                        x.activity_id = other;
                        Fact::ActivityDelivered(x)
                    }
                    Fact::CaseOpened(mut x) => {
                        x.case_id = other;
                        Fact::CaseOpened(x)
                    }
                    _ => return None,
                };
                Payload::Corrected(EventCorrected {
                    target: rec.id,
                    replacement,
                    reason: "Wrong entity".into(),
                })
            }
            // A second retraction of the same event.
            8 => {
                let recs = facts(any, true);
                Payload::Retracted(EventRetracted {
                    target: recs.get(choose(recs.len()))?.id,
                    reason: RetractionReason::Duplicate,
                    duplicate_of: None,
                })
            }
            // A milestone naming a country outside the case.
            9 => {
                let (id, case) = open.get(choose(open.len()))?;
                let outside: Vec<CountryCode> = pool_codes()
                    .into_iter()
                    .filter(|c| !case.countries.contains(c))
                    .collect();
                Payload::Fact(Fact::CaseMilestoneRecorded(CaseMilestoneRecorded {
                    case_id: **id,
                    on: case.opened_on,
                    milestone: milestone(2, &[*outside.get(choose(outside.len()))?], 0, 3),
                }))
            }
            // A country added before the case was opened.
            10 => {
                let (id, case) = open.get(choose(open.len()))?;
                let outside: Vec<CountryCode> = pool_codes()
                    .into_iter()
                    .filter(|c| !case.countries.contains(c))
                    .collect();
                Payload::Fact(Fact::CaseCountryAdded(CaseCountryAdded {
                    case_id: **id,
                    country: *outside.get(choose(outside.len()))?,
                    added_on: add_days(case.opened_on, -1 - i64::try_from(choose(30)).unwrap_or(0)),
                }))
            }
            // A closure of a case whose opening was retracted.
            11 => {
                let recs = facts(|f| matches!(f, Fact::CaseOpened(_)), true);
                let Payload::Fact(Fact::CaseOpened(o)) = &recs.get(choose(recs.len()))?.payload
                else {
                    return None;
                };
                Payload::Fact(Fact::CaseClosed(CaseClosed {
                    case_id: o.case_id,
                    closed_on: add_days(o.opened_on, 10),
                    outcome: CaseOutcome::Discontinued,
                }))
            }
            // A replacement of another type.
            12 => {
                let recs = facts(|f| matches!(f, Fact::MeetingHeld(_)), false);
                let rec = recs.get(choose(recs.len()))?;
                let replacement = activity_fact(
                    self.next_entity_id(),
                    &[1],
                    &[5],
                    0,
                    20,
                    None,
                    false,
                    day(10),
                    0,
                );
                Payload::Corrected(EventCorrected {
                    target: rec.id,
                    replacement,
                    reason: "Was an activity".into(),
                })
            }
            // A second CaseOpened of the same case.
            13 => {
                let recs = facts(|f| matches!(f, Fact::CaseOpened(_)), pick.index(2) == 0);
                let Payload::Fact(Fact::CaseOpened(o)) = &recs.get(choose(recs.len()))?.payload
                else {
                    return None;
                };
                Payload::Fact(case_opened_fact(o.case_id, &[2, 10], 0, o.opened_on))
            }
            // A meeting dated after the day of recording.
            14 => {
                let start = add_days(today_utc(), 3);
                Payload::Fact(meeting_fact(self.next_entity_id(), &[1, 5], 0, start, 0))
            }
            // A country both beneficiary and other country of an activity.
            15 => {
                let Fact::ActivityDelivered(mut a) = activity_fact(
                    self.next_entity_id(),
                    &[0, 4],
                    &[10],
                    2,
                    25,
                    Some(9),
                    true,
                    day(900),
                    1,
                ) else {
                    return None;
                };
                a.other_countries.push(code(choose(2) * 4));
                Payload::Fact(Fact::ActivityDelivered(a))
            }
            // A correction of an activity whose replacement counts more women than participants.
            16 => {
                let recs = facts(|f| matches!(f, Fact::ActivityDelivered(_)), false);
                let rec = recs.get(choose(recs.len()))?;
                let Some(Fact::ActivityDelivered(mut a)) = m.corrected(rec, head) else {
                    return None;
                };
                a.participants = Participants {
                    total: 20,
                    women: Some(21),
                    men: None,
                };
                Payload::Corrected(EventCorrected {
                    target: rec.id,
                    replacement: Fact::ActivityDelivered(a),
                    reason: "More women than participants".into(),
                })
            }
            // A retraction of an event that is not in the ledger.
            _ => Payload::Retracted(EventRetracted {
                target: Uuid::from_u64_pair(
                    0xdead_beef_0000_7000,
                    0x8000_0000_0000_0000 | u64::from(kind),
                ),
                reason: RetractionReason::OutOfScope,
                duplicate_of: None,
            }),
        };
        Some(payload)
    }

    /// Plans the events of one step against a trial copy of the model.
    fn plan(&mut self, op: &Op) -> Result<(Vec<Planned>, Model), String> {
        let mut trial = self.model.clone();
        let mut planned = Vec::new();
        // The invalid event, if any: its position among the valid ones, its kind and its pick.
        let (ops, poison): (Vec<Op>, Option<(usize, u8, Index)>) = match op {
            Op::Batch { ops, poison } => (
                ops.clone(),
                poison.map(|(at, kind, pick)| (at.index(ops.len() + 1), kind, pick)),
            ),
            Op::Invalid { kind, pick } => (Vec::new(), Some((0, *kind, *pick))),
            other => (vec![other.clone()], None),
        };
        for i in 0..=ops.len() {
            if let Some((_, kind, pick)) = poison.filter(|(at, _, _)| *at == i) {
                let payload = self.invalid(&trial, kind, pick);
                let predicted = trial.check(&payload);
                if predicted.is_ok() {
                    return Err(format!(
                        "harness bug: invalid event {payload:?} is valid for the model"
                    ));
                }
                planned.push(Planned {
                    id: self.next_event_id(),
                    payload,
                    predicted,
                });
            }
            let Some(op) = ops.get(i) else { break };
            if let Some(payload) = self.valid(&trial, op) {
                let predicted = trial.check(&payload);
                let id = self.next_event_id();
                if predicted.is_ok() {
                    trial.push(id, payload.clone());
                }
                planned.push(Planned {
                    id,
                    payload,
                    predicted,
                });
            }
        }
        Ok((planned, trial))
    }

    /// Plans one step, appends it, checks the outcome against the model's prediction and, with
    /// `check_views`, the views against the model.
    fn step(&mut self, op: &Op, check_views: bool) -> Result<(), String> {
        if let Op::Reopen = op {
            self.reopen();
            self.history.push("reopen".into());
            return if check_views {
                self.check_current("after a reopen")
            } else {
                Ok(())
            };
        }
        let (planned, trial) = self.plan(op)?;
        if planned.is_empty() {
            return Ok(());
        }
        let expect_ok = planned.iter().all(|p| p.predicted.is_ok());
        let events: Vec<NewEvent> = planned
            .iter()
            .map(|p| NewEvent::new("test.model", p.payload.clone()).with_id(p.id))
            .collect();
        let reader = self.ledger().reader();
        let before = reader.head();
        let result = self.ledger().append(events.clone());
        let batch = if events.len() > 1 { " (batch)" } else { "" };
        let mut seq = before.seq;
        for (p, e) in planned.iter().zip(&events) {
            let staff = Value::Object(to_staff_object(e));
            let line = match (&result, &p.predicted) {
                (Ok(_), _) => {
                    seq += 1;
                    format!("#{seq}{batch}: {staff}")
                }
                (Err(_), Ok(())) => format!("refused{batch}: {staff}"),
                (Err(_), Err(why)) => format!("refused{batch} [{why}]: {staff}"),
            };
            self.history.push(line);
        }
        match (expect_ok, result) {
            (true, Ok(receipts)) => {
                let seqs: Vec<u64> = receipts.iter().map(|r| r.seq).collect();
                let want: Vec<u64> = (before.seq + 1..=before.seq + events.len() as u64).collect();
                if seqs != want {
                    return Err(format!("receipts at sequences {seqs:?}, expected {want:?}"));
                }
                self.model = trial;
                ACCEPTED.fetch_add(events.len() as u64, Ordering::Relaxed);
            }
            (false, Err(e)) => {
                let after = reader.head();
                if after.seq != before.seq || after.hash != before.hash {
                    return Err(format!(
                        "a refused append moved the head from {} to {}",
                        before.seq, after.seq
                    ));
                }
                for p in &planned {
                    if reader.get(&p.id).map_err(|e| e.to_string())?.is_some() {
                        return Err(format!(
                            "event {} of a refused batch was written ({e})",
                            p.id
                        ));
                    }
                }
                REFUSED_EVENTS.fetch_add(1, Ordering::Relaxed);
                if events.len() > 1 {
                    REFUSED_BATCHES.fetch_add(1, Ordering::Relaxed);
                }
            }
            (true, Err(e)) => {
                return Err(format!("the ledger refused what the model accepts: {e}"));
            }
            (false, Ok(_)) => {
                let why: Vec<&str> = planned
                    .iter()
                    .filter_map(|p| p.predicted.as_ref().err())
                    .map(String::as_str)
                    .collect();
                return Err(format!(
                    "the ledger accepted what the model refuses: {why:?}"
                ));
            }
        }
        if check_views {
            let head = self.model.head();
            let expected = self.model.views(head, None, head);
            compare(
                &format!("after sequence {head}"),
                &reader.views(),
                &expected,
            )?;
        }
        Ok(())
    }

    fn check_current(&mut self, what: &str) -> Result<(), String> {
        let head = self.model.head();
        let expected = self.model.views(head, None, head);
        let views = self.ledger().reader().views();
        compare(what, &views, &expected)
    }
}

// ---------------------------------------------------------------------------------------------
// Digest of the views.

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// SHA-256 of the canonical JSON (sorted keys, no spaces) of every country view and the
/// inter-regional view.
fn digest(views: &ViewState) -> String {
    let countries: Vec<Value> = views
        .countries()
        .map(|c| serde_json::to_value(views.country_view(c)).expect("country view JSON"))
        .collect();
    let regions = serde_json::to_value(views.interregional_view()).expect("inter-regional JSON");
    let text = serde_json::to_string(&canonical(
        &json!({"countries": countries, "regions": regions}),
    ))
    .expect("canonical JSON");
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

// ---------------------------------------------------------------------------------------------
// The properties.

fn config(cases: u32) -> ProptestConfig {
    let seed = seed();
    let cases = std::env::var("VIEWS_MODEL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(cases);
    eprintln!(
        "views_model: proptest seed {seed}, {cases} cases (rerun with PROPTEST_RNG_SEED={seed})"
    );
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 300,
        ..ProptestConfig::default()
    }
}

/// The longest generated history: `default`, or `VIEWS_MODEL_STEPS` for deeper runs.
fn steps(default: usize) -> usize {
    std::env::var("VIEWS_MODEL_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .max(1)
}

fn stats() {
    if std::env::var_os("VIEWS_MODEL_STATS").is_some() {
        eprintln!(
            "views_model: {} events accepted ({} corrections, {} retractions generated), {} appends refused ({} batches)",
            ACCEPTED.load(Ordering::Relaxed),
            CORRECTIONS.load(Ordering::Relaxed),
            RETRACTIONS.load(Ordering::Relaxed),
            REFUSED_EVENTS.load(Ordering::Relaxed),
            REFUSED_BATCHES.load(Ordering::Relaxed),
        );
    }
}

fn fail(h: &Harness, msg: &str) -> TestCaseError {
    TestCaseError::fail(format!(
        "{msg}\n--- seed {} (PROPTEST_RNG_SEED); history, one event per line:\n{}",
        seed(),
        h.history()
    ))
}

/// The "as of" checks: earlier sequences and real-world dates, folded by the library from the
/// log, against the model on the prefix or restricted by date.
fn check_as_of(h: &mut Harness, at: &[Index], dates: &[u32]) -> Result<(), String> {
    let head = h.model.head();
    let reader = h.ledger().reader();
    let mut seqs: Vec<u64> = at
        .iter()
        .map(|i| i.index(head as usize + 1) as u64)
        .collect();
    seqs.push(0);
    for k in seqs {
        let views = reader
            .views_at(AsOf::sequence(k))
            .map_err(|e| e.to_string())?;
        compare(
            &format!("views_at(Sequence({k}))"),
            &views,
            &h.model.views(k, None, k),
        )?;
    }
    for d in dates.iter().map(|n| day(*n)) {
        let views = reader.views_at(AsOf::date(d)).map_err(|e| e.to_string())?;
        compare(
            &format!("views_at(Date({d}))"),
            &views,
            &h.model.views(head, Some(d), head),
        )?;
    }
    let views = reader.views_at(AsOf::HEAD).map_err(|e| e.to_string())?;
    compare("views_at(Head)", &views, &h.model.views(head, None, head))
}

proptest! {
    #![proptest_config(config(48))]

    /// The views equal the model's after every append (and after every refused one), and the
    /// "as of" views equal the model on prefixes and by date.
    #[test]
    fn views_match_the_model_at_every_prefix(
        ops in vec(op(), 1..=steps(40)),
        at in vec(any::<Index>(), 3),
        dates in vec(0u32..2900, 3),
    ) {
        let mut h = Harness::new();
        for op in &ops {
            h.step(op, true).map_err(|e| fail(&h, &e))?;
        }
        check_as_of(&mut h, &at, &dates).map_err(|e| fail(&h, &e))?;
        stats();
    }
}

proptest! {
    #![proptest_config(config(16))]

    /// The digest of the incrementally maintained views equals that of the views loaded at
    /// reopen, of every rebuild, and of the rebuilt views after a second reopen.
    #[test]
    fn rebuilt_and_reopened_views_have_the_incremental_digest(ops in vec(op(), 1..=steps(60))) {
        let mut h = Harness::new();
        for op in &ops {
            h.step(op, false).map_err(|e| fail(&h, &e))?;
        }
        h.check_current("incremental views").map_err(|e| fail(&h, &e))?;
        let incremental = digest(&h.ledger().reader().views());
        let mut digests = Vec::new();
        h.reopen();
        digests.push(("reopened (stored incremental views)", digest(&h.ledger().reader().views())));
        for which in [ViewName::All, ViewName::Countries, ViewName::Regions] {
            h.ledger().rebuild_views(which, &mut |_| {}).map_err(|e| fail(&h, &e.to_string()))?;
            let name = match which {
                ViewName::All => "rebuilt (All)",
                ViewName::Countries => "rebuilt (Countries)",
                ViewName::Regions => "rebuilt (Regions)",
            };
            digests.push((name, digest(&h.ledger().reader().views())));
        }
        h.reopen();
        digests.push(("reopened after the rebuilds", digest(&h.ledger().reader().views())));
        h.check_current("views after rebuild and reopen").map_err(|e| fail(&h, &e))?;
        for (name, d) in digests {
            prop_assert_eq!(&d, &incremental, "{} digest differs from the incremental one\n{}", name, h.history());
        }
    }
}
