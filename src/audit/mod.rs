//! Auditor-grade evidence built on the ledger's public reading API: signed checkpoints,
//! receipts, and the signing of checkpoints consistent with the last one.
//!
//! The hash chain proves the log to whoever replays all of it; the Merkle tree (kept by the
//! ledger in the same groups as the records, `ledger::tiles`; its math in [`crate::merkle`])
//! gives short proofs of single events, and signed checkpoints detect a history rewritten
//! between two of them.

pub mod checkpoint;
pub mod file;
pub mod receipt;
pub mod sign;
