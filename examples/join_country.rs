//! A country joins the programme: Sierra Leone as a beneficiary.
//!
//! `cargo run --example join_country` (ledger in `COOPLEDGER_DB`, default `./coopledger-data`).
//! The event has a fixed id, so a rerun prints the original receipt and appends nothing.

use coopledger::Ledger;
use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::values::today_utc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("COOPLEDGER_DB").unwrap_or_else(|_| "./coopledger-data".into());
    let mut ledger = Ledger::create(&db)?;
    let line = r#"{"type": "CountryJoined", "event_id": "0190f0a1-7c2e-7a10-8b3e-e0a000000001",
        "recorded_by": "example.join_country", "source": "Programme board decision (example)",
        "country": "SL", "joined_on": "2019-05-02", "participation": "beneficiary"}"#;
    let events = parse_text(&line.replace('\n', " "), Mode::Staff, today_utc())
        .map_err(|v| format!("invalid event: {v:?}"))?;
    let receipts = ledger.append(events.into_iter().map(|p| p.event).collect())?;
    for r in &receipts {
        println!("{}", serde_json::to_string(r)?);
    }
    let view = ledger.reader().views().country_view("SL".parse()?);
    if let Some(view) = view {
        println!(
            "{} is a {} since {}",
            view.name,
            view.participation
                .status
                .map_or("-".into(), |s| s.to_string()),
            view.participation
                .joined_on
                .map_or("-".into(), |d| d.to_string())
        );
    }
    Ok(())
}
