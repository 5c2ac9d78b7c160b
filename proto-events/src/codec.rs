//! The stored binary form: the only module that calls bincode.
//!
//! A stored event body is
//!
//! ```text
//! offset  size  field
//! 0       1     format version, FORMAT_VERSION (1)
//! 1       2     event type code, u16 big-endian (EventType::code)
//! 3       1     schema version of that event type
//! 4       n     bincode 2.0.1, configuration CONFIG, of the tuple
//!               (sequence u64, stream_version u64, envelope, payload)
//! ```
//!
//! `CONFIG` is bincode's `standard()` configuration (little-endian, variable-length integers)
//! with a decode limit, fixed forever for format version 1. `docs/format.md` in the repository
//! root spells out every field. Decoding checks the format version, refuses unknown types and
//! versions, upcasts old versions to today's shape, requires every byte to be consumed and never
//! panics: the ledger feeds it bytes read back from disk, which may be corrupt.

use std::fmt;

use bincode::config::{Configuration, LittleEndian, Varint};
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::envelope::{Envelope, RecordedEvent};
use crate::events::{
    ActivityCancelled, ActivityDelivered, ActivityScheduled, CaseClosed, CaseCountryAdded,
    CaseMilestoneRecorded, CaseOpened, EventCorrected, EventType, Fact, MeetingHeld, Payload,
};
use crate::stream::Stream;
use crate::upcast;
use crate::values::Timestamp;

/// The format version written in the first byte of every stored body.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the bincode part.
pub const HEADER_LEN: usize = 4;
/// The largest body the decoder accepts; bincode also refuses to allocate past it, so a corrupt
/// length prefix cannot make it reserve gigabytes.
pub const MAX_BODY_LEN: usize = 1 << 20;

type Config = Configuration<LittleEndian, Varint, bincode::config::Limit<MAX_BODY_LEN>>;
const CONFIG: Config = bincode::config::standard().with_limit::<MAX_BODY_LEN>();

/// Why stored bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the header.
    #[error("record too short: {len} bytes, the header alone is {HEADER_LEN}")]
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// Larger than any record this format allows.
    #[error("record too long: {len} bytes, at most {MAX_BODY_LEN}")]
    TooLong {
        /// Bytes given.
        len: usize,
    },
    /// A format version this build does not know.
    #[error("unknown record format version {0} (this build reads version {FORMAT_VERSION})")]
    FormatVersion(u8),
    /// An event type code this build does not know.
    #[error("unknown event type code {0}")]
    EventType(u16),
    /// A schema version of a known type that this build cannot read.
    #[error(
        "unsupported schema version {version} of {event_type} (this build reads 1..={current})"
    )]
    SchemaVersion {
        /// The type.
        event_type: EventType,
        /// The version found.
        version: u8,
        /// The newest version this build knows.
        current: u8,
    },
    /// The bincode part is malformed.
    #[error("malformed record body: {0}")]
    Body(String),
    /// Bytes were left over after the record.
    #[error("{extra} trailing bytes after the record")]
    Trailing {
        /// How many.
        extra: usize,
    },
}

/// Why an event could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// bincode refused the value.
    #[error("cannot encode event: {0}")]
    Bincode(String),
    /// The encoded body is larger than the format allows.
    #[error("encoded event is {len} bytes, at most {MAX_BODY_LEN}")]
    TooLong {
        /// Encoded size.
        len: usize,
    },
}

/// The envelope fields stored in the bincode part (type and schema version are in the header).
#[derive(Serialize, Deserialize)]
struct EnvelopeBin {
    event_id: Uuid,
    stream: Stream,
    recorded_by: String,
    #[serde(with = "crate::values::forms::timestamp")]
    recorded_at: Timestamp,
    source: Option<String>,
    correlation_id: Option<Uuid>,
    causation_id: Option<Uuid>,
}

