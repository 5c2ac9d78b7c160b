//! The programme's story over time: per year or quarter, the meetings, activities (by kind),
//! participants (women), cases opened and closed, per programme region and per region pair, and
//! the inter-regional share of the period and cumulatively; for the whole programme and for each
//! country. One fold of the log gives every period (not one fold per date).
//!
//! Each record is decided by [`change::decide`], the same decision the writer and the view folder
//! make: an entity's old contribution is taken away from the period of its old date and its new
//! contribution added to the period of its new date. The dates come from the stream's effective
//! facts before and after the event (a meeting's or activity's `start`, a case's `opened_on` and
//! `closed_on`), so a correction that moves a workshop to another year moves it in the timeline
//! (even when, its countries unchanged, the views' counters do not move).
//!
//! The fold keeps quarters, the finest period; a year is the sum of its quarters. A case counts
//! in the period it was opened (its regions, its pairs, the share) and, once closed, as closed in
//! the period of its closure. Everything counts by what the log says at the fold's point about
//! each entity (its countries, its corrections), like the views "on a date".

use std::collections::{BTreeMap, HashMap};

use proto_events::values::ActivityKind;
use proto_events::{CountryCode, Date, Fact, RecordedEvent, Stream};
use serde::{Deserialize, Serialize};

use super::change::{self, Change};
use super::entities::EntityIndex;
use super::fold::{FoldCache, Loader, folds_to_nothing};
use super::index::{REGIONS, country_index, region_of};
use super::model::{ActivitiesView, ParticipantsView};
use super::state::{ACTIVITIES, CASES, MEETINGS};
use crate::entity::{Contribution, StreamFact, StreamFacts, contribution, fact_contribution};
use crate::error::Error;

/// The length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// Calendar years.
    #[default]
    Year,
    /// Calendar quarters (Q1 is January to March).
    Quarter,
}

impl By {
    /// Its name in queries and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            By::Year => "year",
            By::Quarter => "quarter",
        }
    }
}

impl std::str::FromStr for By {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "year" => Ok(By::Year),
            "quarter" => Ok(By::Quarter),
            other => Err(format!("{other:?} is not a period (year or quarter)")),
        }
    }
}

/// A quarter, numbered `year * 4 + (quarter - 1)` so that quarters sort in time.
type Quarter = i32;

fn quarter_of(d: Date) -> Quarter {
    i32::from(d.year()) * 4 + (i32::from(d.month()) - 1) / 3
}

/// What the entities of one period contribute.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Bucket {
    /// Effective meetings that started in the period.
    pub meetings: i64,
    /// Effective delivered activities that started in the period.
    pub activities: i64,
    /// The same, by kind (indexed like `ActivityKind::ALL`).
    pub by_kind: [i64; ActivityKind::ALL.len()],
    /// Their participants (for a country: where it is a beneficiary).
    pub participants_total: i64,
    /// Their women participants, where given.
    pub participants_women: i64,
    /// Cases opened in the period.
    pub cases_opened: i64,
    /// Cases closed in the period.
    pub cases_closed: i64,
    /// Meetings, activities and cases involving a country of each region.
    pub regions: [[i64; 3]; REGIONS],
    /// `pairs[i][j]` (i ≤ j): involving a country of each (i == j: two of its countries).
    pub pairs: [[[i64; 3]; REGIONS]; REGIONS],
    /// Meetings, activities and cases spanning two or more regions.
    pub interregional: i64,
    /// Meetings, activities and cases with an involved country.
    pub counted: i64,
}

