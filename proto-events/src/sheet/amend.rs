//! A correction as a one-row sheet: the fact's current payload written as cells, the cells
//! given changed, and the row read back into the replacement payload. `coopledger amend` uses
//! it, so `--set participants.total=26` means what the same column means in a spreadsheet.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::cells;
use super::template::cell;
use crate::events::Fact;
use crate::schema::{self, Shape};
use crate::staff::fact_to_object;
use crate::validate::{Rule, Violation};

/// The replacement payload of a correction that sets each `(column, text)` of `changes` in
/// `fact` (an empty text leaves an optional field out). The payload is not validated here: it
/// is read and checked as the correction's `replacement`.
///
/// # Errors
/// A column the fact's type does not have (`unknown_field`, naming the columns it has).
pub fn changed(
    fact: &Fact,
    changes: &[(String, String)],
) -> Result<Map<String, Value>, Vec<Violation>> {
    let event_type = fact.event_type();
    let columns = schema::columns(&schema::event(event_type).fields);
    let payload = Value::Object(fact_to_object(fact));
    let mut row = BTreeMap::new();
    for c in &columns {
        let pointer = format!("/{}", c.path.replace('.', "/"));
        let text = match payload.pointer(&pointer) {
            Some(value) => cell(Some(value)),
            // A virtual venue is written in venue.city.
            None if c.path == "venue.city"
                && payload.get("venue") == Some(&Value::from("virtual")) =>
            {
                "virtual".to_owned()
            }
            None => continue,
        };
        if !text.is_empty() {
            row.insert(c.path.clone(), text);
        }
    }
    let mut problems = Vec::new();
    for (column, text) in changes {
        let known = columns
            .iter()
            .any(|c| c.path == *column && !matches!(c.shape, Shape::Replacement));
        if !known {
            let names: Vec<&str> = columns.iter().map(|c| c.path.as_str()).collect();
            problems.push(Violation::new(
                column.clone(),
                Rule::UnknownField,
                format_args!("{event_type} has the fields {}", names.join(", ")),
            ));
            continue;
        }
        if text.trim().is_empty() {
            row.remove(column);
        } else {
            row.insert(column.clone(), text.trim().to_owned());
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut object =
        cells::object(&row, event_type, &cells::type_columns(event_type), false).object;
    object.remove("type");
    Ok(object)
}
