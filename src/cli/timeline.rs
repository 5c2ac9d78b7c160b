//! `coopledger timeline`: the programme per year or quarter, as a table, its JSON or CSV.

use std::io::Write;

use coopledger::views::timeline::{By, TimelineView};
use proto_events::CountryCode;

use super::exit::CliError;
use super::table::Table;
use super::views::{csv, json};
use super::{AsOfArgs, ByArg, Cli, open};

/// `coopledger timeline [--by year|quarter] [--country CC] [--json | --csv]`.
pub fn run(
    cli: &Cli,
    at: &AsOfArgs,
    by: ByArg,
    country: Option<&str>,
    as_csv: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let country = country
        .map(|code| {
            CountryCode::parse(code).ok_or_else(|| {
                CliError::invalid(format!(
                    "error: --country {code:?} is not an ISO 3166-1 alpha-2 country code"
                ))
            })
        })
        .transpose()?;
    let by = match by {
        ByArg::Year => By::Year,
        ByArg::Quarter => By::Quarter,
    };
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let point = reader.resolve(at.as_of())?;
    let view = reader.timeline(point)?.timeline().view(by, country);
    if cli.json {
        return json(&view, out);
    }
    if as_csv {
        return csv(&coopledger::documents::timeline_csv(&view)?, out);
    }
    write_timeline(&view, out)?;
    Ok(())
}

/// Writes the timeline as a table, one line per period.
pub fn write_timeline(view: &TimelineView, out: &mut impl Write) -> std::io::Result<()> {
    let mut table = Table::new(&[
        "PERIOD",
        "MEETINGS",
        "ACTIVITIES",
        "PARTICIPANTS",
        "WOMEN",
        "CASES OPENED",
        "CLOSED",
        "INTER-REGIONAL",
        "SHARE",
        "CUMULATIVE",
    ]);
    for p in &view.periods {
        table.row(vec![
            p.period.clone(),
            p.meetings.to_string(),
            p.activities.total.to_string(),
            p.participants.total.to_string(),
            p.participants.women.to_string(),
            p.cases.opened.to_string(),
            p.cases.closed.to_string(),
            format!("{}/{}", p.interregional.events, p.interregional.counted),
            format!("{:.1}%", p.interregional.share * 100.0),
            format!("{:.1}%", p.cumulative.share * 100.0),
        ]);
    }
    table.write(out, 0)?;
    let whose = view.country.map_or_else(
        || "the programme".to_owned(),
        |c| format!("{c} ({})", c.name()),
    );
    let dates = view
        .on
        .map_or_else(String::new, |d| format!(", counting what happened by {d}"));
    writeln!(
        out,
        "{} {}s of {whose}, as of sequence {}{dates}",
        view.periods.len(),
        view.by.as_str(),
        view.as_of_sequence
    )
}
