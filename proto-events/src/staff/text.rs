//! Splitting a staff text into the raw JSON of each event, with its position (index and line).
//!
//! The text is a JSON array, one object per line (JSONL), or one (pretty-printed) object. Only
//! the outline is read here; each event's JSON is parsed by `read.rs`.
//!
//! The work is linear in the text: lines are counted once, forward, as the elements go by (a
//! security finding: counting from the start for every element made a large array quadratic).
//! The limits ([`MAX_TEXT`], [`MAX_TEXT_EVENTS`]) are checked before the work they bound: the
//! size before anything is read, the number of events as the array or lines are walked, so an
//! oversized text is refused without reading the rest of it.

use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{MAX_TEXT, MAX_TEXT_EVENTS};
use crate::validate::{Position, Rule, Violation};

/// Splits a text into the raw JSON of each event with its position.
pub(super) fn split(text: &str) -> Vec<Result<(Position, &str), Violation>> {
    if text.len() > MAX_TEXT {
        let mut v = Violation::new(
            "",
            Rule::TooLarge,
            format_args!("{} bytes, at most {MAX_TEXT}", text.len()),
        );
        v.position = Some(Position { index: 0, line: 1 });
        return vec![Err(v)];
    }
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return vec![Err(syntax(1, 0, "no events: the input is empty"))];
    }
    if trimmed.starts_with('[') {
        return split_array(text);
    }
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first_line = lines.clone().next().unwrap_or("");
    // JSONL when the first line is a whole value, or when every line looks like one object (so
    // that a broken first line does not hide the problems of the others); otherwise one
    // (pretty-printed) object.
    let one_object_a_line = lines.clone().nth(1).is_some()
        && lines.all(|l| {
            let l = l.trim();
            l.starts_with('{') && l.ends_with('}')
        });
    if one_object_a_line || serde_json::from_str::<&RawValue>(first_line).is_ok() {
        split_lines(text)
    } else {
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => vec![Ok((
                Position {
                    index: 0,
                    line: Lines::new(text).at(raw.get()),
                },
                raw.get(),
            ))],
            Err(e) => vec![Err(syntax(e.line(), 0, &e.to_string()))],
        }
    }
}

/// JSONL: every non-blank line is one event; a bad line does not hide the others.
fn split_lines(text: &str) -> Vec<Result<(Position, &str), Violation>> {
    let mut items = Vec::new();
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    for (index, (n, line)) in lines.enumerate() {
        let position = Position { index, line: n + 1 };
        if index == MAX_TEXT_EVENTS {
            return vec![Err(too_many(position))];
        }
        items.push(Ok((position, line)));
    }
    items
}

/// A JSON array: each element is one event, read as raw text; lines are counted as they go.
fn split_array(text: &str) -> Vec<Result<(Position, &str), Violation>> {
    let mut over = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let read = de
        .deserialize_seq(Elements {
            limit: MAX_TEXT_EVENTS,
            over: &mut over,
        })
        .and_then(|items| de.end().map(|()| items));
    if let Some(first_over) = over {
        let line = Lines::new(text).at(first_over);
        return vec![Err(too_many(Position {
            index: MAX_TEXT_EVENTS,
            line,
        }))];
    }
    match read {
        Ok(items) => {
            let mut lines = Lines::new(text);
            items
                .into_iter()
                .enumerate()
                .map(|(index, raw)| {
                    let line = lines.at(raw);
                    Ok((Position { index, line }, raw))
                })
                .collect()
        }
        Err(e) => vec![Err(syntax(e.line(), 0, &e.to_string()))],
    }
}

/// Reads the elements of a JSON array as raw text, and stops at the first one over `limit`:
/// it is put in `over` and the reading ends in an error, so the rest of the text is not read.
struct Elements<'o, 'de> {
    limit: usize,
    over: &'o mut Option<&'de str>,
}

impl<'de> Visitor<'de> for Elements<'_, 'de> {
    type Value = Vec<&'de str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if items.len() == self.limit {
                *self.over = Some(raw.get());
                return Err(de::Error::custom("too many events"));
            }
            items.push(raw.get());
        }
        Ok(items)
    }
}

fn too_many(position: Position) -> Violation {
    let mut v = Violation::new(
        "",
        Rule::TooManyEvents,
        format_args!(
            "more than {MAX_TEXT_EVENTS} events in one text, at most {MAX_TEXT_EVENTS} (one batch)"
        ),
    );
    v.position = Some(position);
    v
}

fn syntax(line: usize, index: usize, message: &str) -> Violation {
    let mut v = Violation::new("", Rule::Syntax, message);
    v.position = Some(Position {
        index,
        line: line.max(1),
    });
    v
}

/// The lines of a text, counted forward once: asking for the line of each part in the order the
/// parts appear costs one pass over the text in all.
struct Lines<'t> {
    text: &'t str,
    /// The byte offset counted up to.
    offset: usize,
    /// The 1-based line at `offset`.
    line: usize,
}

impl<'t> Lines<'t> {
    fn new(text: &'t str) -> Self {
        Lines {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line at which `part`, a sub-slice of the text, starts.
    fn at(&mut self, part: &str) -> usize {
        let offset = (part.as_ptr() as usize)
            .saturating_sub(self.text.as_ptr() as usize)
            .min(self.text.len());
        if offset < self.offset {
            // Parts come in order, so this does not happen; were it to, counting again from the
            // start keeps the answer right.
            *self = Lines::new(self.text);
        }
        let between = self.text.as_bytes().get(self.offset..offset).unwrap_or(&[]);
        self.line += between.iter().filter(|b| **b == b'\n').count();
        self.offset = offset;
        self.line
    }
}
