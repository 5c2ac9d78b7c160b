//! The description as JSON Schema (draft 2020-12): one schema per event type, the payloads a
//! correction may carry, and the shared definitions, under a configurable reference base so the
//! same definitions serve a standalone document (`#/$defs/`) and the OpenAPI document
//! (`#/components/schemas/`).
//!
//! The schemas say what the staff form accepts field by field (types, required fields, allowed
//! values, patterns, limits). Rules across fields (`start ≤ end`, `women + men ≤ total`, a case's
//! `lead` among its `countries`, dates not in the future…) are the validation's, named in the
//! descriptions; an event can match its schema and still break one of them.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{EventSchema, Field, Shape, countries, currencies, events};
use crate::events::EventType;
use crate::staff::MAX_TEXT_EVENTS;
use crate::stream::MAX_PARTNER_SLUG;
use crate::validate::MAX_LIST;

/// The JSON Schema dialect of every document built here.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";
/// The reference base of a standalone document.
pub const DEFS: &str = "#/$defs/";

/// A hyphenated UUID, in either case.
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
/// A date from 2000-01-01 on, `YYYY-MM-DD` (the calendar is checked by the parser).
const DATE_PATTERN: &str = "^2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// The name of the definition of an event type's payload alone (what a correction carries).
#[must_use]
pub fn payload_name(event_type: EventType) -> String {
    format!("{}Payload", event_type.name())
}

/// Every definition, by name: `CountryCode`, `CurrencyCode`, one per event type (its name), one
/// per fact payload (`<Type>Payload`), `NewEvent` (any event) and `Submission` (one event or an
/// array of them: what `POST /v1/events` and `coopledger append` take). References point at
/// `refs` followed by a definition's name.
#[must_use]
pub fn definitions(refs: &str) -> Map<String, Value> {
    let mut defs = Map::new();
    defs.insert("CountryCode".into(), country_code());
    defs.insert("CurrencyCode".into(), currency_code());
    let all = events();
    for schema in &all {
        defs.insert(schema.event_type.name().into(), event_schema(schema, refs));
    }
    for schema in all.iter().filter(|s| s.event_type.is_fact()) {
        defs.insert(
            payload_name(schema.event_type),
            object(&schema.fields, schema.about, refs),
        );
    }
    let any: Vec<Value> = all
        .iter()
        .map(|s| json!({"$ref": format!("{refs}{}", s.event_type.name())}))
        .collect();
    defs.insert(
        "NewEvent".into(),
        json!({
            "description": "One event of the staff form; its `type` says which.",
            "oneOf": any,
        }),
    );
    defs.insert(
        "Submission".into(),
        json!({
            "description": "One event, or an array of events appended all or nothing.",
            "oneOf": [
                {"$ref": format!("{refs}NewEvent")},
                {"type": "array", "items": {"$ref": format!("{refs}NewEvent")}, "minItems": 1, "maxItems": MAX_TEXT_EVENTS},
            ],
        }),
    );
    defs
}

