//! The library's one error type. Domain rejections (invalid input, conflicts) are distinct from
//! storage faults and integrity failures, so callers map them to distinct exit codes and HTTP
//! statuses.

use proto_events::codec::EncodeError;
use proto_events::{Rule, Violation};

use crate::store::StoreError;

/// Anything the ledger can refuse or fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input breaks intrinsic or contextual rules; nothing was written.
    #[error("{} invalid: {}", plural(.0.len(), "rule"), list(.0))]
    Invalid(Vec<Violation>),
    /// The input conflicts with what is recorded (expected version, reused event id); nothing
    /// was written.
    #[error("conflict: {}", list(.0))]
    Conflict(Vec<Violation>),
    /// A limit was exceeded; nothing was written.
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// Something asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A point of history the ledger has not reached: an as-of sequence or tree size above the
    /// head, a recording time in the future. Nothing is computed for it (an answer for the head
    /// would be wrong once the log grows).
    #[error("{what} is beyond the head: the log holds {head} records")]
    BeyondHead {
        /// What was asked for, in words ("as of sequence 99999").
        what: String,
        /// The head's sequence.
        head: u64,
    },
    /// An argument that cannot be used (a checkpoint text that does not parse, a key of the
    /// wrong kind); nothing was done.
    #[error("{0}")]
    BadArgument(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored record failed its integrity checks.
    #[error("record {seq} is corrupt: {reason}")]
    Corrupt {
        /// Its sequence.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A stored view value is unreadable (views can be rebuilt from the log).
    #[error("stored view is corrupt ({0}); run `coopledger rebuild`")]
    CorruptView(String),
    /// The stored Merkle tiles are missing or malformed.
    #[error("the stored Merkle tree is damaged: {0}")]
    CorruptTree(String),
    /// A checkpoint the ledger stored does not parse.
    #[error("the stored checkpoint of {size} records is damaged: {reason}")]
    CorruptCheckpoint {
        /// Its tree size (its key).
        size: u64,
        /// What is wrong.
        reason: String,
    },
    /// Signing a checkpoint failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// An invariant of the ledger's own code does not hold: a bug, reported, never a wrong
    /// answer.
    #[error("internal error (a bug in coopledger): {0}")]
    Internal(String),
    /// An earlier write or sync failed; the handle refuses writes until the ledger is reopened.
    #[error("ledger is poisoned by an earlier storage failure ({0}); reopen it")]
    Poisoned(String),
    /// The ledger was opened read-only (to be checked, or as a read-only node): it writes nothing.
    #[error("the ledger is open read-only: it writes nothing")]
    ReadOnly,
    /// The stored views disagree with the log they were folded from (or with their digest):
    /// they were changed outside the ledger.
    #[error("the stored views disagree with the log: {0}")]
    ViewsDisagree(String),
    /// The writer has stopped (the ledger was closed or shut down).
    #[error("ledger is closed")]
    Closed,
    /// An event could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl Error {
    /// Builds the error for a list of violations: a conflict when every one is a conflict,
    /// else invalid input (which has to be fixed first).
    #[must_use]
    pub fn from_violations(violations: Vec<Violation>) -> Self {
        if !violations.is_empty() && violations.iter().all(|v| v.rule.is_conflict()) {
            Error::Conflict(violations)
        } else {
            Error::Invalid(violations)
        }
    }

    /// The violations, for `Invalid` and `Conflict`.
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        match self {
            Error::Invalid(v) | Error::Conflict(v) => v,
            _ => &[],
        }
    }

    /// Whether a violation of `rule` is among them.
    #[must_use]
    pub fn has_rule(&self, rule: Rule) -> bool {
        self.violations().iter().any(|v| v.rule == rule)
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn list(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
