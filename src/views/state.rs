//! The folded state of both views, in dense arrays indexed by country and region.
//!
//! Every effective meeting, activity and case contributes to the counters; a change to an entity
//! (a new fact, a correction, a retraction) subtracts its old contribution and adds its new one.
//! Rows are shared (`Arc`) so that publishing a snapshot after each commit copies only the rows
//! that changed.

use std::sync::Arc;

use proto_events::values::ActivityKind;
use proto_events::{CountryCode, Date, Stream};

use super::index::{REGIONS, country_count, country_index, region_of};
use crate::entity::{
    Contribution, Participation, StreamFact, contribution, fact_contribution, participation,
};
use proto_events::Fact;

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

/// A set of row indices: a bitmap for constant-time inserts on the write path, plus the list.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    seen: Vec<bool>,
    list: Vec<usize>,
}

impl Touched {
    /// Adds a row.
    pub fn insert(&mut self, i: usize) {
        if self.seen.len() <= i {
            self.seen.resize(country_count().max(i + 1), false);
        }
        if let Some(seen) = self.seen.get_mut(i)
            && !*seen
        {
            *seen = true;
            self.list.push(i);
        }
    }

    /// Every row in the set, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.list.iter().copied()
    }

    /// A set holding every row.
    #[must_use]
    pub fn all() -> Self {
        let mut t = Touched::default();
        for i in 0..country_count() {
            t.insert(i);
        }
        t
    }
}

/// What a series of changes touched, and how to undo them. Every change to the state is
/// invertible (contributions are added and subtracted; participation is set), so the writer rolls
/// a failed request back by replaying the inverse of its changes, without copying any state.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Rows changed since the tracker was created (to be written).
    pub touched: Touched,
    undo: Vec<Change>,
    record: bool,
}

#[derive(Debug)]
enum Change {
    Contribution {
        before: Contribution,
        after: Contribution,
    },
    Participation {
        index: usize,
        old: Participation,
    },
}

impl Tracker {
    /// A tracker that can roll back (for the writer).
    #[must_use]
    pub fn with_undo() -> Self {
        Tracker {
            record: true,
            ..Tracker::default()
        }
    }

    /// Starts a new undo scope (the start of a request); `touched` is kept.
    pub fn begin(&mut self) {
        self.undo.clear();
    }

    /// Restores everything changed since [`Tracker::begin`].
    pub fn rollback(&mut self, state: &mut ViewState) {
        let undo = std::mem::take(&mut self.undo);
        let record = std::mem::replace(&mut self.record, false);
        for change in undo.into_iter().rev() {
            match change {
                Change::Contribution { before, after } => {
                    state.add(&after, -1, self);
                    state.add(&before, 1, self);
                }
                Change::Participation { index, old } => {
                    if let Some(row) = state.row_mut(index, self) {
                        row.participation = old;
                    }
                }
            }
        }
        self.record = record;
    }
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

    fn row_mut(&mut self, index: usize, tracker: &mut Tracker) -> Option<&mut Row> {
        tracker.touched.insert(index);
        self.rows.get_mut(index).map(Arc::make_mut)
    }

    /// Applies the change of one stream from `old` to `new` facts; records the touched rows.
    pub fn apply_change(
        &mut self,
        stream: &Stream,
        old: &[StreamFact],
        new: &[StreamFact],
        on_or_before: Option<Date>,
        tracker: &mut Tracker,
    ) {
        if let Stream::Country(c) = stream {
            let p = participation(new, on_or_before);
            let index = country_index(*c);
            if let Some(row) = self.row_mut(index, tracker) {
                let old = std::mem::replace(&mut row.participation, p);
                if tracker.record {
                    tracker.undo.push(Change::Participation { index, old });
                }
            }
            return;
        }
        let before = contribution(stream, old, on_or_before);
        let after = contribution(stream, new, on_or_before);
        if before != after {
            self.add(&before, -1, tracker);
            self.add(&after, 1, tracker);
            if tracker.record {
                tracker.undo.push(Change::Contribution { before, after });
            }
        }
    }

    /// Adds a meeting or activity whose stream this fact starts: the fast path of folding, which
    /// needs no earlier facts.
    pub fn add_new_entity(
        &mut self,
        fact: &Fact,
        on_or_before: Option<Date>,
        tracker: &mut Tracker,
    ) {
        let after = fact_contribution(fact, on_or_before);
        if after == Contribution::None {
            return;
        }
        self.add(&after, 1, tracker);
        if tracker.record {
            tracker.undo.push(Change::Contribution {
                before: Contribution::None,
                after,
            });
        }
    }

    /// Adds (`sign` = 1) or removes (`sign` = -1) one entity's contribution.
    pub fn add(&mut self, c: &Contribution, sign: i64, tracker: &mut Tracker) {
        let (kind, countries) = match c {
            Contribution::None => return,
            Contribution::Meeting { countries } => (MEETINGS, countries),
            Contribution::Activity { countries, .. } => (ACTIVITIES, countries),
            Contribution::Case { countries, .. } => (CASES, countries),
        };
        let indices: smallvec::SmallVec<[usize; 32]> =
            countries.iter().map(|c| country_index(*c)).collect();
        let n = country_count();
        for &i in &indices {
            let Some(row) = self.row_mut(i, tracker) else {
                continue;
            };
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
            debug_assert!(
                row.meetings >= 0 && row.activities >= 0,
                "negative counter in row {i}"
            );
        }
        if let Contribution::Activity {
            beneficiaries,
            participants,
            ..
        } = c
        {
            for b in beneficiaries {
                if let Some(row) = self.row_mut(country_index(*b), tracker) {
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