/// Encodes everything of `event` except its hashes: the bytes the ledger hashes and stores.
///
/// # Errors
/// When bincode fails or the body would exceed [`MAX_BODY_LEN`].
pub fn encode_body(event: &RecordedEvent) -> Result<Vec<u8>, EncodeError> {
    let event_type = event.payload.event_type();
    let env = &event.envelope;
    let envelope = EnvelopeBin {
        event_id: env.event_id,
        stream: env.stream.clone(),
        recorded_by: env.recorded_by.clone(),
        recorded_at: env.recorded_at,
        source: env.source.clone(),
        correlation_id: env.correlation_id,
        causation_id: env.causation_id,
    };
    let mut out = Vec::with_capacity(512);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&event_type.code().to_be_bytes());
    out.push(event_type.schema_version());
    let body = (
        event.sequence,
        event.stream_version,
        envelope,
        PayloadRef(&event.payload),
    );
    let bytes = bincode::serde::encode_to_vec(&body, CONFIG)
        .map_err(|e| EncodeError::Bincode(e.to_string()))?;
    out.extend_from_slice(&bytes);
    if out.len() > MAX_BODY_LEN {
        return Err(EncodeError::TooLong { len: out.len() });
    }
    Ok(out)
}

/// Decodes a body written by [`encode_body`] (of this or an older schema version); the hashes of
/// the result are zero, for the caller to fill in from its framing.
///
/// # Errors
/// On any malformed, unknown or trailing input; never panics.
pub fn decode_body(bytes: &[u8]) -> Result<RecordedEvent, DecodeError> {
    if bytes.len() > MAX_BODY_LEN {
        return Err(DecodeError::TooLong { len: bytes.len() });
    }
    let (header, rest) = bytes
        .split_first_chunk::<HEADER_LEN>()
        .ok_or(DecodeError::TooShort { len: bytes.len() })?;
    let [format, code_hi, code_lo, version] = *header;
    if format != FORMAT_VERSION {
        return Err(DecodeError::FormatVersion(format));
    }
    let code = u16::from_be_bytes([code_hi, code_lo]);
    let event_type = EventType::from_code(code).ok_or(DecodeError::EventType(code))?;
    check_version(event_type, version)?;
    let seed = BodySeed {
        event_type,
        version,
    };
    let ((sequence, stream_version, env, payload), read) =
        bincode::serde::seed_decode_from_slice(seed, rest, CONFIG)
            .map_err(|e| DecodeError::Body(e.to_string()))?;
    if read != rest.len() {
        return Err(DecodeError::Trailing {
            extra: rest.len() - read,
        });
    }
    Ok(RecordedEvent {
        sequence,
        stream_version,
        envelope: Envelope {
            event_id: env.event_id,
            stream: env.stream,
            event_type,
            schema_version: version,
            recorded_by: env.recorded_by,
            recorded_at: env.recorded_at,
            source: env.source,
            correlation_id: env.correlation_id,
            causation_id: env.causation_id,
        },
        payload,
        prev_hash: [0; 32],
        hash: [0; 32],
    })
}

/// The leading fields of a stored body, enough to index it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    /// Event type, from the header.
    pub event_type: EventType,
    /// Stored schema version, from the header.
    pub schema_version: u8,
    /// Global sequence.
    pub sequence: u64,
    /// Stream version.
    pub stream_version: u64,
    /// Event id.
    pub event_id: Uuid,
    /// Stream.
    pub stream: Stream,
}

/// Decodes only the header and the leading fields (sequence, stream version, event id, stream)
/// of a body: what the ledger's catalogue needs of most records at open, at a fraction of the
/// cost of a full decode.
///
/// # Errors
/// On a malformed header or prefix.
pub fn decode_prefix(bytes: &[u8]) -> Result<Prefix, DecodeError> {
    let (event_type, schema_version) = peek_header(bytes)?;
    let rest = bytes.get(HEADER_LEN..).unwrap_or_default();
    let ((sequence, stream_version, event_id, stream), _): ((u64, u64, Uuid, Stream), usize) =
        bincode::serde::decode_from_slice(rest, CONFIG)
            .map_err(|e| DecodeError::Body(e.to_string()))?;
    Ok(Prefix {
        event_type,
        schema_version,
        sequence,
        stream_version,
        event_id,
        stream,
    })
}