impl Bucket {
    fn add(&mut self, other: &Bucket) {
        self.meetings += other.meetings;
        self.activities += other.activities;
        for (a, b) in self.by_kind.iter_mut().zip(other.by_kind) {
            *a += b;
        }
        self.participants_total += other.participants_total;
        self.participants_women += other.participants_women;
        self.cases_opened += other.cases_opened;
        self.cases_closed += other.cases_closed;
        for (a, b) in self.regions.iter_mut().zip(other.regions) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (row, other_row) in self.pairs.iter_mut().zip(other.pairs) {
            for (cell, other_cell) in row.iter_mut().zip(other_row) {
                for (x, y) in cell.iter_mut().zip(other_cell) {
                    *x += y;
                }
            }
        }
        self.interregional += other.interregional;
        self.counted += other.counted;
    }

    fn is_empty(&self) -> bool {
        *self == Bucket::default()
    }

    fn negative(&self) -> bool {
        let flat = self.regions.iter().flatten();
        let pairs = self.pairs.iter().flatten().flatten();
        [
            self.meetings,
            self.activities,
            self.participants_total,
            self.participants_women,
            self.cases_opened,
            self.cases_closed,
            self.interregional,
            self.counted,
        ]
        .iter()
        .chain(&self.by_kind)
        .chain(flat)
        .chain(pairs)
        .any(|n| *n < 0)
    }
}

/// A contribution with the dates it counts at.
struct Dated<'a> {
    contribution: &'a Contribution,
    start: Date,
    closed: Option<Date>,
}

/// Per quarter, for the whole programme and for each country.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    all: BTreeMap<Quarter, Bucket>,
    countries: HashMap<CountryCode, BTreeMap<Quarter, Bucket>>,
    /// The last sequence folded in.
    pub as_of: u64,
    /// The date filter of the fold.
    pub on: Option<Date>,
}

impl Timeline {
    fn add(&mut self, dated: &Dated<'_>, sign: i64) {
        let c = dated.contribution;
        let (kind, countries) = match c {
            Contribution::None => return,
            Contribution::Meeting { countries } => (MEETINGS, countries),
            Contribution::Activity { countries, .. } => (ACTIVITIES, countries),
            Contribution::Case { countries, .. } => (CASES, countries),
        };
        let mut per_region = [0usize; REGIONS];
        for country in countries {
            if let Some(n) = per_region.get_mut(region_of(country_index(*country))) {
                *n += 1;
            }
        }
        let start = quarter_of(dated.start);
        let closed = dated.closed.map(quarter_of);
        let apply = |series: &mut BTreeMap<Quarter, Bucket>, participant: bool| {
            let bucket = series.entry(start).or_default();
            bucket.add_entity(c, kind, &per_region, participant, sign);
            if let Some(q) = closed {
                series.entry(q).or_default().cases_closed += sign;
            }
        };
        apply(&mut self.all, true);
        let beneficiaries: &[CountryCode] = match c {
            Contribution::Activity { beneficiaries, .. } => beneficiaries,
            _ => &[],
        };
        for country in countries {
            let series = self.countries.entry(*country).or_default();
            apply(series, beneficiaries.contains(country));
        }
    }

    /// The first counter below zero, if any (a bug: the fold only subtracts what it added).
    fn negative(&self) -> Option<String> {
        let all = self.all.iter().map(|(q, b)| (None, q, b));
        let countries = self
            .countries
            .iter()
            .flat_map(|(c, s)| s.iter().map(move |(q, b)| (Some(c), q, b)));
        all.chain(countries)
            .find(|(_, _, b)| b.negative())
            .map(|(c, q, _)| {
                format!(
                    "a negative timeline counter in {} of {}",
                    label(By::Quarter, *q),
                    c.map_or_else(|| "the programme".to_owned(), ToString::to_string)
                )
            })
    }

