//! The meetings, activities and cases as they stand, for listings: each entity's status, the day
//! it counts from and the countries involved, kept by the timeline's fold
//! ([`super::timeline::TimelineFolder`]) from the effective facts of its stream. A country page
//! lists the entities that involve it, newest first.

use std::collections::HashMap;

use proto_events::{CountryCode, Date, Fact, Stream};
use serde::{Deserialize, Serialize};

use crate::entity::{StreamFact, case_state};

/// Where an entity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A meeting that was held.
    Held,
    /// An activity scheduled and not yet delivered nor cancelled.
    Scheduled,
    /// A delivered activity.
    Delivered,
    /// A cancelled activity.
    Cancelled,
    /// An open case.
    Open,
    /// A closed case.
    Closed,
}

impl Status {
    /// Its name in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Held => "held",
            Status::Scheduled => "scheduled",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }
}

/// One meeting, activity or case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it stands.
    pub status: Status,
    /// The day it counts from: a meeting's or activity's `start`, a case's `opened_on`.
    pub date: Date,
    /// The countries involved, sorted.
    pub countries: Vec<CountryCode>,
}

/// What an entity's effective facts say it is (`None` when nothing effective is left: every
/// fact retracted, or dated after `on`).
#[must_use]
pub fn entry(stream: &Stream, facts: &[StreamFact], on: Option<Date>) -> Option<Entry> {
    let effective = || {
        facts
            .iter()
            .filter_map(|f| f.fact.as_ref())
            .filter(move |f| on.is_none_or(|d| f.date() <= d))
    };
    let sorted = |mut list: Vec<CountryCode>| {
        list.sort_unstable();
        list.dedup();
        list
    };
    match stream {
        Stream::Case(_) => case_state(facts, on).map(|s| Entry {
            status: if s.closed {
                Status::Closed
            } else {
                Status::Open
            },
            date: s.opened_on,
            countries: s.countries.into_iter().collect(),
        }),
        Stream::Meeting(_) | Stream::Activity(_) => {
            let mut out: Option<Entry> = None;
            for fact in effective() {
                out = match fact {
                    Fact::MeetingHeld(m) => Some(Entry {
                        status: Status::Held,
                        date: m.start,
                        countries: sorted(m.countries.clone()),
                    }),
                    Fact::ActivityScheduled(a) => Some(Entry {
                        status: Status::Scheduled,
                        date: a.start,
                        countries: sorted(a.beneficiaries.clone()),
                    }),
                    Fact::ActivityDelivered(a) => Some(Entry {
                        status: Status::Delivered,
                        date: a.start,
                        countries: sorted(
                            a.beneficiaries
                                .iter()
                                .chain(&a.other_countries)
                                .copied()
                                .collect(),
                        ),
                    }),
                    Fact::ActivityCancelled(c) => Some(out.map_or_else(
                        || Entry {
                            status: Status::Cancelled,
                            date: c.cancelled_on,
                            countries: Vec::new(),
                        },
                        |e| Entry {
                            status: Status::Cancelled,
                            ..e
                        },
                    )),
                    _ => out,
                };
            }
            out
        }
        Stream::Country(_) | Stream::Partner(_) => None,
    }
}

/// A page of a listing: how many entities there are, and the page's, newest first.
pub type Page<'a> = (usize, Vec<(&'a Stream, &'a Entry)>);

/// Every meeting, activity and case with something effective, by stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntityIndex {
    entries: foldhash::HashMap<Stream, Entry>,
}

impl EntityIndex {
    /// Records what a stream's facts now say (removing it when nothing effective is left).
    pub fn update(&mut self, stream: &Stream, facts: &[StreamFact], on: Option<Date>) {
        match entry(stream, facts, on) {
            Some(e) => {
                self.entries.insert(stream.clone(), e);
            }
            None => {
                self.entries.remove(stream);
            }
        }
    }

