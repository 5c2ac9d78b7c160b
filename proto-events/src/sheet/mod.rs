//! Spreadsheets (CSV) as a third form of staff input, read into the same [`NewEvent`]s through
//! the same parser and rules as the staff JSON form.
//!
//! A sheet has a header row naming fields (`title`, `venue.city`, `participants.total`,
//! `milestone.kind`, `replacement.participants.total`, …) and one event a row. Each row becomes
//! the staff JSON object it stands for ([`cells`]: lists are `GH;NG`, a virtual venue is
//! `virtual` in `venue.city`, numbers are numbers), which [`crate::staff::from_object`] reads
//! and [`crate::validate`] checks; nothing here parses a field a second way. Every problem of
//! every row is reported ([`repair`]), each with its row, column and header.
//!
//! What Excel and LibreOffice write is read: UTF-8 with or without a byte-order mark, `,` or `;`
//! between cells (told from the header row, or from a leading `sep=;` line), CRLF or LF, quoted
//! cells with separators and line breaks; blank rows are skipped. In a `;`-separated sheet a
//! number may have a decimal comma (`2,5`), as the locales that write `;` do.
//!
//! A row without `event_id` gets one derived from its content, and a row that starts an entity
//! (a meeting, an activity, a case) without its id gets that derived too
//! ([`crate::staff::sheet_row_content`]), so importing the same sheet again adds nothing.
//!
//! - `mod.rs` (this file): opening a sheet, its header row, reading its rows, problems;
//! - `cells.rs`: a row's cells → the staff JSON object;
//! - `repair.rs`: reading that object reporting every structural problem, not only the first;
//! - `template.rs`: the template of a type (header row and an example row);
//! - `amend.rs`: a correction as a one-row sheet (`coopledger amend`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{Chain, Cursor, Read};

use crate::envelope::NewEvent;
use crate::events::EventType;
use crate::schema;
use crate::staff::{sheet_entity_id, sheet_event_id, sheet_row_content};
use crate::validate::{Position, Rule, Violation};
use crate::values::Date;

pub mod amend;
mod cells;
mod repair;
pub mod template;

/// The largest row, in bytes (an event's JSON text is at most 256 KiB).
pub const MAX_ROW: usize = 1024 * 1024;

/// What the rows do not say themselves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The type of rows without a `type` cell.
    pub event_type: Option<EventType>,
    /// The recorder of rows without a `recorded_by` cell.
    pub recorded_by: Option<String>,
    /// The day of recording the rules judge dates by.
    pub today: Date,
}

/// One problem of a sheet: where (row and column) and what (the violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The spreadsheet row: 1 is the header row, data rows count from 2.
    pub row: usize,
    /// The 0-based column, when the problem is in one (`None`: the row as a whole, or a column
    /// the sheet lacks).
    pub column: Option<usize>,
    /// The column's header (or the field the sheet lacks a column for).
    pub header: String,
    /// The rule broken and the value.
    pub violation: Violation,
}

impl Problem {
    /// The column as a spreadsheet names it (`A`, …, `Z`, `AA`, …), or `-` for none.
    #[must_use]
    pub fn column_name(&self) -> String {
        self.column.map_or_else(|| "-".to_owned(), column_letters)
    }
}

impl fmt::Display for Problem {
    /// `ROW:COLUMN: header: rule (value)`; the caller puts the file name in front.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = if self.header.is_empty() {
            "(row)"
        } else {
            &self.header
        };
        write!(
            f,
            "{}:{}: {header}: {} ({})",
            self.row,
            self.column_name(),
            self.violation.rule,
            self.violation.value
        )
    }
}