    /// The timeline as its JSON type, by year or quarter, for the programme or one country.
    #[must_use]
    pub fn view(&self, by: By, country: Option<CountryCode>) -> TimelineView {
        let empty = BTreeMap::new();
        let series = match country {
            None => &self.all,
            Some(c) => self.countries.get(&c).unwrap_or(&empty),
        };
        let mut periods: BTreeMap<Quarter, Bucket> = BTreeMap::new();
        for (q, bucket) in series.iter().filter(|(_, b)| !b.is_empty()) {
            let key = match by {
                By::Year => q.div_euclid(4) * 4,
                By::Quarter => *q,
            };
            periods.entry(key).or_default().add(bucket);
        }
        let step = match by {
            By::Year => 4,
            By::Quarter => 1,
        };
        let (Some(first), Some(last)) = (
            periods.keys().next().copied(),
            periods.keys().next_back().copied(),
        ) else {
            return TimelineView::empty(by, country, self);
        };
        let mut cumulative = (0i64, 0i64);
        let mut out = Vec::new();
        let mut q = first;
        while q <= last {
            let bucket = periods.get(&q).cloned().unwrap_or_default();
            cumulative.0 += bucket.interregional;
            cumulative.1 += bucket.counted;
            out.push(PeriodView::new(by, q, &bucket, cumulative));
            q += step;
        }
        TimelineView {
            by,
            country,
            on: self.on,
            periods: out,
            as_of_sequence: self.as_of,
        }
    }
}

impl Bucket {
    fn add_entity(
        &mut self,
        c: &Contribution,
        kind: usize,
        per_region: &[usize; REGIONS],
        participant: bool,
        sign: i64,
    ) {
        match c {
            Contribution::None => return,
            Contribution::Meeting { .. } => self.meetings += sign,
            Contribution::Activity {
                kind: activity_kind,
                participants,
                ..
            } => {
                self.activities += sign;
                if let Some(k) = self.by_kind.get_mut(*activity_kind as usize) {
                    *k += sign;
                }
                if participant {
                    self.participants_total += sign * i64::from(participants.total);
                    self.participants_women += sign * i64::from(participants.women.unwrap_or(0));
                }
            }
            Contribution::Case { .. } => self.cases_opened += sign,
        }
        if per_region.iter().all(|n| *n == 0) {
            return;
        }
        self.counted += sign;
        if per_region.iter().filter(|n| **n > 0).count() >= 2 {
            self.interregional += sign;
        }
        for i in 0..REGIONS {
            if per_region[i] > 0 {
                self.regions[i][kind] += sign;
            }
            for j in i..REGIONS {
                let (a, b) = (per_region[i], per_region[j]);
                if (i == j && a >= 2) || (i != j && a >= 1 && b >= 1) {
                    self.pairs[i][j][kind] += sign;
                }
            }
        }
    }
}

/// The name of the period starting at quarter `q`: `2019` or `2019-Q3`.
fn label(by: By, q: Quarter) -> String {
    let year = q.div_euclid(4);
    match by {
        By::Year => format!("{year:04}"),
        By::Quarter => format!("{year:04}-Q{}", q.rem_euclid(4) + 1),
    }
}

fn period_bounds(by: By, q: Quarter) -> (Date, Date) {
    let year = i16::try_from(q.div_euclid(4)).unwrap_or(i16::MAX);
    let first_month = i8::try_from(q.rem_euclid(4) * 3 + 1).unwrap_or(1);
    let (from, to) = match by {
        By::Year => ((year, 1, 1), (year, 12, 31)),
        By::Quarter => {
            let last_month = first_month + 2;
            let last_day = jiff::civil::date(year, last_month, 1).days_in_month();
            ((year, first_month, 1), (year, last_month, last_day))
        }
    };
    (
        jiff::civil::date(from.0, from.1, from.2),
        jiff::civil::date(to.0, to.1, to.2),
    )
}

/// A counter as a count (checked non-negative when the fold finished).
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn share(events: i64, counted: i64) -> f64 {
    if counted > 0 {
        events as f64 / counted as f64
    } else {
        0.0
    }
}

/// Meetings, activities and cases of a region or a pair of regions in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionCounts {
    /// Meetings.
    pub meetings: u64,
    /// Delivered activities.
    pub activities: u64,
    /// Cases opened.
    pub cases: u64,
}

