//! # coopledger
//!
//! An event-sourced ledger of international cooperation: an append-only, hash-chained log of
//! cooperation events stored in sled, and projections that rebuild per-country and
//! inter-regional views from it. See `ARCHITECTURE.md` for the codemap and invariants.
//!
//! ```no_run
//! use coopledger::Ledger;
//! use proto_events::staff::{parse_text, Mode};
//!
//! let mut ledger = Ledger::create("./coopledger-data")?;
//! let text = std::fs::read_to_string("events.jsonl")?;
//! let today = proto_events::values::today_utc();
//! let events = parse_text(&text, Mode::Staff, today).map_err(|v| format!("{v:?}"))?;
//! let receipts = ledger.append(events.into_iter().map(|p| p.event).collect())?;
//! println!("{} appended, head {}", receipts.len(), ledger.reader().head().seq);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod audit;
pub mod dashboard;
pub mod documents;
pub mod entity;
pub mod error;
mod failpoint;
pub mod handle;
pub mod http;
pub mod iati;
pub mod ledger;
pub mod merkle;
pub mod metrics;
pub mod replay;
pub mod store;
pub mod story;
pub mod synth;
pub mod table;
pub mod views;
pub mod witness;

pub use error::Error;
pub use handle::{LedgerHandle, Subscription, SubscriptionError};
pub use ledger::{
    AsOf, At, Ledger, Options, Reader, Receipt, Request, Resolved, ViewName, verify_store,
};
pub use proto_events;
