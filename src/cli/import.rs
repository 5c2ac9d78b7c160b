//! `coopledger import FILE...`: bulk loads of large JSONL files in big atomic batches.
//!
//! Lines are read as a stream, so files of millions of lines need no more memory than one
//! batch. A line without `event_id` gets one derived from its content (a UUIDv8 of the SHA-256
//! of the line), so rerunning an interrupted import skips everything already in: re-sending an
//! event the ledger holds returns its original receipt and writes nothing. Lines written by
//! `export` keep their recording time, and with `--verify-hashes` must reproduce their sequence
//! and hash exactly.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use coopledger::Ledger;
use coopledger::ledger::{Pending, Request};
use proto_events::staff::{Mode, import_line_id, parse_event};
use proto_events::values::today_utc;
use proto_events::{Position, Rule, Violation};

use super::exit::CliError;
use super::progress::Progress;
use super::{Cli, input, open_for_writing};

/// The longest line accepted (an event's text is at most 256 KiB).
const MAX_LINE: usize = 1024 * 1024;

#[derive(Default, serde::Serialize)]
struct Summary {
    lines: u64,
    new: u64,
    existing: u64,
    head: u64,
}

/// Imports every file in order.
pub fn run(
    cli: &Cli,
    files: &[PathBuf],
    batch: u64,
    verify_hashes: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut writable = open_for_writing(cli)?;
    let result = import_all(cli, &mut writable.ledger, files, batch, verify_hashes, out);
    if result.is_err() {
        writable.discard_if_unused();
    }
    result
}

fn import_all(
    cli: &Cli,
    ledger: &mut Ledger,
    files: &[PathBuf],
    batch: u64,
    verify_hashes: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut summary = Summary::default();
    let total: Option<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
        .sum();
    let mut progress = Progress::new("importing bytes", total, cli.quiet > 0);
    let mut bytes_done = 0u64;
    for path in files {
        let reader: Box<dyn Read> = if path == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(path).map_err(|e| {
                CliError::invalid(format!("error: cannot read {}: {e}", input::name(path)))
            })?)
        };
        let file = input::name(path);
        let mut lines = BufReader::with_capacity(1 << 20, reader);
        let mut pending = Vec::new();
        let mut line_numbers = Vec::new();
        let mut number = 0usize;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let read = lines
                .by_ref()
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| CliError::invalid(format!("error: cannot read {file}: {e}")))?;
            if read == 0 {
                break;
            }
            number += 1;
            bytes_done += read as u64;
            if buf.len() > MAX_LINE {
                return Err(stopped(
                    &file,
                    number,
                    &summary,
                    "(line)",
                    Rule::TooLarge,
                    "longer than 1 MiB",
                ));
            }
            let text = std::str::from_utf8(&buf).map_err(|_| {
                stopped(
                    &file,
                    number,
                    &summary,
                    "(line)",
                    Rule::Syntax,
                    "invalid UTF-8",
                )
            })?;
            // A byte-order mark is not JSON, but editors write it at the start of a file.
            let text = if number == 1 {
                text.strip_prefix('\u{feff}').unwrap_or(text)
            } else {
                text
            };
            if text.trim().is_empty() {
                continue;
            }
            summary.lines += 1;
            let (mut event, recorded) =
                parse_event(text, Mode::Export, today_utc()).map_err(|violations| {
                    let message = violations
                        .iter()
                        .map(|v| {
                            let mut v = v.clone();
                            v.position = Some(Position {
                                index: 0,
                                line: number,
                            });
                            input::format_violation(&file, &v, None)
                        })
                        .collect::<Vec<_>>()
                        .join("\n");
                    CliError::invalid(format!("{message}\n{}", done_so_far(&summary)))
                })?;
            if verify_hashes && recorded.is_none() {
                return Err(stopped(
                    &file,
                    number,
                    &summary,
                    "seq",
                    Rule::MissingField,
                    "--verify-hashes needs exported lines",
                ));
            }
            if event.event_id.is_none() {
                event.event_id = Some(import_line_id(text));
            }
            pending.push(Pending { event, recorded });
            line_numbers.push(number);
            if pending.len() as u64 >= batch {
                flush(
                    ledger,
                    &file,
                    &mut pending,
                    &mut line_numbers,
                    verify_hashes,
                    &mut summary,
                )?;
                progress.set(bytes_done, total);
            }
        }
        flush(
            ledger,
            &file,
            &mut pending,
            &mut line_numbers,
            verify_hashes,
            &mut summary,
        )?;
        progress.set(bytes_done, total);
    }
    progress.finish();
    summary.head = ledger.reader().head().seq;
    if cli.json {
        let line = serde_json::to_string(&summary).map_err(|e| CliError::invalid(e.to_string()))?;
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "imported {} lines: {} new events, {} already present; head {}",
            summary.lines, summary.new, summary.existing, summary.head
        )?;
    }
    Ok(())
}

fn flush(
    ledger: &mut coopledger::Ledger,
    file: &str,
    pending: &mut Vec<Pending>,
    lines: &mut Vec<usize>,
    verify_hashes: bool,
    summary: &mut Summary,
) -> Result<(), CliError> {
    if pending.is_empty() {
        return Ok(());
    }
    let head = ledger.reader().head().seq;
    let request = Request {
        events: std::mem::take(pending),
        verify_hashes,
    };
    let receipts = ledger.submit(request).map_err(|e| {
        let mut err = input::ledger_error(file, lines, e);
        err.message = format!("{}\n{}", err.message, done_so_far(summary));
        err
    })?;
    // Two identical lines without ids share one derived id: the second is the first's receipt
    // again, so a sequence counts as new only once.
    let mut seen = std::collections::HashSet::new();
    for receipt in receipts {
        if receipt.seq > head && seen.insert(receipt.seq) {
            summary.new += 1;
        } else {
            summary.existing += 1;
        }
    }
    lines.clear();
    Ok(())
}

fn done_so_far(summary: &Summary) -> String {
    format!(
        "import stopped: {} new events and {} already present were imported before this batch; \
         fix the line and rerun to continue",
        summary.new, summary.existing
    )
}

fn stopped(
    file: &str,
    line: usize,
    summary: &Summary,
    field: &str,
    rule: Rule,
    value: &str,
) -> CliError {
    let mut v = Violation::new(field, rule, value);
    v.position = Some(Position { index: 0, line });
    CliError::invalid(format!(
        "{}\n{}",
        input::format_violation(file, &v, None),
        done_so_far(summary)
    ))
}
