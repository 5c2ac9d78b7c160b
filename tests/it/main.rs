//! Integration tests, in one binary (one link, shared helpers). Each module exercises the
//! product through a real sled directory, the built binary or a real HTTP port.

mod availability;
mod backends;
mod bad_input;
mod cli;
mod compat;
mod conformance;
mod corruption;
mod crash;
mod damage_messages;
mod dashboard;
mod examples;
mod exports;
mod forgery;
mod fuzz_regressions;
mod http;
mod index_tamper;
mod layout;
mod ledger;
mod migrate;
mod pg;
mod proofs;
mod schemas;
mod staff;
mod staff_limits;
mod state_machine;
mod story;
mod subscribe;
mod support;
mod tlog;
mod views_model;
mod views_tamper;
mod witness;