impl RegionCounts {
    fn of(cell: [i64; 3]) -> Self {
        RegionCounts {
            meetings: count(cell[MEETINGS]),
            activities: count(cell[ACTIVITIES]),
            cases: count(cell[CASES]),
        }
    }
}

/// Cases opened and closed in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasesOpenedClosed {
    /// Opened in the period.
    pub opened: u64,
    /// Closed in the period.
    pub closed: u64,
}

/// The inter-regional share of a period, or up to its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShareView {
    /// Meetings, activities and cases spanning two or more regions.
    pub events: u64,
    /// Meetings, activities and cases with an involved country.
    pub counted: u64,
    /// `events / counted` (0 when nothing is counted).
    pub share: f64,
}

/// One period of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodView {
    /// `2019` or `2019-Q3`.
    pub period: String,
    /// Its first day.
    pub start: Date,
    /// Its last day.
    pub end: Date,
    /// Effective meetings that started in it.
    pub meetings: u64,
    /// Effective delivered activities that started in it, by kind (every kind listed).
    pub activities: ActivitiesView,
    /// Their participants (a country's: where it is a beneficiary).
    pub participants: ParticipantsView,
    /// Cases opened and closed in it.
    pub cases: CasesOpenedClosed,
    /// Per programme region (every region listed): what involved a country of it.
    pub regions: BTreeMap<String, RegionCounts>,
    /// Per unordered pair of regions `a+b` (names sorted, every pair listed): what involved a
    /// country of each (`a+a`: two of its countries).
    pub pairs: BTreeMap<String, RegionCounts>,
    /// The inter-regional share of the period.
    pub interregional: ShareView,
    /// The inter-regional share of everything up to the period's end.
    pub cumulative: ShareView,
}

impl PeriodView {
    fn new(by: By, q: Quarter, b: &Bucket, cumulative: (i64, i64)) -> Self {
        let (start, end) = period_bounds(by, q);
        let regions = proto_events::ProgrammeRegion::ALL;
        let by_kind = ActivityKind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), count(b.by_kind[*k as usize])))
            .collect();
        let mut pairs = BTreeMap::new();
        for i in 0..REGIONS {
            for j in i..REGIONS {
                pairs.insert(
                    format!("{}+{}", regions[i], regions[j]),
                    RegionCounts::of(b.pairs[i][j]),
                );
            }
        }
        PeriodView {
            period: label(by, q),
            start,
            end,
            meetings: count(b.meetings),
            activities: ActivitiesView {
                total: count(b.activities),
                by_kind,
            },
            participants: ParticipantsView {
                total: count(b.participants_total),
                women: count(b.participants_women),
            },
            cases: CasesOpenedClosed {
                opened: count(b.cases_opened),
                closed: count(b.cases_closed),
            },
            regions: (0..REGIONS)
                .map(|i| (regions[i].to_string(), RegionCounts::of(b.regions[i])))
                .collect(),
            pairs,
            interregional: ShareView {
                events: count(b.interregional),
                counted: count(b.counted),
                share: share(b.interregional, b.counted),
            },
            cumulative: ShareView {
                events: count(cumulative.0),
                counted: count(cumulative.1),
                share: share(cumulative.0, cumulative.1),
            },
        }
    }
}

/// The timeline (`coopledger timeline --json`, `GET /v1/timeline`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineView {
    /// `year` or `quarter`.
    pub by: By,
    /// The country it is about; `null` for the whole programme.
    pub country: Option<CountryCode>,
    /// Only facts dated on or before this day counted; `null` for every date.
    pub on: Option<Date>,
    /// Every period from the first to the last with something in it, in order.
    pub periods: Vec<PeriodView>,
    /// The last sequence folded in.
    pub as_of_sequence: u64,
}

impl TimelineView {
    fn empty(by: By, country: Option<CountryCode>, t: &Timeline) -> Self {
        TimelineView {
            by,
            country,
            on: t.on,
            periods: Vec::new(),
            as_of_sequence: t.as_of,
        }
    }
}