/// Reads only the header of a body: its event type and stored schema version.
///
/// # Errors
/// Like [`decode_body`] for the header bytes.
pub fn peek_header(bytes: &[u8]) -> Result<(EventType, u8), DecodeError> {
    let [format, hi, lo, version, ..] = *bytes else {
        return Err(DecodeError::TooShort { len: bytes.len() });
    };
    if format != FORMAT_VERSION {
        return Err(DecodeError::FormatVersion(format));
    }
    let code = u16::from_be_bytes([hi, lo]);
    let event_type = EventType::from_code(code).ok_or(DecodeError::EventType(code))?;
    check_version(event_type, version)?;
    Ok((event_type, version))
}

fn check_version(event_type: EventType, version: u8) -> Result<(), DecodeError> {
    let current = event_type.schema_version();
    if version == 0 || version > current {
        return Err(DecodeError::SchemaVersion {
            event_type,
            version,
            current,
        });
    }
    Ok(())
}

/// Serialises a payload's struct alone (its type is in the header).
struct PayloadRef<'a>(&'a Payload);

impl Serialize for PayloadRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Payload::Fact(f) => FactStruct(f).serialize(s),
            Payload::Corrected(c) => (c.target, FactTagged(&c.replacement), &c.reason).serialize(s),
            Payload::Retracted(r) => r.serialize(s),
        }
    }
}

/// Serialises a fact's struct alone.
struct FactStruct<'a>(&'a Fact);

impl Serialize for FactStruct<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Fact::PartnerRegistered(e) => e.serialize(s),
            Fact::CountryJoined(e) => e.serialize(s),
            Fact::ParticipationChanged(e) => e.serialize(s),
            Fact::MeetingHeld(e) => e.serialize(s),
            Fact::ActivityScheduled(e) => e.serialize(s),
            Fact::ActivityDelivered(e) => e.serialize(s),
            Fact::ActivityCancelled(e) => e.serialize(s),
            Fact::CaseOpened(e) => e.serialize(s),
            Fact::CaseCountryAdded(e) => e.serialize(s),
            Fact::CaseMilestoneRecorded(e) => e.serialize(s),
            Fact::CaseClosed(e) => e.serialize(s),
        }
    }
}

/// A fact nested in a correction: `(type code u16, schema version u8, struct)`, so that a
/// replacement written today can still be upcast after its type gains a version.
struct FactTagged<'a>(&'a Fact);

impl Serialize for FactTagged<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let event_type = self.0.event_type();
        let mut tuple = s.serialize_tuple(3)?;
        tuple.serialize_element(&event_type.code())?;
        tuple.serialize_element(&event_type.schema_version())?;
        tuple.serialize_element(&FactStruct(self.0))?;
        tuple.end()
    }
}

/// Decodes `(sequence, stream_version, envelope, payload)` for a known type and version.
struct BodySeed {
    event_type: EventType,
    version: u8,
}

type Body = (u64, u64, EnvelopeBin, Payload);

impl<'de> DeserializeSeed<'de> for BodySeed {
    type Value = Body;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        d.deserialize_tuple(4, self)
    }
}

impl<'de> Visitor<'de> for BodySeed {
    type Value = Body;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stored event body")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Body, A::Error> {
        let sequence = next(&mut seq, "sequence")?;
        let stream_version = next(&mut seq, "stream_version")?;
        let envelope = next(&mut seq, "envelope")?;
        let payload = match self.event_type {
            EventType::EventCorrected => {
                let (target, FactOwned(replacement), reason): (Uuid, FactOwned, String) =
                    next(&mut seq, "payload")?;
                Payload::Corrected(EventCorrected {
                    target,
                    replacement,
                    reason,
                })
            }
            EventType::EventRetracted => Payload::Retracted(next(&mut seq, "payload")?),
            fact_type => Payload::Fact(next_fact(&mut seq, fact_type, self.version)?),
        };
        Ok((sequence, stream_version, envelope, payload))
    }
}

fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    what: &'static str,
) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom(format_args!("missing {what}")))
}

