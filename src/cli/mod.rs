//! Argument parsing, dispatch, tracing set-up and exit codes.

mod append;
mod audit;
mod demo;
mod exit;
mod import;
mod input;
mod log;
mod progress;
mod remote;
mod report;
mod serve;
mod table;
mod verify;
mod views;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use coopledger::store::Location;
use coopledger::{AsOf, Ledger, ViewName};
use proto_events::{Date, Timestamp};

pub use exit::{CliError, Code};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  storage or internal failure (including a ledger in use by another process)
  2  invalid input or usage
  3  conflict (expected version, event id reused with other content)
  4  verification failed";

/// coopledger: an append-only, hash-chained ledger of international cooperation.
#[derive(Parser, Debug)]
#[command(name = "coopledger", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// The ledger: a directory (sled), or a `postgres://` / `postgresql://` URL (libpq form:
    /// several hosts and `target_session_attrs=read-write` allowed).
    #[arg(
        long,
        env = "COOPLEDGER_DB",
        default_value = "./coopledger-data",
        global = true,
        hide_env_values = true
    )]
    pub db: String,
    /// Print data as JSON (JSON Lines for lists of events).
    #[arg(long, global = true)]
    pub json: bool,
    /// More logging on stderr (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less logging on stderr (-q errors only, -qq nothing).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub quiet: u8,
    /// Work through a running `coopledger serve` instead of opening the store (append, log,
    /// country, countries, regions, verify).
    #[arg(long, env = "COOPLEDGER_SERVER", global = true)]
    pub server: Option<String>,
    /// The bearer token for --server.
    #[arg(long, env = "COOPLEDGER_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Create the ledger if --db names a missing or empty directory (append, import, serve).
    /// Without it, only `init` and `demo` create a ledger; a mistyped --db is an error. A
    /// PostgreSQL ledger's schema is created by `init` only, never by --create or `demo`.
    #[arg(long, global = true)]
    pub create: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new, empty ledger in --db: a missing or empty directory, or the schema of a
    /// PostgreSQL ledger (tables, append-only triggers, a writer and a reader role).
    Init,
    /// Append staff JSON files (an object, an array or JSONL; `-` reads stdin), each file as one
    /// atomic batch, after validating all of them; prints one receipt per event.
    Append {
        /// Files to append.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Bulk-load large JSONL files (staff lines or `export` lines) in big batches; a rerun skips
    /// what is already in.
    Import {
        /// Files to import (`-` reads stdin).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Events per atomic batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        batch: u64,
        /// Require exported lines and check that each gets its exported sequence and hash.
        #[arg(long)]
        verify_hashes: bool,
    },
    /// List recorded events.
    Log {
        /// First sequence (the last one with --reverse).
        #[arg(long)]
        from: Option<u64>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only this stream (e.g. country/GH).
        #[arg(long)]
        stream: Option<String>,
        /// Only this event type (e.g. ActivityDelivered).
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Newest first.
        #[arg(long)]
        reverse: bool,
    },
    /// Show one recorded event.
    Show {
        /// Its event id.
        event_id: uuid::Uuid,
    },
    /// List the events of one stream.
    Stream {
        /// The stream, e.g. country/GH or case/<uuid>.
        stream: String,
    },
    /// The per-country view of one country.
    Country {
        /// ISO 3166-1 alpha-2 code.
        country: String,
        #[command(flatten)]
        at: AsOfArgs,
    },
    /// The per-country views of every country involved or joined.
    Countries {
        #[command(flatten)]
        at: AsOfArgs,
    },
    /// The inter-regional view.
    Regions {
        #[command(flatten)]
        at: AsOfArgs,
        /// Corridors to list in the table (all with --json).
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Recompute the whole hash chain; with a signed checkpoint, also check its signature, a
    /// consistency proof from it to the head, and the whole Merkle tree.
    Verify {
        /// A signed checkpoint (from `coopledger checkpoint`) to check the log against.
        #[arg(long, requires = "pubkey")]
        checkpoint: Option<PathBuf>,
        /// The verifier key of the checkpoint's signer (the `.pub` file of `keygen`).
        #[arg(long, requires = "checkpoint")]
        pubkey: Option<PathBuf>,
    },
    /// Write a new Ed25519 key pair for signing checkpoints: FILE (private) and FILE.pub.
    Keygen {
        /// Where to write the private key (the verifier key goes to FILE.pub).
        #[arg(long)]
        out: PathBuf,
        /// The key's name, which is the checkpoints' origin (e.g. crimjust.example.org/ledger).
        #[arg(long, default_value = "coopledger.local/ledger")]
        name: String,
    },
    /// Sign and store a checkpoint of the current head (C2SP signed note).
    Checkpoint {
        /// The private key file from `keygen`.
        #[arg(long)]
        key: PathBuf,
    },
    /// Print a Merkle proof as JSON.
    Prove {
        #[command(subcommand)]
        proof: ProofArg,
    },
    /// Print a receipt bundle (event, record, inclusion proof, signed checkpoint) that anyone
    /// can check with the public key alone.
    Receipt {
        /// The event.
        event_id: uuid::Uuid,
        /// Sign a new checkpoint of the head with this key (otherwise the latest stored
        /// checkpoint that includes the event is used).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Check a receipt bundle without the ledger.
    VerifyReceipt {
        /// The receipt file (`-` reads stdin).
        file: PathBuf,
        /// The verifier key of the checkpoint's signer.
        #[arg(long)]
        pubkey: PathBuf,
    },
    /// Write the whole log as portable JSONL (the `log --json` lines).
    Export {
        /// First sequence.
        #[arg(long, default_value_t = 1)]
        from: u64,
    },
    /// Drop a view's stored state and refold it from the log.
    Rebuild {
        /// Which view.
        #[arg(value_enum, default_value_t = ViewArg::All)]
        view: ViewArg,
    },
    /// Serve the HTTP API with the ledger embedded (until SIGINT or SIGTERM).
    Serve {
        /// Address to listen on (port 0 picks a free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Tokens file: one `ROLE TOKEN` a line (roles staff and reader). Without it, appends
        /// are refused.
        #[arg(long)]
        tokens: Option<PathBuf>,
        /// Let reads through without a token (appends always need a staff token).
        #[arg(long)]
        public_reads: bool,
        /// Sign checkpoints of the head with this key on `GET /v1/checkpoint`.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Write the dashboard (the views as pictures) as one self-contained HTML file, with the
    /// API's JSON documents embedded; it opens without a network.
    Report {
        /// The HTML file to write (`-` writes to stdout).
        #[arg(long)]
        out: PathBuf,
        /// As the ledger stood after this sequence.
        #[arg(long, conflicts_with = "on")]
        as_of: Option<u64>,
        /// Counting what happened on or before this date (YYYY-MM-DD).
        #[arg(long)]
        on: Option<Date>,
    },
    /// Record the CRIMJUST story and a synthetic programme, then print views and verify.
    Demo {
        /// Synthetic events to add to the story.
        #[arg(long, default_value_t = 3_000)]
        synthetic: usize,
    },
}

/// Which proof.
#[derive(Subcommand, Debug)]
pub enum ProofArg {
    /// That record SEQ is in the tree of SIZE records.
    Inclusion {
        /// The record's sequence.
        #[arg(long)]
        seq: u64,
        /// The tree size (the head by default).
        #[arg(long)]
        size: Option<u64>,
    },
    /// That the tree of TO records extends the tree of FROM records.
    Consistency {
        /// The older tree size.
        #[arg(long)]
        from: u64,
        /// The newer tree size.
        #[arg(long)]
        to: u64,
    },
}

/// Which view to rebuild.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ViewArg {
    /// Both views.
    All,
    /// The per-country view.
    Countries,
    /// The inter-regional view.
    Regions,
}

/// A point of history for the views (at most one).
#[derive(Args, Debug, Clone, Default)]
#[group(multiple = false)]
pub struct AsOfArgs {
    /// As of this sequence.
    #[arg(long)]
    pub as_of: Option<u64>,
    /// As of this recording time (RFC 3339, e.g. 2026-01-31T12:00:00Z).
    #[arg(long)]
    pub at: Option<Timestamp>,
    /// Counting what happened on or before this date (YYYY-MM-DD).
    #[arg(long)]
    pub on: Option<Date>,
}

impl AsOfArgs {
    /// The library's form.
    pub fn as_of(&self) -> AsOf {
        match (self.as_of, self.at, self.on) {
            (Some(seq), _, _) => AsOf::sequence(seq),
            (_, Some(t), _) => AsOf::time(t),
            (_, _, Some(d)) => AsOf::date(d),
            _ => AsOf::HEAD,
        }
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                Code::Invalid as u8
            } else {
                0
            });
        }
    };
    init_tracing(cli.verbose, cli.quiet);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = std::io::stdout().flush();
            let mut stderr = std::io::stderr().lock();
            for line in e.message.lines() {
                let _ = writeln!(stderr, "{line}");
            }
            ExitCode::from(e.code as u8)
        }
    }
}

