//! Exit codes and the mapping of library errors to them.

use coopledger::Error;
use coopledger::store::StoreError;

/// The documented exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Storage or internal failure.
    Failure = 1,
    /// Invalid input or usage.
    Invalid = 2,
    /// Conflict.
    Conflict = 3,
    /// Verification failed.
    Verification = 4,
}

/// An error to report on stderr with its exit code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: Code,
    /// What to print (one or more lines).
    pub message: String,
}

impl CliError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    /// Invalid input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::Invalid, message)
    }

    /// An I/O failure writing output or reading input.
    pub fn io(what: &str, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`| head`): not a failure of ours.
            return Self::new(Code::Failure, String::new());
        }
        Self::new(Code::Failure, format!("error: {what}: {e}"))
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Invalid(_)
            | Error::Limit(_)
            | Error::NotFound(_)
            | Error::BeyondHead { .. }
            | Error::BadArgument(_) => Code::Invalid,
            Error::Conflict(_) => Code::Conflict,
            Error::Corrupt { .. }
            | Error::CorruptTree(_)
            | Error::CorruptCheckpoint { .. }
            | Error::CorruptView(_)
            | Error::ViewsDisagree(_) => Code::Verification,
            Error::Store(StoreError::Corrupt(_)) => Code::Verification,
            // A --db that names no ledger, or cannot name one, is a usage problem, not a
            // storage failure.
            Error::Store(StoreError::Missing(_) | StoreError::BadLocation { .. }) => Code::Invalid,
            _ => Code::Failure,
        };
        let message = match &e {
            Error::Invalid(v) | Error::Conflict(v) => v
                .iter()
                .map(|v| format!("error: {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            Error::Corrupt { seq, reason } => {
                format!("verification failed: record {seq} is corrupt: {reason}")
            }
            Error::CorruptTree(_)
            | Error::CorruptCheckpoint { .. }
            | Error::CorruptView(_)
            | Error::ViewsDisagree(_) => format!("verification failed: {e}"),
            Error::Store(StoreError::Missing(what)) if what.contains("coopledger schema") => {
                format!("error: {e}\nhint: create it with `coopledger --db URL init`")
            }
            Error::Store(StoreError::Missing(dir)) => format!(
                "error: {e}\nhint: create one with `coopledger --db {} init`, or pass --create",
                dir
            ),
            Error::Store(StoreError::InUse(_)) => format!(
                "error: {e}\nhint: if `coopledger serve` holds it, pass --server URL (or set COOPLEDGER_SERVER)"
            ),
            other => format!("error: {other}"),
        };
        CliError { code, message }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::io("writing output", &e)
    }
}