/// Reads the struct of a fact of the given type and stored version, upcast to today's shape.
fn next_fact<'de, A: SeqAccess<'de>>(
    seq: &mut A,
    event_type: EventType,
    version: u8,
) -> Result<Fact, A::Error> {
    let fact = match (event_type, version) {
        (EventType::PartnerRegistered, 1) => Fact::PartnerRegistered(next(seq, "payload")?),
        (EventType::CountryJoined, 1) => Fact::CountryJoined(next(seq, "payload")?),
        (EventType::ParticipationChanged, 1) => Fact::ParticipationChanged(next(seq, "payload")?),
        (EventType::MeetingHeld, 1) => Fact::MeetingHeld(next::<_, MeetingHeld>(seq, "payload")?),
        (EventType::ActivityScheduled, 1) => {
            Fact::ActivityScheduled(next::<_, ActivityScheduled>(seq, "payload")?)
        }
        (EventType::ActivityDelivered, 1) => {
            Fact::ActivityDelivered(next::<_, upcast::ActivityDeliveredV1>(seq, "payload")?.into())
        }
        (EventType::ActivityDelivered, 2) => {
            Fact::ActivityDelivered(next::<_, ActivityDelivered>(seq, "payload")?)
        }
        (EventType::ActivityCancelled, 1) => {
            Fact::ActivityCancelled(next::<_, ActivityCancelled>(seq, "payload")?)
        }
        (EventType::CaseOpened, 1) => Fact::CaseOpened(next::<_, CaseOpened>(seq, "payload")?),
        (EventType::CaseCountryAdded, 1) => {
            Fact::CaseCountryAdded(next::<_, CaseCountryAdded>(seq, "payload")?)
        }
        (EventType::CaseMilestoneRecorded, 1) => {
            Fact::CaseMilestoneRecorded(next::<_, CaseMilestoneRecorded>(seq, "payload")?)
        }
        (EventType::CaseClosed, 1) => Fact::CaseClosed(next::<_, CaseClosed>(seq, "payload")?),
        (other, version) => {
            return Err(de::Error::custom(format_args!(
                "no decoder for {other} schema version {version}"
            )));
        }
    };
    Ok(fact)
}

/// The decoding side of [`FactTagged`].
struct FactOwned(Fact);

impl<'de> Deserialize<'de> for FactOwned {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FactVisitor;
        impl<'de> Visitor<'de> for FactVisitor {
            type Value = FactOwned;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tagged fact")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FactOwned, A::Error> {
                let code: u16 = next(&mut seq, "type code")?;
                let version: u8 = next(&mut seq, "schema version")?;
                let event_type = EventType::from_code(code)
                    .filter(|t| t.is_fact())
                    .ok_or_else(|| {
                        de::Error::custom(format_args!("not a fact type code: {code}"))
                    })?;
                check_version(event_type, version).map_err(de::Error::custom)?;
                next_fact(&mut seq, event_type, version).map(FactOwned)
            }
        }
        d.deserialize_tuple(3, FactVisitor)
    }
}

/// Encodes a value of one of this crate's shapes with the stored configuration, for tests
/// (golden vectors of nested enums) and for fixtures of older versions.
///
/// # Errors
/// When bincode refuses the value.
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    bincode::serde::encode_to_vec(value, CONFIG).map_err(|e| EncodeError::Bincode(e.to_string()))
}

/// Decodes a value encoded by [`encode_value`], requiring every byte to be consumed. Used by the
/// ledger for its own stored structures (views), so that bincode stays in this one module.
///
/// # Errors
/// On malformed or trailing input; never panics.
pub fn decode_value<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, read): (T, usize) = bincode::serde::decode_from_slice(bytes, CONFIG)
        .map_err(|e| DecodeError::Body(e.to_string()))?;
    if read != bytes.len() {
        return Err(DecodeError::Trailing {
            extra: bytes.len() - read,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_headers_are_refused_by_name() {
        assert_eq!(decode_body(&[]), Err(DecodeError::TooShort { len: 0 }));
        assert_eq!(
            decode_body(&[9, 0, 1, 1]),
            Err(DecodeError::FormatVersion(9))
        );
        assert_eq!(decode_body(&[1, 0, 99, 1]), Err(DecodeError::EventType(99)));
        assert!(matches!(
            decode_body(&[1, 0, 1, 7]),
            Err(DecodeError::SchemaVersion { version: 7, .. })
        ));
        assert!(matches!(
            decode_body(&[1, 0, 1, 1, 0xff]),
            Err(DecodeError::Body(_))
        ));
    }
}
