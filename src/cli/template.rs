//! `coopledger template TYPE [--out FILE.csv]`: a spreadsheet to fill in, with one column per
//! field (nested ones flattened) and an example row.

use std::io::Write;
use std::path::Path;

use proto_events::EventType;
use proto_events::sheet::template;

use super::exit::{CliError, Code};
use super::{Cli, input};

/// Writes the template to `file` (refusing to overwrite one) or stdout.
pub fn run(
    cli: &Cli,
    event_type: &str,
    file: Option<&Path>,
    of: &str,
    separator: u8,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let t = EventType::from_name(event_type).ok_or_else(|| input::unknown_type(event_type))?;
    let of = EventType::from_name(of).ok_or_else(|| input::unknown_type(of))?;
    if !of.is_fact() {
        return Err(CliError::invalid(format!(
            "error: --of {of}: a correction replaces a fact, not a {of}"
        )));
    }
    let text = template::template(t, Some(of), separator)
        .map_err(|e| CliError::new(Code::Failure, format!("error: {e}")))?;
    let Some(file) = file else {
        out.write_all(text.as_bytes())?;
        return Ok(());
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .map_err(|e| CliError::invalid(format!("error: cannot write {}: {e}", file.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| CliError::new(Code::Failure, format!("error: {}: {e}", file.display())))?;
    let columns = template::columns(t, Some(of)).len();
    if cli.json {
        let value = serde_json::json!({"out": file.display().to_string(), "type": t.name(), "columns": columns});
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "wrote {} ({t}: {columns} columns and an example row; coopledger schema {t} describes them)",
            file.display()
        )?;
    }
    Ok(())
}
