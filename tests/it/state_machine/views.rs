//! The reference model's views (domain.md, "Regions" and "Views"; the JSON of the README's "The
//! views"), computed from scratch from the records up to an as-of point: one pass lists the
//! effective meetings, delivered activities and cases with the countries each involves, then
//! every number is counted over that list.

use std::collections::{BTreeMap, BTreeSet};

use coopledger::proto_events::{CountryCode, Fact, Payload};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::domain::{ACTIVITY_KIND_NAMES, kind_name, m49, programme_region, status_name};
use super::effective::{Snapshot, effective};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Meeting,
    Activity,
    /// A case, closed or not.
    Case(bool),
}

/// A meeting, delivered activity or case that counts, with the countries it involves (sorted,
/// each once) and the programme region of each.
struct Involving<'a> {
    what: What,
    fact: &'a Fact,
    countries: Vec<CountryCode>,
    regions: Vec<&'static str>,
}

impl What {
    /// Meetings, activities, cases: the order of the views' counts.
    fn column(self) -> usize {
        match self {
            What::Meeting => 0,
            What::Activity => 1,
            What::Case(_) => 2,
        }
    }
}

/// Views as the JSON of the README: the per-country views by country (one for every country
/// with a view) and the inter-regional view.
pub(super) struct ViewsJson {
    /// The per-country views, by country: one for every country with one.
    pub(super) countries: BTreeMap<CountryCode, Value>,
    pub(super) interregional: Value,
}