/// The dates a stream's contribution counts at, from its effective facts: the `start` of the
/// meeting or activity fact that contributes; a case's `opened_on`, and its `closed_on` once
/// closed. Facts dated after `on` count for nothing, as in [`crate::entity::contribution`].
fn dated<'a>(c: &'a Contribution, facts: &[StreamFact], on: Option<Date>) -> Option<Dated<'a>> {
    let mut effective = facts
        .iter()
        .filter_map(|f| f.fact.as_ref())
        .filter(|f| on.is_none_or(|d| f.date() <= d));
    match c {
        Contribution::None => None,
        Contribution::Meeting { .. } | Contribution::Activity { .. } => effective
            .rfind(|f| fact_contribution(f, None) != Contribution::None)
            .map(|f| Dated {
                contribution: c,
                start: f.date(),
                closed: None,
            }),
        Contribution::Case { closed, .. } => {
            let (mut opened, mut closed_on) = (None, None);
            for fact in effective {
                match fact {
                    Fact::CaseOpened(o) => (opened, closed_on) = (Some(o.opened_on), None),
                    Fact::CaseClosed(x) if opened.is_some() => closed_on = Some(x.closed_on),
                    _ => {}
                }
            }
            opened.map(|start| Dated {
                contribution: c,
                start,
                closed: closed_on.filter(|_| *closed),
            })
        }
    }
}

/// Folds records, in log order, into a [`Timeline`] and an [`EntityIndex`]; resumable: a folder
/// at sequence N takes records N + 1, N + 2, … (the server keeps one at its head).
#[derive(Debug, Clone, Default)]
pub struct TimelineFolder {
    timeline: Timeline,
    entities: EntityIndex,
    cache: FoldCache,
}

impl TimelineFolder {
    /// A folder starting from nothing; with a date, only facts dated on or before it count.
    #[must_use]
    pub fn new(on: Option<Date>) -> Self {
        TimelineFolder {
            timeline: Timeline {
                on,
                ..Timeline::default()
            },
            ..TimelineFolder::default()
        }
    }

    /// The last sequence folded in.
    #[must_use]
    pub fn as_of(&self) -> u64 {
        self.timeline.as_of
    }

    /// The timeline so far.
    #[must_use]
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// The meetings, activities and cases so far.
    #[must_use]
    pub fn entities(&self) -> &EntityIndex {
        &self.entities
    }

    /// Folds the next record. `load` is asked for a meeting's or activity's earlier facts only
    /// when it is corrected, retracted or continued (as by [`super::fold::Folder`]).
    ///
    /// # Errors
    /// When `load` fails.
    pub fn apply(&mut self, event: &RecordedEvent, load: &mut Loader<'_>) -> Result<(), Error> {
        if Self::passes_over(event) {
            self.skip(event);
            return Ok(());
        }
        let before = self.cache.before(event, load)?;
        let (change, after) = change::decide(event, &before, self.timeline.on);
        let after = self.take(event, &before, &change, after);
        self.cache.keep(event, after);
        Ok(())
    }

    /// Whether [`TimelineFolder::apply`] of `event` now would ask its loader for the stream's
    /// facts (a reader can read them ahead).
    #[must_use]
    pub fn would_load(&self, event: &RecordedEvent) -> bool {
        !Self::passes_over(event) && self.cache.would_load(event)
    }

    /// Records the timeline takes in as changing nothing: partners' and countries' (no
    /// timeline counts them) and those that fold to nothing.
    fn passes_over(event: &RecordedEvent) -> bool {
        matches!(
            event.envelope.stream,
            Stream::Partner(_) | Stream::Country(_)
        ) || folds_to_nothing(event)
    }

    /// Takes in the next record as changing nothing ([`folds_to_nothing`]).
    pub fn skip(&mut self, event: &RecordedEvent) {
        self.timeline.as_of = event.sequence;
    }

