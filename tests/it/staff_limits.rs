//! The limits of one staff text agree with the ledger's: a text is appended as one batch, so it
//! may hold no more events than a batch.

use coopledger::ledger::MAX_BATCH_EVENTS;
use coopledger::proto_events::staff::MAX_TEXT_EVENTS;

#[test]
fn a_staff_text_holds_at_most_one_batch() {
    assert_eq!(
        MAX_TEXT_EVENTS, MAX_BATCH_EVENTS,
        "proto_events::staff::MAX_TEXT_EVENTS must follow the ledger's batch limit"
    );
}
