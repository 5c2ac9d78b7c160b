//! Argument parsing, dispatch, tracing set-up and exit codes.

mod amend;
mod append;
mod audit;
mod demo;
mod exit;
mod iati;
mod import;
mod input;
mod log;
mod manual;
mod progress;
mod remote;
mod replay;
mod report;
mod schema;
mod serve;
mod table;
mod template;
mod timeline;
mod verify;
mod views;
mod witness;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use coopledger::store::Location;
use coopledger::{AsOf, Ledger, ViewName};
use proto_events::{Date, Timestamp};

pub use exit::{CliError, Code, EXIT_CODES};

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
    /// Print data as JSON (JSON Lines for lists of events), and errors as one JSON document on
    /// stderr.
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
    /// Append spreadsheets (`.csv`, one event a row) or staff JSON files (an object, an array or
    /// JSONL; `-` reads stdin), each file as one atomic batch, after validating all of them;
    /// prints one receipt per event.
    Append {
        /// Files to append.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        sheet: SheetArgs,
    },
    /// Bulk-load large JSONL files (staff lines or `export` lines) and spreadsheets in big
    /// batches; a rerun skips what is already in. With --check, validate them whole and append
    /// nothing.
    Import {
        /// Files to import (`-` reads JSONL from stdin).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Events per atomic batch.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        batch: u64,
        /// Require exported lines and check that each gets its exported sequence and hash.
        #[arg(long)]
        verify_hashes: bool,
        /// Validate every batch as the import would (every rule, contextual ones against the
        /// ledger included), report every problem, and append nothing.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        sheet: SheetArgs,
    },
    /// The fields of each event type (required or optional, allowed values, limits), in words
    /// or, with --json, as JSON Schema (2020-12).
    Schema {
        /// One event type (e.g. ActivityDelivered); all of them when left out.
        event_type: Option<String>,
    },
    /// Write a spreadsheet template of an event type: one column per field and an example row.
    Template {
        /// The event type, e.g. ActivityDelivered.
        event_type: String,
        /// The file to write (`.csv`); stdout when left out.
        #[arg(long)]
        out: Option<PathBuf>,
        /// For EventCorrected: the type of the events corrected (its fields become
        /// `replacement.` columns).
        #[arg(long, value_name = "TYPE", default_value = "ActivityDelivered")]
        of: String,
        /// The cell separator: `,` or `;` (what Excel expects in decimal-comma locales).
        #[arg(long, default_value = ",", value_parser = parse_separator)]
        separator: u8,
    },
    /// Correct a recorded fact: its current effective payload with the fields given changed,
    /// appended as an EventCorrected (the log stays append-only).
    Amend {
        /// The entity (a meeting, activity or case id, or a stream such as country/GH) or the
        /// event id of the fact.
        entity: String,
        /// A field to change, as a spreadsheet column names it (participants.total=26,
        /// beneficiaries=GH;NG); an empty value removes an optional field.
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
        /// Why (1–2000 characters).
        #[arg(long)]
        reason: String,
        /// Who records the correction.
        #[arg(long, env = "COOPLEDGER_RECORDED_BY")]
        recorded_by: Option<String>,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `coopledger man > coopledger.1`.
    Man,
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
        #[arg(long)]
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
        #[arg(long)]
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
        #[arg(long)]
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
        #[arg(long)]
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
        /// A witness's verifier key (`witness.key.pub` of its directory); repeatable. The
        /// checkpoint must carry valid cosignatures of --witnesses of them.
        #[arg(long = "witness-key", requires = "checkpoint")]
        witness_keys: Vec<PathBuf>,
        /// How many of the --witness-key witnesses must have cosigned (all of them by default).
        #[arg(long, requires = "witness_keys", value_parser = clap::value_parser!(u64).range(1..))]
        witnesses: Option<u64>,
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
    /// A witness: its own key and state (a directory); cosigns a ledger's checkpoints only when
    /// each is consistent with every one it cosigned before (C2SP tlog-witness).
    Witness {
        #[command(subcommand)]
        action: WitnessArg,
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
    /// Bring the ledger to this build's format in place (verified before and after; resumable:
    /// run it again after an interruption).
    Migrate,
    /// Drop a view's stored state and refold it from the log.
    Rebuild {
        /// Which view.
        #[arg(value_enum, default_value_t = ViewArg::All)]
        view: ViewArg,
    },
    /// Serve the HTTP API with the ledger embedded (until SIGINT or SIGTERM).
    Serve {
        #[command(flatten)]
        args: serve::Args,
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

impl Command {
    /// Whether `--csv` was given (a global `--json` cannot be declared as conflicting with it).
    fn prints_csv(&self) -> bool {
        match self {
            Command::Log { csv, .. }
            | Command::Countries { csv, .. }
            | Command::Regions { csv, .. }
            | Command::Timeline { csv, .. } => *csv,
            _ => false,
        }
    }
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

/// What the witness does.
#[derive(Subcommand, Debug)]
pub enum WitnessArg {
    /// Create a witness in a new directory: its key pair and the log's verifier key.
    Init {
        /// The witness's directory (missing or empty).
        #[arg(long)]
        dir: PathBuf,
        /// The witness's name (e.g. witness.example.org/w1).
        #[arg(long)]
        name: String,
        /// The verifier key of the log it follows (the ledger key's `.pub` file).
        #[arg(long)]
        log_key: PathBuf,
    },
    /// Cosign a checkpoint from a file; prints the cosigned checkpoint.
    Add {
        /// The witness's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The signed checkpoint (`-` reads stdin).
        #[arg(long)]
        checkpoint: PathBuf,
        /// The consistency proof from the size this witness cosigned last to the checkpoint's
        /// (`coopledger prove consistency --from OLD --to NEW`); not needed the first time.
        #[arg(long)]
        proof: Option<PathBuf>,
        /// Also write the cosigned checkpoint to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Follow a ledger served by `coopledger serve`: cosign each new checkpoint (`GET
    /// /checkpoint`) with its consistency proof, every --interval seconds.
    Follow {
        /// The witness's directory.
        #[arg(long)]
        dir: PathBuf,
        /// The ledger's URL (with --token when its reads need one).
        #[arg(long)]
        log: String,
        /// Also write each cosigned checkpoint to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seconds between two looks.
        #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        interval: u64,
        /// Look once, print the cosigned checkpoint and exit (4 when refused).
        #[arg(long)]
        once: bool,
    },
    /// Serve the C2SP tlog-witness API (`POST /add-checkpoint`, `GET /checkpoint`) until
    /// SIGINT or SIGTERM.
    Serve {
        /// The witness's directory.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on (port 0 picks a free port; the URL is printed).
        #[arg(long, default_value = "127.0.0.1:8081")]
        addr: String,
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
    #[arg(long, value_parser = parse_time)]
    pub at: Option<Timestamp>,
    /// Counting what happened on or before this date (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    pub on: Option<Date>,
}

/// What the rows of a spreadsheet do not say themselves (`.csv` files only).
#[derive(Args, Debug, Clone, Default)]
pub struct SheetArgs {
    /// The event type of rows without a `type` cell.
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,
    /// The recorder of rows without a `recorded_by` cell.
    #[arg(long, env = "COOPLEDGER_RECORDED_BY", value_name = "NAME")]
    pub recorded_by: Option<String>,
}

/// A date option: exactly `YYYY-MM-DD`.
fn parse_date(text: &str) -> Result<Date, String> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let why = if shaped {
        match text.parse::<Date>() {
            Ok(date) => return Ok(date),
            Err(_) => "no such day",
        }
    } else {
        "not a date"
    };
    Err(format!(
        "{text:?} is {why}: expected YYYY-MM-DD, e.g. 2019-12-31"
    ))
}

/// A time option: RFC 3339.
fn parse_time(text: &str) -> Result<Timestamp, String> {
    text.parse().map_err(|_| {
        format!("{text:?} is not a time: expected RFC 3339, e.g. 2026-01-31T12:00:00Z")
    })
}

/// A cell separator: `,` or `;`.
fn parse_separator(text: &str) -> Result<u8, String> {
    match text {
        "," => Ok(b','),
        ";" => Ok(b';'),
        _ => Err(format!("{text:?}: expected , or ;")),
    }
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
            // clap prints help and version to stdout with exit 0, usage errors to stderr with 2
            // (as one JSON document when --json was asked for).
            if e.use_stderr() && std::env::args().any(|a| a == "--json") {
                let error = CliError::invalid(e.render().to_string().trim_end().to_owned());
                eprintln!("{}", error.to_json());
            } else {
                let _ = e.print();
            }
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
            if cli.json {
                let _ = writeln!(stderr, "{}", e.to_json());
            } else {
                for line in e.message.lines() {
                    let _ = writeln!(stderr, "{line}");
                }
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
    if cli.json && cli.command.prints_csv() {
        return Err(CliError::invalid(
            "error: --csv and --json each choose what is printed: give one of them",
        ));
    }
    // Commands that read nothing of a ledger run here, with or without --server.
    match &cli.command {
        Command::Schema { event_type } => return schema::run(cli, event_type.as_deref(), out),
        Command::Template {
            event_type,
            out: file,
            of,
            separator,
        } => return template::run(cli, event_type, file.as_deref(), of, *separator, out),
        Command::Completions { shell } => return manual::completions(*shell, out),
        Command::Man => return manual::man(out),
        _ => {}
    }
    if let Some(server) = &cli.server
        && let Some(result) = remote::run(cli, server, out)
    {
        return result;
    }
    match &cli.command {
        Command::Init => init(cli, out),
        Command::Append { files, sheet } => append::run(cli, files, sheet, out),
        Command::Import {
            files,
            batch,
            verify_hashes,
            check,
            sheet,
        } => import::run(
            cli,
            &import::Options {
                files,
                batch: *batch,
                verify_hashes: *verify_hashes,
                check: *check,
                sheet,
            },
            out,
        ),
        Command::Amend {
            entity,
            set,
            reason,
            recorded_by,
        } => amend::run(
            cli,
            &amend::Options {
                entity,
                set,
                reason,
                recorded_by: recorded_by.as_deref(),
            },
            out,
        ),
        Command::Schema { .. }
        | Command::Template { .. }
        | Command::Completions { .. }
        | Command::Man => Ok(()),
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
        Command::Verify {
            checkpoint,
            pubkey,
            witness_keys,
            witnesses,
        } => match (checkpoint, pubkey) {
            (Some(checkpoint), Some(pubkey)) => audit::verify_against(
                cli,
                checkpoint,
                pubkey,
                &audit::Witnesses {
                    keys: witness_keys,
                    required: witnesses.unwrap_or(witness_keys.len() as u64),
                },
                out,
            ),
            _ => verify::run(cli, out),
        },
        Command::Witness { action } => match action {
            WitnessArg::Init { dir, name, log_key } => witness::init(dir, name, log_key, out),
            WitnessArg::Add {
                dir,
                checkpoint,
                proof,
                out: file,
            } => witness::add(dir, checkpoint, proof.as_deref(), file.as_deref(), out),
            WitnessArg::Serve { dir, addr } => witness::serve(dir, addr, cli.json, out),
            WitnessArg::Follow {
                dir,
                log,
                out: file,
                interval,
                once,
            } => witness::follow(
                cli,
                &witness::Follow {
                    dir,
                    log,
                    out: file.as_deref(),
                    interval: *interval,
                    once: *once,
                },
                out,
            ),
        },
        Command::Keygen { out: file, name } => audit::keygen(file, name, cli.json, out),
        Command::Checkpoint { key } => audit::checkpoint(cli, key, out),
        Command::Prove { proof } => audit::prove(cli, proof, out),
        Command::Receipt { event_id, key } => audit::receipt(cli, event_id, key.as_deref(), out),
        Command::VerifyReceipt { file, pubkey } => {
            audit::verify_receipt(file, pubkey, cli.json, out)
        }
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
        Command::Migrate => verify::migrate(cli, out),
        Command::Report { out: file, at } => report::run(cli, file, at, out),
        Command::Serve { args } => serve::run(cli, args, out),
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
            if cli.json {
                writeln!(out, "{}", serde_json::json!({"created": cli.db_display()}))?;
            } else {
                writeln!(out, "created an empty ledger in {}", cli.db_display())?;
            }
            Ok(())
        }
    }
}
