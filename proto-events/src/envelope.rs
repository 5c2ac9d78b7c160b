//! The envelope every event carries, the form staff submit (`NewEvent`) and the form the ledger
//! records (`RecordedEvent`).

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::events::{EventType, Payload};
use crate::stream::Stream;
use crate::values::Timestamp;

pub use crate::hash::Hash;

/// The stream version an append expects (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpectedVersion {
    /// No expectation (the default).
    #[default]
    Any,
    /// The stream must not exist yet.
    New,
    /// The stream must be at exactly this version.
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::New => f.write_str("new"),
            ExpectedVersion::Exact(v) => write!(f, "{v}"),
        }
    }
}

impl Serialize for ExpectedVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ExpectedVersion::Any => serializer.serialize_str("any"),
            ExpectedVersion::New => serializer.serialize_str("new"),
            ExpectedVersion::Exact(v) => serializer.serialize_u64(*v),
        }
    }
}

impl<'de> Deserialize<'de> for ExpectedVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct VersionVisitor;
        impl Visitor<'_> for VersionVisitor {
            type Value = ExpectedVersion;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""any", "new" or a stream version (an integer ≥ 1)"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExpectedVersion, E> {
                match v {
                    "any" => Ok(ExpectedVersion::Any),
                    "new" => Ok(ExpectedVersion::New),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ExpectedVersion, E> {
                if v == 0 {
                    Err(E::invalid_value(de::Unexpected::Unsigned(v), &self))
                } else {
                    Ok(ExpectedVersion::Exact(v))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ExpectedVersion, E> {
                u64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        deserializer.deserialize_any(VersionVisitor)
    }
}

/// An event as staff submit it: payload plus the envelope fields they may set.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event id; the ledger generates a UUIDv7 when `None`. Scripts that retry set it.
    pub event_id: Option<Uuid>,
    /// Staff identifier (1–64 characters).
    pub recorded_by: String,
    /// Where the fact comes from (URL or document reference, ≤ 2048 characters).
    pub source: Option<String>,
    /// Optimistic concurrency check on the event's stream.
    pub expected_version: ExpectedVersion,
    /// The id of the request or workflow this event belongs to.
    pub correlation_id: Option<Uuid>,
    /// The id of the event that caused this one.
    pub causation_id: Option<Uuid>,
    /// What happened.
    pub payload: Payload,
}

impl NewEvent {
    /// A new event with default envelope fields.
    #[must_use]
    pub fn new(recorded_by: impl Into<String>, payload: impl Into<Payload>) -> Self {
        NewEvent {
            event_id: None,
            recorded_by: recorded_by.into(),
            source: None,
            expected_version: ExpectedVersion::Any,
            correlation_id: None,
            causation_id: None,
            payload: payload.into(),
        }
    }

    /// Sets the event id (builder style).
    #[must_use]
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.event_id = Some(id);
        self
    }
}

/// The envelope of a recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Identity and idempotency key.
    pub event_id: Uuid,
    /// The stream (entity) it belongs to.
    pub stream: Stream,
    /// The event type.
    pub event_type: EventType,
    /// The schema version of the payload as stored (older versions are upcast on read, so a
    /// decoded event always holds today's shape; this field says what was on disk).
    pub schema_version: u8,
    /// Who recorded it.
    pub recorded_by: String,
    /// When the ledger recorded it (never decreases along the log).
    pub recorded_at: Timestamp,
    /// Where the fact comes from.
    pub source: Option<String>,
    /// Correlation id, if any.
    pub correlation_id: Option<Uuid>,
    /// Causation id, if any.
    pub causation_id: Option<Uuid>,
}

/// An event as the ledger recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    /// Global, gap-free position in the log, from 1.
    pub sequence: u64,
    /// Position within its stream, from 1.
    pub stream_version: u64,
    /// The envelope.
    pub envelope: Envelope,
    /// The payload, in today's shape.
    pub payload: Payload,
    /// The hash of the previous record (all zeros for sequence 1). Filled in by the ledger.
    pub prev_hash: Hash,
    /// This record's chained hash. Filled in by the ledger.
    pub hash: Hash,
}
