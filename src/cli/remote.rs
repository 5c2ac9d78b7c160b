//! The command line against a running `coopledger serve` (`--server URL`): the same output and
//! exit codes as against the store, through the HTTP API.

use std::io::Write;
use std::time::Duration;

use proto_events::staff::recorded_from_object;
use proto_events::{RecordedEvent, Violation};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

use super::exit::{CliError, Code};
use super::{AsOfArgs, Cli, Command, input, log, views};

/// Runs the command through the server; `None` for `serve`, which always runs locally.
pub fn run(cli: &Cli, server: &str, out: &mut impl Write) -> Option<Result<(), CliError>> {
    let remote = Remote::new(cli, server);
    let result = match &cli.command {
        Command::Serve { .. } => return None,
        Command::Append { files, sheet } => remote.append(files, sheet, out),
        Command::Log {
            from,
            limit,
            stream,
            event_type,
            reverse,
            csv: false,
        } => remote.log(
            *from,
            *limit,
            stream.as_deref(),
            event_type.as_deref(),
            *reverse,
            out,
        ),
        Command::Show { event_id } => remote
            .get_json(&format!("/v1/events/{event_id}"), &[])
            .and_then(|v| write_json(cli, &v, out, !cli.json)),
        Command::Stream { stream } => remote
            .events(&format!("/v1/streams/{stream}"), &[])
            .and_then(|events| log::write_events(cli, &events, out)),
        Command::Country { country, at } => remote.country(country, at, out),
        Command::Countries { at, csv: false } => remote.countries(at, out),
        Command::Regions {
            at,
            top,
            csv: false,
            ..
        } => remote.regions(at, *top, out),
        Command::Verify {
            checkpoint: None, ..
        } => remote.verify(out),
        Command::Keygen { .. } | Command::VerifyReceipt { .. } | Command::Witness { .. } => {
            return None;
        }
        other => Err(CliError::invalid(format!(
            "error: `{}` is not available through --server; run it against the store while no server holds it",
            command_name(other)
        ))),
    };
    Some(result)
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Import { .. } => "import",
        Command::Export { .. } => "export",
        Command::Rebuild { .. } => "rebuild",
        Command::Demo { .. } => "demo",
        Command::Report { .. } => "report",
        Command::Verify { .. } => "verify --checkpoint",
        Command::Checkpoint { .. } => "checkpoint",
        Command::Prove { .. } => "prove",
        Command::Receipt { .. } => "receipt",
        Command::Timeline { .. } => "timeline",
        Command::Replay { .. } => "replay",
        Command::Log { csv: true, .. }
        | Command::Countries { csv: true, .. }
        | Command::Regions { csv: true, .. } => "--csv",
        _ => "this command",
    }
}

fn write_json(
    cli: &Cli,
    value: &Value,
    out: &mut impl Write,
    pretty: bool,
) -> Result<(), CliError> {
    let _ = cli;
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{text}")?;
    Ok(())
}

struct Remote<'a> {
    cli: &'a Cli,
    base: String,
    client: Client,
}

