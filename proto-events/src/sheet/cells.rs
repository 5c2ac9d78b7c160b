//! A row's cells → the staff JSON object they stand for.
//!
//! Headers are field paths; a cell becomes the JSON value its field's shape takes (a number, a
//! list, a text), and anything that does not fit stays a text for the parser to refuse with its
//! own message. A header the type does not have is kept too, so the parser names it.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::events::EventType;
use crate::schema::{self, Column, Shape};
use crate::staff::infer_fact_type;
use crate::validate::Rule;

/// A row's object, the columns a correction's replacement adds (`replacement.…`), and the
/// problems of building it (a header that is both a field and an object).
pub(super) struct Built {
    pub object: Map<String, Value>,
    pub extra: Vec<Column>,
    pub problems: Vec<(String, Rule, String)>,
}

/// The columns of every field of `event_type`, envelope included (a sheet computes them once
/// per type, not per row).
pub(super) fn type_columns(event_type: EventType) -> Vec<Column> {
    schema::columns(&schema::event(event_type).all_fields())
}

/// The staff JSON object of a row of `event_type` (non-empty cells only, trimmed), whose fields
/// are described by `columns` ([`type_columns`]).
pub(super) fn object(
    cells: &BTreeMap<String, String>,
    event_type: EventType,
    columns: &[Column],
    comma_decimal: bool,
) -> Built {
    let extra = if event_type == EventType::EventCorrected {
        replacement_columns(cells)
    } else {
        Vec::new()
    };
    let mut object = Map::new();
    let mut problems = Vec::new();
    object.insert("type".into(), Value::String(event_type.name().into()));
    for (header, text) in cells.iter().filter(|(h, _)| h.as_str() != "type") {
        let value = match columns.iter().chain(&extra).find(|c| c.path == *header) {
            Some(column) => convert(&column.shape, text, comma_decimal),
            None => Value::String(text.clone()),
        };
        if !set(&mut object, header, value) {
            problems.push((
                header.clone(),
                Rule::DuplicateField,
                format!("{header:?} is a column and also a part of another"),
            ));
        }
    }
    for venue in ["venue", "replacement.venue"] {
        virtual_venue(&mut object, venue);
    }
    Built {
        object,
        extra,
        problems,
    }
}

/// The columns of a correction's replacement, whose type is told by the fields it has (as in
/// JSON), each under `replacement.`.
fn replacement_columns(cells: &BTreeMap<String, String>) -> Vec<Column> {
    let names: Map<String, Value> = cells
        .keys()
        .filter_map(|h| h.strip_prefix("replacement."))
        .map(|rest| {
            (
                rest.split('.').next().unwrap_or(rest).to_owned(),
                Value::Null,
            )
        })
        .collect();
    let Ok(fact_type) = infer_fact_type(&names) else {
        return Vec::new();
    };
    schema::columns(&schema::event(fact_type).fields)
        .into_iter()
        .map(|c| Column {
            path: format!("replacement.{}", c.path),
            ..c
        })
        .collect()
}

/// A cell's JSON value for a leaf of `shape`.
fn convert(shape: &Shape, text: &str, comma_decimal: bool) -> Value {
    let as_text = || Value::String(text.to_owned());
    match shape {
        Shape::Integer { .. } | Shape::ExpectedVersion => {
            text.parse::<u64>().map_or_else(|_| as_text(), Value::from)
        }
        Shape::Positive => {
            let decimal = if comma_decimal && text.matches(',').count() == 1 && !text.contains('.')
            {
                text.replace(',', ".")
            } else {
                text.to_owned()
            };
            decimal
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map_or_else(as_text, Value::Number)
        }
        Shape::Countries | Shape::Choices(_) => Value::Array(
            text.split([';', ','])
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_owned()))
                .collect(),
        ),
        Shape::Replacement => serde_json::from_str(text).unwrap_or_else(|_| as_text()),
        _ => as_text(),
    }
}

/// Sets `path` (`a.b.c`) in `object`, making the objects on the way; `false` when a part of the
/// way is already something else.
pub(super) fn set(object: &mut Map<String, Value>, path: &str, value: Value) -> bool {
    let mut parts = path.split('.').peekable();
    let mut current = object;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if current.get(part).is_some_and(Value::is_object) {
                return false;
            }
            current.insert(part.to_owned(), value);
            return true;
        }
        let next = current
            .entry(part)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(inner) = next else {
            return false;
        };
        current = inner;
    }
    false
}

/// `virtual` in `venue.city` with no `venue.country` is the virtual venue.
fn virtual_venue(object: &mut Map<String, Value>, path: &str) {
    let (parent, name) = match path.split_once('.') {
        Some((parent, name)) => (object.get_mut(parent).and_then(Value::as_object_mut), name),
        None => (Some(object), path),
    };
    let Some(parent) = parent else { return };
    let is_virtual = parent
        .get(name)
        .and_then(Value::as_object)
        .is_some_and(|venue| {
            venue.len() == 1
                && venue
                    .get("city")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c.eq_ignore_ascii_case("virtual"))
        });
    if is_virtual {
        parent.insert(name.to_owned(), Value::String("virtual".into()));
    }
}
