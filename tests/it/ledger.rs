//! The ledger through a real sled directory.

use coopledger::proto_events::{CountryCode, Rule};
use coopledger::{Error, Ledger};
use serde_json::json;

use crate::support::*;

fn cc(code: &str) -> CountryCode {
    CountryCode::parse(code).expect("country")
}

#[test]
fn appends_get_gap_free_sequences_and_survive_reopen() {
    let dir = tempdir();
    let mut ledger = Ledger::open(dir.path()).expect("open");
    let receipts = ledger
        .append(events(&[joined("CV", "2016-07-21"), joined("GH", "2016-07-21")]))
        .expect("append");
    assert_eq!(receipts.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
    let more = ledger
        .append(events(&[activity(id(1), "workshop", &["CV", "GH"], &["ES"], 30, "2018-07-16")]))
        .expect("append");
    assert_eq!(more[0].seq, 3);
    drop(ledger);
    let ledger = Ledger::open(dir.path()).expect("reopen");
    let reader = ledger.reader();
    assert_eq!(reader.head().seq, 3);
    let report = reader.verify(&mut |_, _| {}).expect("verify");
    assert_eq!(report.events, 3);
    let view = reader.views().country_view(cc("CV")).expect("CV view");
    assert_eq!(view.activities.total, 1);
    assert_eq!(view.participants.total, 30);
    assert_eq!(view.counterparts[&cc("ES")].activities, 1);
    let regions = reader.views().interregional_view();
    assert_eq!(regions.interregional.events, 1);
    println!("{}", serde_json::to_string_pretty(&view).unwrap());
    println!("{}", serde_json::to_string_pretty(&regions).unwrap());
}

#[test]
fn reused_id_returns_original_receipt_or_conflicts() {
    let dir = tempdir();
    let mut ledger = Ledger::open(dir.path()).expect("open");
    let first = ledger.append(events(&[with_id(joined("CV", "2016-07-21"), id(7))])).expect("append");
    drop(ledger);
    let mut ledger = Ledger::open(dir.path()).expect("reopen");
    let again = ledger.append(events(&[with_id(joined("CV", "2016-07-21"), id(7))])).expect("retry");
    assert_eq!(first, again);
    assert_eq!(ledger.reader().head().seq, 1);
    let other = ledger.append(events(&[with_id(joined("CV", "2016-07-22"), id(7))]));
    match other {
        Err(e @ Error::Conflict(_)) => assert!(e.has_rule(Rule::EventIdReused), "{e}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let _ = json!({});
}