impl<'a> Remote<'a> {
    fn new(cli: &'a Cli, server: &str) -> Self {
        let client = Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_else(|_| Client::new());
        Remote {
            cli,
            base: server.trim_end_matches('/').to_owned(),
            client,
        }
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.cli.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn send(&self, request: RequestBuilder) -> Result<Response, CliError> {
        self.authorised(request).send().map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot reach the server at {}: {e}", self.base),
            )
        })
    }

    /// Maps a non-success response (RFC 9457 problem details: `detail`, the `error` kind and
    /// any `violations`) to the local exit codes; `file` names violations' inputs.
    fn failure(&self, response: Response, file: Option<(&str, &[usize])>) -> CliError {
        let status = response.status();
        let body: Value = response.json().unwrap_or(Value::Null);
        let message = body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_owned();
        let violations: Vec<Violation> = body
            .get("violations")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let code = match status {
            StatusCode::CONFLICT => Code::Conflict,
            StatusCode::NOT_FOUND => Code::NotFound,
            s if s.is_client_error() => Code::Invalid,
            _ => Code::Failure,
        };
        if !violations.is_empty() {
            let (name, lines) = file.unwrap_or(("(request)", &[]));
            let text = violations
                .iter()
                .map(|v| input::format_violation(name, v, Some(lines)))
                .collect::<Vec<_>>()
                .join("\n");
            return CliError::new(code, text);
        }
        CliError::new(
            code,
            format!("error: the server answered {status}: {message}"),
        )
    }

    fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, CliError> {
        let response = self.send(self.client.get(format!("{}{path}", self.base)).query(query))?;
        if !response.status().is_success() {
            return Err(self.failure(response, None));
        }
        response.json().map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: unreadable answer from the server: {e}"),
            )
        })
    }

    fn events(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<RecordedEvent>, CliError> {
        let value = self.get_json(path, query)?;
        let Value::Array(items) = value else {
            return Err(CliError::new(
                Code::Failure,
                "error: the server did not answer a list of events",
            ));
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => recorded_from_object(map).map_err(|v| {
                    CliError::new(
                        Code::Failure,
                        format!("error: unreadable event from the server: {v}"),
                    )
                }),
                _ => Err(CliError::new(
                    Code::Failure,
                    "error: the server sent a non-object event",
                )),
            })
            .collect()
    }

    fn append(
        &self,
        files: &[std::path::PathBuf],
        sheet: &super::SheetArgs,
        out: &mut impl Write,
    ) -> Result<(), CliError> {
        // Validate everything locally first, as without --server.
        let mut texts = Vec::new();
        let mut refused = Vec::new();
        for path in files {
            match input::request_body(path, sheet) {
                Ok(body) => texts.push(body),
                Err(e) => refused.push(e),
            }
        }
        if !refused.is_empty() {
            return Err(input::merge(refused));
        }
        for (path, text, lines) in texts {
            let path = path.as_path();
            let request = self
                .client
                .post(format!("{}/v1/events", self.base))
                .header("content-type", "application/json")
                .body(text);
            let response = self.send(request)?;
            if !response.status().is_success() {
                return Err(self.failure(response, Some((&input::name(path), &lines))));
            }
            let receipts: Vec<Value> = response.json().map_err(|e| {
                CliError::new(Code::Failure, format!("error: unreadable receipts: {e}"))
            })?;
            for receipt in receipts {
                writeln!(out, "{receipt}")?;
            }
            out.flush()?;
        }
        Ok(())
    }

    fn log(
        &self,
        from: Option<u64>,
        limit: usize,
        stream: Option<&str>,
        event_type: Option<&str>,
        reverse: bool,
        out: &mut impl Write,
    ) -> Result<(), CliError> {
        let events = if let Some(stream) = stream {
            let mut all = self.events(&format!("/v1/streams/{stream}"), &[])?;
            all.retain(|e| {
                event_type.is_none_or(|t| e.envelope.event_type.name() == t)
                    && from.is_none_or(|f| {
                        if reverse {
                            e.sequence <= f
                        } else {
                            e.sequence >= f
                        }
                    })
            });
            if reverse {
                all.reverse();
            }
            all.truncate(limit);
            all
        } else {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(from) = from {
                query.push(("from", from.to_string()));
            }
            if let Some(t) = event_type {
                query.push(("type", t.to_owned()));
            }
            if reverse {
                query.push(("reverse", "true".into()));
            }
            self.events("/v1/events", &query)?
        };
        log::write_events(self.cli, &events, out)
    }

    fn as_of_query(at: &AsOfArgs) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(seq) = at.as_of {
            query.push(("as_of", seq.to_string()));
        }
        if let Some(t) = at.at {
            query.push(("at", t.to_string()));
        }
        if let Some(d) = at.on {
            query.push(("on", d.to_string()));
        }
        query
    }

    fn country(&self, country: &str, at: &AsOfArgs, out: &mut impl Write) -> Result<(), CliError> {
        let value = self.get_json(&format!("/v1/countries/{country}"), &Self::as_of_query(at))?;
        if self.cli.json {
            return write_json(self.cli, &value, out, false);
        }
        let view = serde_json::from_value(value)
            .map_err(|e| CliError::new(Code::Failure, format!("error: unreadable view: {e}")))?;
        views::write_country(&view, out)?;
        Ok(())
    }

    fn countries(&self, at: &AsOfArgs, out: &mut impl Write) -> Result<(), CliError> {
        let mut query = Self::as_of_query(at);
        query.push(("limit", "300".into()));
        let value = self.get_json("/v1/countries", &query)?;
        if self.cli.json {
            return write_json(self.cli, &value, out, false);
        }
        let all: Vec<coopledger::views::CountryView> = serde_json::from_value(value)
            .map_err(|e| CliError::new(Code::Failure, format!("error: unreadable views: {e}")))?;
        let as_of = all.first().map_or(0, |v| v.as_of_sequence);
        views::write_countries(&all, as_of, out)?;
        Ok(())
    }

    fn regions(&self, at: &AsOfArgs, top: usize, out: &mut impl Write) -> Result<(), CliError> {
        let value = self.get_json("/v1/regions", &Self::as_of_query(at))?;
        if self.cli.json {
            return write_json(self.cli, &value, out, false);
        }
        let view = serde_json::from_value(value)
            .map_err(|e| CliError::new(Code::Failure, format!("error: unreadable view: {e}")))?;
        views::write_regions(&view, top, out)?;
        Ok(())
    }

    fn verify(&self, out: &mut impl Write) -> Result<(), CliError> {
        let response = self.send(self.client.get(format!("{}/v1/verify", self.base)))?;
        let status = response.status();
        if status != StatusCode::OK && status != StatusCode::INTERNAL_SERVER_ERROR {
            return Err(self.failure(response, None));
        }
        let body: Value = response
            .json()
            .map_err(|e| CliError::new(Code::Failure, format!("error: unreadable answer: {e}")))?;
        if body.get("ok") == Some(&Value::Bool(true)) {
            if self.cli.json {
                return write_json(self.cli, &body, out, false);
            }
            writeln!(
                out,
                "ok: {} events, head {} {}",
                body["events"],
                body["head_seq"],
                body["head_hash"].as_str().unwrap_or_default()
            )?;
            return Ok(());
        }
        match body.get("first_bad_sequence") {
            Some(seq) => Err(CliError::new(
                Code::Verification,
                format!(
                    "verification failed: record {seq} is corrupt: {}",
                    body.get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                ),
            )),
            None => Err(CliError::new(
                Code::Failure,
                format!("error: the server answered {status}: {body}"),
            )),
        }
    }
}