    /// Takes in the next record, decided by [`change::decide`] from its stream's facts `before`
    /// with this timeline's date, into `change` and the facts `after` it (when computed);
    /// returns the stream's facts after it. [`TimelineFolder::apply`] decides for itself; a
    /// fold of the views and the timeline in one pass decides once for both
    /// ([`super::fold::Folder::apply_with_timeline`]).
    pub fn take(
        &mut self,
        event: &RecordedEvent,
        before: &StreamFacts,
        change: &Change,
        after: Option<StreamFacts>,
    ) -> StreamFacts {
        let stream = &event.envelope.stream;
        self.timeline.as_of = event.sequence;
        if matches!(stream, Stream::Partner(_) | Stream::Country(_)) {
            return after.unwrap_or_default();
        }
        let on = self.timeline.on;
        let amended = after.is_some();
        // On the fast path (a fact that starts its stream) the stream's facts are the event's.
        let after = after.unwrap_or_else(|| {
            event
                .payload
                .as_fact()
                .map(|f| StreamFact {
                    seq: event.sequence,
                    event_id: event.envelope.event_id,
                    fact: Some(f.clone()),
                })
                .into_iter()
                .collect()
        });
        match change {
            Change::Contribution {
                before: old,
                after: new,
            } => {
                if let Some(d) = dated(old, before, on) {
                    self.timeline.add(&d, -1);
                }
                if let Some(d) = dated(new, &after, on) {
                    self.timeline.add(&d, 1);
                }
            }
            // The views' counters did not move, but the entity's dates may have (a correction
            // that only reschedules): what it contributes moves to its new period.
            Change::None if amended => {
                let same = contribution(stream, before, on);
                if let (Some(old), Some(new)) = (dated(&same, before, on), dated(&same, &after, on))
                    && (old.start, old.closed) != (new.start, new.closed)
                {
                    self.timeline.add(&old, -1);
                    self.timeline.add(&new, 1);
                }
            }
            Change::None | Change::Participation { .. } => {}
        }
        self.entities.update(stream, &after, on);
        after
    }

