//! `coopledger import FILE...`: bulk loads of large JSONL files and spreadsheets in big atomic
//! batches, and `import --check`, which validates them whole and appends nothing.
//!
//! Lines and rows are read as a stream, so files of millions of lines need no more memory than
//! one batch (a check appends to a scratch layer on disk, to judge each batch after the ones
//! before it). A
//! JSONL line without `event_id` gets one derived from its content (a UUIDv8 of the SHA-256 of
//! the line), a spreadsheet row one derived from its cells, so rerunning an interrupted import
//! skips everything already in: re-sending an event the ledger holds returns its original
//! receipt and writes nothing. Lines written by `export` keep their recording time, and with
//! `--verify-hashes` must reproduce their sequence and hash exactly.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use coopledger::Ledger;
use coopledger::ledger::{Pending, Request};
use proto_events::sheet::{self, Sheet};
use proto_events::staff::{Mode, import_line_id, parse_event};
use proto_events::values::today_utc;
use proto_events::{Rule, Violation};

use super::exit::{CliError, Code, Problem};
use super::progress::{Progress, grouped};
use super::{Cli, SheetArgs, input, open_for_writing};

/// The longest line accepted (an event's text is at most 256 KiB).
const MAX_LINE: usize = 1024 * 1024;

/// What `import` was asked for.
pub struct Options<'a> {
    pub files: &'a [PathBuf],
    pub batch: u64,
    pub verify_hashes: bool,
    pub check: bool,
    pub sheet: &'a SheetArgs,
}

#[derive(Default, serde::Serialize)]
struct Summary {
    lines: u64,
    new: u64,
    existing: u64,
    head: u64,
}

/// Imports every file in order, or with `--check` validates them all and appends nothing.
pub fn run(cli: &Cli, options: &Options<'_>, out: &mut impl Write) -> Result<(), CliError> {
    if options.check {
        return check(cli, options, out);
    }
    let mut writable = open_for_writing(cli)?;
    let result = import_all(cli, &mut writable.ledger, options, out);
    if result.is_err() {
        writable.discard_if_unused();
    }
    result
}

