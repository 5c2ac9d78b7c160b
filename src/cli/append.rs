//! `coopledger append FILE...`

use std::io::Write;
use std::path::PathBuf;

use super::exit::CliError;
use super::{Cli, input, open_for_writing};

/// Validates every file first, then appends each as one atomic batch, printing each receipt
/// once its batch is durable.
pub fn run(cli: &Cli, files: &[PathBuf], out: &mut impl Write) -> Result<(), CliError> {
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(CliError::invalid(
            "error: `-` (stdin) may be given only once",
        ));
    }
    let mut parsed = Vec::with_capacity(files.len());
    let mut problems = Vec::new();
    for path in files {
        let text = input::read(path)?;
        match input::parse(path, &text) {
            Ok(events) => parsed.push((path, events)),
            Err(lines) => problems.extend(lines),
        }
    }
    if !problems.is_empty() {
        return Err(CliError::invalid(problems.join("\n")));
    }
    let mut writable = open_for_writing(cli)?;
    for (path, events) in parsed {
        let lines: Vec<usize> = events.iter().map(|e| e.position.line).collect();
        let appended = writable
            .ledger
            .append(events.into_iter().map(|e| e.event).collect())
            .map_err(|e| input::ledger_error(&input::name(path), &lines, e));
        let receipts = match appended {
            Ok(receipts) => receipts,
            Err(e) => {
                writable.discard_if_unused();
                return Err(e);
            }
        };
        for receipt in receipts {
            let line =
                serde_json::to_string(&receipt).map_err(|e| CliError::invalid(e.to_string()))?;
            writeln!(out, "{line}")?;
        }
        out.flush()?;
    }
    Ok(())
}
