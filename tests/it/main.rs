//! Integration tests, in one binary (one link, shared helpers). Each module exercises the
//! product through a real sled directory, the built binary or a real HTTP port.

mod bad_input;
mod cli;
mod compat;
mod corruption;
mod crash;
mod dashboard;
mod examples;
mod exports;
mod fuzz_regressions;
mod http;
mod ledger;
mod proofs;
mod staff_limits;
mod state_machine;
mod story;
mod subscribe;
mod support;
mod views_model;
