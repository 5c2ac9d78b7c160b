//! A cooperation case from opening, through its milestones, to closing: Brazil and Nigeria
//! with Spain added later. One atomic batch; idempotent (fixed ids).
//!
//! `cargo run --example open_case`

use coopledger::Ledger;
use coopledger::proto_events::staff::{Mode, parse_text};
use coopledger::proto_events::values::today_utc;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = std::env::var("COOPLEDGER_DB").unwrap_or_else(|_| "./coopledger-data".into());
    let mut ledger = Ledger::create(&db)?;
    let case = "0190f0a1-7c2e-7a10-8b3e-e0d0000000aa";
    let id = |n: u8| format!("0190f0a1-7c2e-7a10-8b3e-e0d0000000{n:02}");
    let by = "example.open_case";
    let events = [
        json!({"type": "CaseOpened", "event_id": id(1), "recorded_by": by, "case_id": case,
            "codename": "Santos container", "case_type": "post_seizure_investigation",
            "countries": ["BR", "NG"], "lead": "BR", "opened_on": "2018-02-20"}),
        json!({"type": "CaseMilestoneRecorded", "event_id": id(2), "recorded_by": by, "case_id": case,
            "on": "2018-02-21", "milestone": {"kind": "seizure", "country": "BR", "commodity": "cocaine", "quantity_kg": 812.5}}),
        json!({"type": "CaseMilestoneRecorded", "event_id": id(3), "recorded_by": by, "case_id": case,
            "on": "2018-03-10", "milestone": {"kind": "mla_request_sent", "from": "BR", "to": "NG"}}),
        json!({"type": "CaseCountryAdded", "event_id": id(4), "recorded_by": by, "case_id": case,
            "country": "ES", "added_on": "2018-04-02"}),
        json!({"type": "CaseMilestoneRecorded", "event_id": id(5), "recorded_by": by, "case_id": case,
            "on": "2018-06-15", "milestone": {"kind": "arrests", "country": "ES", "count": 3}}),
        json!({"type": "CaseMilestoneRecorded", "event_id": id(6), "recorded_by": by, "case_id": case,
            "on": "2019-01-30", "milestone": {"kind": "conviction", "country": "BR", "count": 2}}),
        json!({"type": "CaseClosed", "event_id": id(7), "recorded_by": by, "case_id": case,
            "closed_on": "2019-02-28", "outcome": "convicted"}),
    ];
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    let parsed = parse_text(&text, Mode::Staff, today_utc())
        .map_err(|v| format!("invalid events: {v:?}"))?;
    for r in ledger.append(parsed.into_iter().map(|p| p.event).collect())? {
        println!("{}", serde_json::to_string(&r)?);
    }
    if let Some(es) = ledger.reader().views().country_view("ES".parse()?) {
        println!(
            "Spain: {} open and {} closed cases",
            es.cases.open, es.cases.closed
        );
    }
    Ok(())
}