fn import_all(
    cli: &Cli,
    ledger: &mut Ledger,
    options: &Options<'_>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut summary = Summary::default();
    let mut batches = Batches::new(cli, options, false)?;
    while let Some(request) = batches.next() {
        let Some(meta) = batches.metas.last() else {
            break;
        };
        summary.lines += request.events.len() as u64;
        let head = ledger.reader().head().seq;
        let receipts = ledger.submit(request).map_err(|e| {
            input::ledger_error(&meta.file, &meta.lines, meta.headers.as_deref(), e)
                .and(&done_so_far(&summary))
        })?;
        count(&receipts, head, &mut summary);
        batches.report();
    }
    if let Some(e) = batches.failed.take() {
        return Err(e.and(&done_so_far(&summary)));
    }
    if !batches.problems.is_empty() {
        let problems = std::mem::take(&mut batches.problems);
        return Err(CliError::problems(
            Code::Invalid,
            problems,
            &[done_so_far(&summary)],
        ));
    }
    batches.progress.finish();
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

/// `import --check`: every batch is appended as its import would be, but to a scratch layer
/// over the ledger that is thrown away ([`Ledger::open_scratch`]): each batch is judged after
/// the ones before it that passed, every rule applied (contextual ones against the ledger
/// included), every problem of every line is reported, and nothing is appended to the ledger.
/// What a batch adds goes to the scratch store on disk, so a file of any length is checked in
/// bounded memory.
fn check(cli: &Cli, options: &Options<'_>, out: &mut impl Write) -> Result<(), CliError> {
    let (mut ledger, scratch) = match Ledger::open_scratch(&cli.location()).map_err(CliError::from)
    {
        Ok(ledger) => (ledger, None),
        // `--create`: the file is checked as its import into a new, empty ledger would be.
        Err(e) if cli.create && e.code == Code::Invalid => {
            let dir = std::env::temp_dir().join(format!(
                "coopledger-check-{}-{}",
                std::process::id(),
                uuid::Uuid::now_v7()
            ));
            (Ledger::create(&dir)?, Some(dir))
        }
        Err(e) => return Err(e),
    };
    let result = check_against(cli, &mut ledger, options, out);
    drop(ledger);
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

fn check_against(
    cli: &Cli,
    ledger: &mut Ledger,
    options: &Options<'_>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let head = ledger.reader().head().seq;
    let mut batches = Batches::new(cli, options, true)?;
    let mut valid = 0;
    let mut problems = Vec::new();
    let mut others = Vec::new();
    while let Some(request) = batches.next() {
        // Taken, not kept: a check holds one batch's lines at a time.
        let Some(meta) = batches.metas.pop() else {
            break;
        };
        match ledger.submit(request) {
            Ok(receipts) => valid += receipts.len() as u64,
            Err(e) => {
                let stopped = ledger.reader().poison_reason().is_some();
                let e = input::ledger_error(&meta.file, &meta.lines, meta.headers.as_deref(), e);
                if e.problems.is_empty() {
                    others.push(e.message);
                } else {
                    problems.extend(e.problems);
                }
                if stopped {
                    // The scratch store failed (a full disk, say): nothing after can be judged.
                    others.push(format!(
                        "the check stopped at line {} of {}",
                        meta.lines.first().copied().unwrap_or(0),
                        meta.file
                    ));
                    break;
                }
            }
        }
        batches.report();
    }
    batches.progress_done();
    // Every event of a valid batch either got a new sequence (counted once, however often its
    // id repeats) or was already in.
    let new = ledger.reader().head().seq - head;
    let summary = Summary {
        lines: batches.events,
        new,
        existing: valid - new,
        head,
    };
    problems.append(&mut batches.problems);
    // Problems in file order: those of reading and the ledger's, each by line.
    problems.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    if let Some(fatal) = batches.failed.take() {
        others.push(fatal.message);
    }
    if !problems.is_empty() || !others.is_empty() {
        let conflict = others.is_empty() && problems.iter().all(|p| p.rule.is_conflict());
        let error = CliError::problems(
            if conflict {
                Code::Conflict
            } else {
                Code::Invalid
            },
            problems,
            &others,
        );
        return Err(error.and(&format!(
            "checked {} lines: nothing was appended (import --check)",
            grouped(summary.lines)
        )));
    }
    if cli.json {
        let value = serde_json::json!({
            "checked": summary.lines,
            "valid": true,
            "new": summary.new,
            "existing": summary.existing,
            "head": head,
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "checked {} lines: all valid; {} new events would be appended, {} are already present; nothing was appended",
            summary.lines, summary.new, summary.existing
        )?;
    }
    Ok(())
}

/// Counts receipts as new (a sequence past `head`, once) or already present.
fn count(receipts: &[coopledger::Receipt], head: u64, summary: &mut Summary) {
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
}

fn done_so_far(summary: &Summary) -> String {
    format!(
        "import stopped: {} new events and {} already present were imported before this batch; \
         fix the line and rerun to continue",
        summary.new, summary.existing
    )
}

/// Where a batch came from: its file, the line (or row) of each event, a sheet's headers.
struct BatchMeta {
    file: String,
    lines: Vec<usize>,
    headers: Option<Vec<String>>,
}

/// One input being read: JSONL lines, or a sheet's rows.
enum Source {
    Lines {
        reader: BufReader<Box<dyn Read>>,
        number: usize,
        buf: Vec<u8>,
        bytes: u64,
    },
    Sheet(Box<Sheet<Box<dyn Read>>>),
}

/// One event read, with its line, or the problems of that line.
type Item = Result<(Pending, usize), Vec<Problem>>;

/// The batches of the files, read as they are asked for. Reading problems are collected in
/// `problems`; without `keep_going` the first one ends the reading.
struct Batches<'a> {
    files: std::slice::Iter<'a, PathBuf>,
    current: Option<(String, Source)>,
    batch: usize,
    verify_hashes: bool,
    keep_going: bool,
    stopped: bool,
    sheet_options: sheet::Options,
    problems: Vec<Problem>,
    /// A problem that is not the input's (a file that cannot be opened).
    failed: Option<CliError>,
    metas: Vec<BatchMeta>,
    /// Lines (or rows) read, with or without problems.
    events: u64,
    bytes_before: u64,
    total_bytes: Option<u64>,
    progress: Progress,
}

impl<'a> Batches<'a> {
    fn new(cli: &Cli, options: &Options<'a>, keep_going: bool) -> Result<Self, CliError> {
        let total_bytes: Option<u64> = options
            .files
            .iter()
            .map(|f| std::fs::metadata(f).ok().map(|m| m.len()))
            .sum();
        let what = if keep_going { "checked" } else { "imported" };
        Ok(Batches {
            files: options.files.iter(),
            current: None,
            batch: usize::try_from(options.batch).unwrap_or(usize::MAX),
            verify_hashes: options.verify_hashes,
            keep_going,
            stopped: false,
            sheet_options: input::sheet_options(options.sheet)?,
            problems: Vec::new(),
            failed: None,
            metas: Vec::new(),
            events: 0,
            bytes_before: 0,
            total_bytes,
            progress: Progress::counting(what, "events", total_bytes, cli.quiet > 0),
        })
    }

    fn bytes_read(&self) -> u64 {
        let current = match &self.current {
            Some((_, Source::Lines { bytes, .. })) => *bytes,
            Some((_, Source::Sheet(sheet))) => sheet.bytes_read(),
            None => 0,
        };
        self.bytes_before + current
    }

    fn report(&mut self) {
        let bytes = self.bytes_read();
        self.progress
            .set_count(self.events, bytes, self.total_bytes);
    }

    fn progress_done(&mut self) {
        self.report();
    }

    /// Opens the next file; `false` when there is none (or it cannot be opened).
    fn open_next(&mut self) -> bool {
        let Some(path) = self.files.next() else {
            return false;
        };
        let file = input::name(path);
        let reader: Box<dyn Read> = if path == Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            match std::fs::File::open(path) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    self.failed =
                        Some(CliError::invalid(format!("error: cannot read {file}: {e}")));
                    return false;
                }
            }
        };
        let source = if input::is_sheet(path) {
            match Sheet::open(reader, self.sheet_options.clone()) {
                Ok(sheet) => Source::Sheet(Box::new(sheet)),
                Err(problems) => {
                    self.problems
                        .extend(input::sheet_error(&file, &problems).problems);
                    // A sheet whose header row cannot be read has no rows to read.
                    return self.keep_going && self.open_next();
                }
            }
        } else {
            Source::Lines {
                reader: BufReader::with_capacity(1 << 20, reader),
                number: 0,
                buf: Vec::new(),
                bytes: 0,
            }
        };
        self.current = Some((file, source));
        true
    }

    /// The next event of the current file; `None` at its end.
    fn read_one(&mut self) -> Option<Item> {
        let verify_hashes = self.verify_hashes;
        let (file, source) = self.current.as_mut()?;
        match source {
            Source::Lines {
                reader,
                number,
                buf,
                bytes,
            } => read_line(file, reader, number, buf, bytes, verify_hashes),
            Source::Sheet(sheet) => {
                let row = sheet.next_row()?;
                Some(match row {
                    Ok(row) if verify_hashes => Err(vec![input::line_problem(
                        file,
                        row.row,
                        &Violation::new(
                            "seq",
                            Rule::MissingField,
                            "--verify-hashes needs exported lines",
                        ),
                    )]),
                    Ok(row) => Ok((
                        Pending {
                            event: row.event,
                            recorded: None,
                        },
                        row.row,
                    )),
                    Err(problems) => Err(input::sheet_error(file, &problems).problems),
                })
            }
        }
    }

    fn headers(&self) -> Option<Vec<String>> {
        match &self.current {
            Some((_, Source::Sheet(sheet))) => Some(sheet.headers().to_vec()),
            _ => None,
        }
    }
}

