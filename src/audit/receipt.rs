//! A receipt bundle: an event, its stored bytes, its inclusion proof and a signed checkpoint of
//! the tree the proof is for. A third party checks it with the log's public key alone.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use proto_events::RecordedEvent;
use proto_events::codec::decode_body;
use proto_events::hash::to_hex;
use proto_events::staff::recorded_to_object;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::checkpoint::{CheckpointBody, PublicKey, parse_unverified};
use crate::error::Error;
use crate::ledger::Reader;
use crate::merkle::{InclusionProof, leaf_hash};

/// Standard base64 with its padding required and its unused bits zero: one text per record.
const CANONICAL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The event, as its `log --json` line without `hash` and `prev_hash` (see
    /// [`UNPROVEN_FIELDS`]).
    pub event: Map<String, Value>,
    /// The record body (the Merkle leaf), base64.
    pub record: String,
    /// The inclusion proof of the leaf in the checkpoint's tree.
    pub proof: InclusionProof,
    /// The signed checkpoint (C2SP signed note).
    pub checkpoint: String,
}

/// The fields of an event's `log --json` line that a receipt leaves out: the record's chained
/// hash covers the previous record's hash, which neither the record nor the inclusion proof
/// proves, so a receipt cannot bind them and does not show them.
pub const UNPROVEN_FIELDS: [&str; 2] = ["hash", "prev_hash"];

/// The event a receipt shows for a record body: its `log --json` line without the
/// [`UNPROVEN_FIELDS`], every other field decoded from the body itself.
fn shown_event(record: &RecordedEvent) -> Map<String, Value> {
    let mut object = recorded_to_object(record);
    for field in UNPROVEN_FIELDS {
        object.remove(field);
    }
    object
}

/// A receipt for an event under a signed checkpoint (whose tree must include the event).
///
/// # Errors
/// [`Error::NotFound`] for an unknown event; [`Error::BadArgument`] when the checkpoint does
/// not parse or its tree does not include the event.
pub fn build(reader: &Reader, event_id: &Uuid, checkpoint: &str) -> Result<Receipt, Error> {
    let event = reader
        .get(event_id)?
        .ok_or_else(|| Error::NotFound(format!("event {event_id}")))?;
    let body = parse_unverified(checkpoint)
        .map_err(|e| Error::BadArgument(format!("the checkpoint: {e}")))?;
    if body.size < event.sequence {
        return Err(Error::BadArgument(format!(
            "the checkpoint's tree of {} records does not include record {}",
            body.size, event.sequence
        )));
    }
    let proof = reader.inclusion_proof(event.sequence, Some(body.size))?;
    let record = STANDARD.encode(reader.record_body(event.sequence)?);
    Ok(Receipt {
        event: shown_event(&event),
        record,
        proof,
        checkpoint: checkpoint.to_owned(),
    })
}

/// Why a receipt does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("receipt rejected: {0}")]
pub struct ReceiptError(pub String);

/// Checks every link of a receipt: the checkpoint's signature, that the proof is for the
/// checkpoint's tree, that the leaf is the record, that the proof holds, that the record is the
/// proof's leaf, and that the event shown is exactly what the record holds (every field, no
/// other field). Returns the checkpoint.
///
/// # Errors
/// [`ReceiptError`] naming the first link that fails.
pub fn verify(receipt: &Receipt, key: &PublicKey) -> Result<CheckpointBody, ReceiptError> {
    let fail = |why: String| ReceiptError(why);
    let checkpoint = key
        .open(&receipt.checkpoint)
        .map_err(|e| fail(e.to_string()))?;
    let proof = &receipt.proof;
    if proof.tree_size != checkpoint.size || proof.root != checkpoint.root {
        return Err(fail(format!(
            "the proof is for a tree of {} leaves with root {}, the checkpoint signs {} leaves with root {}",
            proof.tree_size,
            to_hex(&proof.root),
            checkpoint.size,
            to_hex(&checkpoint.root)
        )));
    }
    let body = CANONICAL
        .decode(&receipt.record)
        .map_err(|e| fail(format!("record is not base64: {e}")))?;
    if leaf_hash(&body) != proof.leaf_hash {
        return Err(fail("the leaf hash is not the hash of the record".into()));
    }
    proof.verify().map_err(|e| fail(e.to_string()))?;
    let decoded = decode_body(&body).map_err(|e| fail(format!("record does not decode: {e}")))?;
    if decoded.sequence != proof.leaf_index + 1 {
        return Err(fail(format!(
            "the record is sequence {}, the proof is for leaf {}",
            decoded.sequence, proof.leaf_index
        )));
    }
    if let Some(field) = UNPROVEN_FIELDS
        .iter()
        .find(|f| receipt.event.contains_key(**f))
    {
        return Err(fail(format!(
            "the event shows `{field}`, which no inclusion proof proves (the record's chained hash \
             covers the previous record's); make a new receipt with `coopledger receipt`"
        )));
    }
    let expected = shown_event(&decoded);
    if let Some(field) = first_difference(&receipt.event, &expected) {
        return Err(fail(format!(
            "the event's `{field}` is not what the record holds"
        )));
    }
    Ok(checkpoint)
}

/// The first field (in the record's order, then the receipt's) whose value differs, or that
/// only one of the two objects has.
fn first_difference<'a>(
    shown: &'a Map<String, Value>,
    record: &'a Map<String, Value>,
) -> Option<&'a str> {
    record
        .iter()
        .find(|(k, v)| shown.get(*k) != Some(*v))
        .map(|(k, _)| k.as_str())
        .or_else(|| {
            shown
                .keys()
                .find(|k| !record.contains_key(*k))
                .map(String::as_str)
        })
}