/// `A` for 0, `Z` for 25, `AA` for 26, as spreadsheets name columns.
#[must_use]
pub fn column_letters(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(char::from(b'A' + u8::try_from(rem).unwrap_or(0)));
        n = (n - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// One row read into an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The spreadsheet row (2 for the first data row).
    pub row: usize,
    /// The event it records.
    pub event: NewEvent,
}

/// The input: what was read to open it, then the rest, with its line breaks counted.
type Source<R> = Counted<Chain<Cursor<Vec<u8>>, R>>;

/// Where the line breaks of the input are, as the CSV reader pulls it through: the reader's
/// positions give bytes, a spreadsheet's rows are lines.
#[derive(Debug, Default)]
struct LineIndex {
    /// Bytes passed through.
    offset: u64,
    /// Offsets of the line breaks not yet forgotten, in order.
    breaks: std::collections::VecDeque<u64>,
    /// Line breaks forgotten (before the rows already read).
    forgotten: usize,
}

impl LineIndex {
    /// The 1-based line of the byte at `offset`.
    fn line_of(&self, offset: u64) -> usize {
        1 + self.forgotten + self.breaks.partition_point(|b| *b < offset)
    }

    /// Forgets the line breaks before `offset`, which no later row can be on.
    fn forget_before(&mut self, offset: u64) {
        while self.breaks.front().is_some_and(|b| *b < offset) {
            self.breaks.pop_front();
            self.forgotten += 1;
        }
    }
}

/// A reader that notes where its line breaks are.
struct Counted<R> {
    inner: R,
    index: std::rc::Rc<std::cell::RefCell<LineIndex>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut index = self.index.borrow_mut();
        let start = index.offset;
        for (i, b) in buf.iter().take(n).enumerate() {
            if *b == b'\n' {
                index.breaks.push_back(start + i as u64);
            }
        }
        index.offset += n as u64;
        Ok(n)
    }
}

