//! Progress on stderr: a bar on a terminal, a plain line every few seconds otherwise (logs, CI).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Reports progress of a long operation.
pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    started: Instant,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    /// Starts reporting `what` (e.g. "imported"), out of `total` when known.
    pub fn new(what: &'static str, total: Option<u64>, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = total.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
            let template = if total.is_some() {
                "{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})"
            } else {
                "{spinner} {msg} {pos} ({per_sec})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
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
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let rate = done as f64 / secs;
        match total {
            Some(total) if rate > 0.0 => eprintln!(
                "{} {done} of {total} ({rate:.0}/s, eta {:.0}s)",
                self.what,
                total.saturating_sub(done) as f64 / rate
            ),
            _ => eprintln!("{} {done} ({rate:.0}/s)", self.what),
        }
    }

    /// Ends the report.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
