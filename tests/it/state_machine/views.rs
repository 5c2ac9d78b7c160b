//! The reference model's views (domain.md, "Regions" and "Views"), computed from scratch from
//! the records up to an as-of point: here, which countries have a view.

use std::collections::BTreeSet;

use coopledger::proto_events::{CountryCode, Fact, Payload};
use uuid::Uuid;

use super::effective::effective;

/// domain.md, "Views": "one per country ever involved or joined"; README: "a country whose
/// every event was retracted leaves the views". "Involved" as in "Regions": a meeting's
/// `countries`, an activity's `beneficiaries` ∪ `other_countries`, a case's `countries` plus
/// every country added to it — of the effective meetings, delivered activities and cases the
/// views count (a schedule is not an activity held).
pub(super) fn countries_with_view<'a>(
    records: impl IntoIterator<Item = (Option<Uuid>, &'a Payload)>,
) -> BTreeSet<CountryCode> {
    let now = effective(records);
    let mut cases: BTreeSet<Uuid> = BTreeSet::new();
    let mut out = BTreeSet::new();
    for fact in &now.facts {
        match fact {
            Fact::MeetingHeld(m) => out.extend(m.countries.iter().copied()),
            Fact::ActivityDelivered(a) => {
                out.extend(a.beneficiaries.iter().copied());
                out.extend(a.other_countries.iter().copied());
            }
            Fact::CaseOpened(o) => {
                cases.insert(o.case_id);
                out.extend(o.countries.iter().copied());
            }
            Fact::CountryJoined(j) => {
                out.insert(j.country);
            }
            _ => {}
        }
    }
    for fact in &now.facts {
        if let Fact::CaseCountryAdded(a) = fact
            && cases.contains(&a.case_id)
        {
            out.insert(a.country);
        }
    }
    out
}
