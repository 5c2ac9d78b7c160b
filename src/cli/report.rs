//! `coopledger report --out FILE.html [--as-of SEQ | --on DATE]`: the dashboard as one
//! self-contained HTML file, with the API's JSON documents embedded.

use std::io::Write;
use std::path::Path;

use coopledger::dashboard::{self, Point};
use proto_events::Date;

use super::exit::{CliError, Code};
use super::{Cli, open};

/// Writes the report to `file` (`-` for stdout); prints where, and as of which sequence.
pub fn run(
    cli: &Cli,
    file: &Path,
    as_of: Option<u64>,
    on: Option<Date>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let point = match (as_of, on) {
        (Some(seq), _) => Point::Sequence(seq),
        (None, Some(d)) => Point::Date(d),
        (None, None) => Point::Head,
    };
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let generated_at = proto_events::Timestamp::now().to_string();
    let html = dashboard::report(&reader, point, &generated_at)?;
    let head = reader.head().seq;
    if file == Path::new("-") {
        out.write_all(html.as_bytes())?;
        return Ok(());
    }
    write_atomically(file, html.as_bytes())
        .map_err(|e| CliError::new(Code::Failure, format!("error: {}: {e}", file.display())))?;
    let shown = match point {
        Point::Sequence(seq) => format!("as of sequence {}", seq.min(head)),
        Point::Date(d) => format!("counting what happened by {d}, head {head}"),
        Point::Head => format!("as of sequence {head}"),
    };
    if cli.json {
        let line = serde_json::json!({
            "out": file.display().to_string(),
            "bytes": html.len(),
            "head": head,
            "as_of": match point {
                Point::Sequence(seq) => serde_json::json!({"seq": seq.min(head)}),
                Point::Date(d) => serde_json::json!({"on": d.to_string()}),
                Point::Head => serde_json::json!({"seq": head}),
            },
        });
        writeln!(out, "{line}")?;
    } else {
        writeln!(
            out,
            "wrote {} ({} KiB, {shown})",
            file.display(),
            html.len().div_ceil(1024)
        )?;
    }
    Ok(())
}

/// Writes next to `file` and renames over it, so a reader never sees half a report.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report.html".into());
    let tmp = file.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, file));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