impl Iterator for Batches<'_> {
    type Item = Request;

    /// The next batch: up to `batch` events of one file.
    fn next(&mut self) -> Option<Request> {
        let mut events = Vec::new();
        let mut lines = Vec::new();
        while !self.stopped {
            if self.current.is_none() && !self.open_next() {
                self.stopped = true;
                break;
            }
            match self.read_one() {
                Some(Ok((pending, line))) => {
                    events.push(pending);
                    lines.push(line);
                    self.events += 1;
                    if events.len() >= self.batch {
                        break;
                    }
                }
                Some(Err(problems)) => {
                    self.problems.extend(problems);
                    self.events += 1;
                    if !self.keep_going {
                        self.stopped = true;
                        return None;
                    }
                }
                None => {
                    let done = self.bytes_read();
                    self.bytes_before = done;
                    if !events.is_empty() {
                        // A batch holds one file's events, so its problems name that file.
                        let headers = self.headers();
                        let file = self.current.take().map(|(f, _)| f).unwrap_or_default();
                        return Some(self.batch_of(file, headers, events, lines));
                    }
                    self.current = None;
                }
            }
        }
        if events.is_empty() {
            return None;
        }
        let headers = self.headers();
        let file = self
            .current
            .as_ref()
            .map(|(f, _)| f.clone())
            .unwrap_or_default();
        Some(self.batch_of(file, headers, events, lines))
    }
}

