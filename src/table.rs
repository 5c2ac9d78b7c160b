//! Tables as CSV (RFC 4180, through the `csv` crate): the rows of a JSON document flattened into
//! columns named and ordered as in the JSON, so a CSV download holds exactly what the JSON does.
//!
//! A nested object becomes one column per field, named by its path (`activities.by_kind.training`);
//! a list of plain values becomes one cell of the values separated by spaces (`BR GH`); a list of
//! objects, and any field named as a JSON cell (`counterparts`, an event's `payload`), becomes
//! one cell holding its compact JSON; `null` is an empty cell. The columns are the union of the
//! rows' columns in the order they first appear; an empty table has no header unless its columns
//! are given.

use proto_events::RecordedEvent;
use proto_events::hash::to_hex;
use proto_events::staff::payload_to_object;
use serde_json::{Map, Value};

use crate::error::Error;

/// The media type of a CSV answer.
pub const MEDIA_TYPE: &str = "text/csv; charset=utf-8";

/// The leading columns of an event table: the envelope of a `log --json` line, in its order; the
/// rest of the line is the `payload` column.
pub const EVENT_COLUMNS: [&str; 13] = [
    "seq",
    "event_id",
    "stream",
    "version",
    "recorded_at",
    "hash",
    "prev_hash",
    "type",
    "recorded_by",
    "source",
    "correlation_id",
    "causation_id",
    "payload",
];

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            items.iter().map(cell).collect::<Vec<_>>().join(" ")
        }
        other => other.to_string(),
    }
}

fn flatten(prefix: &str, value: &Value, json_cells: &[&str], out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !json_cells.contains(&prefix) => {
            for (key, v) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, v, json_cells, out);
            }
        }
        other => out.push((prefix.to_owned(), cell(other))),
    }
}

/// `rows` (JSON objects) as CSV text: `leading` columns first (always in the header), then every
/// other column in the order it first appears; `json_cells` are the paths kept as JSON text.
///
/// # Errors
/// [`Error::Internal`] when the CSV writer fails (it writes to memory).
pub fn csv(rows: &[Value], leading: &[&str], json_cells: &[&str]) -> Result<String, Error> {
    let flat: Vec<Vec<(String, String)>> = rows
        .iter()
        .map(|row| {
            let mut cells = Vec::new();
            flatten("", row, json_cells, &mut cells);
            cells
        })
        .collect();
    let mut columns: Vec<String> = leading.iter().map(|c| (*c).to_owned()).collect();
    for cells in &flat {
        for (name, _) in cells {
            if !columns.contains(name) {
                columns.push(name.clone());
            }
        }
    }
    let failed = |e: csv::Error| Error::Internal(format!("writing CSV: {e}"));
    let mut writer = csv::Writer::from_writer(Vec::new());
    if !columns.is_empty() {
        writer.write_record(&columns).map_err(failed)?;
    }
    for cells in &flat {
        let record = columns.iter().map(|c| {
            cells
                .iter()
                .find(|(name, _)| name == c)
                .map_or("", |(_, v)| v.as_str())
        });
        writer.write_record(record).map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Internal(format!("CSV is not UTF-8: {e}")))
}

/// A JSON array's items as CSV (see [`csv`]); anything else is one row.
///
/// # Errors
/// As [`csv`].
pub fn csv_of(document: &Value, json_cells: &[&str]) -> Result<String, Error> {
    match document {
        Value::Array(rows) => csv(rows, &[], json_cells),
        other => csv(std::slice::from_ref(other), &[], json_cells),
    }
}

/// Recorded events as CSV: the envelope columns of [`EVENT_COLUMNS`] and the payload's fields as
/// one JSON cell (event types have different fields).
///
/// # Errors
/// As [`csv`].
pub fn events_csv(events: &[RecordedEvent]) -> Result<String, Error> {
    let rows: Vec<Value> = events
        .iter()
        .map(|e| {
            let env = &e.envelope;
            let mut row = Map::new();
            row.insert("seq".into(), Value::from(e.sequence));
            row.insert("event_id".into(), Value::String(env.event_id.to_string()));
            row.insert("stream".into(), Value::String(env.stream.to_string()));
            row.insert("version".into(), Value::from(e.stream_version));
            row.insert(
                "recorded_at".into(),
                Value::String(env.recorded_at.to_string()),
            );
            row.insert("hash".into(), Value::String(to_hex(&e.hash)));
            row.insert("prev_hash".into(), Value::String(to_hex(&e.prev_hash)));
            row.insert("type".into(), Value::String(env.event_type.name().into()));
            row.insert("recorded_by".into(), Value::String(env.recorded_by.clone()));
            let optional = |v: Option<String>| v.map_or(Value::Null, Value::String);
            row.insert("source".into(), optional(env.source.clone()));
            row.insert(
                "correlation_id".into(),
                optional(env.correlation_id.map(|u| u.to_string())),
            );
            row.insert(
                "causation_id".into(),
                optional(env.causation_id.map(|u| u.to_string())),
            );
            row.insert(
                "payload".into(),
                Value::Object(payload_to_object(&e.payload)),
            );
            Value::Object(row)
        })
        .collect();
    csv(&rows, &EVENT_COLUMNS, &["payload"])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_fields_become_named_columns_in_json_order() {
        let rows = [
            json!({"b": 1, "a": {"y": "x,y", "x": null}, "list": ["BR", "GH"], "keep": {"k": 1}}),
            json!({"b": 2, "a": {"y": "line\nbreak", "x": 3}, "list": [], "keep": {}, "late": true}),
        ];
        let text = csv(&rows, &[], &["keep"]).expect("csv");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header, ["b", "a.y", "a.x", "list", "keep", "late"]);
        let records: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.expect("record").iter().map(str::to_owned).collect())
            .collect();
        assert_eq!(records[0], ["1", "x,y", "", "BR GH", "{\"k\":1}", ""]);
        assert_eq!(records[1], ["2", "line\nbreak", "3", "", "{}", "true"]);
    }

    #[test]
    fn an_empty_table_has_only_its_given_columns() {
        assert_eq!(csv(&[], &[], &[]).expect("csv"), "");
        assert_eq!(
            events_csv(&[]).expect("csv").trim_end(),
            EVENT_COLUMNS.join(",")
        );
    }
}
