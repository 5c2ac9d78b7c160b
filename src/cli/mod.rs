//! Argument parsing, dispatch, tracing set-up and exit codes.

mod append;
mod audit;
mod demo;
mod exit;
mod iati;
mod import;
mod input;
mod log;
mod progress;
mod remote;
mod replay;
mod report;
mod serve;
mod table;
mod timeline;
mod verify;
mod views;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
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
    /// The ledger directory.
    #[arg(
        long,
        env = "COOPLEDGER_DB",
        default_value = "./coopledger-data",
        global = true
    )]
    pub db: PathBuf,
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
    /// Without it, only `init` and `demo` create a ledger; a mistyped --db is an error.
    #[arg(long, global = true)]
    pub create: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a new, empty ledger in --db (a missing or empty directory).
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
        /// Print CSV: the envelope columns, then the payload as one JSON cell.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
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
        /// Print CSV, the columns of the JSON (counterparts as one JSON cell).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// The inter-regional view.
    Regions {
        #[command(flatten)]
        at: AsOfArgs,
        /// Corridors to list in the table (all with --json).
        #[arg(long, default_value_t = 10)]
        top: usize,
        /// Print one of its tables as CSV, the columns of the JSON.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Which table --csv prints.
        #[arg(long, value_enum, default_value_t = RegionsTable::Pairs, requires = "csv")]
        table: RegionsTable,
    },
    /// The programme per year or quarter: meetings, activities by kind, participants, cases
    /// opened and closed, per region and region pair, the inter-regional share of each period
    /// and up to it; one fold of the log for every period.
    Timeline {
        #[command(flatten)]
        at: AsOfArgs,
        /// The length of a period.
        #[arg(long, value_enum, default_value_t = ByArg::Year)]
        by: ByArg,
        /// One country's timeline (what involved it; participants where it is a beneficiary).
        #[arg(long)]
        country: Option<String>,
        /// Print CSV: one row per period, the columns of the JSON.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Walk the log and show, for each event, what it changed in the views: which counters of
    /// which countries and region pairs moved, by how much, and what a correction or retraction
    /// undid; every record's hash is checked as the walk goes.
    Replay {
        /// First sequence.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last sequence (the head by default).
        #[arg(long)]
        to: Option<u64>,
        /// Only this stream's events (e.g. activity/<uuid>).
        #[arg(long)]
        stream: Option<String>,
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
    /// Write the whole log as portable JSONL (the `log --json` lines), or the programme as an
    /// IATI 2.03 activity file (`--format iati`).
    Export {
        /// What to write.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// First sequence (jsonl).
        #[arg(long)]
        from: Option<u64>,
        /// The reporting organisation's IATI identifier, the prefix of every activity
        /// identifier (iati).
        #[arg(long, default_value = iati::DEFAULT_ORG_REF)]
        org_ref: String,
        /// The reporting organisation's type, a code of IATI's OrganisationType codelist
        /// (iati; 40, multilateral, by default).
        #[arg(long)]
        org_type: Option<String>,
        /// The programme activity's title (iati; by default it names the accountable partner).
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        at: AsOfArgs,
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
        #[command(flatten)]
        at: AsOfArgs,
    },
    /// Record the CRIMJUST story (the seed news item and the domain reference), print views and
    /// verify; `--synthetic N` adds a generated programme of N events, labelled synthetic.
    Demo {
        /// Synthetic events to add to the story (none by default).
        #[arg(long, default_value_t = 0)]
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

/// Which table of the inter-regional view `regions --csv` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionsTable {
    /// The region pairs (the matrix).
    Pairs,
    /// The corridors.
    Corridors,
}

/// The length of a timeline period.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByArg {
    /// Calendar years.
    Year,
    /// Calendar quarters.
    Quarter,
}

/// What `export` writes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// The log as portable JSON Lines.
    Jsonl,
    /// An IATI 2.03 `iati-activities` document.
    Iati,
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

/// A point of history for the views: how far into the log (`--as-of` or `--at`, not both) and,
/// with either or alone, which real-world dates count (`--on`): "what the ledger said at N about
/// what had happened by D".
#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct AsOfArgs {
    /// As the ledger stood after this sequence.
    #[arg(long, conflicts_with = "at")]
    pub as_of: Option<u64>,
    /// As the ledger stood at this recording time (RFC 3339, e.g. 2026-01-31T12:00:00Z).
    #[arg(long)]
    pub at: Option<Timestamp>,
    /// Counting what happened on or before this date (YYYY-MM-DD).
    #[arg(long)]
    pub on: Option<Date>,
}

