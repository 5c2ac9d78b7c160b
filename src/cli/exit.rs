//! Exit codes, the mapping of library errors to them, and errors as text or JSON.
//!
//! Exit codes: 0 success; 1 storage or internal failure (a ledger in use by another process
//! included); 2 invalid input or usage; 3 conflict; 4 verification failed; 5 not found (an
//! event, entity or country the ledger does not hold).
//!
//! An error is printed on stderr as lines of text; with `--json`, as one JSON document
//! `{"exit": CODE, "kind": KIND, "message": TEXT, "problems": [PROBLEM, …]}` where each problem
//! of the input is `{"file", "line", "column", "field", "rule", "value", "event_id"}` (absent
//! members omitted; `line` is a row of a spreadsheet, `column` its letter).

use coopledger::Error;
use coopledger::store::StoreError;
use proto_events::{Position, Rule, Violation};
use serde::Serialize;
use uuid::Uuid;

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
    /// What was asked for is not in the ledger.
    NotFound = 5,
}

impl Code {
    /// The kind named in a JSON error.
    pub fn kind(self) -> &'static str {
        match self {
            Code::Failure => "failure",
            Code::Invalid => "invalid",
            Code::Conflict => "conflict",
            Code::Verification => "verification_failed",
            Code::NotFound => "not_found",
        }
    }
}

/// The text of `--help` about exit codes (also in the README and the man page).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  storage or internal failure (including a ledger in use by another process)
  2  invalid input or usage
  3  conflict (expected version, event id reused with other content)
  4  verification failed
  5  not found (no such event, entity or country in the ledger)

With --json, an error is one JSON document on stderr:
  {\"exit\": 2, \"kind\": \"invalid\", \"message\": \"...\", \"problems\": [{\"file\", \"line\", \"column\", \"field\", \"rule\", \"value\"}, ...]}";

/// One problem of the input, where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The input (a file name, `<stdin>`), when it came from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The line (JSON) or row (spreadsheet), 1-based; 0 when unknown.
    pub line: usize,
    /// The spreadsheet column (`A`, `B`, …), for a sheet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The field path (a sheet's column header); empty for the event as a whole.
    pub field: String,
    /// The rule broken.
    pub rule: Rule,
    /// The offending value.
    pub value: String,
    /// The event's id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
}

impl Problem {
    /// A problem of `file` at `line` from a violation.
    pub fn of(file: Option<&str>, line: usize, v: &Violation) -> Self {
        Problem {
            file: file.map(str::to_owned),
            line,
            column: None,
            field: v.field.clone(),
            rule: v.rule,
            value: v.value.clone(),
            event_id: v.event_id,
        }
    }

    /// The line of a violation: its own, or from `lines` (an event's index in a batch → its
    /// line) when the ledger reported it.
    pub fn line_of(v: &Violation, lines: Option<&[usize]>) -> usize {
        match v.position {
            Some(Position { line, .. }) if line > 0 => line,
            Some(Position { index, .. }) => lines.and_then(|l| l.get(index)).copied().unwrap_or(0),
            None => 0,
        }
    }

    /// `FILE:LINE: field: rule (value)`, or `FILE:ROW:COLUMN: header: rule (value)` for a sheet.
    pub fn text(&self) -> String {
        let field = if self.field.is_empty() {
            "(event)"
        } else {
            &self.field
        };
        let place = match (&self.file, &self.column) {
            (Some(file), Some(column)) => format!("{file}:{}:{column}: ", self.line),
            (Some(file), None) => format!("{file}:{}: ", self.line),
            (None, _) => "error: ".to_owned(),
        };
        format!("{place}{field}: {} ({})", self.rule, self.value)
    }
}

/// An error to report on stderr with its exit code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: Code,
    /// What to print (one or more lines).
    pub message: String,
    /// The problems of the input, for `--json` (their text is in `message`).
    pub problems: Vec<Problem>,
}

impl CliError {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            problems: Vec::new(),
        }
    }

    /// Invalid input.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::Invalid, message)
    }

    /// Not in the ledger.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// The problems of an input, one line each, then `more` lines (hints, how far it got).
    pub fn problems(code: Code, problems: Vec<Problem>, more: &[String]) -> Self {
        let mut lines: Vec<String> = problems.iter().map(Problem::text).collect();
        lines.extend(more.iter().cloned());
        CliError {
            code,
            message: lines.join("\n"),
            problems,
        }
    }

    /// Adds a line after the message.
    pub fn and(mut self, line: &str) -> Self {
        if !self.message.is_empty() {
            self.message.push('\n');
        }
        self.message.push_str(line);
        self
    }

    /// An I/O failure writing output or reading input.
    pub fn io(what: &str, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`| head`): not a failure of ours.
            return Self::new(Code::Failure, String::new());
        }
        Self::new(Code::Failure, format!("error: {what}: {e}"))
    }

    /// The error as the JSON document `--json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "exit": self.code as u8,
            "kind": self.code.kind(),
            "message": self.message,
            "problems": self.problems,
        })
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::Invalid(_)
            | Error::Limit(_)
            | Error::BeyondHead { .. }
            | Error::BadArgument(_) => Code::Invalid,
            Error::NotFound(_) => Code::NotFound,
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
        match &e {
            Error::Invalid(v) | Error::Conflict(v) => {
                let message: Vec<String> = v.iter().map(|v| format!("error: {v}")).collect();
                return CliError {
                    code,
                    message: message.join("\n"),
                    problems: v
                        .iter()
                        .map(|v| Problem::of(None, Problem::line_of(v, None), v))
                        .collect(),
                };
            }
            _ => {}
        }
        let message = match &e {
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
        CliError::new(code, message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::io("writing output", &e)
    }
}
