//! The spreadsheet template of an event type: a header row with one column per field (nested
//! ones flattened) and the type's example as one row, ready to be filled in.

use serde_json::Value;

use crate::events::EventType;
use crate::schema;

/// The envelope columns a template has (the others are accepted too, but rarely needed).
const ENVELOPE: [&str; 4] = ["type", "event_id", "recorded_by", "source"];

/// The columns of a template of `event_type`; a correction's replacement is flattened as a
/// `replacement_of` (by default `ActivityDelivered`).
#[must_use]
pub fn columns(event_type: EventType, replacement_of: Option<EventType>) -> Vec<String> {
    let described = schema::event(event_type);
    let mut out: Vec<String> = ENVELOPE.iter().map(|c| (*c).to_owned()).collect();
    for c in schema::columns(&described.fields) {
        if matches!(c.shape, schema::Shape::Replacement) {
            let of = replacement_of.unwrap_or(EventType::ActivityDelivered);
            out.extend(
                schema::columns(&schema::event(of).fields)
                    .into_iter()
                    .map(|inner| format!("replacement.{}", inner.path)),
            );
        } else {
            out.push(c.path);
        }
    }
    out
}

/// The cell text of a JSON value: lists joined with `;`, texts as they are.
pub(super) fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| cell(Some(v)))
            .collect::<Vec<_>>()
            .join(";"),
        Some(other) => other.to_string(),
    }
}

/// The example row of a template: the type's example, with no event id and, for a type that
/// starts an entity, no entity id (both are then derived from the row).
#[must_use]
pub fn example_row(
    event_type: EventType,
    replacement_of: Option<EventType>,
    headers: &[String],
) -> Vec<String> {
    let described = schema::event(event_type);
    let mut example = Value::Object(schema::example(event_type));
    if let Value::Object(map) = &mut example {
        if let Some(id) = described.derivable_entity_id() {
            map.remove(id);
        }
        if let Some(of) = replacement_of.filter(|_| event_type == EventType::EventCorrected) {
            let mut replacement = schema::example(of);
            replacement.remove("type");
            replacement.remove("recorded_by");
            map.insert("replacement".into(), Value::Object(replacement));
        }
    }
    headers
        .iter()
        .map(|h| {
            let pointer = format!("/{}", h.replace('.', "/"));
            let value = example.pointer(&pointer);
            match (h.as_str(), value) {
                // A virtual venue is written in venue.city.
                ("venue.city", None) | ("replacement.venue.city", None)
                    if example
                        .pointer(&pointer.replace("/city", ""))
                        .and_then(Value::as_str)
                        == Some("virtual") =>
                {
                    "virtual".to_owned()
                }
                _ => cell(value),
            }
        })
        .collect()
}

/// The template as CSV text: a UTF-8 byte-order mark (so Excel reads it as UTF-8), the header
/// row and the example row, cells separated by `separator`.
///
/// # Errors
/// When the CSV writer fails (it writes to memory, so only on a defect).
pub fn template(
    event_type: EventType,
    replacement_of: Option<EventType>,
    separator: u8,
) -> Result<String, csv::Error> {
    let headers = columns(event_type, replacement_of);
    let row = example_row(event_type, replacement_of, &headers);
    let mut writer = csv::WriterBuilder::new()
        .delimiter(separator)
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(&headers)?;
    writer.write_record(&row)?;
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