impl Batches<'_> {
    fn batch_of(
        &mut self,
        file: String,
        headers: Option<Vec<String>>,
        events: Vec<Pending>,
        lines: Vec<usize>,
    ) -> Request {
        self.metas.push(BatchMeta {
            file,
            lines,
            headers,
        });
        if self.keep_going {
            self.report();
        }
        Request {
            events,
            verify_hashes: self.verify_hashes,
            dry_run: false,
        }
    }
}

/// Reads one JSONL line into an event.
fn read_line(
    file: &str,
    reader: &mut BufReader<Box<dyn Read>>,
    number: &mut usize,
    buf: &mut Vec<u8>,
    bytes: &mut u64,
    verify_hashes: bool,
) -> Option<Item> {
    loop {
        buf.clear();
        let read = match reader
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', buf)
        {
            Ok(read) => read,
            Err(e) => {
                let v = Violation::new("(file)", Rule::Syntax, format_args!("cannot read: {e}"));
                return Some(Err(vec![input::line_problem(file, *number + 1, &v)]));
            }
        };
        if read == 0 {
            return None;
        }
        *number += 1;
        *bytes += read as u64;
        let problem = |field: &str, rule, value: &str| {
            Some(Err(vec![input::line_problem(
                file,
                *number,
                &Violation::new(field, rule, value),
            )]))
        };
        if buf.len() > MAX_LINE {
            // The rest of the line is skipped, so the next line is read as one.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            *bytes += rest.len() as u64;
            return problem("(line)", Rule::TooLarge, "longer than 1 MiB");
        }
        let Ok(text) = std::str::from_utf8(buf) else {
            return problem("(line)", Rule::Syntax, "invalid UTF-8");
        };
        // A byte-order mark is not JSON, but editors write it at the start of a file.
        let text = if *number == 1 {
            text.strip_prefix('\u{feff}').unwrap_or(text)
        } else {
            text
        };
        if text.trim().is_empty() {
            continue;
        }
        let (mut event, recorded) = match parse_event(text, Mode::Export, today_utc()) {
            Ok(parsed) => parsed,
            Err(violations) => {
                return Some(Err(violations
                    .iter()
                    .map(|v| input::line_problem(file, *number, v))
                    .collect()));
            }
        };
        if verify_hashes && recorded.is_none() {
            return problem(
                "seq",
                Rule::MissingField,
                "--verify-hashes needs exported lines",
            );
        }
        if event.event_id.is_none() {
            event.event_id = Some(import_line_id(text));
        }
        return Some(Ok((Pending { event, recorded }, *number)));
    }
}
