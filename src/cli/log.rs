//! `log`, `show`, `stream` and `export`: recorded events, as tables or JSON Lines.

use std::io::Write;

use coopledger::Reader;
use coopledger::ledger::MAX_PAGE;
use proto_events::staff::recorded_to_object;
use proto_events::{EventType, Fact, Payload, RecordedEvent, Stream};
use uuid::Uuid;

use super::exit::CliError;
use super::table::Table;
use super::{Cli, input, open};

/// What `log` lists.
pub struct Filter {
    pub from: Option<u64>,
    pub limit: usize,
    pub stream: Option<String>,
    pub event_type: Option<String>,
    pub reverse: bool,
    pub csv: bool,
}

/// `coopledger log`.
pub fn log(cli: &Cli, filter: &Filter, out: &mut impl Write) -> Result<(), CliError> {
    let event_type = filter
        .event_type
        .as_deref()
        .map(|t| EventType::from_name(t).ok_or_else(|| input::unknown_type(t)))
        .transpose()?;
    let stream = filter.stream.as_deref().map(parse_stream).transpose()?;
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let keep = |e: &RecordedEvent| event_type.is_none_or(|t| e.envelope.event_type == t);
    // One more than asked for tells whether more rows exist.
    let wanted = filter.limit.saturating_add(1);
    let mut events = Vec::new();
    if let Some(stream) = &stream {
        let mut all = reader.read_stream(stream, 1, MAX_PAGE)?;
        all.retain(|e| {
            filter.from.is_none_or(|f| {
                if filter.reverse {
                    e.sequence <= f
                } else {
                    e.sequence >= f
                }
            })
        });
        if filter.reverse {
            all.reverse();
        }
        events.extend(all.into_iter().filter(|e| keep(e)).take(wanted));
    } else {
        page_through(&reader, filter, wanted, &keep, &mut events)?;
    }
    let more = events.len() > filter.limit;
    events.truncate(filter.limit);
    if filter.csv {
        return super::views::csv(&coopledger::table::events_csv(&events)?, out);
    }
    write_events(cli, &events, out)?;
    if more && !cli.json {
        let (last, next) = match events.last() {
            Some(e) if filter.reverse => {
                (e.sequence, format!("--from {} --reverse", e.sequence - 1))
            }
            Some(e) => (e.sequence, format!("--from {}", e.sequence + 1)),
            None => (0, String::new()),
        };
        writeln!(
            out,
            "… more events after sequence {last} (the first {} shown): coopledger log {next}",
            filter.limit
        )?;
    }
    Ok(())
}

fn page_through(
    reader: &Reader,
    filter: &Filter,
    wanted: usize,
    keep: &dyn Fn(&RecordedEvent) -> bool,
    events: &mut Vec<RecordedEvent>,
) -> Result<(), CliError> {
    let head = reader.head().seq;
    let mut next = if filter.reverse {
        filter.from.unwrap_or(head).min(head)
    } else {
        filter.from.unwrap_or(1).max(1)
    };
    while events.len() < wanted {
        let page = if filter.reverse {
            if next == 0 {
                break;
            }
            reader.read_backward(next, 1_000)?
        } else {
            if next > head {
                break;
            }
            reader.read_forward(next, 1_000)?
        };
        let Some(last) = page.last().map(|e| e.sequence) else {
            break;
        };
        next = if filter.reverse {
            last.saturating_sub(1)
        } else {
            last + 1
        };
        let room = wanted - events.len();
        events.extend(page.into_iter().filter(|e| keep(e)).take(room));
    }
    Ok(())
}

