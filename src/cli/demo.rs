//! `coopledger demo`: the CRIMJUST story (and, when asked, a synthetic programme), then views and
//! verify.

use std::io::Write;

use coopledger::story;
use coopledger::synth::Synth;
use proto_events::CountryCode;
use proto_events::hash::to_hex;

use super::Cli;
use super::exit::CliError;
use super::views::{write_country, write_regions};

/// The seed of the demo's synthetic programme (fixed, so reruns add nothing).
const SEED: u64 = 2016;

/// Records the story and `synthetic` generated events (none by default), then prints a few
/// views.
pub fn run(cli: &Cli, synthetic: usize, out: &mut impl Write) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    // The demo sets everything up on a fresh machine: it creates its ledger.
    let mut ledger = super::open_or_create(cli)?;
    let before = ledger.reader().head().seq;
    let story = story::events().map_err(|v| {
        CliError::new(
            super::Code::Failure,
            format!("error: the built-in story is invalid: {v:?}"),
        )
    })?;
    let story_len = story.len();
    ledger.append(story)?;
    let programme = Synth::new(SEED)
        .assume_joined(&story::joined())
        .believable(synthetic);
    for chunk in programme.chunks(5_000) {
        ledger.append(chunk.to_vec())?;
    }
    let reader = ledger.reader();
    let head = reader.head().seq;
    if cli.json {
        let report = reader.verify(&mut |_, _| {})?;
        let value = serde_json::json!({
            "db": cli.db_display(),
            "story": story_len,
            "synthetic": synthetic,
            "new": head - before,
            "head": head,
            "seconds": started.elapsed().as_secs_f64(),
            "verified": {
                "ok": true,
                "events": report.events,
                "head_seq": report.head_seq,
                "head_hash": to_hex(&report.head_hash),
            },
        });
        writeln!(out, "{value}")?;
        return Ok(());
    }
    let added = if synthetic > 0 {
        format!(
            " and a synthetic programme ({synthetic} events, labelled synthetic in their source)"
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "recorded the CRIMJUST story ({story_len} events){added} in {}: {} new, head {head} ({:.1}s)\n",
        cli.db_display(),
        head - before,
        started.elapsed().as_secs_f64()
    )?;
    let views = reader.views();
    for code in ["GH", "CO", "ES"] {
        if let Some(view) = CountryCode::parse(code).and_then(|c| views.country_view(c)) {
            write_country(&view, out)?;
            writeln!(out)?;
        }
    }
    write_regions(&views.interregional_view(), 5, out)?;
    let report = reader.verify(&mut |_, _| {})?;
    writeln!(
        out,
        "\nok: {} events, head {} {}",
        report.events,
        report.head_seq,
        to_hex(&report.head_hash)
    )?;
    Ok(())
}
