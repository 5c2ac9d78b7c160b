//! What one recorded event changes in the views: the one decision that both the writer (keeping
//! the views current, append by append) and the folder (rebuilds and views "as of") make, so
//! that "a rebuild equals incremental maintenance" holds by construction.
//!
//! The decision depends only on the event and the effective facts of its stream before it
//! (`domain.md`, "Effective state"): a country stream changes that country's participation; a
//! meeting, activity or case stream changes the entity's contribution (its old one is taken
//! away, its new one added); a partner stream changes nothing. A fact that starts a meeting or
//! activity stream needs no history: its contribution is its own.

use proto_events::{CountryCode, Date, Payload, RecordedEvent, Stream};

use crate::entity::{
    Contribution, Participation, StreamFacts, apply_to_facts, contribution, fact_contribution,
    is_cached, participation,
};

/// A change to the views, for [`crate::views::state::ViewState::apply`] to add and subtract.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Nothing changes.
    None,
    /// A country's participation becomes this.
    Participation {
        /// The country.
        country: CountryCode,
        /// Its participation from now on.
        participation: Participation,
    },
    /// An entity's contribution goes from `before` to `after`.
    Contribution {
        /// What it contributed before the event.
        before: Contribution,
        /// What it contributes after.
        after: Contribution,
    },
}

/// Whether deciding `event`'s change needs its stream's facts before it.
#[must_use]
pub fn needs_history(event: &RecordedEvent) -> bool {
    let stream = &event.envelope.stream;
    !matches!(stream, Stream::Partner(_))
        && (is_cached(stream)
            || event.stream_version > 1
            || !matches!(event.payload, Payload::Fact(_)))
}

/// The decision: the change `event` makes, counting only facts dated on or before `on` when
/// given, and the stream's facts after it when they were computed (always when
/// [`needs_history`]). `before` is the stream's effective facts before the event; it is read only
/// when [`needs_history`] says so.
#[must_use]
pub fn decide(
    event: &RecordedEvent,
    before: &StreamFacts,
    on: Option<Date>,
) -> (Change, Option<StreamFacts>) {
    let stream = &event.envelope.stream;
    if matches!(stream, Stream::Partner(_)) {
        return (Change::None, None);
    }
    if !needs_history(event) {
        let Payload::Fact(fact) = &event.payload else {
            unreachable!("needs_history holds for every non-fact")
        };
        let after = fact_contribution(fact, on);
        let change = if after == Contribution::None {
            Change::None
        } else {
            Change::Contribution {
                before: Contribution::None,
                after,
            }
        };
        return (change, None);
    }
    let mut after = before.clone();
    apply_to_facts(&mut after, event);
    let change = match stream {
        Stream::Country(country) => Change::Participation {
            country: *country,
            participation: participation(&after, on),
        },
        _ => {
            let (old, new) = (
                contribution(stream, before, on),
                contribution(stream, &after, on),
            );
            if old == new {
                Change::None
            } else {
                Change::Contribution {
                    before: old,
                    after: new,
                }
            }
        }
    };
    (change, Some(after))
}

#[cfg(test)]
pub(crate) mod tests {
    use proto_events::staff::{Mode, parse_text};
    use proto_events::{Envelope, Fact, Timestamp};
    use serde_json::{Value, json};
    use uuid::Uuid;

    use super::*;
    use crate::views::fold::Folder;
    use crate::views::state::{Tracker, ViewState};

    /// The effective facts of `stream` from the events of `log` before sequence `before`: what
    /// a fold's loader reads from the log.
    pub(crate) fn facts_before(log: &[RecordedEvent], stream: &Stream, before: u64) -> StreamFacts {
        let mut facts = StreamFacts::new();
        for e in log
            .iter()
            .filter(|e| &e.envelope.stream == stream && e.sequence < before)
        {
            crate::entity::apply_to_facts(&mut facts, e);
        }
        facts
    }

    /// A test id.
    pub(crate) fn id(n: u64) -> Uuid {
        Uuid::from_u64_pair(0x0190_f0a1_7c2e_7a10, 0x8b3e_0000_0000_0000 | n)
    }