fn init_tracing(verbose: u8, quiet: u8) {
    let level = match (verbose, quiet) {
        (_, 2..) => "off",
        (_, 1) => "error",
        (0, 0) => "warn",
        (1, 0) => "info,coopledger=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("COOPLEDGER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: &Cli) -> Result<(), CliError> {
    let out = &mut std::io::stdout().lock();
    if let Some(server) = &cli.server
        && let Some(result) = remote::run(cli, server, out)
    {
        return result;
    }
    match &cli.command {
        Command::Init => init(cli, out),
        Command::Append { files } => append::run(cli, files, out),
        Command::Import {
            files,
            batch,
            verify_hashes,
        } => import::run(cli, files, *batch, *verify_hashes, out),
        Command::Log {
            from,
            limit,
            stream,
            event_type,
            reverse,
        } => log::log(
            cli,
            &log::Filter {
                from: *from,
                limit: *limit,
                stream: stream.clone(),
                event_type: event_type.clone(),
                reverse: *reverse,
            },
            out,
        ),
        Command::Show { event_id } => log::show(cli, event_id, out),
        Command::Stream { stream } => log::stream(cli, stream, out),
        Command::Country { country, at } => views::country(cli, country, at, out),
        Command::Countries { at } => views::countries(cli, at, out),
        Command::Regions { at, top } => views::regions(cli, at, *top, out),
        Command::Verify { checkpoint, pubkey } => match (checkpoint, pubkey) {
            (Some(checkpoint), Some(pubkey)) => audit::verify_against(cli, checkpoint, pubkey, out),
            _ => verify::run(cli, out),
        },
        Command::Keygen { out: file, name } => audit::keygen(file, name, out),
        Command::Checkpoint { key } => audit::checkpoint(cli, key, out),
        Command::Prove { proof } => audit::prove(cli, proof, out),
        Command::Receipt { event_id, key } => audit::receipt(cli, event_id, key.as_deref(), out),
        Command::VerifyReceipt { file, pubkey } => audit::verify_receipt(file, pubkey, out),
        Command::Export { from } => log::export(cli, *from, out),
        Command::Rebuild { view } => {
            let which = match view {
                ViewArg::All => ViewName::All,
                ViewArg::Countries => ViewName::Countries,
                ViewArg::Regions => ViewName::Regions,
            };
            verify::rebuild(cli, which, out)
        }
        Command::Demo { synthetic } => demo::run(cli, *synthetic, out),
        Command::Report {
            out: file,
            as_of,
            on,
        } => report::run(cli, file, *as_of, *on, out),
        Command::Serve {
            addr,
            tokens,
            public_reads,
            key,
        } => serve::run(
            cli,
            &serve::Options {
                addr,
                tokens: tokens.as_deref(),
                public_reads: *public_reads,
                key: key.as_deref(),
            },
            out,
        ),
    }
}

impl Cli {
    /// Where `--db` says the ledger is.
    #[must_use]
    pub fn location(&self) -> Location {
        Location::parse(&self.db)
    }

    /// `--db` for messages (a URL's password is never shown).
    #[must_use]
    pub fn db_display(&self) -> String {
        self.location().display()
    }
}

/// Opens the existing ledger of `--db` for a command that only reads. A PostgreSQL ledger is
/// opened read-only: a reader never takes the writer's role (which would fence a running
/// writer) and serves what was acknowledged. A sled directory is opened as before (one process
/// holds it; an open may repair its views or tree).
pub fn open(cli: &Cli) -> Result<Ledger, CliError> {
    let location = cli.location();
    let options = coopledger::Options {
        read_only: matches!(location, Location::Postgres(_)),
        ..coopledger::Options::default()
    };
    Ledger::open_at(&location, options).map_err(CliError::from)
}

/// Opens the existing ledger of `--db` for a command that writes (for PostgreSQL: as the
/// writer, which fences any earlier one).
pub fn open_to_write(cli: &Cli) -> Result<Ledger, CliError> {
    Ledger::open_at(&cli.location(), coopledger::Options::default()).map_err(CliError::from)
}

/// Opens the ledger of `--db`, creating it in a missing or empty directory.
pub fn open_or_create(cli: &Cli) -> Result<Ledger, CliError> {
    let options = coopledger::Options {
        create: true,
        ..coopledger::Options::default()
    };
    Ledger::open_at(&cli.location(), options).map_err(CliError::from)
}

/// A ledger opened for writing, and whether this command created it.
pub struct Writable {
    /// The ledger.
    pub ledger: Ledger,
    created: Option<PathBuf>,
}

impl Writable {
    /// After a failed command: a ledger this command created and left empty is removed again,
    /// so a refused append leaves nothing behind.
    pub fn discard_if_unused(self) {
        let Writable { ledger, created } = self;
        let empty = ledger.reader().head().seq == 0;
        drop(ledger);
        if let (Some(dir), true) = (created, empty)
            && let Err(e) = std::fs::remove_dir_all(&dir)
        {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove the new, empty ledger");
        }
    }
}

/// Opens the ledger of `--db` for a command that writes: the existing one, or with `--create` a
/// new one in a missing or empty directory.
pub fn open_for_writing(cli: &Cli) -> Result<Writable, CliError> {
    if !cli.create {
        return Ok(Writable {
            ledger: open_to_write(cli)?,
            created: None,
        });
    }
    let created = match cli.location() {
        Location::Dir(dir) => std::fs::read_dir(&dir)
            .map_or(true, |mut d| d.next().is_none())
            .then_some(dir),
        Location::Postgres(_) => None,
    };
    Ok(Writable {
        ledger: open_or_create(cli)?,
        created,
    })
}

/// `coopledger init`: a new ledger in a missing or empty directory, or the schema of a new
/// ledger in a PostgreSQL database; an existing ledger is left as it is and said so.
fn init(cli: &Cli, out: &mut impl Write) -> Result<(), CliError> {
    match coopledger::store::create(&cli.location()) {
        Err(coopledger::store::StoreError::Exists(_)) => Err(CliError::invalid(format!(
            "error: {} is already a ledger; nothing was changed",
            cli.db_display()
        ))),
        Err(e) => Err(coopledger::Error::from(e).into()),
        Ok(()) => {
            writeln!(out, "created an empty ledger in {}", cli.db_display())?;
            Ok(())
        }
    }
}
