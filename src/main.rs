//! The `coopledger` command line: a thin shell over the library. See `coopledger --help`.
//!
//! Exit codes: 0 success; 1 storage or internal failure (a store in use by another process
//! included); 2 invalid input or usage; 3 conflict; 4 verification failed; 5 not found.

#![forbid(unsafe_code)]

mod cli;

// mimalloc serves the ledger's many small allocations (decoded events, sled nodes) markedly
// faster than the system allocator; the benchmarks use it for every contender too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
