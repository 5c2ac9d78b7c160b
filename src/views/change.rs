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
