//! The folded state of both views, in dense arrays indexed by country and region.
//!
//! Every effective meeting, activity and case contributes to the counters; a change to an entity
//! (a new fact, a correction, a retraction) subtracts its old contribution and adds its new one.
//! What changes is decided by the caller ([`crate::views::change`]); this module only adds and
//! subtracts.
//! Rows are shared (`Arc`) so that publishing a snapshot after each commit copies only the rows
//! that changed.

use std::sync::Arc;

use proto_events::CountryCode;
use proto_events::values::ActivityKind;

use super::change::Change;
use super::index::{REGIONS, country_count, country_index, region_of};
use crate::entity::{Contribution, Participation};

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
    undo: Vec<Undo>,
    record: bool,
}

#[derive(Debug)]
enum Undo {
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
                Undo::Contribution { before, after } => {
                    state.add(&after, -1, self);
                    state.add(&before, 1, self);
                }
                Undo::Participation { index, old } => {
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
    /// The first negative counter, described, if any: every counter counts effective things, so
    /// a negative one is an invariant violation (a bug, or stored views altered), never a zero.
    /// Checked where a state is made (loaded, folded, staged by the writer) so none is read.
    #[must_use]
    pub fn negative_counter(&self) -> Option<String> {
        self.rows_negative((0..self.rows.len()).collect::<Vec<_>>().into_iter())
    }

    /// As [`ViewState::negative_counter`], over the rows in `touched` and the regions only.
    #[must_use]
    pub fn negative_counter_in(&self, touched: &Touched) -> Option<String> {
        self.rows_negative(touched.iter())
    }

    /// The first difference between this state and `other` (the one the log gives), described
    /// as `field of country: this, other`; `None` when they are equal.
    #[must_use]
    pub fn first_difference(&self, other: &ViewState) -> Option<String> {
        for (i, (a, b)) in self.rows.iter().zip(&other.rows).enumerate() {
            if a == b {
                continue;
            }
            let country =
                super::index::country_at(i).map_or_else(|| format!("#{i}"), |c| c.to_string());
            let fields = [
                ("meetings", a.meetings, b.meetings),
                ("activities", a.activities, b.activities),
                (
                    "participants.total",
                    a.participants_total,
                    b.participants_total,
                ),
                (
                    "participants.women",
                    a.participants_women,
                    b.participants_women,
                ),
                ("cases.open", a.cases_open, b.cases_open),
                ("cases.closed", a.cases_closed, b.cases_closed),
            ];
            if let Some((what, x, y)) = fields.into_iter().find(|(_, x, y)| x != y) {
                return Some(format!("{what} of {country}: stored {x}, the log says {y}"));
            }
            if a.by_kind != b.by_kind {
                return Some(format!("activities by kind of {country} differ"));
            }
            if a.participation != b.participation {
                return Some(format!(
                    "participation of {country}: stored {:?}, the log says {:?}",
                    a.participation, b.participation
                ));
            }
            // Counterparts are allocated when first shared: none and all zeros are the same.
            let cell = |row: &Row, j: usize| row.counterparts.get(j).copied().unwrap_or([0; 3]);
            let n = a.counterparts.len().max(b.counterparts.len());
            if let Some(j) = (0..n).find(|j| cell(a, *j) != cell(b, *j)) {
                let other =
                    super::index::country_at(j).map_or_else(|| format!("#{j}"), |c| c.to_string());
                return Some(format!(
                    "counterpart {other} of {country}: stored {:?}, the log says {:?} \
                     (meetings, activities, cases)",
                    cell(a, j),
                    cell(b, j)
                ));
            }
        }
        if self.regions != other.regions {
            return Some("the inter-regional counters differ".into());
        }
        (self.as_of != other.as_of).then(|| {
            format!(
                "stored as of sequence {}, folded to {}",
                self.as_of, other.as_of
            )
        })
    }

    fn rows_negative(&self, rows: impl Iterator<Item = usize>) -> Option<String> {
        for i in rows {
            let Some(row) = self.rows.get(i) else {
                continue;
            };
            let scalars = [
                ("meetings", row.meetings),
                ("activities", row.activities),
                ("participants.total", row.participants_total),
                ("participants.women", row.participants_women),
                ("cases.open", row.cases_open),
                ("cases.closed", row.cases_closed),
            ];
            let kinds = row.by_kind.iter().map(|n| ("activities.by_kind", *n));
            let shared = row
                .counterparts
                .iter()
                .flat_map(|cell| cell.iter().map(|n| ("counterparts", *n)));
            if let Some((what, n)) = scalars
                .into_iter()
                .chain(kinds)
                .chain(shared)
                .find(|(_, n)| *n < 0)
            {
                let country =
                    super::index::country_at(i).map_or_else(|| format!("#{i}"), |c| c.to_string());
                return Some(format!("{what} of {country} is {n}"));
            }
        }
        let r = &self.regions;
        let pairs = r.pairs.iter().flatten().flatten().copied();
        if let Some(n) = [r.interregional, r.counted]
            .into_iter()
            .chain(pairs)
            .find(|n| *n < 0)
        {
            return Some(format!("an inter-regional counter is {n}"));
        }
        None
    }

    /// The row of a country.
    #[must_use]
    pub fn row(&self, c: CountryCode) -> Option<&Row> {
        self.rows.get(country_index(c)).map(AsRef::as_ref)
    }

    fn row_mut(&mut self, index: usize, tracker: &mut Tracker) -> Option<&mut Row> {
        tracker.touched.insert(index);
        self.rows.get_mut(index).map(Arc::make_mut)
    }

    /// Applies a change decided by [`crate::views::change::decide`]: sets a participation, or
    /// subtracts an entity's old contribution and adds its new one. Records the touched rows and,
    /// for a tracker with undo, how to take the change back.
    pub fn apply(&mut self, change: &Change, tracker: &mut Tracker) {
        match change {
            Change::None => {}
            Change::Participation {
                country,
                participation,
            } => {
                let index = country_index(*country);
                if let Some(row) = self.row_mut(index, tracker) {
                    let old = std::mem::replace(&mut row.participation, *participation);
                    if tracker.record {
                        tracker.undo.push(Undo::Participation { index, old });
                    }
                }
            }
            Change::Contribution { before, after } => {
                self.add(before, -1, tracker);
                self.add(after, 1, tracker);
                if tracker.record {
                    tracker.undo.push(Undo::Contribution {
                        before: before.clone(),
                        after: after.clone(),
                    });
                }
            }
        }
    }

    /// Adds (`sign` = 1) or removes (`sign` = -1) one entity's contribution.
    fn add(&mut self, c: &Contribution, sign: i64, tracker: &mut Tracker) {
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
