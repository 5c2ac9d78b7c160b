//! The staff JSON form (domain.md, "The staff JSON form"): parse it and write it back.
//!
//! A text holds one JSON object, a JSON array of objects, or one object per line (JSONL). Every
//! event is reported with its position (index and starting line). Unknown fields are rejected by
//! name, so a typo is never dropped silently; country codes may be lower case and are normalised.
//! Parsing reports *structural* problems (syntax, unknown or missing fields, wrong types, unknown
//! codes, impossible dates) — one per event, since the event cannot be read further — and then runs
//! [`crate::validate`], which reports every rule the event breaks at once.

use std::collections::BTreeSet;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::country::{UNKNOWN_COUNTRY, UNKNOWN_CURRENCY};
use crate::envelope::{ExpectedVersion, Hash, NewEvent, RecordedEvent};
use crate::events::{EventCorrected, EventRetracted, EventType, Fact, Payload};
use crate::hash::{parse_hex, to_hex};
use crate::validate::{Position, Rule, Violation, validate};
use crate::values::{Date, Timestamp, forms};

/// The largest text of one event, in bytes.
pub const MAX_EVENT_TEXT: usize = 256 * 1024;
/// The most characters of an offending value quoted in an error.
const MAX_QUOTED: usize = 120;

/// Fields the ledger adds when it writes a recorded event (`log --json`, `export`).
const RECORDED_FIELDS: [&str; 6] = [
    "seq",
    "stream",
    "version",
    "recorded_at",
    "prev_hash",
    "hash",
];