/// A standalone JSON Schema document for `root` (a definition's name: an event type,
/// `NewEvent` or `Submission`) with the definitions it refers to.
#[must_use]
pub fn document(root: &str) -> Value {
    let all = definitions(DEFS);
    let mut needed = Map::new();
    let mut queue = vec![root.to_owned()];
    while let Some(name) = queue.pop() {
        if needed.contains_key(&name) {
            continue;
        }
        let Some(def) = all.get(&name) else { continue };
        collect_refs(def, &mut queue);
        needed.insert(name, def.clone());
    }
    // In definition order, so the output reads the same way every time.
    let defs: Map<String, Value> = all
        .into_iter()
        .filter(|(name, _)| needed.contains_key(name))
        .collect();
    json!({
        "$schema": DIALECT,
        "$ref": format!("{DEFS}{root}"),
        "$defs": defs,
    })
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(DEFS) {
                            out.push(name.to_owned());
                        }
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

fn country_code() -> Value {
    let all = countries();
    let codes: Vec<&str> = all.iter().map(|(c, _)| c.as_str()).collect();
    let names: Map<String, Value> = all
        .iter()
        .map(|(c, name)| (c.as_str().to_owned(), Value::String((*name).to_owned())))
        .collect();
    json!({
        "description": "An ISO 3166-1 alpha-2 country code (lower case is accepted on input and stored upper case). `x-names` gives each code's short name.",
        "type": "string",
        "pattern": "^[A-Z]{2}$",
        "enum": codes,
        "x-names": names,
    })
}

fn currency_code() -> Value {
    let codes: Vec<String> = currencies().iter().map(ToString::to_string).collect();
    json!({
        "description": "An ISO 4217 currency code.",
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "enum": codes,
    })
}

fn event_schema(schema: &EventSchema, refs: &str) -> Value {
    let about = format!("{} (stream {}).", capitalised(schema.about), schema.stream);
    let mut value = object(&schema.all_fields(), &about, refs);
    if let Value::Object(map) = &mut value {
        map.insert(
            "title".into(),
            Value::String(schema.event_type.name().into()),
        );
    }
    value
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn object(fields: &[Field], about: &str, refs: &str) -> Value {
    let mut properties = Map::new();
    for f in fields {
        let mut value = shape(&f.shape, refs);
        if let Value::Object(map) = &mut value {
            map.insert("description".into(), Value::String(f.about.to_owned()));
        }
        properties.insert(f.name.to_owned(), value);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let mut map = Map::new();
    if !about.is_empty() {
        map.insert("description".into(), Value::String(about.to_owned()));
    }
    map.insert("type".into(), json!("object"));
    map.insert("required".into(), json!(required));
    map.insert("properties".into(), Value::Object(properties));
    map.insert("additionalProperties".into(), json!(false));
    Value::Object(map)
}

fn shape(shape: &Shape, refs: &str) -> Value {
    match shape {
        Shape::Text { max } | Shape::Identifier { max } => {
            json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": "\\S"})
        }
        Shape::Slug => json!({
            "type": "string",
            "pattern": format!("^[a-z0-9][a-z0-9-]{{0,{}}}$", MAX_PARTNER_SLUG - 1),
        }),
        Shape::Id => json!({
            "type": "string",
            "format": "uuid",
            "pattern": UUID_PATTERN,
            "not": {"const": Uuid::nil().to_string()},
        }),
        Shape::Date => json!({"type": "string", "format": "date", "pattern": DATE_PATTERN}),
        Shape::Country => json!({"$ref": format!("{refs}CountryCode")}),
        Shape::Currency => json!({"$ref": format!("{refs}CurrencyCode")}),
        Shape::Countries => json!({
            "type": "array",
            "items": {"$ref": format!("{refs}CountryCode")},
            "uniqueItems": true,
            "maxItems": MAX_LIST,
        }),
        Shape::Choice(values) => match values.as_slice() {
            [only] => json!({"const": only}),
            _ => json!({"type": "string", "enum": values}),
        },
        Shape::Choices(values) => json!({
            "type": "array",
            "items": {"type": "string", "enum": values},
            "uniqueItems": true,
            "maxItems": values.len(),
        }),
        Shape::Integer { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Shape::Positive => json!({"type": "number", "exclusiveMinimum": 0}),
        Shape::ExpectedVersion => json!({
            "oneOf": [
                {"type": "string", "enum": ["any", "new"]},
                {"type": "integer", "minimum": 1},
            ],
        }),
        Shape::Object(fields) => object(fields, "", refs),
        Shape::Venue(fields) => json!({
            "oneOf": [object(fields, "", refs), {"const": "virtual"}],
        }),
        Shape::Tagged(variants) => {
            let branches: Vec<Value> = variants
                .iter()
                .map(|v| {
                    let mut fields = vec![Field {
                        name: "kind",
                        shape: Shape::Choice(vec![v.kind]),
                        required: true,
                        about: "the kind",
                    }];
                    fields.extend(v.fields.iter().cloned());
                    object(&fields, "", refs)
                })
                .collect();
            json!({"oneOf": branches})
        }
        Shape::Replacement => {
            let facts: Vec<Value> = EventType::ALL
                .into_iter()
                .filter(|t| t.is_fact())
                .map(|t| json!({"$ref": format!("{refs}{}", payload_name(t))}))
                .collect();
            json!({"oneOf": facts})
        }
    }
}
