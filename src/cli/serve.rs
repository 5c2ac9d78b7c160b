//! `coopledger serve`: the HTTP API with the ledger embedded, until SIGINT or SIGTERM.

use std::io::Write;
use std::path::Path;

use coopledger::LedgerHandle;
use coopledger::http::{self, Config, auth::Tokens};

use super::exit::{CliError, Code};
use super::{Cli, open_for_writing};

/// What `serve` was asked for.
pub struct Options<'a> {
    pub addr: &'a str,
    pub tokens: Option<&'a Path>,
    pub public_reads: bool,
    pub key: Option<&'a Path>,
}

/// Serves until a signal, then shuts down gracefully: appends in flight finish and are durable.
pub fn run(cli: &Cli, options: &Options<'_>, out: &mut impl Write) -> Result<(), CliError> {
    let Options {
        addr,
        tokens,
        public_reads,
        key,
    } = *options;
    let key = key
        .map(coopledger::audit::checkpoint::Key::load)
        .transpose()
        .map_err(|e| CliError::invalid(format!("error: {e}")))?
        .map(std::sync::Arc::new);
    let tokens = tokens
        .map(Tokens::load)
        .transpose()
        .map_err(|e| CliError::invalid(format!("error: tokens file {e}")))?;
    if tokens.is_none() {
        eprintln!("warning: no --tokens given: appends are refused and reads are open to anyone");
    } else if public_reads {
        eprintln!("note: --public-reads: reads need no token; appends need a staff token");
    }
    let ledger = open_for_writing(cli)?.ledger;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot start the runtime: {e}"),
            )
        })?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot listen on {addr}: {e}"),
            )
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::new(Code::Failure, format!("error: {e}")))?;
        writeln!(
            out,
            "coopledger serving {} on http://{local}",
            cli.db_display()
        )?;
        out.flush()?;
        let config = Config {
            tokens,
            public_reads,
            key,
            ..Config::default()
        };
        http::serve(
            listener,
            LedgerHandle::start(ledger),
            config,
            shutdown_signal(),
        )
        .await
        .map_err(|e| CliError::new(Code::Failure, format!("error: server failed: {e}")))
    })
}

/// Resolves on SIGINT or SIGTERM.
pub(super) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
