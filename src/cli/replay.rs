//! `coopledger replay`: each event with what it changed in the views, hashes checked as it goes.

use std::io::Write;

use coopledger::replay::{ContributionView, CountryMove, Effect, replay};
use proto_events::{CountryCode, RecordedEvent, Stream};

use super::exit::CliError;
use super::{Cli, open};

/// `coopledger replay [--from SEQ] [--to SEQ] [--stream S] [--json]`.
pub fn run(
    cli: &Cli,
    from: u64,
    to: Option<u64>,
    stream: Option<&str>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let stream: Option<Stream> = stream
        .map(|s| {
            s.parse()
                .map_err(|e| CliError::invalid(format!("error: --stream: {e}")))
        })
        .transpose()?;
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let mut failed: Option<std::io::Error> = None;
    let mut each = |event: &RecordedEvent, effect: &Effect| {
        let written = if cli.json {
            coopledger::documents::replay_step(event, effect).map(|v| writeln!(out, "{v}"))?
        } else {
            write_step(event, effect, out)
        };
        written.map_err(|e| {
            let message = e.to_string();
            failed = Some(e);
            coopledger::Error::Internal(message)
        })
    };
    let result = replay(&reader, from, to, stream.as_ref(), &mut each);
    if let Some(e) = failed {
        return Err(e.into());
    }
    let done = result?;
    if !cli.json {
        writeln!(
            out,
            "replayed {done} events; every record's hash and link checked (head {})",
            reader.head().seq
        )?;
    }
    Ok(())
}

fn codes(list: &[CountryCode]) -> String {
    list.iter()
        .map(CountryCode::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(c: &ContributionView) -> String {
    let mut text = format!("{} [{}]", c.entity, codes(&c.countries));
    if let Some(kind) = c.kind {
        text = format!("{} {kind} [{}]", c.entity, codes(&c.countries));
    }
    if let Some(p) = &c.participants {
        text.push_str(&format!(", {} participants", p.total));
        if let Some(w) = p.women {
            text.push_str(&format!(" ({w} women)"));
        }
    }
    if let Some(closed) = c.closed {
        text.push_str(if closed { ", closed" } else { ", open" });
    }
    text
}

fn signed(n: i64) -> String {
    format!("{n:+}")
}

fn country_moves(m: &CountryMove) -> Vec<String> {
    let mut parts = Vec::new();
    for (name, n) in [
        ("meetings", m.meetings),
        ("activities", m.activities),
        ("participants", m.participants_total),
        ("women", m.participants_women),
        ("cases.open", m.cases_open),
        ("cases.closed", m.cases_closed),
    ] {
        if n != 0 {
            parts.push(format!("{name} {}", signed(n)));
        }
    }
    for (kind, n) in &m.by_kind {
        parts.push(format!("{kind} {}", signed(*n)));
    }
    if let Some(p) = &m.participation {
        let show = |s: Option<proto_events::values::ParticipationStatus>| {
            s.map_or_else(|| "none".to_owned(), |s| s.to_string())
        };
        parts.push(format!("participation {} → {}", show(p.from), show(p.to)));
    }
    if !m.counterparts.is_empty() {
        parts.push(format!("{} counterparts", m.counterparts.len()));
    }
    parts
}

/// One event and its effect as text.
fn write_step(event: &RecordedEvent, effect: &Effect, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(
        out,
        "#{} {} {} {}",
        event.sequence,
        event.envelope.recorded_at.strftime("%Y-%m-%d %H:%M:%S"),
        event.envelope.event_type.name(),
        event.envelope.stream
    )?;
    if effect.change == "none" {
        return writeln!(out, "    changes nothing in the views");
    }
    if let Some(c) = &effect.undid {
        writeln!(out, "    undid  {}", describe(c))?;
    }
    if let Some(c) = &effect.added {
        writeln!(out, "    added  {}", describe(c))?;
    }
    for m in &effect.countries {
        writeln!(out, "    {}  {}", m.country, country_moves(m).join(", "))?;
    }
    for p in &effect.pairs {
        let mut parts = Vec::new();
        for (name, n) in [
            ("meetings", p.moved.meetings),
            ("activities", p.moved.activities),
            ("cases", p.moved.cases),
        ] {
            if n != 0 {
                parts.push(format!("{name} {}", signed(n)));
            }
        }
        writeln!(
            out,
            "    {} × {}  {}",
            p.regions[0],
            p.regions[1],
            parts.join(", ")
        )?;
    }
    if effect.interregional != 0 || effect.counted != 0 {
        writeln!(
            out,
            "    inter-regional {}, counted {}",
            signed(effect.interregional),
            signed(effect.counted)
        )?;
    }
    if effect.countries.is_empty() && effect.pairs.is_empty() {
        writeln!(out, "    no counter moved")?;
    }
    Ok(())
}
