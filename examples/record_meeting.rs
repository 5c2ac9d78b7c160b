//! Records an operational coordination meeting between Ghana and Colombia.
//!
//! `cargo run --example record_meeting`; idempotent (fixed ids).

use coopledger::Ledger;
use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::values::today_utc;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("COOPLEDGER_DB").unwrap_or_else(|_| "./coopledger-data".into());
    let mut ledger = Ledger::create(&db)?;
    let meeting = json!({
        "type": "MeetingHeld",
        "event_id": "0190f0a1-7c2e-7a10-8b3e-e0b000000001",
        "recorded_by": "example.record_meeting",
        "meeting_id": "0190f0a1-7c2e-7a10-8b3e-e0b0000000aa",
        "kind": "operational_coordination",
        "title": "Coordination on a maritime shipment from Colombia to Ghana",
        "start": "2019-03-12",
        "end": "2019-03-13",
        "venue": {"city": "Accra", "country": "GH"},
        "countries": ["GH", "CO"],
        "participants": {"total": 12, "women": 4}
    });
    let events = parse_text(&meeting.to_string(), Mode::Staff, today_utc())
        .map_err(|v| format!("invalid event: {v:?}"))?;
    for r in ledger.append(events.into_iter().map(|p| p.event).collect())? {
        println!("{}", serde_json::to_string(&r)?);
    }
    let views = ledger.reader().views();
    if let Some(gh) = views.country_view("GH".parse()?) {
        let co = gh
            .counterparts
            .get(&"CO".parse()?)
            .map_or(0, |c| c.meetings);
        println!(
            "Ghana: {} meetings, {co} of them with Colombia",
            gh.meetings
        );
    }
    Ok(())
}
