//! What the benchmarks share: the size scale and the typical workload with its stored frames.

use coopledger::ledger::frame::{chain_hash, frame};
use coopledger::proto_events::codec::encode_body;
use coopledger::proto_events::{Envelope, NewEvent, RecordedEvent, Timestamp};
use coopledger::synth::Synth;
use uuid::Uuid;

/// `n` scaled by `COOPLEDGER_BENCH_SCALE` (`0.1` for a quick look), at least 64.
pub fn scale(n: usize) -> usize {
    let factor: f64 = std::env::var("COOPLEDGER_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((n as f64 * factor) as usize).max(64)
}

/// One record of the workload as a baseline stores it.
#[derive(Clone)]
#[allow(
    dead_code,
    reason = "each benchmark reads the columns its baseline stores: raw sled and SQLite the frame only"
)]
pub struct Stored {
    pub id: Uuid,
    pub stream: String,
    /// The record frame, byte for byte the ledger's.
    pub frame: Vec<u8>,
}

/// `n` typical events (each starts its own stream) and their records, chained as the ledger
/// would store them from sequence 1.
pub fn workload(n: usize, seed: u64) -> (Vec<NewEvent>, Vec<Stored>) {
    let mut synth = Synth::new(seed);
    let events: Vec<NewEvent> = (0..n).map(|_| synth.activity()).collect();
    let mut prev = [0u8; 32];
    let stored = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let seq = i as u64 + 1;
            let stream = e.payload.stream().expect("facts have streams");
            let recorded = RecordedEvent {
                sequence: seq,
                stream_version: 1,
                envelope: Envelope {
                    event_id: e.event_id.unwrap_or_default(),
                    stream: stream.clone(),
                    event_type: e.payload.event_type(),
                    schema_version: e.payload.event_type().schema_version(),
                    recorded_by: e.recorded_by.clone(),
                    recorded_at: Timestamp::now(),
                    source: e.source.clone(),
                    correlation_id: None,
                    causation_id: None,
                },
                payload: e.payload.clone(),
                prev_hash: prev,
                hash: [0; 32],
            };
            let body = encode_body(&recorded).expect("encode");
            let hash = chain_hash(&prev, seq, &body);
            let frame = frame(&hash, &prev, &body);
            prev = hash;
            Stored {
                id: recorded.envelope.event_id,
                stream: stream.to_string(),
                frame,
            }
        })
        .collect();
    (events, stored)
}
