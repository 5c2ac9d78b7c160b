//! `coopledger verify` and `coopledger rebuild`.

use std::io::Write;

use coopledger::ViewName;
use proto_events::hash::to_hex;

use super::Cli;
use super::exit::CliError;
use super::progress::Progress;

/// Recomputes the whole chain; prints `ok: N events, head SEQ HASH`.
pub fn run(cli: &Cli, out: &mut impl Write) -> Result<(), CliError> {
    // The walk does not open the ledger, so it can name the first bad record of a store too
    // damaged to open.
    let mut progress = Progress::new("verified", None, cli.quiet > 0);
    let report =
        coopledger::ledger::verify_at(&cli.location(), &mut |done| progress.set(done, None))?;
    progress.finish();
    if cli.json {
        let value = serde_json::json!({
            "ok": true,
            "events": report.events,
            "head_seq": report.head_seq,
            "head_hash": to_hex(&report.head_hash),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "ok: {} events, head {} {}",
            report.events,
            report.head_seq,
            to_hex(&report.head_hash)
        )?;
    }
    Ok(())
}

/// Drops a view's stored state and refolds it from the log, with progress.
pub fn rebuild(cli: &Cli, which: ViewName, out: &mut impl Write) -> Result<(), CliError> {
    // Views changed outside the ledger are what a rebuild is for: refolded at open, not refused.
    let options = coopledger::Options {
        refold_damaged_views: true,
        ..coopledger::Options::default()
    };
    let started = std::time::Instant::now();
    let mut ledger =
        coopledger::Ledger::open_at(&cli.location(), options).map_err(CliError::from)?;
    let total = ledger.reader().head().seq;
    let folded = if ledger.refolded_at_open() {
        // The open refolded every view already (they were damaged or missing): once is enough.
        total
    } else {
        let mut progress = Progress::new("folded", Some(total), cli.quiet > 0);
        let folded = ledger.rebuild_views(which, &mut |p| progress.set(p.done, Some(p.total)))?;
        progress.finish();
        folded
    };
    let secs = started.elapsed().as_secs_f64();
    let rate = folded as f64 / secs.max(1e-9);
    if cli.json {
        let value = serde_json::json!({"view": format!("{which:?}").to_lowercase(), "events": folded, "seconds": secs, "events_per_second": rate});
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "rebuilt {which:?} views from {folded} events in {secs:.2}s ({rate:.0} events/s)"
        )?;
    }
    Ok(())
}

/// `coopledger migrate`: the ledger in this build's format, verified before and after.
pub fn migrate(cli: &Cli, out: &mut impl Write) -> Result<(), CliError> {
    let mut progress: Option<(&'static str, Progress)> = None;
    let report =
        coopledger::ledger::migrate::migrate(&cli.location(), &mut |step, done, total| {
            if progress.as_ref().is_none_or(|(s, _)| *s != step) {
                if let Some((_, p)) = progress.take() {
                    p.finish();
                }
                let total = (total > 0).then_some(total);
                progress = Some((step, Progress::new(step, total, cli.quiet > 0)));
            }
            if let Some((_, p)) = &mut progress {
                p.set(done, (total > 0).then_some(total));
            }
        })?;
    if let Some((_, p)) = progress {
        p.finish();
    }
    if cli.json {
        let value = serde_json::json!({
            "ok": true,
            "moved": report.moved,
            "events": report.head.events,
            "head_hash": to_hex(&report.head.head_hash),
            "root": to_hex(&report.root),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "ok: {} records moved to format {}; {} events, head {} {}, Merkle root {} (verified before and after)",
            report.moved,
            coopledger::store::sled::FORMAT_VERSION,
            report.head.events,
            report.head.head_seq,
            to_hex(&report.head.head_hash),
            to_hex(&report.root)
        )?;
    }
    Ok(())
}
