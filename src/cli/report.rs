//! `coopledger report --out FILE.html [--as-of SEQ | --at TIME] [--on DATE]`: the dashboard as
//! one self-contained HTML file, with the API's JSON documents embedded.

use std::io::Write;
use std::path::Path;

use coopledger::dashboard;

use super::exit::{CliError, Code};
use super::{AsOfArgs, Cli, open};

/// Writes the report to `file` (`-` for stdout); prints where, and at which point.
pub fn run(cli: &Cli, file: &Path, at: &AsOfArgs, out: &mut impl Write) -> Result<(), CliError> {
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let asked = at.as_of();
    let point = reader.resolve(asked)?;
    let generated_at = proto_events::Timestamp::now().to_string();
    let html = dashboard::report(&reader, asked, &generated_at)?;
    let head = reader.head().seq;
    if file == Path::new("-") {
        out.write_all(html.as_bytes())?;
        return Ok(());
    }
    write_atomically(file, html.as_bytes())
        .map_err(|e| CliError::new(Code::Failure, format!("error: {}: {e}", file.display())))?;
    if cli.json {
        let line = serde_json::json!({
            "out": file.display().to_string(),
            "bytes": html.len(),
            "head": head,
            "as_of": {"seq": point.seq, "on": point.on.map(|d| d.to_string())},
        });
        writeln!(out, "{line}")?;
    } else {
        let dates = point
            .on
            .map_or_else(String::new, |d| format!(", counting what happened by {d}"));
        writeln!(
            out,
            "wrote {} ({} KiB, as of sequence {}{dates})",
            file.display(),
            html.len().div_ceil(1024),
            point.seq
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
