//! The views' own types and JSON shapes (domain.md, "Views"). They are not event types: they are
//! built from the folded [`ViewState`] on read.

use std::collections::BTreeMap;

use proto_events::regions::{programme_region, region_info};
use proto_events::values::{ActivityKind, ParticipationStatus};
use proto_events::{CountryCode, Date, M49, ProgrammeRegion};
use serde::{Deserialize, Serialize};

use super::index::{REGIONS, country_at, country_count, region_of};
use super::state::{ACTIVITIES, CASES, MEETINGS, Row, ViewState};

/// A country's participation in the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipationView {
    /// Current status; `null` if it never joined.
    pub status: Option<ParticipationStatus>,
    /// The day it (last) joined; `null` if it never joined.
    pub joined_on: Option<Date>,
}

/// Delivered activities a country is involved in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivitiesView {
    /// All kinds.
    pub total: u64,
    /// Per kind, every kind listed (zero included).
    pub by_kind: BTreeMap<String, u64>,
}

/// Participant sums over activities where the country is a beneficiary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantsView {
    /// Sum of `participants.total`.
    pub total: u64,
    /// Sum of `participants.women` where given.
    pub women: u64,
}

/// Cases a country is involved in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasesView {
    /// Without an effective closure.
    pub open: u64,
    /// With an effective closure.
    pub closed: u64,
}

/// What a country shares with one counterpart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterpartView {
    /// Shared effective meetings.
    pub meetings: u64,
    /// Shared effective delivered activities.
    pub activities: u64,
    /// Shared cases.
    pub cases: u64,
}

/// The per-country view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountryView {
    /// Alpha-2 code.
    pub country: CountryCode,
    /// ISO short name.
    pub name: String,
    /// M49 codes.
    pub m49: M49,
    /// Programme region.
    pub programme_region: ProgrammeRegion,
    /// Participation.
    pub participation: ParticipationView,
    /// Effective meetings it is involved in.
    pub meetings: u64,
    /// Effective delivered activities it is involved in.
    pub activities: ActivitiesView,
    /// Participant sums where it is a beneficiary.
    pub participants: ParticipantsView,
    /// Cases it is involved in.
    pub cases: CasesView,
    /// Per other country, what they share (only non-zero counterparts).
    pub counterparts: BTreeMap<CountryCode, CounterpartView>,
    /// The last sequence folded in.
    pub as_of_sequence: u64,
}

/// One unordered pair of programme regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionPairView {
    /// The two regions, sorted by name (may be equal).
    pub regions: [ProgrammeRegion; 2],
    /// Effective meetings involving a country of each.
    pub meetings: u64,
    /// Effective delivered activities involving a country of each.
    pub activities: u64,
    /// Cases involving a country of each.
    pub cases: u64,
}

/// The inter-regional totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterregionalTotals {
    /// Effective meetings, activities and cases spanning two or more regions.
    pub events: u64,
    /// `events` over all effective meetings, activities and cases with an involved country.
    pub share: f64,
}

/// A pair of countries from different programme regions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corridor {
    /// The two countries, sorted.
    pub countries: [CountryCode; 2],
    /// Effective meetings, activities and cases involving both.
    pub events: u64,
}

/// The inter-regional view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterRegionalView {
    /// Region pairs with a non-zero count.
    pub pairs: Vec<RegionPairView>,
    /// Inter-regional totals.
    pub interregional: InterregionalTotals,
    /// Country pairs across regions, most events first, ties by codes.
    pub corridors: Vec<Corridor>,
    /// The last sequence folded in.
    pub as_of_sequence: u64,
}

/// A counter as a count. Counters are never negative: every state is checked where it is made
/// ([`ViewState::negative_counter`]), so a negative one here is a bug, reported as one.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_else(|_| {
        unreachable!("negative view counter {n}: every view state is checked before it is read")
    })
}

impl ViewState {
    /// The per-country view of `c`, or `None` if it was never involved nor joined.
    #[must_use]
    pub fn country_view(&self, c: CountryCode) -> Option<CountryView> {
        let row = self.row(c).filter(|r| r.is_present())?;
        Some(build_country(c, row, self.as_of))
    }

    /// Every country present in the views, sorted by code.
    pub fn countries(&self) -> impl Iterator<Item = CountryCode> + '_ {
        self.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_present())
            .filter_map(|(i, _)| country_at(i))
    }

    /// The inter-regional view.
    #[must_use]
    pub fn interregional_view(&self) -> InterRegionalView {
        let r = &self.regions;
        let mut pairs = Vec::new();
        for i in 0..REGIONS {
            for j in i..REGIONS {
                let [m, a, c] = r.pairs[i][j];
                if m != 0 || a != 0 || c != 0 {
                    pairs.push(RegionPairView {
                        regions: [ProgrammeRegion::ALL[i], ProgrammeRegion::ALL[j]],
                        meetings: count(m),
                        activities: count(a),
                        cases: count(c),
                    });
                }
            }
        }
        let share = if r.counted > 0 {
            r.interregional as f64 / r.counted as f64
        } else {
            0.0
        };
        InterRegionalView {
            pairs,
            interregional: InterregionalTotals {
                events: count(r.interregional),
                share,
            },
            corridors: self.corridors(),
            as_of_sequence: self.as_of,
        }
    }

    /// Country pairs across programme regions, derived from the counterpart counters.
    fn corridors(&self) -> Vec<Corridor> {
        let mut out = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            for (j, cell) in row.counterparts.iter().enumerate().skip(i + 1) {
                let events = count(cell[MEETINGS] + cell[ACTIVITIES] + cell[CASES]);
                if events == 0 || region_of(i) == region_of(j) {
                    continue;
                }
                if let (Some(a), Some(b)) = (country_at(i), country_at(j)) {
                    out.push(Corridor {
                        countries: [a, b],
                        events,
                    });
                }
            }
        }
        out.sort_by(|x, y| y.events.cmp(&x.events).then(x.countries.cmp(&y.countries)));
        out
    }
}

fn build_country(c: CountryCode, row: &Row, as_of: u64) -> CountryView {
    let info = region_info(c);
    let by_kind = ActivityKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), count(row.by_kind[*k as usize])))
        .collect();
    let counterparts = row
        .counterparts
        .iter()
        .enumerate()
        .filter(|(_, cell)| cell.iter().any(|n| *n != 0))
        .filter_map(|(j, cell)| {
            Some((
                country_at(j)?,
                CounterpartView {
                    meetings: count(cell[MEETINGS]),
                    activities: count(cell[ACTIVITIES]),
                    cases: count(cell[CASES]),
                },
            ))
        })
        .collect();
    CountryView {
        country: c,
        name: c.name().to_owned(),
        m49: info.map_or(
            M49 {
                region: None,
                sub_region: None,
                intermediate_region: None,
            },
            |i| i.m49.clone(),
        ),
        programme_region: programme_region(c),
        participation: ParticipationView {
            status: row.participation.map(|p| p.0),
            joined_on: row.participation.map(|p| p.1),
        },
        meetings: count(row.meetings),
        activities: ActivitiesView {
            total: count(row.activities),
            by_kind,
        },
        participants: ParticipantsView {
            total: count(row.participants_total),
            women: count(row.participants_women),
        },
        cases: CasesView {
            open: count(row.cases_open),
            closed: count(row.cases_closed),
        },
        counterparts,
        as_of_sequence: as_of,
    }
}

/// Number of countries the dense state covers (for sizing pages).
#[must_use]
pub fn max_countries() -> usize {
    country_count()
}