    /// The number of entities.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A page of the entities (involving `country`, when given), newest first: by date, then
    /// by stream (meetings, activities, cases; ids in reverse order), so the order is total.
    /// Returns how many there are and those from `offset` on, at most `limit`; only the page is
    /// sorted (a listing of a country at 3M events is a million entities).
    #[must_use]
    pub fn page(&self, country: Option<CountryCode>, offset: usize, limit: usize) -> Page<'_> {
        let list = self
            .entries
            .iter()
            .filter(|(_, e)| country.is_none_or(|c| e.countries.binary_search(&c).is_ok()))
            .collect();
        slice(list, offset, limit)
    }

    /// The first page of every country's listing ([`EntityIndex::page`] from offset 0), in one
    /// pass over the entities.
    #[must_use]
    pub fn first_pages(&self, limit: usize) -> HashMap<CountryCode, Page<'_>> {
        let mut by_country: HashMap<CountryCode, Vec<(&Stream, &Entry)>> = HashMap::new();
        for (stream, entry) in &self.entries {
            for country in &entry.countries {
                by_country
                    .entry(*country)
                    .or_default()
                    .push((stream, entry));
            }
        }
        by_country
            .into_iter()
            .map(|(country, list)| (country, slice(list, 0, limit)))
            .collect()
    }
}

/// How many entities `list` holds, and those from `offset` on (at most `limit`) newest first;
/// only they are sorted.
fn slice<'a>(mut list: Vec<(&'a Stream, &'a Entry)>, offset: usize, limit: usize) -> Page<'a> {
    let newest_first = |a: &(&Stream, &Entry), b: &(&Stream, &Entry)| {
        b.1.date.cmp(&a.1.date).then_with(|| b.0.cmp(a.0))
    };
    let total = list.len();
    let end = offset.saturating_add(limit).min(total);
    if end < total && end > 0 {
        list.select_nth_unstable_by(end - 1, newest_first);
    }
    list.truncate(end);
    list.sort_unstable_by(newest_first);
    (total, list.split_off(offset.min(list.len())))
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn a_page_is_the_slice_of_the_whole_listing_sorted_newest_first() {
        // Sixty entities over twelve days (so dates tie and the stream decides), every third
        // involving Ghana: each page equals the same slice of the whole list sorted.
        let gh = CountryCode::parse("GH").expect("GH");
        let ng = CountryCode::parse("NG").expect("NG");
        let mut index = EntityIndex::default();
        for n in 0..60u128 {
            let stream = match n % 3 {
                0 => Stream::Meeting(Uuid::from_u128(n)),
                1 => Stream::Activity(Uuid::from_u128(n)),
                _ => Stream::Case(Uuid::from_u128(n)),
            };
            let day = u8::try_from(1 + n % 12).expect("day");
            let date: Date = format!("2019-03-{day:02}").parse().expect("date");
            let countries = if n % 3 == 0 { vec![gh, ng] } else { vec![ng] };
            let entry = Entry {
                status: Status::Held,
                date,
                countries,
            };
            index.entries.insert(stream, entry);
        }
        for country in [None, Some(gh)] {
            let (total, whole) = index.page(country, 0, usize::MAX);
            assert_eq!(total, if country.is_some() { 20 } else { 60 });
            assert!(
                whole
                    .windows(2)
                    .all(|w| (w[0].1.date, w[0].0) > (w[1].1.date, w[1].0))
            );
            for (offset, limit) in [(0, 7), (5, 7), (13, 50), (19, 1), (60, 5), (0, 0)] {
                let (n, page) = index.page(country, offset, limit);
                let expected: Vec<_> = whole.iter().skip(offset).take(limit).copied().collect();
                assert_eq!((n, page), (total, expected), "{country:?} {offset} {limit}");
            }
        }
        let firsts = index.first_pages(7);
        assert_eq!(firsts.len(), 2, "Ghana and Nigeria");
        for country in [gh, ng] {
            assert_eq!(firsts[&country], index.page(Some(country), 0, 7));
        }
    }
}