/// `coopledger show EVENT_ID`.
pub fn show(cli: &Cli, id: &Uuid, out: &mut impl Write) -> Result<(), CliError> {
    let ledger = open(cli)?;
    let event = ledger
        .reader()
        .get(id)?
        .ok_or_else(|| CliError::not_found(format!("error: no event {id} in the ledger")))?;
    let object = serde_json::Value::Object(recorded_to_object(&event));
    let text = if cli.json {
        serde_json::to_string(&object)
    } else {
        serde_json::to_string_pretty(&object)
    }
    .map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// `coopledger stream STREAM`.
pub fn stream(cli: &Cli, stream: &str, out: &mut impl Write) -> Result<(), CliError> {
    let stream = parse_stream(stream)?;
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let mut events = Vec::new();
    let mut from = 1;
    loop {
        let page = reader.read_stream(&stream, from, MAX_PAGE)?;
        if page.is_empty() {
            break;
        }
        from += page.len() as u64;
        events.extend(page);
    }
    if events.is_empty() && !cli.json {
        writeln!(out, "{stream} has no events")?;
        return Ok(());
    }
    write_events(cli, &events, out)
}

/// `coopledger export`: every record from `from` on, as the `log --json` lines.
pub fn export(cli: &Cli, from: u64, out: &mut impl Write) -> Result<(), CliError> {
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let mut next = from.max(1);
    loop {
        let page = reader.read_forward(next, MAX_PAGE)?;
        let Some(last) = page.last().map(|e| e.sequence) else {
            break;
        };
        for event in &page {
            json_line(event, out)?;
        }
        next = last + 1;
    }
    out.flush()?;
    Ok(())
}

fn parse_stream(text: &str) -> Result<Stream, CliError> {
    text.parse()
        .map_err(|e| CliError::invalid(format!("error: {e}")))
}

fn json_line(event: &RecordedEvent, out: &mut impl Write) -> Result<(), CliError> {
    let line = serde_json::to_string(&recorded_to_object(event))
        .map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{line}")?;
    Ok(())
}

/// Writes events as a table, or as JSON Lines with `--json`.
pub fn write_events(
    cli: &Cli,
    events: &[RecordedEvent],
    out: &mut impl Write,
) -> Result<(), CliError> {
    if cli.json {
        for event in events {
            json_line(event, out)?;
        }
        return Ok(());
    }
    let mut table = Table::new(&[
        "SEQ",
        "EVENT ID",
        "RECORDED AT",
        "TYPE",
        "STREAM",
        "VER",
        "SUMMARY",
    ]);
    for e in events {
        table.row(vec![
            e.sequence.to_string(),
            e.envelope.event_id.to_string(),
            e.envelope
                .recorded_at
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string(),
            e.envelope.event_type.name().to_owned(),
            short_stream(&e.envelope.stream),
            e.stream_version.to_string(),
            summary(&e.payload),
        ]);
    }
    table.write(out, 0)?;
    Ok(())
}

/// A stream name with UUIDs shortened to their first 8 digits, for tables.
fn short_stream(stream: &Stream) -> String {
    let text = stream.to_string();
    match text.split_once('/') {
        Some((kind, id)) if id.len() == 36 => format!("{kind}/{}…", &id[..8]),
        _ => text,
    }
}

fn codes(list: &[proto_events::CountryCode]) -> String {
    list.iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line describing an event.
fn summary(payload: &Payload) -> String {
    match payload {
        Payload::Fact(f) => fact_summary(f),
        Payload::Corrected(c) => format!("corrects {}: {}", c.target, c.reason),
        Payload::Retracted(r) => format!("retracts {} ({})", r.target, r.reason),
    }
}

fn fact_summary(fact: &Fact) -> String {
    match fact {
        Fact::PartnerRegistered(p) => format!("{} ({})", p.name, p.partner),
        Fact::CountryJoined(j) => format!(
            "{} joined as {} on {}",
            j.country, j.participation, j.joined_on
        ),
        Fact::ParticipationChanged(c) => format!(
            "{} now {} since {}",
            c.country, c.participation, c.changed_on
        ),
        Fact::MeetingHeld(m) => format!(
            "{} {}..{} [{}]",
            m.title,
            m.start,
            m.end,
            codes(&m.countries)
        ),
        Fact::ActivityScheduled(a) => format!(
            "planned: {} {} [{}]",
            a.title,
            a.start,
            codes(&a.beneficiaries)
        ),
        Fact::ActivityDelivered(a) => format!(
            "{} {} [{}{}] {} participants",
            a.title,
            a.start,
            codes(&a.beneficiaries),
            if a.other_countries.is_empty() {
                String::new()
            } else {
                format!(" + {}", codes(&a.other_countries))
            },
            a.participants.total
        ),
        Fact::ActivityCancelled(a) => format!("cancelled on {}: {}", a.cancelled_on, a.reason),
        Fact::CaseOpened(c) => format!(
            "{} opened {} [{}] lead {}",
            c.codename,
            c.opened_on,
            codes(&c.countries),
            c.lead
        ),
        Fact::CaseCountryAdded(a) => format!("{} added on {}", a.country, a.added_on),
        Fact::CaseMilestoneRecorded(m) => format!("{} on {}", m.milestone.kind(), m.on),
        Fact::CaseClosed(c) => format!("closed {} ({})", c.closed_on, c.outcome),
    }
}
