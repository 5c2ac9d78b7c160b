//! The staff JSON form (domain.md, "The staff JSON form"): parse it and write it back.
//!
//! A text holds one JSON object, a JSON array of objects, or one object per line (JSONL). Every
//! event is reported with its position (index and starting line). Unknown fields are rejected by
//! name, so a typo is never dropped silently; country codes may be lower case and are normalised.
//! Parsing reports *structural* problems (syntax, unknown or missing fields, wrong types, unknown
//! codes, impossible dates) — one per event, since the event cannot be read further — and then runs
//! [`crate::validate`], which reports every rule the event breaks at once.
//!
//! One job per file:
//!
//! - `mod.rs` (this file): the types of a parsed text and [`parse_text`], which ties the steps
//!   together and checks what only the whole text can tell (event ids used twice);
//! - `text.rs`: splitting a text into the raw JSON of each event, with its position, in one pass
//!   and within the limits of a text ([`MAX_TEXT`], [`MAX_TEXT_EVENTS`]);
//! - `strict.rs`: reading one raw JSON text into a value, refusing a key given twice;
//! - `read.rs`: a JSON object → an event (envelope, payload, the ledger's recorded fields);
//! - `messages.rs`: a serde error message → a [`Violation`] naming the field, rule and value;
//! - `write.rs`: an event → its JSON object (the staff form and the recorded form);
//! - `ids.rs`: ids derived from content for input without them (a stored contract).

use std::collections::BTreeSet;

use crate::envelope::{Hash, NewEvent};
use crate::validate::{Position, Rule, Violation};
use crate::values::{Date, Timestamp};

mod ids;
mod messages;
mod read;
mod strict;
mod text;
mod write;

pub use ids::{derived_id, import_line_id, sheet_entity_id, sheet_event_id, sheet_row_content};
pub use read::{from_object, infer_fact_type, parse_event, recorded_from_object};
pub use write::{fact_to_object, payload_to_object, recorded_to_object, to_staff_object};

/// Parses a JSON text into a value, refusing a key given twice in one object at any depth (as in
/// staff input): serde_json would silently keep one of the values. For other documents a reader
/// must trust field by field, such as receipts.
///
/// # Errors
/// serde_json's error (with its line and column) for bad syntax or a duplicate key.
pub fn parse_strict(text: &str) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::from_str::<strict::Strict>(text).map(|strict::Strict(value)| value)
}

/// The largest text of one event, in bytes.
pub const MAX_EVENT_TEXT: usize = 256 * 1024;
/// The largest text [`parse_text`] reads, in bytes: the largest file `coopledger append` reads.
/// A larger text is refused before any of it is read.
pub const MAX_TEXT: usize = 256 * 1024 * 1024;
/// The most events in one text: one batch of the ledger (`coopledger::ledger::MAX_BATCH_EVENTS`),
/// since a text is appended all or nothing. A text with more is refused at the first event over
/// the limit, before the rest is read (`coopledger import` loads more, one line at a time).
pub const MAX_TEXT_EVENTS: usize = 10_000;

/// An event parsed from staff JSON, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    /// Index and starting line in the text.
    pub position: Position,
    /// The event.
    pub event: NewEvent,
    /// Set when the line was written by the ledger (`export`, `log --json`): what it recorded.
    pub recorded: Option<RecordedMeta>,
}

/// What the ledger had recorded for an exported event; `import` reproduces it and can check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedMeta {
    /// The sequence it had.
    pub sequence: u64,
    /// The stream version it had.
    pub stream_version: u64,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// Its chained hash.
    pub hash: Hash,
}

/// Whether the ledger's own fields (`seq`, `recorded_at`, `hash`, …) are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Staff input: only envelope and payload fields.
    Staff,
    /// Exported lines: the recorded fields are read too (for `import`).
    Export,
}

/// Parses a whole text (object, array or JSONL) and validates every event as recorded on
/// `today`. All or nothing: either every event, or every violation found.
///
/// # Errors
/// Every violation of every event, each with its position; or, for a text over [`MAX_TEXT`]
/// bytes or [`MAX_TEXT_EVENTS`] events, that one violation (`too_large`, `too_many_events`).
pub fn parse_text(text: &str, mode: Mode, today: Date) -> Result<Vec<ParsedEvent>, Vec<Violation>> {
    // A byte-order mark is not JSON, but editors write it; it changes nothing.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in text::split(text) {
        match item {
            Ok((position, raw)) => match parse_event(raw, mode, today) {
                Ok((event, recorded)) => events.push(ParsedEvent {
                    position,
                    event,
                    recorded,
                }),
                Err(mut violations) => {
                    for v in &mut violations {
                        v.position = Some(position);
                    }
                    errors.extend(violations);
                }
            },
            Err(v) => errors.push(v),
        }
    }
    check_duplicate_ids(&events, &mut errors);
    if errors.is_empty() {
        Ok(events)
    } else {
        Err(errors)
    }
}

fn check_duplicate_ids(events: &[ParsedEvent], errors: &mut Vec<Violation>) {
    let mut seen = BTreeSet::new();
    for e in events {
        if let Some(id) = e.event.event_id
            && !seen.insert(id)
        {
            let mut v = Violation::new("event_id", Rule::DuplicateEventId, id);
            v.position = Some(e.position);
            v.event_id = Some(id);
            errors.push(v);
        }
    }
}
