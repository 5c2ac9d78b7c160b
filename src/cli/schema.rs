//! `coopledger schema [TYPE] [--json]`: the staff form's description (`proto_events::schema`)
//! in words, or as JSON Schema 2020-12 (the same definitions as the OpenAPI document's).

use std::io::Write;

use proto_events::EventType;
use proto_events::schema::{self, json, words};

use super::exit::CliError;
use super::{Cli, input};

/// Prints every type (or one) in words, or its JSON Schema with `--json`.
pub fn run(cli: &Cli, event_type: Option<&str>, out: &mut impl Write) -> Result<(), CliError> {
    let event_type = event_type
        .map(|t| EventType::from_name(t).ok_or_else(|| input::unknown_type(t)))
        .transpose()?;
    if cli.json {
        let root = event_type.map_or("Submission", EventType::name);
        let text = serde_json::to_string_pretty(&json::document(root))
            .map_err(|e| CliError::invalid(e.to_string()))?;
        writeln!(out, "{text}")?;
        return Ok(());
    }
    match event_type {
        Some(t) => write!(out, "{}", words::describe(&schema::event(t)))?,
        None => write!(out, "{}", words::overview())?,
    }
    Ok(())
}