    /// A small log, each event recorded at its position with its stream's version, the way
    /// the writer numbers them (corrections and retractions go to their target's stream).
    pub(crate) fn log(values: &[Value]) -> Vec<RecordedEvent> {
        let text: String = values.iter().map(|v| format!("{v}\n")).collect();
        let today = jiff::civil::date(2026, 1, 1);
        let parsed = parse_text(&text, Mode::Staff, today).expect("valid test events");
        let mut versions: std::collections::HashMap<Stream, u64> = Default::default();
        let mut streams: std::collections::HashMap<Uuid, Stream> = Default::default();
        parsed
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let event_id = p.event.event_id.expect("test events have ids");
                let stream = match &p.event.payload {
                    Payload::Retracted(r) => streams[&r.target].clone(),
                    Payload::Corrected(c) => streams[&c.target].clone(),
                    payload => payload.stream().expect("facts have streams"),
                };
                streams.insert(event_id, stream.clone());
                let version = versions.entry(stream.clone()).or_default();
                *version += 1;
                RecordedEvent {
                    sequence: i as u64 + 1,
                    stream_version: *version,
                    envelope: Envelope {
                        event_id,
                        stream,
                        event_type: p.event.payload.event_type(),
                        schema_version: p.event.payload.event_type().schema_version(),
                        recorded_by: p.event.recorded_by,
                        recorded_at: Timestamp::UNIX_EPOCH,
                        source: None,
                        correlation_id: None,
                        causation_id: None,
                    },
                    payload: p.event.payload,
                    prev_hash: [0; 32],
                    hash: [0; 32],
                }
            })
            .collect()
    }

    fn meeting(n: u64, meeting: u64, countries: &[&str], start: &str) -> Value {
        json!({"type": "MeetingHeld", "recorded_by": "t", "event_id": id(n), "meeting_id": id(meeting),
               "kind": "network_meeting", "title": "Meeting", "start": start, "end": start,
               "venue": "virtual", "countries": countries})
    }

    fn story() -> Vec<RecordedEvent> {
        let mut corrected = meeting(3, 100, &["GH", "NG", "ES"], "2018-05-02");
        corrected["target"] = json!(id(1));
        log(&[
            meeting(1, 100, &["GH", "BR"], "2017-09-12"),
            json!({"type": "CountryJoined", "recorded_by": "t", "event_id": id(2), "country": "GH",
                   "joined_on": "2016-07-21", "participation": "beneficiary"}),
            json!({"type": "EventCorrected", "recorded_by": "t", "event_id": id(3), "target": id(1),
                   "reason": "the Spanish delegation was there too",
                   "replacement": {"meeting_id": id(100), "kind": "network_meeting",
                                   "title": "Meeting", "start": "2018-05-02", "end": "2018-05-02",
                                   "venue": "virtual", "countries": ["GH", "NG", "ES"]}}),
            meeting(4, 101, &["CV", "GW"], "2019-01-01"),
            json!({"type": "EventRetracted", "recorded_by": "t", "event_id": id(5), "target": id(4),
                   "reason": "entered_in_error"}),
            json!({"type": "PartnerRegistered", "recorded_by": "t", "event_id": id(6),
                   "partner": "interpol", "name": "INTERPOL", "roles": ["implementing"],
                   "registered_on": "2016-08-30"}),
        ])
    }

    fn countries(c: &Contribution) -> Vec<String> {
        c.countries().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_starting_fact_needs_no_history_and_its_contribution_is_its_own() {
        let log = story();
        assert!(!needs_history(&log[0]), "a meeting that starts its stream");
        let (change, facts) = decide(&log[0], &StreamFacts::new(), None);
        assert!(facts.is_none(), "no history computed on the fast path");
        let Change::Contribution { before, after } = change else {
            panic!("a meeting contributes: {change:?}")
        };
        assert_eq!(before, Contribution::None);
        assert_eq!(countries(&after), ["BR", "GH"]);
        // Dated after the filter, it contributes nothing.
        let (change, _) = decide(&log[0], &StreamFacts::new(), "2017-01-01".parse().ok());
        assert_eq!(change, Change::None);
    }

    #[test]
    fn a_correction_replaces_and_a_retraction_removes_a_contribution() {
        let log = story();
        let mut facts = StreamFacts::new();
        crate::entity::apply_to_facts(&mut facts, &log[0]);
        assert!(needs_history(&log[2]));
        let (change, after) = decide(&log[2], &facts, None);
        let Change::Contribution { before, after: new } = change else {
            panic!("a correction changes the meeting: {change:?}")
        };
        assert_eq!(countries(&before), ["BR", "GH"]);
        assert_eq!(countries(&new), ["ES", "GH", "NG"]);
        let after = after.expect("facts after a correction");
        assert_eq!(after.len(), 1, "the correction replaces, it adds no fact");
        assert!(matches!(after[0].fact, Some(Fact::MeetingHeld(_))));
        // The corrected date moves it past a filter of 2018-01-01: it counts before no longer.
        let (change, _) = decide(&log[2], &facts, "2018-01-01".parse().ok());
        assert!(
            matches!(&change, Change::Contribution { after, .. } if *after == Contribution::None),
            "{change:?}"
        );

        let mut facts = StreamFacts::new();
        crate::entity::apply_to_facts(&mut facts, &log[3]);
        let (change, after) = decide(&log[4], &facts, None);
        assert!(
            matches!(&change, Change::Contribution { after, .. } if *after == Contribution::None),
            "{change:?}"
        );
        assert_eq!(after.expect("facts")[0].fact, None, "retracted");
    }

    #[test]
    fn a_country_stream_changes_participation_and_a_partner_nothing() {
        let log = story();
        let (change, _) = decide(&log[1], &StreamFacts::new(), None);
        assert!(
            matches!(
                change,
                Change::Participation {
                    participation: Some(_),
                    ..
                }
            ),
            "{change:?}"
        );
        let (change, facts) = decide(&log[5], &StreamFacts::new(), None);
        assert_eq!((change, facts), (Change::None, None));
    }

    #[test]
    fn folding_is_applying_each_decision_in_order() {
        let log = story();
        let mut folder = Folder::new(None);
        let mut load = |stream: &Stream, before: u64| -> Result<StreamFacts, crate::Error> {
            let mut facts = StreamFacts::new();
            for e in log
                .iter()
                .filter(|e| &e.envelope.stream == stream && e.sequence < before)
            {
                crate::entity::apply_to_facts(&mut facts, e);
            }
            Ok(facts)
        };
        for event in &log {
            folder.apply(event, &mut load).expect("fold");
        }
        let folded = folder.finish().expect("no negative counter");
        // The same decisions applied by hand, as the writer does.
        let mut state = ViewState::default();
        let mut tracker = Tracker::default();
        for event in &log {
            let before = load(&event.envelope.stream, event.sequence).expect("facts");
            state.apply(&decide(event, &before, None).0, &mut tracker);
            state.as_of = event.sequence;
        }
        assert_eq!(folded, state);
        let gh = folded
            .country_view("GH".parse().expect("GH"))
            .expect("GH is in the views");
        assert_eq!(gh.meetings, 1, "the corrected meeting counts once");
        assert!(gh.counterparts.contains_key(&"ES".parse().expect("ES")));
        assert!(
            folded.country_view("CV".parse().expect("CV")).is_none(),
            "retracted"
        );
    }
}
