//! What an auditor does: replay the whole log, verify the hash chain, and look at the views as
//! the ledger stood at three points of its history.
//!
//! `cargo run --example auditor_replay` (ledger in `COOPLEDGER_DB`, default `./coopledger-data`;
//! it never writes).

use coopledger::{AsOf, Ledger, Options};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("COOPLEDGER_DB").unwrap_or_else(|_| "./coopledger-data".into());
    let ledger = Ledger::open_with(
        &db,
        Options {
            create: false,
            ..Options::default()
        },
    )?;
    let reader = ledger.reader();
    let head = reader.head();
    // Replay: every record, in order, each one's hash checked by the read.
    let (mut next, mut by_type) = (1u64, std::collections::BTreeMap::<&str, u64>::new());
    loop {
        let page = reader.read_forward(next, 1_000)?;
        let Some(last) = page.last() else { break };
        next = last.sequence + 1;
        for event in &page {
            *by_type.entry(event.envelope.event_type.name()).or_default() += 1;
        }
    }
    println!("replayed {} events:", next - 1);
    for (t, n) in &by_type {
        println!("  {t:<24} {n}");
    }
    let report = reader.verify(&mut |_, _| {})?;
    println!(
        "verify: ok, {} events, head {}",
        report.events,
        coopledger::proto_events::hash::to_hex(&report.head_hash)
    );
    for at in [head.seq / 3, 2 * head.seq / 3, head.seq] {
        let views = reader.views_at(AsOf::sequence(at))?;
        let regions = views.interregional_view();
        println!(
            "as of sequence {at}: {} countries, {} inter-regional events ({:.1} % of all)",
            views.countries().count(),
            regions.interregional.events,
            regions.interregional.share * 100.0
        );
    }
    let on = jiff::civil::date(2017, 8, 25);
    let views = reader.views_at(AsOf::date(on))?;
    let activities: u64 = views
        .countries()
        .filter_map(|c| views.country_view(c))
        .map(|v| v.activities.total)
        .max()
        .unwrap_or(0);
    println!("by {on} the busiest country had taken part in {activities} activities");
    Ok(())
}
