//! Integration tests, in one binary (one link, shared helpers). Each module exercises the
//! product through a real sled directory, the built binary or a real HTTP port.

mod backends;
mod bad_input;
mod cli;
mod compat;
mod conformance;
mod corruption;
mod crash;
mod dashboard;
mod examples;
mod fuzz_regressions;
mod http;
mod ledger;
mod pg;
mod proofs;
mod staff_limits;
mod state_machine;
mod subscribe;
mod support;
mod views_model;
mod views_tamper;
