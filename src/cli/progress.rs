//! Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise (logs, CI).
//! Counts are in the operation's own unit (events, records), rates in that unit per second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// Reports progress of a long operation.
pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    started: Instant,
    last_line: Instant,
    quiet: bool,
    /// The unit counted when the bar's position is in bytes (an import: events, over bytes).
    counted: Option<(&'static str, u64)>,
}

/// `imported 12,345 events (4,321 events/s)`.
fn count_text(what: &str, unit: &str, count: u64, rate: f64) -> String {
    format!(
        "{what} {} {unit} ({} {unit}/s)",
        grouped(count),
        grouped(rate as u64)
    )
}

/// `12,345`: thousands separated, for counts people read.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Progress {
    /// Starts reporting `what` (e.g. "verified"), out of `total` when known.
    pub fn new(what: &'static str, total: Option<u64>, quiet: bool) -> Self {
        let template = if total.is_some() {
            "{spinner} {msg} [{bar:40}] {human_pos}/{human_len} ({rate}, eta {eta})"
        } else {
            "{spinner} {msg} {human_pos} ({rate})"
        };
        Self::start(what, total, quiet, template, None)
    }

    /// Starts reporting an operation that counts `unit`s (e.g. "events") while it reads
    /// `total_bytes` of input: the bar shows how much of the input is read, the text how many
    /// `unit`s so far and how many per second.
    pub fn counting(
        what: &'static str,
        unit: &'static str,
        total_bytes: Option<u64>,
        quiet: bool,
    ) -> Self {
        let template = if total_bytes.is_some() {
            "{spinner} {msg} [{bar:40}] {percent}% (eta {eta})"
        } else {
            "{spinner} {msg}"
        };
        Self::start(what, total_bytes, quiet, template, Some((unit, 0)))
    }

    fn start(
        what: &'static str,
        total: Option<u64>,
        quiet: bool,
        template: &str,
        counted: Option<(&'static str, u64)>,
    ) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
            let style = ProgressStyle::with_template(template).map(|s| {
                s.progress_chars("=> ").with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}/s", grouped(state.per_sec() as u64));
                    },
                )
            });
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            what,
            started: Instant::now(),
            last_line: Instant::now(),
            quiet,
            counted,
        }
    }

    /// Sets the position (`done` of `total`).
    pub fn set(&mut self, done: u64, total: Option<u64>) {
        if let Some(bar) = &self.bar {
            if let Some(total) = total {
                bar.set_length(total);
            }
            bar.set_position(done);
            return;
        }
        if self.quiet || self.last_line.elapsed() < Duration::from_secs(2) {
            return;
        }
        self.last_line = Instant::now();
        let rate = self.rate(done);
        match total {
            Some(total) if rate > 0.0 => eprintln!(
                "{} {} of {} ({}/s, eta {:.0}s)",
                self.what,
                grouped(done),
                grouped(total),
                grouped(rate as u64),
                total.saturating_sub(done) as f64 / rate
            ),
            _ => eprintln!(
                "{} {} ({}/s)",
                self.what,
                grouped(done),
                grouped(rate as u64)
            ),
        }
    }

    fn rate(&self, done: u64) -> f64 {
        done as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }

    /// For [`Progress::counting`]: `count` units done, `bytes` of `total_bytes` read.
    pub fn set_count(&mut self, count: u64, bytes: u64, total_bytes: Option<u64>) {
        let Some((unit, _)) = self.counted else {
            return self.set(count, None);
        };
        self.counted = Some((unit, count));
        let text = count_text(self.what, unit, count, self.rate(count));
        if let Some(bar) = &self.bar {
            if let Some(total) = total_bytes {
                bar.set_length(total);
            }
            bar.set_position(bytes);
            bar.set_message(text);
            return;
        }
        if self.quiet || self.last_line.elapsed() < Duration::from_secs(2) {
            return;
        }
        self.last_line = Instant::now();
        match total_bytes {
            Some(total) if total > 0 => eprintln!(
                "{text}, {:.0}% of the input",
                bytes as f64 * 100.0 / total as f64
            ),
            _ => eprintln!("{text}"),
        }
    }

    /// Ends the report.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{count_text, grouped};

    #[test]
    fn an_import_counts_events_and_events_per_second() {
        assert_eq!(
            count_text("imported", "events", 123_456, 4_321.987),
            "imported 123,456 events (4,321 events/s)"
        );
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
