//! Reading staff files and reporting their problems as `FILE:LINE: field: rule (value)`.

use std::io::Read;
use std::path::Path;

use coopledger::Error;
use proto_events::Rule;
use proto_events::staff::{Mode, ParsedEvent, parse_text};
use proto_events::values::today_utc;
use proto_events::{Position, Violation};

use super::exit::{CliError, Code};

/// The largest file `append` reads (bigger loads belong to `import`).
pub const MAX_APPEND_FILE: u64 = 256 * 1024 * 1024;

/// The display name of an input (`-` is stdin).
pub fn name(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Reads a whole file (or stdin for `-`), refusing anything over the limit or not UTF-8.
pub fn read(path: &Path) -> Result<String, CliError> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin()
            .lock()
            .take(MAX_APPEND_FILE + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_APPEND_FILE + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| CliError::invalid(format!("error: cannot read {}: {e}", name(path))))?;
    if bytes.len() as u64 > MAX_APPEND_FILE {
        return Err(CliError::invalid(format!(
            "error: {} is larger than {MAX_APPEND_FILE} bytes; use `coopledger import` for bulk loads",
            name(path)
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e
            .as_bytes()
            .get(..offset)
            .map_or(1, |b| b.iter().filter(|c| **c == b'\n').count() + 1);
        CliError::invalid(format!(
            "{}:{line}: (file): syntax (invalid UTF-8 at byte {offset})",
            name(path)
        ))
    })
}

/// Parses and validates a staff text.
pub fn parse(path: &Path, text: &str) -> Result<Vec<ParsedEvent>, Vec<String>> {
    parse_text(text, Mode::Staff, today_utc()).map_err(|violations| {
        let mut lines: Vec<String> = violations
            .iter()
            .map(|v| format_violation(&name(path), v, None))
            .collect();
        if violations.iter().any(|v| v.rule == Rule::TooManyEvents) {
            lines.push("hint: `coopledger import` loads files of any size in batches".into());
        }
        lines
    })
}

/// `FILE:LINE: field: rule (value)`; `lines` maps an event's index to its line when the
/// violation came from the ledger (which only knows positions within the batch).
pub fn format_violation(file: &str, v: &Violation, lines: Option<&[usize]>) -> String {
    let line = match v.position {
        Some(Position { line, .. }) if line > 0 => line,
        Some(Position { index, .. }) => lines.and_then(|l| l.get(index)).copied().unwrap_or(0),
        None => 0,
    };
    let field = if v.field.is_empty() {
        "(event)"
    } else {
        &v.field
    };
    format!("{file}:{line}: {field}: {} ({})", v.rule, v.value)
}

/// Turns a ledger error for a file's batch into a CLI error in the staff format.
pub fn ledger_error(file: &str, lines: &[usize], e: Error) -> CliError {
    match e {
        Error::Invalid(v) | Error::Conflict(v) => {
            let code = if v.iter().all(|v| v.rule.is_conflict()) {
                Code::Conflict
            } else {
                Code::Invalid
            };
            let message = v
                .iter()
                .map(|v| format_violation(file, v, Some(lines)))
                .collect::<Vec<_>>()
                .join("\n");
            CliError::new(code, message)
        }
        Error::Limit(m) => CliError::invalid(format!("{file}: {m}")),
        other => CliError::from(other),
    }
}
