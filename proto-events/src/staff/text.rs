//! Splitting a staff text into the raw JSON of each event, with its position (index and line).
//!
//! The text is a JSON array, one object per line (JSONL), or one (pretty-printed) object. Only
//! the outline is read here; each event's JSON is parsed by [`super::read`].

use serde_json::value::RawValue;

use crate::validate::{Position, Rule, Violation};

/// Splits a text into the raw JSON of each event with its position.
pub(super) fn split(text: &str) -> Vec<Result<(Position, &str), Violation>> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return vec![Err(syntax(1, 0, "no events: the input is empty"))];
    }
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, raw)| {
                    let line = line_of(text, raw.get());
                    Ok((Position { index, line }, raw.get()))
                })
                .collect(),
            Err(e) => vec![Err(syntax(e.line(), 0, &e.to_string()))],
        };
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
        // JSONL: every non-blank line is one event; a bad line does not hide the others.
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .enumerate()
            .map(|(index, (n, line))| Ok((Position { index, line: n + 1 }, line)))
            .collect()
    } else {
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => vec![Ok((
                Position {
                    index: 0,
                    line: line_of(text, raw.get()),
                },
                raw.get(),
            ))],
            Err(e) => vec![Err(syntax(e.line(), 0, &e.to_string()))],
        }
    }
}

fn syntax(line: usize, index: usize, message: &str) -> Violation {
    let mut v = Violation::new("", Rule::Syntax, message);
    v.position = Some(Position {
        index,
        line: line.max(1),
    });
    v
}

/// The 1-based line at which `part`, a sub-slice of `text`, starts.
fn line_of(text: &str, part: &str) -> usize {
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    before.bytes().filter(|b| *b == b'\n').count() + 1
}
