//! Reading staff input (staff JSON, or a spreadsheet for a `.csv` file) and reporting its
//! problems as `FILE:LINE: field: rule (value)` (a sheet: `FILE:ROW:COLUMN: header: …`).

use std::io::Read;
use std::path::Path;

use coopledger::Error;
use proto_events::sheet::{self, column_letters, is_sheet_name};
use proto_events::staff::{Mode, parse_text};
use proto_events::values::today_utc;
use proto_events::{EventType, NewEvent, Rule, Violation};

use super::SheetArgs;
use super::exit::{CliError, Code, Problem};

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

/// Whether a path is read as a spreadsheet (its name ends in `.csv`; stdin is staff JSON).
pub fn is_sheet(path: &Path) -> bool {
    is_sheet_name(&path.to_string_lossy())
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, CliError> {
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
    Ok(bytes)
}

/// Reads a whole file (or stdin for `-`), refusing anything over the limit or not UTF-8.
pub fn read(path: &Path) -> Result<String, CliError> {
    let bytes = read_bytes(path)?;
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

/// A file's events, read and checked, with where each came from.
pub struct Parsed {
    /// The file's display name.
    pub file: String,
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// The line (JSON) or row (sheet) of each event.
    pub lines: Vec<usize>,
    /// A sheet's headers (to name the column of a problem the ledger finds).
    pub headers: Option<Vec<String>>,
}

/// The options of sheets: the type of rows without a `type` cell, the recorder of rows without
/// a `recorded_by` cell.
pub fn sheet_options(args: &SheetArgs) -> Result<sheet::Options, CliError> {
    let event_type = args
        .event_type
        .as_deref()
        .map(|t| EventType::from_name(t).ok_or_else(|| unknown_type(t)))
        .transpose()?;
    Ok(sheet::Options {
        event_type,
        recorded_by: args.recorded_by.clone(),
        today: today_utc(),
    })
}

/// The usage error for a type name that names no event type.
pub fn unknown_type(name: &str) -> CliError {
    let known: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
    CliError::invalid(format!(
        "error: unknown event type {name:?} (one of {})",
        known.join(", ")
    ))
}

/// Reads and checks one file: staff JSON, or a spreadsheet for a `.csv` name.
pub fn parse_file(path: &Path, args: &SheetArgs) -> Result<Parsed, CliError> {
    let file = name(path);
    if is_sheet(path) {
        let bytes = read_bytes(path)?;
        let rows = sheet::read_all(bytes.as_slice(), sheet_options(args)?)
            .map_err(|problems| sheet_error(&file, &problems))?;
        let headers = sheet::Sheet::open(bytes.as_slice(), sheet_options(args)?)
            .ok()
            .map(|s| s.headers().to_vec());
        return Ok(Parsed {
            file,
            lines: rows.iter().map(|r| r.row).collect(),
            events: rows.into_iter().map(|r| r.event).collect(),
            headers,
        });
    }
    let text = read(path)?;
    parse_file_text(path, &text)
}

/// Reads and checks a staff JSON text.
fn parse_file_text(path: &Path, text: &str) -> Result<Parsed, CliError> {
    let file = name(path);
    let parsed = parse_text(text, Mode::Staff, today_utc()).map_err(|violations| {
        let problems = violations
            .iter()
            .map(|v| Problem::of(Some(&file), Problem::line_of(v, None), v))
            .collect();
        let hint = violations
            .iter()
            .any(|v| v.rule == Rule::TooManyEvents)
            .then(|| "hint: `coopledger import` loads files of any size in batches".to_owned());
        CliError::problems(Code::Invalid, problems, hint.as_slice())
    })?;
    Ok(Parsed {
        file,
        lines: parsed.iter().map(|p| p.position.line).collect(),
        events: parsed.into_iter().map(|p| p.event).collect(),
        headers: None,
    })
}

/// A sheet's problems as a CLI error.
pub fn sheet_error(file: &str, problems: &[sheet::Problem]) -> CliError {
    let problems = problems
        .iter()
        .map(|p| Problem {
            file: Some(file.to_owned()),
            line: p.row,
            column: Some(p.column_name()),
            field: if p.header.is_empty() {
                "(row)".to_owned()
            } else {
                p.header.clone()
            },
            rule: p.violation.rule,
            value: p.violation.value.clone(),
            event_id: p.violation.event_id,
        })
        .collect();
    CliError::problems(Code::Invalid, problems, &[])
}

/// Several errors as one: every problem, every line.
pub fn merge(errors: Vec<CliError>) -> CliError {
    let code = if errors.iter().all(|e| e.code == Code::Conflict) {
        Code::Conflict
    } else {
        Code::Invalid
    };
    let mut merged = CliError::new(code, String::new());
    for e in errors {
        merged.problems.extend(e.problems);
        merged = merged.and(&e.message);
    }
    merged
}

/// A problem the ledger found in an event of a file's batch: `lines` maps the event's index to
/// its line or row, `headers` a field to a sheet's column.
pub fn ledger_problem(
    file: &str,
    lines: &[usize],
    headers: Option<&[String]>,
    v: &Violation,
) -> Problem {
    let mut problem = Problem::of(Some(file), Problem::line_of(v, Some(lines)), v);
    if let Some(headers) = headers {
        match sheet::column_of(headers, &v.field) {
            Some((column, header)) => {
                problem.column = Some(column_letters(column));
                problem.field = header.to_owned();
            }
            None => problem.column = Some("-".to_owned()),
        }
    }
    problem
}

/// Turns a ledger error for a file's batch into a CLI error in the staff format.
pub fn ledger_error(file: &str, lines: &[usize], headers: Option<&[String]>, e: Error) -> CliError {
    match e {
        Error::Invalid(v) | Error::Conflict(v) => {
            let code = if v.iter().all(|v| v.rule.is_conflict()) {
                Code::Conflict
            } else {
                Code::Invalid
            };
            let problems = v
                .iter()
                .map(|v| ledger_problem(file, lines, headers, v))
                .collect();
            CliError::problems(code, problems, &[])
        }
        Error::Limit(m) => CliError::invalid(format!("{file}: {m}")),
        other => CliError::from(other),
    }
}

/// `FILE:LINE: field: rule (value)` for a violation at a known line (`import`).
pub fn line_problem(file: &str, line: usize, v: &Violation) -> Problem {
    Problem::of(Some(file), line, v)
}

/// What the remote `append` sends for a file, once read and checked: the staff JSON text (a
/// sheet's rows as JSONL, each event on the line of its row, so that the server's line numbers
/// are the rows), and the line of each event.
pub fn request_body(
    path: &Path,
    args: &SheetArgs,
) -> Result<(std::path::PathBuf, String, Vec<usize>), CliError> {
    if !is_sheet(path) {
        let text = read(path)?;
        let parsed = parse_file_text(path, &text)?;
        return Ok((path.to_owned(), text, parsed.lines));
    }
    let parsed = parse_file(path, args)?;
    let mut text = String::new();
    let mut line = 1;
    for (event, row) in parsed.events.iter().zip(&parsed.lines) {
        while line < *row {
            text.push('\n');
            line += 1;
        }
        let object = serde_json::Value::Object(proto_events::staff::to_staff_object(event));
        text.push_str(&object.to_string());
        text.push('\n');
        line += 1;
    }
    Ok((path.to_owned(), text, parsed.lines))
}

/// `FILE:LINE: field: rule (value)`; `lines` maps an event's index to its line when the
/// violation came from the ledger (which only knows positions within the batch).
pub fn format_violation(file: &str, v: &Violation, lines: Option<&[usize]>) -> String {
    Problem::of(Some(file), Problem::line_of(v, lines), v).text()
}