/// domain.md, "Regions": "The countries involved in an event: a meeting's `countries`; an
/// activity's `beneficiaries` ∪ `other_countries`; a case's `countries` plus every country
/// added to it."
fn involving<'a>(facts: &[&'a Fact]) -> Vec<Involving<'a>> {
    let mut added: BTreeMap<Uuid, Vec<CountryCode>> = BTreeMap::new();
    let mut closed: BTreeSet<Uuid> = BTreeSet::new();
    for fact in facts {
        match fact {
            Fact::CaseCountryAdded(a) => added.entry(a.case_id).or_default().push(a.country),
            Fact::CaseClosed(c) => {
                closed.insert(c.case_id);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for fact in facts {
        let (what, countries): (What, BTreeSet<CountryCode>) = match fact {
            Fact::MeetingHeld(m) => (What::Meeting, m.countries.iter().copied().collect()),
            // "over effective delivered activities": a schedule is not an activity held, and a
            // country named only in one has no view (domain.md's "ever involved" leaves that
            // open; a model that gave it one fails against the product).
            Fact::ActivityDelivered(a) => (
                What::Activity,
                a.beneficiaries
                    .iter()
                    .chain(&a.other_countries)
                    .copied()
                    .collect(),
            ),
            Fact::CaseOpened(o) => {
                let mut countries: BTreeSet<CountryCode> = o.countries.iter().copied().collect();
                countries.extend(added.get(&o.case_id).into_iter().flatten().copied());
                // "closed = an effective `CaseClosed` exists".
                (What::Case(closed.contains(&o.case_id)), countries)
            }
            _ => continue,
        };
        let countries: Vec<CountryCode> = countries.into_iter().collect();
        let regions = countries.iter().map(|c| programme_region(*c)).collect();
        out.push(Involving {
            what,
            fact,
            countries,
            regions,
        });
    }
    out
}

/// The views the model expects as of sequence `as_of`, from the records `1..=as_of` (event id
/// and payload, in sequence order).
pub(super) fn model_views<'a>(
    records: impl IntoIterator<Item = (Option<Uuid>, &'a Payload)>,
    as_of: u64,
) -> ViewsJson {
    let now = effective(records);
    let events = involving(&now.facts);

    // "one per country ever involved or joined"; README: "a country whose every event was
    // retracted leaves the views".
    let mut with_view: BTreeSet<CountryCode> = BTreeSet::new();
    for e in &events {
        with_view.extend(e.countries.iter().copied());
    }
    for fact in &now.facts {
        if let Fact::CountryJoined(j) = fact {
            with_view.insert(j.country);
        }
    }

    // One pass over the events, counting for each country it involves.
    let mut tallies: BTreeMap<CountryCode, Tally> = BTreeMap::new();
    for c in &with_view {
        tallies.insert(*c, Tally::default());
    }
    for e in &events {
        for c in &e.countries {
            let t = tallies.get_mut(c).expect("an involved country has a view");
            match e.fact {
                Fact::MeetingHeld(_) => t.meetings += 1,
                Fact::ActivityDelivered(a) => {
                    t.activities += 1;
                    *t.by_kind.entry(kind_name(a.kind)).or_default() += 1;
                    // "sums ... over effective delivered activities where the country is a
                    // **beneficiary**".
                    if a.beneficiaries.contains(c) {
                        t.participants += u64::from(a.participants.total);
                        t.women += u64::from(a.participants.women.unwrap_or(0));
                    }
                }
                Fact::CaseOpened(_) if e.what == What::Case(true) => t.closed += 1,
                Fact::CaseOpened(_) => t.open += 1,
                _ => unreachable!("only meetings, activities and cases involve countries"),
            }
            // "for each other country, the effective meetings, activities and cases both are
            // involved in (only non-zero ones)".
            for d in &e.countries {
                if d != c {
                    t.counterparts.entry(*d).or_default()[e.what.column()] += 1;
                }
            }
        }
    }

    let mut countries = BTreeMap::new();
    for (c, tally) in tallies {
        countries.insert(c, country_view(c, &now, tally, as_of));
    }
    ViewsJson {
        countries,
        interregional: interregional_view(&events, as_of),
    }
}

/// What a country's view counts.
#[derive(Default)]
struct Tally {
    meetings: u64,
    activities: u64,
    by_kind: BTreeMap<&'static str, u64>,
    participants: u64,
    women: u64,
    open: u64,
    closed: u64,
    counterparts: BTreeMap<CountryCode, [u64; 3]>,
}

fn country_view(c: CountryCode, now: &Snapshot<'_>, tally: Tally, as_of: u64) -> Value {
    let (name, region, sub_region, intermediate) = m49(c);
    // "the latest effective status and the day the country (last) joined; both `null` if it
    // never joined" (README).
    let participation = match now.membership(c) {
        Some(m) => object(vec![
            ("status", status_name(m.status).into()),
            ("joined_on", m.joined_on.to_string().into()),
        ]),
        None => object(vec![("status", Value::Null), ("joined_on", Value::Null)]),
    };
    // "`by_kind` lists every activity kind".
    let mut kinds: Vec<&str> = ACTIVITY_KIND_NAMES.iter().map(|(_, name)| *name).collect();
    kinds.sort_unstable();
    let mut by_kind = Vec::new();
    for kind in kinds {
        by_kind.push((kind, tally.by_kind.get(kind).copied().unwrap_or(0).into()));
    }
    let mut counterparts = Map::new();
    for (d, [m, a, cases]) in tally.counterparts {
        counterparts.insert(
            d.as_str().to_owned(),
            object(vec![
                ("meetings", m.into()),
                ("activities", a.into()),
                ("cases", cases.into()),
            ]),
        );
    }
    object(vec![
        ("country", c.as_str().into()),
        ("name", name.into()),
        (
            "m49",
            object(vec![
                ("region", region.into()),
                ("sub_region", sub_region.into()),
                ("intermediate_region", intermediate.into()),
            ]),
        ),
        ("programme_region", programme_region(c).into()),
        ("participation", participation),
        ("meetings", tally.meetings.into()),
        (
            "activities",
            object(vec![
                ("total", tally.activities.into()),
                ("by_kind", object(by_kind)),
            ]),
        ),
        (
            "participants",
            object(vec![
                ("total", tally.participants.into()),
                ("women", tally.women.into()),
            ]),
        ),
        (
            "cases",
            object(vec![
                ("open", tally.open.into()),
                ("closed", tally.closed.into()),
            ]),
        ),
        ("counterparts", Value::Object(counterparts)),
        ("as_of_sequence", as_of.into()),
    ])
}

/// A JSON object of these fields, in this order.
fn object(fields: Vec<(&str, Value)>) -> Value {
    let mut map = Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}

fn interregional_view(events: &[Involving<'_>], as_of: u64) -> Value {
    // "pairs": for each unordered pair of programme regions (names sorted, possibly equal), the
    // events whose involved countries include a country of each — "for a region paired with
    // itself: at least two of its countries".
    let mut pairs: BTreeMap<(&str, &str), [u64; 3]> = BTreeMap::new();
    let mut spanning = 0u64;
    let mut with_a_country = 0u64;
    let mut corridors: BTreeMap<(CountryCode, CountryCode), u64> = BTreeMap::new();
    for e in events {
        let mut per_region: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &e.regions {
            *per_region.entry(r).or_default() += 1;
        }
        let column = e.what.column();
        for (a, n) in &per_region {
            for b in per_region.keys() {
                if a < b || (a == b && *n >= 2) {
                    pairs.entry((a, b)).or_default()[column] += 1;
                }
            }
        }
        // "inter-regional when its involved countries span two or more programme regions".
        if per_region.len() >= 2 {
            spanning += 1;
        }
        if !e.countries.is_empty() {
            with_a_country += 1;
        }
        // "country pairs from different programme regions".
        for (i, x) in e.countries.iter().enumerate() {
            for (j, y) in e.countries.iter().enumerate() {
                if x < y && e.regions[i] != e.regions[j] {
                    *corridors.entry((*x, *y)).or_default() += 1;
                }
            }
        }
    }
    let pairs: Vec<Value> = pairs
        .into_iter()
        .filter(|(_, n)| n.iter().any(|n| *n > 0))
        .map(|((a, b), [m, act, cases])| {
            object(vec![
                ("regions", vec![a, b].into()),
                ("meetings", m.into()),
                ("activities", act.into()),
                ("cases", cases.into()),
            ])
        })
        .collect();
    let share = if with_a_country == 0 {
        0.0
    } else {
        spanning as f64 / with_a_country as f64
    };
    // "most events first, ties by codes".
    let mut corridors: Vec<((CountryCode, CountryCode), u64)> = corridors.into_iter().collect();
    corridors.sort_by(|(a, n), (b, m)| m.cmp(n).then(a.cmp(b)));
    let corridors: Vec<Value> = corridors
        .into_iter()
        .map(|((x, y), n)| {
            object(vec![
                ("countries", vec![x.as_str(), y.as_str()].into()),
                ("events", n.into()),
            ])
        })
        .collect();
    object(vec![
        ("pairs", pairs.into()),
        (
            "interregional",
            object(vec![("events", spanning.into()), ("share", share.into())]),
        ),
        ("corridors", corridors.into()),
        ("as_of_sequence", as_of.into()),
    ])
}
