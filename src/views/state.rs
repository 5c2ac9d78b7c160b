//! The folded state of both views, in dense arrays indexed by country and region.
//!
//! Every effective meeting, activity and case contributes to the counters; a change to an entity
//! (a new fact, a correction, a retraction) subtracts its old contribution and adds its new one.
//! Rows are shared (`Arc`) so that publishing a snapshot after each commit copies only the rows
//! that changed.

use std::collections::BTreeSet;
use std::sync::Arc;

use proto_events::values::ActivityKind;
use proto_events::{CountryCode, Date, Stream};

use super::index::{REGIONS, country_count, country_index, region_of};
use crate::entity::{Contribution, Participation, StreamFact, contribution, participation};

/// Index of meetings, activities and cases in the `[i64; 3]` counters.
pub const MEETINGS: usize = 0;
/// See [`MEETINGS`].
pub const ACTIVITIES: usize = 1;
/// See [`MEETINGS`].
pub const CASES: usize = 2;

/// The counters of one country.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// Effective meetings it is involved in.
    pub meetings: i64,
    /// Effective delivered activities it is involved in.
    pub activities: i64,
    /// The same, by kind (indexed like `ActivityKind::ALL`).
    pub by_kind: [i64; ActivityKind::ALL.len()],
    /// Sum of `participants.total` over activities where it is a beneficiary.
    pub participants_total: i64,
    /// Sum of `participants.women` over the same activities.
    pub participants_women: i64,
    /// Open cases it is involved in.
    pub cases_open: i64,
    /// Closed cases it is involved in.
    pub cases_closed: i64,
    /// Its participation.
    pub participation: Participation,
    /// Shared meetings, activities and cases with each other country, by country index; empty
    /// until the country first shares something.
    pub counterparts: Vec<[i64; 3]>,
}

impl Row {
    /// Whether the country appears in the views (involved in something, or joined).
    #[must_use]
    pub fn is_present(&self) -> bool {
        self.participation.is_some()
            || self.meetings != 0
            || self.activities != 0
            || self.cases_open != 0
            || self.cases_closed != 0
    }
}

/// The inter-regional counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Regions {
    /// `pairs[i][j]` (i ≤ j, region indices) counts meetings, activities and cases involving a
    /// country of each (for i == j: at least two of its countries).
    pub pairs: [[[i64; 3]; REGIONS]; REGIONS],
    /// Effective meetings, activities and cases spanning two or more regions.
    pub interregional: i64,
    /// Effective meetings, activities and cases with at least one involved country.
    pub counted: i64,
}

/// Both views as of one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// One row per country index.
    pub rows: Vec<Arc<Row>>,
    /// Inter-regional counters.
    pub regions: Regions,
    /// The last sequence folded in.
    pub as_of: u64,
}

impl Default for ViewState {
    fn default() -> Self {
        let empty = Arc::new(Row::default());
        ViewState {
            rows: vec![empty; country_count()],
            regions: Regions::default(),
            as_of: 0,
        }
    }
}

impl ViewState {
    /// The row of a country.
    #[must_use]
    pub fn row(&self, c: CountryCode) -> Option<&Row> {
        self.rows.get(country_index(c)).map(AsRef::as_ref)
    }

    fn row_mut(&mut self, index: usize, touched: &mut BTreeSet<usize>) -> Option<&mut Row> {
        touched.insert(index);
        self.rows.get_mut(index).map(Arc::make_mut)
    }

    /// Applies the change of one stream from `old` to `new` facts; records the touched rows.
    pub fn apply_change(
        &mut self,
        stream: &Stream,
        old: &[StreamFact],
        new: &[StreamFact],
        on_or_before: Option<Date>,
        touched: &mut BTreeSet<usize>,
    ) {
        if let Stream::Country(c) = stream {
            let p = participation(new, on_or_before);
            if let Some(row) = self.row_mut(country_index(*c), touched) {
                row.participation = p;
            }
            return;
        }
        let before = contribution(stream, old, on_or_before);
        let after = contribution(stream, new, on_or_before);
        if before != after {
            self.add(&before, -1, touched);
            self.add(&after, 1, touched);
        }
    }

    /// Adds (`sign` = 1) or removes (`sign` = -1) one entity's contribution.
    pub fn add(&mut self, c: &Contribution, sign: i64, touched: &mut BTreeSet<usize>) {
        let (kind, countries) = match c {
            Contribution::None => return,
            Contribution::Meeting { countries } => (MEETINGS, countries),
            Contribution::Activity { countries, .. } => (ACTIVITIES, countries),
            Contribution::Case { countries, .. } => (CASES, countries),
        };
        let indices: Vec<usize> = countries.iter().map(|c| country_index(*c)).collect();
        let n = country_count();
        for &i in &indices {
            let Some(row) = self.row_mut(i, touched) else { continue };
            match c {
                Contribution::Meeting { .. } => row.meetings += sign,
                Contribution::Activity { kind, .. } => {
                    row.activities += sign;
                    if let Some(k) = row.by_kind.get_mut(*kind as usize) {
                        *k += sign;
                    }
                }
                Contribution::Case { closed, .. } => {
                    if *closed {
                        row.cases_closed += sign;
                    } else {
                        row.cases_open += sign;
                    }
                }
                Contribution::None => {}
            }
            if indices.len() > 1 {
                if row.counterparts.is_empty() {
                    row.counterparts = vec![[0; 3]; n];
                }
                for &j in indices.iter().filter(|j| **j != i) {
                    if let Some(cell) = row.counterparts.get_mut(j).and_then(|c| c.get_mut(kind)) {
                        *cell += sign;
                    }
                }
            }
            debug_assert!(row.meetings >= 0 && row.activities >= 0, "negative counter in row {i}");
        }
        if let Contribution::Activity {
            beneficiaries,
            participants,
            ..
        } = c
        {
            for b in beneficiaries {
                if let Some(row) = self.row_mut(country_index(*b), touched) {
                    row.participants_total += sign * i64::from(participants.total);
                    row.participants_women += sign * i64::from(participants.women.unwrap_or(0));
                }
            }
        }
        self.add_regions(kind, &indices, sign);
    }

    fn add_regions(&mut self, kind: usize, countries: &[usize], sign: i64) {
        if countries.is_empty() {
            return;
        }
        let mut per_region = [0usize; REGIONS];
        for &c in countries {
            if let Some(n) = per_region.get_mut(region_of(c)) {
                *n += 1;
            }
        }
        let r = &mut self.regions;
        r.counted += sign;
        if per_region.iter().filter(|n| **n > 0).count() >= 2 {
            r.interregional += sign;
        }
        for i in 0..REGIONS {
            for j in i..REGIONS {
                let (a, b) = (per_region[i], per_region[j]);
                let hit = if i == j { a >= 2 } else { a >= 1 && b >= 1 };
                if hit {
                    r.pairs[i][j][kind] += sign;
                }
            }
        }
    }
}