/// An open sheet: its header row read, its rows to come.
pub struct Sheet<R: Read> {
    reader: csv::Reader<Source<R>>,
    headers: Vec<String>,
    /// The row number of the header (2 after a `sep=` line).
    header_row: usize,
    options: Options,
    /// Whether numbers may have a decimal comma (a `;`-separated sheet).
    comma_decimal: bool,
    /// Headers already reported as unknown or absent, so each is reported once, not per row.
    reported: BTreeSet<String>,
    /// The 0-based index of the next data row.
    index: usize,
    /// Line breaks inside the quoted cells read so far.
    line_breaks: usize,
    /// Where the input's line breaks are.
    lines: std::rc::Rc<std::cell::RefCell<LineIndex>>,
    /// Each type's derivable entity id and columns, described once.
    described: std::collections::BTreeMap<
        EventType,
        (Option<&'static str>, std::rc::Rc<Vec<schema::Column>>),
    >,
    record: csv::ByteRecord,
}

impl<R: Read> fmt::Debug for Sheet<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sheet")
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Whether a file name says it is a sheet (`.csv`, in any case).
#[must_use]
pub fn is_sheet_name(name: &str) -> bool {
    std::path::Path::new(name)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

impl<R: Read> Sheet<R> {
    /// Opens a sheet: skips a byte-order mark, reads a `sep=` line, tells the separator from the
    /// header row and reads the headers.
    ///
    /// # Errors
    /// The problems of the header row (unreadable, empty, duplicate or blank headers).
    pub fn open(mut input: R, options: Options) -> Result<Self, Vec<Problem>> {
        let mut start = vec![0u8; 64 * 1024];
        let mut filled = 0;
        while filled < start.len() {
            match input.read(&mut start[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => return Err(vec![whole_file(Rule::Syntax, e)]),
            }
        }
        start.truncate(filled);
        let mut prefix = start.as_slice();
        if let Some(rest) = prefix.strip_prefix(b"\xEF\xBB\xBF") {
            prefix = rest;
        }
        let mut header_row = 1;
        let mut separator = None;
        if let Some(rest) = prefix.strip_prefix(b"sep=")
            && let [sep, tail @ ..] = rest
        {
            separator = Some(*sep);
            prefix = tail.strip_prefix(b"\r").unwrap_or(tail);
            prefix = prefix.strip_prefix(b"\n").unwrap_or(prefix);
            header_row = 2;
        }
        let separator = separator.unwrap_or_else(|| sniff(prefix));
        let lines = std::rc::Rc::new(std::cell::RefCell::new(LineIndex::default()));
        let source = Counted {
            inner: Cursor::new(prefix.to_vec()).chain(input),
            index: std::rc::Rc::clone(&lines),
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .flexible(true)
            .has_headers(false)
            .from_reader(source);
        let mut record = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut record)
            .map_err(|e| vec![whole_file(Rule::Syntax, e)])?;
        if !read || record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            return Err(vec![Problem {
                row: header_row,
                column: None,
                header: String::new(),
                violation: Violation::new(
                    "",
                    Rule::MissingField,
                    "no header row: the first row names the columns (coopledger template TYPE writes one)",
                ),
            }]);
        }
        let headers = headers(&record, header_row)?;
        let header_breaks = record
            .iter()
            .map(|cell| cell.iter().filter(|b| **b == b'\n').count())
            .sum();
        Ok(Sheet {
            reader,
            headers,
            header_row,
            options,
            comma_decimal: separator == b';',
            reported: BTreeSet::new(),
            index: 0,
            line_breaks: header_breaks,
            lines,
            described: std::collections::BTreeMap::new(),
            record,
        })
    }

    /// The headers, trimmed, in column order.
    #[must_use]
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The column of a violation's field path (`beneficiaries[1]` is in `beneficiaries`,
    /// `participants` in the first `participants.` column), with its header.
    #[must_use]
    pub fn column_of(&self, field: &str) -> Option<(usize, &str)> {
        column_of(&self.headers, field)
    }

    /// How far into the input the rows read so far go, in bytes (for progress).
    #[must_use]
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Reads the next row: its event, or every problem it has. `None` at the end.
    pub fn next_row(&mut self) -> Option<Result<Row, Vec<Problem>>> {
        loop {
            let result = self.reader.read_byte_record(&mut self.record);
            let row = self.row_of_record();
            match result {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) => {
                    self.index += 1;
                    return Some(Err(vec![self.problem(row, "", Rule::Syntax, e)]));
                }
            }
            self.index += 1;
            if self
                .record
                .iter()
                .all(|c| c.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            return Some(self.read_row(row));
        }
    }

    /// The spreadsheet row of the record just read. A spreadsheet shows a cell with line
    /// breaks in one row and an empty line (which the CSV reader skips) as an empty row, so the
    /// row is the line the record starts on less the line breaks inside the quoted cells
    /// before it. The record ends just before where the reader stands (at the line break that
    /// ends it, or at its `\r`), and starts as many lines earlier as it has line breaks inside.
    fn row_of_record(&mut self) -> usize {
        let end = self.reader.position().byte();
        let inside: usize = self
            .record
            .iter()
            .map(|cell| cell.iter().filter(|b| **b == b'\n').count())
            .sum();
        let mut lines = self.lines.borrow_mut();
        let last_line = lines.line_of(end.saturating_sub(1));
        lines.forget_before(end.saturating_sub(1));
        let first_line = last_line.saturating_sub(inside);
        let row = first_line.saturating_sub(self.line_breaks) + self.header_row - 1;
        self.line_breaks += inside;
        row
    }

    fn problem(&self, row: usize, field: &str, rule: Rule, value: impl fmt::Display) -> Problem {
        let mut violation = Violation::new(field, rule, value);
        violation.position = Some(Position {
            index: self.index.saturating_sub(1),
            line: row,
        });
        let (column, header) = match column_of(&self.headers, field) {
            Some((c, h)) => (Some(c), h.to_owned()),
            None => (None, field.to_owned()),
        };
        Problem {
            row,
            column,
            header,
            violation,
        }
    }

    fn read_row(&mut self, row: usize) -> Result<Row, Vec<Problem>> {
        let record = std::mem::take(&mut self.record);
        let result = self.read_record(&record, row);
        self.record = record;
        result
    }

    fn read_record(&mut self, record: &csv::ByteRecord, row: usize) -> Result<Row, Vec<Problem>> {
        let mut problems = Vec::new();
        if record.as_slice().len() > MAX_ROW {
            let size = record.as_slice().len();
            return Err(vec![self.problem(
                row,
                "",
                Rule::TooLarge,
                format_args!("{size} bytes in one row, at most {MAX_ROW}"),
            )]);
        }
        let mut cells = BTreeMap::new();
        for (i, cell) in record.iter().enumerate() {
            let text = match std::str::from_utf8(cell) {
                Ok(text) => text.trim(),
                Err(_) => {
                    let mut p = self.problem(
                        row,
                        "",
                        Rule::Syntax,
                        "invalid UTF-8 (save the sheet as CSV UTF-8)",
                    );
                    p.column = Some(i);
                    p.header = self.headers.get(i).cloned().unwrap_or_default();
                    problems.push(p);
                    continue;
                }
            };
            if text.is_empty() {
                continue;
            }
            match self.headers.get(i).filter(|h| !h.is_empty()) {
                Some(header) => {
                    cells.insert(header.clone(), text.to_owned());
                }
                None => {
                    let mut p = self.problem(
                        row,
                        "",
                        Rule::UnknownField,
                        format_args!("{text:?} is in a column without a header"),
                    );
                    p.column = Some(i);
                    problems.push(p);
                }
            }
        }
        let event_type = match self.event_type(&cells, row) {
            Ok(t) => t,
            Err(p) => {
                problems.push(*p);
                return Err(problems);
            }
        };
        let (derivable, type_columns) = self
            .described
            .entry(event_type)
            .or_insert_with(|| {
                (
                    crate::schema::event(event_type).derivable_entity_id(),
                    std::rc::Rc::new(cells::type_columns(event_type)),
                )
            })
            .clone();
        let content = {
            let mut hashed = cells.clone();
            hashed.insert("type".into(), event_type.name().into());
            hashed.remove("event_id");
            hashed.remove("recorded_by");
            if let Some(id) = derivable {
                hashed.remove(id);
            }
            sheet_row_content(&hashed)
        };
        let built = cells::object(&cells, event_type, &type_columns, self.comma_decimal);
        let columns: std::borrow::Cow<'_, [schema::Column]> = if built.extra.is_empty() {
            std::borrow::Cow::Borrowed(type_columns.as_slice())
        } else {
            std::borrow::Cow::Owned([type_columns.as_slice(), &built.extra].concat())
        };
        let mut object = built.object;
        for (field, rule, value) in built.problems {
            problems.push(self.problem(row, &field, rule, value));
        }
        if !object.contains_key("recorded_by")
            && let Some(by) = &self.options.recorded_by
        {
            object.insert("recorded_by".into(), by.clone().into());
        }
        if !object.contains_key("event_id") {
            object.insert(
                "event_id".into(),
                sheet_event_id(&content).to_string().into(),
            );
        }
        if let Some(id) = derivable
            && !object.contains_key(id)
        {
            object.insert(id.into(), sheet_entity_id(&content).to_string().into());
        }
        let read = repair::read(object, event_type, &columns, self.options.today);
        for v in read.violations {
            let v = self.explain(v);
            if v.rule == Rule::UnknownField
                || (v.rule == Rule::MissingField && !self.has_column(&v.field))
            {
                // A column the type lacks, or a field the sheet has no column for: once per sheet.
                if !self.reported.insert(format!("{}:{}", v.rule, v.field)) {
                    continue;
                }
            }
            problems.push(self.problem(row, &v.field, v.rule, v.value));
        }
        match read.event {
            Some(event) if problems.is_empty() => Ok(Row { row, event }),
            _ => Err(problems),
        }
    }

    fn has_column(&self, field: &str) -> bool {
        column_of(&self.headers, field).is_some()
    }

    /// A clearer value for the problems a sheet has where JSON would not: no recorder, no type.
    fn explain(&self, mut v: Violation) -> Violation {
        if v.rule == Rule::MissingField && v.field == "recorded_by" {
            v.value =
                "absent: give a recorded_by column, --recorded-by NAME or COOPLEDGER_RECORDED_BY"
                    .into();
        } else if v.rule == Rule::MissingField && !self.has_column(&v.field) {
            v.value = format!("absent: the sheet has no {} column", v.field);
        }
        v
    }

    fn event_type(
        &self,
        cells: &BTreeMap<String, String>,
        row: usize,
    ) -> Result<EventType, Box<Problem>> {
        match (cells.get("type"), self.options.event_type) {
            (Some(name), _) => EventType::from_name(name).ok_or_else(|| {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
                Box::new(self.problem(
                    row,
                    "type",
                    Rule::UnknownType,
                    format_args!("{name:?}, expected one of {}", known.join(", ")),
                ))
            }),
            (None, Some(t)) => Ok(t),
            (None, None) => Err(Box::new(self.problem(
                row,
                "type",
                Rule::MissingField,
                "absent: give a type column or --type TYPE",
            ))),
        }
    }
}

impl<R: Read> Iterator for Sheet<R> {
    type Item = Result<Row, Vec<Problem>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}

/// Reads a whole sheet: every row's event, or every problem of every row.
///
/// # Errors
/// Every problem found, in row order.
pub fn read_all(input: impl Read, options: Options) -> Result<Vec<Row>, Vec<Problem>> {
    let sheet = Sheet::open(input, options)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for item in sheet {
        match item {
            Ok(row) => rows.push(row),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

fn whole_file(rule: Rule, e: impl fmt::Display) -> Problem {
    Problem {
        row: 1,
        column: None,
        header: String::new(),
        violation: Violation::new("", rule, e),
    }
}

/// `;` when the header row has more of them than commas (outside quotes), else `,`.
fn sniff(prefix: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for b in prefix {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

fn headers(record: &csv::ByteRecord, row: usize) -> Result<Vec<String>, Vec<Problem>> {
    let mut headers = Vec::new();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, cell) in record.iter().enumerate() {
        let problem = |rule, value: String| Problem {
            row,
            column: Some(i),
            header: String::from_utf8_lossy(cell).trim().to_owned(),
            violation: Violation::new("", rule, value),
        };
        let Ok(text) = std::str::from_utf8(cell) else {
            problems.push(problem(
                Rule::Syntax,
                "invalid UTF-8 (save the sheet as CSV UTF-8)".into(),
            ));
            headers.push(String::new());
            continue;
        };
        let text = text.trim().to_owned();
        if !text.is_empty() && !seen.insert(text.clone()) {
            problems.push(problem(
                Rule::DuplicateField,
                format!("{text:?} names two columns"),
            ));
        }
        headers.push(text);
    }
    if problems.is_empty() {
        Ok(headers)
    } else {
        Err(problems)
    }
}

/// The column holding a violation's field among `headers`, with its header: `beneficiaries[1]`
/// is in `beneficiaries`, `participants` in the first `participants.` column, a `venue` in
/// `venue.city`. `None` when no column holds it (the event as a whole, or a missing column).
#[must_use]
pub fn column_of<'h>(headers: &'h [String], field: &str) -> Option<(usize, &'h str)> {
    // `beneficiaries[1]` is in the `beneficiaries` column, `milestone.countries[0]` in
    // `milestone.countries`.
    let path: String = {
        let mut out = String::new();
        let mut depth = 0;
        for c in field.chars() {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                c if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    if path.is_empty() {
        return None;
    }
    let exact = headers.iter().position(|h| *h == path);
    let nested = || {
        let prefix = format!("{path}.");
        headers.iter().position(|h| h.starts_with(&prefix))
    };
    let venue = || {
        // A virtual venue is written in venue.city.
        (path == "venue")
            .then(|| headers.iter().position(|h| h == "venue.city"))
            .flatten()
    };
    exact
        .or_else(nested)
        .or_else(venue)
        .and_then(|i| headers.get(i).map(|h| (i, h.as_str())))
}
