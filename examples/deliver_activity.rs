//! Records a delivered training for Cabo Verde and Guinea-Bissau with Portuguese trainers.
//!
//! `cargo run --example deliver_activity`; idempotent (fixed ids).

use coopledger::Ledger;
use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::values::today_utc;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("COOPLEDGER_DB").unwrap_or_else(|_| "./coopledger-data".into());
    let mut ledger = Ledger::create(&db)?;
    let activity = json!({
        "type": "ActivityDelivered",
        "event_id": "0190f0a1-7c2e-7a10-8b3e-e0c000000001",
        "recorded_by": "example.deliver_activity",
        "source": "Mission report (example)",
        "activity_id": "0190f0a1-7c2e-7a10-8b3e-e0c0000000aa",
        "kind": "training",
        "title": "Training on airport interdiction",
        "pillar": "capacity_building",
        "start": "2018-11-05",
        "end": "2018-11-09",
        "venue": {"city": "Praia", "country": "CV"},
        "beneficiaries": ["CV", "GW"],
        "other_countries": ["PT"],
        "participants": {"total": 24, "women": 9, "men": 15},
        "institutions": ["police", "customs"]
    });
    let events = parse_text(&activity.to_string(), Mode::Staff, today_utc())
        .map_err(|v| format!("invalid event: {v:?}"))?;
    for r in ledger.append(events.into_iter().map(|p| p.event).collect())? {
        println!("{}", serde_json::to_string(&r)?);
    }
    if let Some(cv) = ledger.reader().views().country_view("CV".parse()?) {
        println!(
            "Cabo Verde: {} activities, {} participants ({} women)",
            cv.activities.total, cv.participants.total, cv.participants.women
        );
    }
    Ok(())
}
