//! Reading an event from its JSON object: the envelope, the payload, and (for exported lines)
//! what the ledger recorded.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::messages::{classify, classify_message, parse_error, quote, quote_str};
use super::strict::Strict;
use super::{MAX_EVENT_TEXT, Mode, RecordedMeta};
use crate::envelope::{ExpectedVersion, NewEvent, RecordedEvent};
use crate::events::{EventCorrected, EventRetracted, EventType, Fact, Payload};
use crate::hash::parse_hex;
use crate::validate::{Rule, Violation, validate};
use crate::values::Date;

/// Fields the ledger adds when it writes a recorded event (`log --json`, `export`).
const RECORDED_FIELDS: [&str; 6] = [
    "seq",
    "stream",
    "version",
    "recorded_at",
    "prev_hash",
    "hash",
];

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
    let parsed = serde_path_to_error::deserialize::<_, Strict>(&mut de)
        .map_err(|e| vec![parse_error(&e.path().to_string(), e.inner().to_string())])?;
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
