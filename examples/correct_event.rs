//! Two sources disagree: the ledger records the correction, it never overwrites.
//!
//! Records a workshop with 5 women among 30 participants, then corrects it to 6 (20 %) as a
//! second source says. `cargo run --example correct_event`; idempotent (fixed ids).

use coopledger::Ledger;
use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::values::today_utc;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("COOPLEDGER_DB").unwrap_or_else(|_| "./coopledger-data".into());
    let mut ledger = Ledger::create(&db)?;
    let payload = |women: u32| {
        json!({"activity_id": "0190f0a1-7c2e-7a10-8b3e-e0e0000000aa", "kind": "workshop",
            "title": "Workshop on asset recovery", "pillar": "capacity_building",
            "start": "2018-09-10", "end": "2018-09-12", "venue": {"city": "Dakar", "country": "SN"},
            "beneficiaries": ["SN", "GM"], "participants": {"total": 30, "women": women}})
    };
    let mut delivered = payload(5);
    delivered["type"] = json!("ActivityDelivered");
    delivered["event_id"] = json!("0190f0a1-7c2e-7a10-8b3e-e0e000000001");
    delivered["recorded_by"] = json!("example.correct_event");
    delivered["source"] = json!("Attendance sheet (example)");
    let correction = json!({"type": "EventCorrected", "event_id": "0190f0a1-7c2e-7a10-8b3e-e0e000000002",
        "recorded_by": "example.correct_event", "source": "Final report: 20 % women (example)",
        "target": "0190f0a1-7c2e-7a10-8b3e-e0e000000001",
        "reason": "The final report gives 20 % women among the 30 participants.",
        "replacement": payload(6)});
    for event in [delivered, correction] {
        let parsed = parse_text(&event.to_string(), Mode::Staff, today_utc())
            .map_err(|v| format!("invalid event: {v:?}"))?;
        for r in ledger.append(parsed.into_iter().map(|p| p.event).collect())? {
            println!("{}", serde_json::to_string(&r)?);
        }
    }
    let reader = ledger.reader();
    let stream = "activity/0190f0a1-7c2e-7a10-8b3e-e0e0000000aa".parse()?;
    let history = reader.read_stream(&stream, 1, 100)?;
    println!(
        "the activity's stream keeps both events: {} recorded",
        history.len()
    );
    if let Some(sn) = reader.views().country_view("SN".parse()?) {
        println!(
            "Senegal counts the corrected figure: {} women",
            sn.participants.women
        );
    }
    Ok(())
}
