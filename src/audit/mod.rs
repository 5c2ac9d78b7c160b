//! Auditor-grade proofs: an RFC 6962 Merkle tree over the log, kept in tiles in the same atomic
//! batches as the records; inclusion and consistency proofs; signed checkpoints; receipts.
//!
//! The hash chain proves the log to whoever replays all of it; the tree gives short proofs of
//! single events and detects a history rewritten between two signed checkpoints.

pub mod checkpoint;
mod ops;
pub mod proof;
pub mod receipt;
pub mod tiles;