impl AsOfArgs {
    /// The library's form.
    pub fn as_of(&self) -> AsOf {
        let point = match (self.as_of, self.at) {
            (Some(seq), _) => AsOf::sequence(seq),
            (None, Some(t)) => AsOf::time(t),
            (None, None) => AsOf::HEAD,
        };
        match self.on {
            Some(d) => point.on(d),
            None => point,
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
            csv,
        } => log::log(
            cli,
            &log::Filter {
                from: *from,
                limit: *limit,
                stream: stream.clone(),
                event_type: event_type.clone(),
                reverse: *reverse,
                csv: *csv,
            },
            out,
        ),
        Command::Show { event_id } => log::show(cli, event_id, out),
        Command::Stream { stream } => log::stream(cli, stream, out),
        Command::Country { country, at } => views::country(cli, country, at, out),
        Command::Countries { at, csv } => views::countries(cli, at, *csv, out),
        Command::Regions {
            at,
            top,
            csv,
            table,
        } => views::regions(cli, at, *top, csv.then_some(*table), out),
        Command::Timeline {
            at,
            by,
            country,
            csv,
        } => timeline::run(cli, at, *by, country.as_deref(), *csv, out),
        Command::Replay { from, to, stream } => {
            replay::run(cli, *from, *to, stream.as_deref(), out)
        }
        Command::Verify { checkpoint, pubkey } => match (checkpoint, pubkey) {
            (Some(checkpoint), Some(pubkey)) => audit::verify_against(cli, checkpoint, pubkey, out),
            _ => verify::run(cli, out),
        },
        Command::Keygen { out: file, name } => audit::keygen(file, name, out),
        Command::Checkpoint { key } => audit::checkpoint(cli, key, out),
        Command::Prove { proof } => audit::prove(cli, proof, out),
        Command::Receipt { event_id, key } => audit::receipt(cli, event_id, key.as_deref(), out),
        Command::VerifyReceipt { file, pubkey } => audit::verify_receipt(file, pubkey, out),
        Command::Export {
            format: ExportFormat::Jsonl,
            from,
            at,
            org_type,
            title,
            ..
        } => {
            if *at != AsOfArgs::default() || org_type.is_some() || title.is_some() {
                return Err(CliError::invalid(
                    "error: --as-of, --at, --on, --org-type and --title are for --format iati; the JSONL export is the whole log (--from SEQ)",
                ));
            }
            log::export(cli, from.unwrap_or(1), out)
        }
        Command::Export {
            format: ExportFormat::Iati,
            from,
            org_ref,
            org_type,
            title,
            at,
        } => {
            if from.is_some() {
                return Err(CliError::invalid(
                    "error: --from is for the JSONL export; an IATI file describes the programme at one point (--as-of, --at, --on)",
                ));
            }
            iati::run(cli, org_ref, org_type.as_deref(), title.as_deref(), at, out)
        }
        Command::Rebuild { view } => {
            let which = match view {
                ViewArg::All => ViewName::All,
                ViewArg::Countries => ViewName::Countries,
                ViewArg::Regions => ViewName::Regions,
            };
            verify::rebuild(cli, which, out)
        }
        Command::Demo { synthetic } => demo::run(cli, *synthetic, out),
        Command::Report { out: file, at } => report::run(cli, file, at, out),
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

/// Opens the existing ledger of `--db`.
pub fn open(cli: &Cli) -> Result<Ledger, CliError> {
    Ledger::open(&cli.db).map_err(CliError::from)
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
            ledger: open(cli)?,
            created: None,
        });
    }
    let fresh = std::fs::read_dir(&cli.db).map_or(true, |mut d| d.next().is_none());
    Ok(Writable {
        ledger: Ledger::create(&cli.db)?,
        created: fresh.then(|| cli.db.clone()),
    })
}

/// `coopledger init`: a new ledger in a missing or empty directory; an existing ledger is left
/// as it is and said so.
fn init(cli: &Cli, out: &mut impl Write) -> Result<(), CliError> {
    if Ledger::open(&cli.db).is_ok() {
        return Err(CliError::invalid(format!(
            "error: {} is already a ledger; nothing was changed",
            cli.db.display()
        )));
    }
    let ledger = Ledger::create(&cli.db)?;
    drop(ledger);
    writeln!(out, "created an empty ledger in {}", cli.db.display())?;
    Ok(())
}
