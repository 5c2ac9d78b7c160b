//! A receipt bundle: an event, its stored bytes, its inclusion proof and a signed checkpoint of
//! the tree the proof is for. A third party checks it with the log's public key alone.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proto_events::codec::decode_body;
use proto_events::hash::to_hex;
use proto_events::staff::{recorded_from_object, recorded_to_object};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::checkpoint::{CheckpointBody, PublicKey, parse_unverified};
use crate::error::Error;
use crate::ledger::Reader;
use crate::ledger::frame::chain_hash;
use crate::merkle::{InclusionProof, leaf_hash};

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The event, as its `log --json` line.
    pub event: Map<String, Value>,
    /// The record body (the Merkle leaf), base64.
    pub record: String,
    /// The inclusion proof of the leaf in the checkpoint's tree.
    pub proof: InclusionProof,
    /// The signed checkpoint (C2SP signed note).
    pub checkpoint: String,
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
        event: recorded_to_object(&event),
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
/// checkpoint's tree, that the leaf is the record, that the proof holds, and that the event is
/// what the record says (its hash chained over the record too). Returns the checkpoint.
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
    let body = STANDARD
        .decode(&receipt.record)
        .map_err(|e| fail(format!("record is not base64: {e}")))?;
    if leaf_hash(&body) != proof.leaf_hash {
        return Err(fail("the leaf hash is not the hash of the record".into()));
    }
    proof.verify().map_err(|e| fail(e.to_string()))?;
    let decoded = decode_body(&body).map_err(|e| fail(format!("record does not decode: {e}")))?;
    let event =
        recorded_from_object(receipt.event.clone()).map_err(|v| fail(format!("event: {v}")))?;
    if decoded.sequence != proof.leaf_index + 1 {
        return Err(fail(format!(
            "the record is sequence {}, the proof is for leaf {}",
            decoded.sequence, proof.leaf_index
        )));
    }
    let same = decoded.sequence == event.sequence
        && decoded.stream_version == event.stream_version
        && decoded.envelope.event_id == event.envelope.event_id
        && decoded.envelope.stream == event.envelope.stream
        && decoded.envelope.recorded_by == event.envelope.recorded_by
        && decoded.envelope.recorded_at == event.envelope.recorded_at
        && decoded.envelope.source == event.envelope.source
        && decoded.envelope.correlation_id == event.envelope.correlation_id
        && decoded.envelope.causation_id == event.envelope.causation_id
        && decoded.envelope.event_type == event.envelope.event_type
        && decoded.payload == event.payload;
    if !same {
        return Err(fail("the event differs from the record".into()));
    }
    if chain_hash(&event.prev_hash, event.sequence, &body) != event.hash {
        return Err(fail(
            "the event's chained hash does not match the record".into(),
        ));
    }
    Ok(checkpoint)
}
