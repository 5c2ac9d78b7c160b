//! Plain-text tables for the human-readable output: columns padded to their widest cell,
//! numbers right-aligned.

use std::io::Write;

/// A table being built.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the table, indented by `indent` spaces.
    pub fn write(&self, out: &mut impl Write, indent: usize) -> std::io::Result<()> {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let numeric: Vec<bool> = (0..columns)
            .map(|c| {
                !self.rows.is_empty()
                    && self.rows.iter().all(|r| {
                        r.get(c)
                            .is_some_and(|v| v.parse::<f64>().is_ok() || v == "-")
                    })
            })
            .collect();
        let line = |cells: &[String], out: &mut dyn Write| -> std::io::Result<()> {
            let mut text = " ".repeat(indent);
            for (c, cell) in cells.iter().enumerate() {
                let width = widths.get(c).copied().unwrap_or(0);
                let pad = width.saturating_sub(cell.chars().count());
                if numeric.get(c).copied().unwrap_or(false) {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    if c + 1 < cells.len() {
                        text.push_str(&" ".repeat(pad));
                    }
                }
                if c + 1 < cells.len() {
                    text.push_str("  ");
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(&self.headers, out)?;
        for row in &self.rows {
            line(row, out)?;
        }
        Ok(())
    }
}
