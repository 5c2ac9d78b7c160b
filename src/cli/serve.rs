//! `coopledger serve`: the HTTP API with the ledger embedded, until SIGINT or SIGTERM.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::HeaderValue;
use coopledger::LedgerHandle;
use coopledger::http::{self, Config, auth::Tokens};

use super::exit::{CliError, Code};
use super::{Cli, open_for_writing};

/// What `serve` takes. Every limit has a safe default (see the README's HTTP section).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Tokens file: one `ROLE TOKEN` a line (roles staff and reader). Without it, appends are
    /// refused, and reads too unless --public-reads is given.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// Let reads through without a token, on purpose (appends always need a staff token).
    #[arg(long)]
    public_reads: bool,
    /// The key that signs checkpoints: on `POST /v1/checkpoint` by staff, and on the schedule
    /// of --checkpoint-every. Reads never sign.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Sign a checkpoint of the head every SECONDS when the head has moved (needs --key).
    #[arg(long, value_name = "SECONDS", requires = "key", value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: Option<u64>,
    /// Let a web page of this one origin (`https://host[:port]`) call the API; without it no
    /// CORS header is sent and browsers keep other sites out.
    #[arg(long, value_name = "ORIGIN", value_parser = parse_origin)]
    cors_origin: Option<HeaderValue>,
    /// Connections open at once; more are refused (503) and closed. Keep it below the open-file
    /// limit (`ulimit -n`).
    #[arg(long, default_value_t = Config::default().max_connections, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
    /// Connections open at once from one client address (behind a reverse proxy, every client
    /// has the proxy's address: raise it to --max-connections there).
    #[arg(long, default_value_t = Config::default().max_connections_per_address, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections_per_address: usize,
    /// Close a connection whose request headers take longer than SECONDS to arrive (an idle
    /// keep-alive connection too), or whose client stops reading a response for that long.
    #[arg(long, value_name = "SECONDS", default_value_t = Config::default().idle_timeout.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Run a read-only API node: it writes nothing, follows the records the writer appends
    /// (on PostgreSQL: woken by its notifications, else polling; every hash checked), and
    /// answers appends with 421 naming --writer.
    #[arg(long, conflicts_with_all = ["key", "checkpoint_every"])]
    read_only: bool,
    /// The writer node's URL, named to clients that post appends to this read-only node.
    #[arg(long, value_name = "URL", requires = "read_only")]
    writer: Option<String>,
    /// At SIGINT or SIGTERM, wait at most SECONDS for requests and feeds in flight, then close
    /// their connections (appends the ledger accepted are durable before the process exits).
    #[arg(long, value_name = "SECONDS", default_value_t = Config::default().grace.as_secs())]
    grace: u64,
}

/// An origin as browsers send it: `http` or `https`, a host, an optional port, nothing else.
fn parse_origin(text: &str) -> Result<HeaderValue, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("an origin starts with https:// or http://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ', '*']) {
        return Err(format!(
            "{text:?} is not an origin: expected scheme://host[:port], with no path"
        ));
    }
    HeaderValue::from_str(text).map_err(|e| format!("{text:?}: {e}"))
}

/// The ledger a server runs: written by it, or followed (another process writes).
enum Handle {
    Writer(coopledger::Ledger),
    Follower(coopledger::Ledger),
}

/// Serves until a signal, then shuts down gracefully: appends in flight finish and are durable,
/// and the process exits within the grace period whatever clients do.
pub fn run(cli: &Cli, args: &Args, out: &mut impl Write) -> Result<(), CliError> {
    let key = args
        .key
        .as_deref()
        .map(coopledger::audit::checkpoint::Key::load)
        .transpose()
        .map_err(|e| CliError::invalid(format!("error: {e}")))?
        .map(std::sync::Arc::new);
    let tokens = args
        .tokens
        .as_deref()
        .map(Tokens::load)
        .transpose()
        .map_err(|e| CliError::invalid(format!("error: tokens file {e}")))?;
    match (tokens.is_some(), args.public_reads) {
        (false, false) => eprintln!(
            "warning: no --tokens given: reads and appends are refused (give --tokens FILE; --public-reads opens reads to anyone)"
        ),
        (false, true) => eprintln!(
            "warning: no --tokens given: appends are refused; --public-reads: reads are open to anyone"
        ),
        (true, true) => {
            eprintln!("note: --public-reads: reads need no token; appends need a staff token");
        }
        (true, false) => {}
    }
    let config = Config {
        tokens,
        public_reads: args.public_reads,
        key,
        checkpoint_every: args.checkpoint_every.map(Duration::from_secs),
        cors_origin: args.cors_origin.clone(),
        max_connections: args.max_connections,
        max_connections_per_address: args.max_connections_per_address,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        grace: Duration::from_secs(args.grace),
        read_only: args.read_only,
        writer: args.writer.clone(),
        ..Config::default()
    };
    let handle = if args.read_only {
        let options = coopledger::Options {
            read_only: true,
            ..coopledger::Options::default()
        };
        let ledger = coopledger::Ledger::open_at(&cli.location(), options)?;
        Handle::Follower(ledger)
    } else {
        Handle::Writer(open_for_writing(cli)?.ledger)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot start the runtime: {e}"),
            )
        })?;
    let addr = args.addr.as_str();
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot listen on {addr}: {e}"),
            )
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::new(Code::Failure, format!("error: {e}")))?;
        let (handle, role) = match handle {
            Handle::Writer(ledger) => (LedgerHandle::start(ledger), ""),
            Handle::Follower(ledger) => (LedgerHandle::follow(ledger), " (read-only)"),
        };
        if cli.json {
            let line = serde_json::json!({
                "serving": cli.db_display(),
                "url": format!("http://{local}"),
                "read_only": args.read_only,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "coopledger serving {}{role} on http://{local}",
                cli.db_display()
            )?;
        }
        out.flush()?;
        http::serve(listener, handle, config, shutdown_signal())
            .await
            .map_err(|e| CliError::new(Code::Failure, format!("error: server failed: {e}")))
    });
    // The writer is closed and every accepted append durable by now; a read still running on
    // a blocking thread (a long verification, say) is abandoned rather than waited for.
    runtime.shutdown_background();
    result
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