    /// Checks what was folded.
    ///
    /// # Errors
    /// [`Error::Internal`] when a counter went negative.
    pub fn check(&self) -> Result<(), Error> {
        match self.timeline.negative() {
            Some(bad) => Err(Error::Internal(bad)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::views::change::tests::{facts_before, id, log};

    fn fold(log: &[RecordedEvent], on: Option<Date>) -> TimelineFolder {
        let mut folder = TimelineFolder::new(on);
        let mut load =
            |stream: &Stream, before: u64| -> Result<crate::entity::StreamFacts, Error> {
                Ok(facts_before(log, stream, before))
            };
        for e in log {
            folder.apply(e, &mut load).expect("fold");
        }
        folder.check().expect("no negative counter");
        folder
    }

    fn meeting(n: u64, countries: &[&str], start: &str) -> Value {
        json!({"type": "MeetingHeld", "recorded_by": "t", "event_id": id(n), "meeting_id": id(100 + n),
               "kind": "network_meeting", "title": "Meeting", "start": start, "end": start,
               "venue": "virtual", "countries": countries})
    }

    fn period<'a>(view: &'a TimelineView, name: &str) -> &'a PeriodView {
        view.periods
            .iter()
            .find(|p| p.period == name)
            .unwrap_or_else(|| {
                panic!(
                    "{name} in {:?}",
                    view.periods.iter().map(|p| &p.period).collect::<Vec<_>>()
                )
            })
    }

    #[test]
    fn a_correction_moves_an_entity_to_its_new_period_and_a_retraction_removes_it() {
        let log = log(&[
            meeting(1, &["GH", "BR"], "2017-09-12"),
            meeting(2, &["CV", "GW"], "2018-01-10"),
            json!({"type": "EventCorrected", "recorded_by": "t", "event_id": id(3), "target": id(1),
                   "reason": "held a year later",
                   "replacement": {"meeting_id": id(101), "kind": "network_meeting", "title": "Meeting",
                                   "start": "2019-09-12", "end": "2019-09-12", "venue": "virtual",
                                   "countries": ["GH", "BR"]}}),
            json!({"type": "EventRetracted", "recorded_by": "t", "event_id": id(4), "target": id(2),
                   "reason": "entered_in_error"}),
        ]);
        let all = fold(&log, None).timeline().view(By::Year, None);
        assert_eq!(
            all.periods
                .iter()
                .map(|p| (p.period.as_str(), p.meetings))
                .collect::<Vec<_>>(),
            [("2019", 1)],
            "moved from 2017 to 2019; the 2018 meeting retracted"
        );
        assert_eq!(period(&all, "2019").interregional.share, 1.0);
        // As of 2: both still where they were recorded first.
        let before = fold(&log[..2], None).timeline().view(By::Quarter, None);
        assert_eq!(period(&before, "2017-Q3").meetings, 1);
        assert_eq!(period(&before, "2018-Q1").meetings, 1);
        assert_eq!(
            before.periods.len(),
            3,
            "2017-Q3 to 2018-Q1, the empty quarter between listed"
        );
        let gh = fold(&log, None)
            .timeline()
            .view(By::Year, Some("GH".parse().expect("GH")));
        assert_eq!(
            period(&gh, "2019").pairs["latin_america_caribbean+west_africa"].meetings,
            1
        );
    }

    #[test]
    fn a_case_counts_where_it_opened_and_where_it_closed() {
        let log = log(&[
            json!({"type": "CaseOpened", "recorded_by": "t", "event_id": id(1), "case_id": id(50),
                   "codename": "C", "case_type": "other", "countries": ["PT", "GW"], "lead": "GW",
                   "opened_on": "2017-03-01"}),
            json!({"type": "CaseCountryAdded", "recorded_by": "t", "event_id": id(2), "case_id": id(50),
                   "country": "VE", "added_on": "2018-05-01"}),
            json!({"type": "CaseClosed", "recorded_by": "t", "event_id": id(3), "case_id": id(50),
                   "closed_on": "2019-10-15", "outcome": "convicted"}),
        ]);
        let view = fold(&log, None).timeline().view(By::Year, None);
        assert_eq!(
            (
                period(&view, "2017").cases.opened,
                period(&view, "2017").cases.closed
            ),
            (1, 0)
        );
        assert_eq!(
            (
                period(&view, "2019").cases.opened,
                period(&view, "2019").cases.closed
            ),
            (0, 1)
        );
        assert_eq!(
            period(&view, "2017").regions["latin_america_caribbean"].cases,
            1,
            "VE added later counts with the case"
        );
        // By the end of 2018 it was open, without its closure, counted in 2017.
        let on = fold(&log, "2018-12-31".parse().ok())
            .timeline()
            .view(By::Year, None);
        assert_eq!(on.periods.len(), 1);
        assert!(on.periods.iter().all(|p| p.cases.closed == 0));
        assert_eq!(on.on, "2018-12-31".parse().ok());
    }

    #[test]
    fn periods_are_named_and_bounded_by_the_calendar() {
        let q = quarter_of(jiff::civil::date(2024, 2, 29));
        assert_eq!(label(By::Quarter, q), "2024-Q1");
        assert_eq!(label(By::Year, q), "2024");
        assert_eq!(
            period_bounds(By::Quarter, q),
            (
                jiff::civil::date(2024, 1, 1),
                jiff::civil::date(2024, 3, 31)
            )
        );
        let q4 = quarter_of(jiff::civil::date(2019, 11, 19));
        assert_eq!(
            period_bounds(By::Quarter, q4),
            (
                jiff::civil::date(2019, 10, 1),
                jiff::civil::date(2019, 12, 31)
            )
        );
        assert_eq!("quarter".parse::<By>(), Ok(By::Quarter));
        assert!("month".parse::<By>().is_err());
    }
}
