//! `coopledger append FILE...`: staff JSON files and spreadsheets (`.csv`).

use std::io::Write;
use std::path::PathBuf;

use super::exit::CliError;
use super::{Cli, SheetArgs, input, open_for_writing};

/// Validates every file first (every problem of every file is reported, and nothing is
/// appended if there is one), then appends each as one atomic batch, printing each receipt once
/// its batch is durable.
pub fn run(
    cli: &Cli,
    files: &[PathBuf],
    sheet: &SheetArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(CliError::invalid(
            "error: `-` (stdin) may be given only once",
        ));
    }
    let mut parsed = Vec::with_capacity(files.len());
    let mut refused = Vec::new();
    for path in files {
        match input::parse_file(path, sheet) {
            Ok(file) => parsed.push(file),
            Err(e) => refused.push(e),
        }
    }
    if !refused.is_empty() {
        return Err(input::merge(refused));
    }
    let mut writable = open_for_writing(cli)?;
    for file in parsed {
        let appended = writable
            .ledger
            .append(file.events)
            .map_err(|e| input::ledger_error(&file.file, &file.lines, file.headers.as_deref(), e));
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
