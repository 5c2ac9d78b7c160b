//! `country`, `countries` and `regions`: the views as tables, exactly their JSON, or CSV.

use std::io::Write;

use coopledger::views::{CountryView, InterRegionalView, ViewState};
use proto_events::CountryCode;

use super::exit::CliError;
use super::table::Table;
use super::{AsOfArgs, Cli, RegionsTable, open};

fn state(cli: &Cli, at: &AsOfArgs) -> Result<std::sync::Arc<ViewState>, CliError> {
    let ledger = open(cli)?;
    let reader = ledger.reader();
    Ok(reader.views_at(at.as_of())?)
}

/// Prints `value` as one line of JSON.
pub fn json(value: &impl serde::Serialize, out: &mut impl Write) -> Result<(), CliError> {
    let text = serde_json::to_string(value).map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// Prints CSV text as it is.
pub fn csv(text: &str, out: &mut impl Write) -> Result<(), CliError> {
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// `coopledger country CC`.
pub fn country(cli: &Cli, code: &str, at: &AsOfArgs, out: &mut impl Write) -> Result<(), CliError> {
    let country = CountryCode::parse(code).ok_or_else(|| {
        CliError::invalid(format!(
            "error: {code:?} is not an ISO 3166-1 alpha-2 country code"
        ))
    })?;
    let views = state(cli, at)?;
    let Some(view) = views.country_view(country) else {
        return Err(CliError::not_found(format!(
            "error: {country} ({}) has never joined nor been involved in anything as of sequence {}",
            country.name(),
            views.as_of
        )));
    };
    if cli.json {
        return json(&view, out);
    }
    write_country(&view, out)?;
    Ok(())
}

/// Writes one country's view as text (also used by the demo).
pub fn write_country(v: &CountryView, out: &mut impl Write) -> std::io::Result<()> {
    let m49 = |c: &Option<String>| c.clone().unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{} {} — {} (M49 {}/{}/{})",
        v.country,
        v.name,
        v.programme_region,
        m49(&v.m49.region),
        m49(&v.m49.sub_region),
        m49(&v.m49.intermediate_region)
    )?;
    let participation = match (&v.participation.status, &v.participation.joined_on) {
        (Some(status), Some(on)) => format!("{status} (joined {on})"),
        _ => "never joined".into(),
    };
    writeln!(out, "  participation   {participation}")?;
    writeln!(out, "  meetings        {}", v.meetings)?;
    let kinds: Vec<String> = v
        .activities
        .by_kind
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    writeln!(
        out,
        "  activities      {}{}",
        v.activities.total,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    )?;
    writeln!(
        out,
        "  participants    {} (women {})",
        v.participants.total, v.participants.women
    )?;
    writeln!(
        out,
        "  cases           {} open, {} closed",
        v.cases.open, v.cases.closed
    )?;
    if !v.counterparts.is_empty() {
        let mut table = Table::new(&["COUNTERPART", "MEETINGS", "ACTIVITIES", "CASES"]);
        for (c, n) in &v.counterparts {
            table.row(vec![
                c.to_string(),
                n.meetings.to_string(),
                n.activities.to_string(),
                n.cases.to_string(),
            ]);
        }
        table.write(out, 2)?;
    }
    writeln!(out, "  as of sequence  {}", v.as_of_sequence)
}

/// `coopledger countries`.
pub fn countries(
    cli: &Cli,
    at: &AsOfArgs,
    as_csv: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let views = state(cli, at)?;
    let all: Vec<CountryView> = views
        .countries()
        .filter_map(|c| views.country_view(c))
        .collect();
    if cli.json {
        return json(&all, out);
    }
    if as_csv {
        return csv(&coopledger::documents::countries_csv(&all)?, out);
    }
    write_countries(&all, views.as_of, out)?;
    Ok(())
}

/// Writes every country's view as one table.
pub fn write_countries(
    all: &[CountryView],
    as_of: u64,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut table = Table::new(&[
        "CC",
        "NAME",
        "REGION",
        "STATUS",
        "MEETINGS",
        "ACTIVITIES",
        "PARTICIPANTS",
        "WOMEN",
        "OPEN",
        "CLOSED",
    ]);
    for v in all {
        table.row(vec![
            v.country.to_string(),
            v.name.clone(),
            v.programme_region.to_string(),
            v.participation
                .status
                .map_or_else(|| "-".into(), |s| s.to_string()),
            v.meetings.to_string(),
            v.activities.total.to_string(),
            v.participants.total.to_string(),
            v.participants.women.to_string(),
            v.cases.open.to_string(),
            v.cases.closed.to_string(),
        ]);
    }
    table.write(out, 0)?;
    writeln!(out, "{} countries, as of sequence {as_of}", all.len())
}

/// `coopledger regions`; with a table, that table of the view as CSV.
pub fn regions(
    cli: &Cli,
    at: &AsOfArgs,
    top: usize,
    as_csv: Option<RegionsTable>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let views = state(cli, at)?;
    let view = views.interregional_view();
    if cli.json {
        return json(&view, out);
    }
    if let Some(table) = as_csv {
        let corridors = table == RegionsTable::Corridors;
        return csv(&coopledger::documents::regions_csv(&view, corridors)?, out);
    }
    write_regions(&view, top, out)?;
    Ok(())
}

/// Writes the inter-regional view as text (also used by the demo).
pub fn write_regions(
    view: &InterRegionalView,
    top: usize,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut pairs = Table::new(&["REGIONS", "MEETINGS", "ACTIVITIES", "CASES"]);
    for p in &view.pairs {
        pairs.row(vec![
            format!("{} × {}", p.regions[0], p.regions[1]),
            p.meetings.to_string(),
            p.activities.to_string(),
            p.cases.to_string(),
        ]);
    }
    pairs.write(out, 0)?;
    writeln!(
        out,
        "inter-regional: {} events, share {:.1}%",
        view.interregional.events,
        view.interregional.share * 100.0
    )?;
    if !view.corridors.is_empty() {
        writeln!(out, "top corridors:")?;
        let mut corridors = Table::new(&["COUNTRIES", "EVENTS"]);
        for c in view.corridors.iter().take(top) {
            corridors.row(vec![
                format!("{}–{}", c.countries[0], c.countries[1]),
                c.events.to_string(),
            ]);
        }
        corridors.write(out, 2)?;
    }
    writeln!(out, "as of sequence {}", view.as_of_sequence)
}