/// Date fields of the payload structs: a serde error on one of them is an impossible date.
const DATE_FIELDS: [&str; 11] = [
    "start",
    "end",
    "registered_on",
    "joined_on",
    "changed_on",
    "cancelled_on",
    "opened_on",
    "added_on",
    "on",
    "closed_on",
    "recorded_at",
];

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
/// Every violation of every event, each with its position.
pub fn parse_text(text: &str, mode: Mode, today: Date) -> Result<Vec<ParsedEvent>, Vec<Violation>> {
    // A byte-order mark is not JSON, but editors write it; it changes nothing.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for item in split(text) {
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

/// Splits a text into the raw JSON of each event with its position.
fn split(text: &str) -> Vec<Result<(Position, &str), Violation>> {
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

/// Parses and validates one event's JSON text (no position set).
///
/// # Errors
/// The structural violation, or every rule violation.
pub fn parse_event(
    raw: &str,
    mode: Mode,
    today: Date,
) -> Result<(NewEvent, Option<RecordedMeta>), Vec<Violation>> {
    if raw.len() > MAX_EVENT_TEXT {
        return Err(vec![Violation::new(
            "",
            Rule::TooLarge,
            format_args!("{} bytes, at most {MAX_EVENT_TEXT}", raw.len()),
        )]);
    }
    let mut de = serde_json::Deserializer::from_str(raw);
    let parsed = serde_path_to_error::deserialize::<_, Strict>(&mut de).map_err(|e| {
        let message = e.inner().to_string();
        match between(&message, DUPLICATE_FIELD, "`") {
            Some(name) => {
                let path = e.path().to_string();
                let field = match path.as_str() {
                    "." | "" => name.to_owned(),
                    p if p.rsplit('.').next() == Some(name) => p.to_owned(),
                    p => join(p, name),
                };
                vec![Violation::new(field, Rule::DuplicateField, quote_str(name))]
            }
            None => vec![Violation::new("", Rule::Syntax, message)],
        }
    })?;
    de.end()
        .map_err(|e| vec![Violation::new("", Rule::Syntax, e)])?;
    let value = parsed.0;
    let Value::Object(object) = value else {
        return Err(vec![Violation::new("", Rule::NotAnObject, quote(&value))]);
    };
    let (event, recorded) = from_object(object, mode).map_err(|v| vec![v])?;
    let violations = validate(&event, today);
    if violations.is_empty() {
        Ok((event, recorded))
    } else {
        Err(violations)
    }
}

/// The prefix of the error for a key given twice in one object.
const DUPLICATE_FIELD: &str = "duplicate field `";

/// A JSON value that refuses a key given twice in one object, at any depth: serde_json would
/// keep the last one and silently drop the other, which a ledger must never do.
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, SeqAccess, Visitor};
        struct StrictVisitor;
        impl<'de> Visitor<'de> for StrictVisitor {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Strict, E> {
                Ok(Strict(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Strict, E> {
                Ok(Strict(Value::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Strict, E> {
                Ok(Strict(Value::from(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Strict, E> {
                Ok(Strict(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Strict, E> {
                Ok(Strict(Value::String(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Strict, E> {
                Ok(Strict(Value::String(v)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Strict, D::Error> {
                <Strict as serde::Deserialize>::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
                let mut items = Vec::new();
                while let Some(Strict(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(Strict(Value::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
                let mut object = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if object.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("{DUPLICATE_FIELD}{key}`")));
                    }
                    let Strict(value) = map.next_value()?;
                    object.insert(key, value);
                }
                Ok(Strict(Value::Object(object)))
            }
        }
        d.deserialize_any(StrictVisitor)
    }
}

/// Builds an event from a JSON object without running the validation rules.
///
/// # Errors
/// The first structural problem.
pub fn from_object(
    mut object: Map<String, Value>,
    mode: Mode,
) -> Result<(NewEvent, Option<RecordedMeta>), Violation> {
    let event_id: Option<Uuid> = take(&mut object, "event_id")?;
    let with_id = |mut v: Violation| {
        v.event_id = event_id;
        v
    };
    let type_name: Option<String> = take(&mut object, "type").map_err(with_id)?;
    let type_name =
        type_name.ok_or_else(|| with_id(Violation::new("type", Rule::MissingField, "absent")))?;
    let event_type = EventType::from_name(&type_name).ok_or_else(|| {
        with_id(Violation::new(
            "type",
            Rule::UnknownType,
            quote_str(&type_name),
        ))
    })?;
    let recorded_by: Option<String> = take(&mut object, "recorded_by").map_err(with_id)?;
    let recorded_by = recorded_by
        .ok_or_else(|| with_id(Violation::new("recorded_by", Rule::MissingField, "absent")))?;
    let source = take(&mut object, "source").map_err(with_id)?;
    let expected_version: Option<ExpectedVersion> =
        take(&mut object, "expected_version").map_err(with_id)?;
    let correlation_id = take(&mut object, "correlation_id").map_err(with_id)?;
    let causation_id = take(&mut object, "causation_id").map_err(with_id)?;
    let recorded = match mode {
        Mode::Staff => None,
        Mode::Export => take_recorded(&mut object).map_err(with_id)?,
    };
    let payload = payload_from_object(event_type, object).map_err(with_id)?;
    let event = NewEvent {
        event_id,
        recorded_by,
        source,
        expected_version: expected_version.unwrap_or_default(),
        correlation_id,
        causation_id,
        payload,
    };
    Ok((event, recorded))
}

fn take_recorded(object: &mut Map<String, Value>) -> Result<Option<RecordedMeta>, Violation> {
    if !RECORDED_FIELDS.iter().any(|f| object.contains_key(*f)) {
        return Ok(None);
    }
    let sequence = required(object, "seq")?;
    let stream_version = required(object, "version")?;
    let recorded_at = required(object, "recorded_at")?;
    let hash: String = required(object, "hash")?;
    let hash = parse_hex(&hash)
        .ok_or_else(|| Violation::new("hash", Rule::InvalidValue, quote_str(&hash)))?;
    // The stream and previous hash follow from the event and the log; they are read to be
    // accepted, not trusted.
    let _: Option<String> = take(object, "stream")?;
    let _: Option<String> = take(object, "prev_hash")?;
    Ok(Some(RecordedMeta {
        sequence,
        stream_version,
        recorded_at,
        hash,
    }))
}

fn required<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    field: &str,
) -> Result<T, Violation> {
    take(object, field)?.ok_or_else(|| Violation::new(field, Rule::MissingField, "absent"))
}

/// Removes `field` and deserialises it; absent (or `null`) is `None`.
fn take<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<T>, Violation> {
    match object.shift_remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value.clone())
            .map(Some)
            .map_err(|e| classify(field, &e.to_string(), &value)),
    }
}

/// Deserialises a payload struct from the remaining fields of an object.
fn payload_from_object(
    event_type: EventType,
    object: Map<String, Value>,
) -> Result<Payload, Violation> {
    let value = Value::Object(object);
    let payload = match event_type {
        EventType::EventCorrected => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct CorrectedJson {
                target: Uuid,
                replacement: Map<String, Value>,
                reason: String,
            }
            let c: CorrectedJson = de_path(&value, "")?;
            let replacement = replacement_from_object(c.replacement)?;
            Payload::Corrected(EventCorrected {
                target: c.target,
                replacement,
                reason: c.reason,
            })
        }
        EventType::EventRetracted => Payload::Retracted(de_path::<EventRetracted>(&value, "")?),
        fact_type => Payload::Fact(fact_from_value(fact_type, &value, "")?),
    };
    Ok(payload)
}

/// The event type a correction's replacement has, told by the fields only that type has
/// (domain.md: the replacement carries neither envelope fields nor `type`).
///
/// # Errors
/// When the fields fit no fact type.
pub fn infer_fact_type(object: &Map<String, Value>) -> Result<EventType, Violation> {
    let has = |f: &str| object.contains_key(f);
    let inferred = if has("registered_on") {
        Some(EventType::PartnerRegistered)
    } else if has("joined_on") {
        Some(EventType::CountryJoined)
    } else if has("changed_on") {
        Some(EventType::ParticipationChanged)
    } else if has("meeting_id") {
        Some(EventType::MeetingHeld)
    } else if has("activity_id") {
        Some(if has("cancelled_on") {
            EventType::ActivityCancelled
        } else if has("pillar") || has("participants") {
            EventType::ActivityDelivered
        } else {
            EventType::ActivityScheduled
        })
    } else if has("case_id") {
        if has("codename") {
            Some(EventType::CaseOpened)
        } else if has("added_on") {
            Some(EventType::CaseCountryAdded)
        } else if has("milestone") {
            Some(EventType::CaseMilestoneRecorded)
        } else if has("closed_on") {
            Some(EventType::CaseClosed)
        } else {
            None
        }
    } else {
        None
    };
    inferred.ok_or_else(|| {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        Violation::new(
            "replacement",
            Rule::ReplacementType,
            format_args!("fields {keys:?} fit no fact type"),
        )
    })
}

fn replacement_from_object(object: Map<String, Value>) -> Result<Fact, Violation> {
    let fact_type = infer_fact_type(&object)?;
    fact_from_value(fact_type, &Value::Object(object), "replacement.")
}

fn fact_from_value(event_type: EventType, value: &Value, prefix: &str) -> Result<Fact, Violation> {
    let fact = match event_type {
        EventType::PartnerRegistered => Fact::PartnerRegistered(de_path(value, prefix)?),
        EventType::CountryJoined => Fact::CountryJoined(de_path(value, prefix)?),
        EventType::ParticipationChanged => Fact::ParticipationChanged(de_path(value, prefix)?),
        EventType::MeetingHeld => Fact::MeetingHeld(de_path(value, prefix)?),
        EventType::ActivityScheduled => Fact::ActivityScheduled(de_path(value, prefix)?),
        EventType::ActivityDelivered => Fact::ActivityDelivered(de_path(value, prefix)?),
        EventType::ActivityCancelled => Fact::ActivityCancelled(de_path(value, prefix)?),
        EventType::CaseOpened => Fact::CaseOpened(de_path(value, prefix)?),
        EventType::CaseCountryAdded => Fact::CaseCountryAdded(de_path(value, prefix)?),
        EventType::CaseMilestoneRecorded => Fact::CaseMilestoneRecorded(de_path(value, prefix)?),
        EventType::CaseClosed => Fact::CaseClosed(de_path(value, prefix)?),
        EventType::EventCorrected | EventType::EventRetracted => {
            return Err(Violation::new(
                prefix.trim_end_matches('.'),
                Rule::ReplacementType,
                event_type,
            ));
        }
    };
    Ok(fact)
}

/// Deserialises `value` as `T`, turning the first error into a violation naming its field path.
fn de_path<T: DeserializeOwned>(value: &Value, prefix: &str) -> Result<T, Violation> {
    serde_path_to_error::deserialize(value).map_err(
        |e: serde_path_to_error::Error<serde_json::Error>| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let (field, rule, quoted) = classify_message(&path, &message, value);
            let field = if field.is_empty() {
                prefix.trim_end_matches('.').to_owned()
            } else {
                format!("{prefix}{field}")
            };
            Violation::new(field, rule, quoted)
        },
    )
}

fn classify(field: &str, message: &str, value: &Value) -> Violation {
    let rule = rule_of(field, message);
    let quoted = match rule {
        Rule::InvalidValue | Rule::InvalidDate | Rule::CountryCode | Rule::CurrencyCode => {
            format!("{}: {message}", quote(value))
        }
        _ => message.to_owned(),
    };
    Violation::new(field, rule, quoted)
}

/// Maps a serde error at `path` to (field path, rule, offending value).
fn classify_message(path: &str, message: &str, root: &Value) -> (String, Rule, String) {
    let path = if path == "." { "" } else { path };
    // An error raised inside a nested value carries the path within it (see forms::PATH_MARK).
    if let Some((inner, rest)) = message
        .split_once(forms::PATH_MARK)
        .and_then(|(_, rest)| rest.split_once(forms::PATH_END))
    {
        return classify_message(&join(path, inner), rest, root);
    }
    if let Some(name) = between(message, "unknown field `", "`") {
        // serde_path_to_error already ends the path with the unknown field's name.
        let field = if path.rsplit('.').next() == Some(name) {
            path.to_owned()
        } else {
            join(path, name)
        };
        return (field, Rule::UnknownField, quote_str(name));
    }
    if let Some(name) = between(message, "missing field `", "`") {
        let field = if path.rsplit('.').next() == Some(name) {
            path.to_owned()
        } else {
            join(path, name)
        };
        return (field, Rule::MissingField, "absent".to_owned());
    }
    let rule = rule_of(path, message);
    if let (Rule::CountryCode | Rule::CurrencyCode, Some(code)) =
        (rule, between(message, ": \"", "\""))
    {
        // Inside a buffered (internally tagged) value the path stops at the object; find the
        // member holding the bad code so the error names it.
        let field = lookup(root, path)
            .and_then(|v| member_holding(v, code))
            .map_or_else(|| path.to_owned(), |member| join(path, &member));
        return (field, rule, quote_str(code));
    }
    let offending = lookup(root, path).map_or_else(String::new, quote);
    let value = if offending.is_empty() {
        message.to_owned()
    } else {
        format!("{offending}: {message}")
    };
    (path.to_owned(), rule, value)
}

/// The member of an object whose value is `text`, or an array holding it (`countries[1]`).
fn member_holding(value: &Value, text: &str) -> Option<String> {
    let object = value.as_object()?;
    object.iter().find_map(|(key, v)| match v {
        Value::String(s) if s == text => Some(key.clone()),
        Value::Array(items) => items
            .iter()
            .position(|i| i.as_str() == Some(text))
            .map(|i| format!("{key}[{i}]")),
        _ => None,
    })
}

fn rule_of(path: &str, message: &str) -> Rule {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    if message.contains(UNKNOWN_COUNTRY) {
        Rule::CountryCode
    } else if message.contains(UNKNOWN_CURRENCY) {
        Rule::CurrencyCode
    } else if DATE_FIELDS.contains(&last) {
        Rule::InvalidDate
    } else {
        Rule::InvalidValue
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = text.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Finds the value at a serde_path_to_error path such as `venue.country` or `beneficiaries[2]`.
fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = root;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, indices) = match segment.find('[') {
            Some(i) => segment.split_at(i),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name)?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let i: usize = index.trim_end_matches(']').parse().ok()?;
            current = current.get(i)?;
        }
    }
    Some(current)
}

fn quote(value: &Value) -> String {
    let text = value.to_string();
    truncate(&text)
}

fn quote_str(text: &str) -> String {
    truncate(&format!("{text:?}"))
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_QUOTED).collect();
        format!("{cut}…")
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

fn to_object<T: Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        // Every payload struct serialises to an object; anything else would be a defect, and an
        // empty object makes it visible in the output rather than a panic.
        _ => Map::new(),
    }
}

/// The staff JSON fields of a fact: its struct's fields, without `type`.
#[must_use]
pub fn fact_to_object(fact: &Fact) -> Map<String, Value> {
    let mut map = match fact {
        Fact::PartnerRegistered(e) => to_object(e),
        Fact::CountryJoined(e) => to_object(e),
        Fact::ParticipationChanged(e) => to_object(e),
        Fact::MeetingHeld(e) => to_object(e),
        Fact::ActivityScheduled(e) => to_object(e),
        Fact::ActivityDelivered(e) => to_object(e),
        Fact::ActivityCancelled(e) => to_object(e),
        Fact::CaseOpened(e) => to_object(e),
        Fact::CaseCountryAdded(e) => to_object(e),
        Fact::CaseMilestoneRecorded(e) => to_object(e),
        Fact::CaseClosed(e) => to_object(e),
    };
    strip_nulls(&mut map);
    map
}

/// The staff JSON fields of a payload, without `type`.
#[must_use]
pub fn payload_to_object(payload: &Payload) -> Map<String, Value> {
    match payload {
        Payload::Fact(f) => fact_to_object(f),
        Payload::Corrected(c) => {
            let mut map = Map::new();
            map.insert("target".into(), Value::String(c.target.to_string()));
            map.insert(
                "replacement".into(),
                Value::Object(fact_to_object(&c.replacement)),
            );
            map.insert("reason".into(), Value::String(c.reason.clone()));
            map
        }
        Payload::Retracted(r) => {
            let mut map = to_object(r);
            strip_nulls(&mut map);
            map
        }
    }
}

/// Optional fields are written by leaving them out rather than as `null`.
fn strip_nulls(map: &mut Map<String, Value>) {
    map.retain(|_, v| !v.is_null());
    for value in map.values_mut() {
        if let Value::Object(inner) = value {
            strip_nulls(inner);
        }
    }
}

/// The staff JSON form of a new event (parses back to the same event).
#[must_use]
pub fn to_staff_object(event: &NewEvent) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "type".into(),
        Value::String(event.payload.event_type().name().into()),
    );
    if let Some(id) = event.event_id {
        map.insert("event_id".into(), Value::String(id.to_string()));
    }
    map.insert(
        "recorded_by".into(),
        Value::String(event.recorded_by.clone()),
    );
    if let Some(source) = &event.source {
        map.insert("source".into(), Value::String(source.clone()));
    }
    if event.expected_version != ExpectedVersion::Any {
        map.insert(
            "expected_version".into(),
            serde_json::json!(event.expected_version),
        );
    }
    insert_ids(&mut map, event.correlation_id, event.causation_id);
    map.extend(payload_to_object(&event.payload));
    map
}

fn insert_ids(map: &mut Map<String, Value>, correlation: Option<Uuid>, causation: Option<Uuid>) {
    if let Some(id) = correlation {
        map.insert("correlation_id".into(), Value::String(id.to_string()));
    }
    if let Some(id) = causation {
        map.insert("causation_id".into(), Value::String(id.to_string()));
    }
}

/// The JSON line of a recorded event (`log --json`, `export`, the HTTP API): `seq`, `event_id`,
/// `stream`, `version`, `recorded_at`, `hash`, `prev_hash`, then the staff JSON fields.
#[must_use]
pub fn recorded_to_object(event: &RecordedEvent) -> Map<String, Value> {
    let env = &event.envelope;
    let mut map = Map::new();
    map.insert("seq".into(), Value::from(event.sequence));
    map.insert("event_id".into(), Value::String(env.event_id.to_string()));
    map.insert("stream".into(), Value::String(env.stream.to_string()));
    map.insert("version".into(), Value::from(event.stream_version));
    map.insert(
        "recorded_at".into(),
        Value::String(env.recorded_at.to_string()),
    );
    map.insert("hash".into(), Value::String(to_hex(&event.hash)));
    map.insert("prev_hash".into(), Value::String(to_hex(&event.prev_hash)));
    map.insert("type".into(), Value::String(env.event_type.name().into()));
    map.insert("recorded_by".into(), Value::String(env.recorded_by.clone()));
    if let Some(source) = &env.source {
        map.insert("source".into(), Value::String(source.clone()));
    }
    insert_ids(&mut map, env.correlation_id, env.causation_id);
    map.extend(payload_to_object(&event.payload));
    map
}

/// Reads back a recorded event from its JSON line (`log --json`, `export`, the HTTP API). The
/// hashes are taken as written: check them with the ledger or a proof, not here.
///
/// # Errors
/// The first structural problem.
pub fn recorded_from_object(mut object: Map<String, Value>) -> Result<RecordedEvent, Violation> {
    let stream: String = required(&mut object, "stream")?;
    let stream: crate::Stream = stream.parse().map_err(|e: crate::stream::InvalidStream| {
        Violation::new("stream", Rule::InvalidValue, e)
    })?;
    let prev: String = required(&mut object, "prev_hash")?;
    let prev_hash = parse_hex(&prev)
        .ok_or_else(|| Violation::new("prev_hash", Rule::InvalidValue, quote_str(&prev)))?;
    let (event, recorded) = from_object(object, Mode::Export)?;
    let meta = recorded.ok_or_else(|| Violation::new("seq", Rule::MissingField, "absent"))?;
    let event_type = event.payload.event_type();
    Ok(RecordedEvent {
        sequence: meta.sequence,
        stream_version: meta.stream_version,
        envelope: crate::Envelope {
            event_id: event.event_id.unwrap_or_default(),
            stream,
            event_type,
            schema_version: event_type.schema_version(),
            recorded_by: event.recorded_by,
            recorded_at: meta.recorded_at,
            source: event.source,
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
        },
        payload: event.payload,
        prev_hash,
        hash: meta.hash,
    })
}
