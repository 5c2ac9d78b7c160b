//! `coopledger witness init|add|follow`: a witness with its own key and state (a directory),
//! cosigning a ledger's checkpoints only when consistent with every one it cosigned before.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use coopledger::audit::checkpoint::parse_unverified;
use coopledger::audit::file::write_durably;
use coopledger::merkle::ConsistencyProof;
use coopledger::witness::{AddCheckpoint, Witness, WitnessError};
use proto_events::hash::to_hex;

use super::exit::{CliError, Code};
use super::{Cli, input};

/// What `witness follow` was asked for.
pub struct Follow<'a> {
    pub dir: &'a Path,
    pub log: &'a str,
    pub out: Option<&'a Path>,
    pub interval: u64,
    pub once: bool,
}

fn witness_error(e: &WitnessError) -> CliError {
    let code = match e {
        WitnessError::Conflict { .. }
        | WitnessError::Inconsistent { .. }
        | WitnessError::Forbidden(_) => Code::Verification,
        WitnessError::BadRequest(_) | WitnessError::UnknownOrigin(_) => Code::Invalid,
        _ => Code::Failure,
    };
    let lead = if code == Code::Verification {
        "refused to cosign"
    } else {
        "error"
    };
    CliError::new(code, format!("{lead}: {e}"))
}

fn open(dir: &Path) -> Result<Witness, CliError> {
    Witness::open(dir).map_err(|e| {
        let code = if dir.join(coopledger::witness::KEY_FILE).exists() {
            Code::Failure
        } else {
            Code::Invalid
        };
        CliError::new(code, format!("error: {e}"))
    })
}

/// `coopledger witness init --dir DIR --name NAME --log-key FILE`.
pub fn init(dir: &Path, name: &str, log_key: &Path, out: &mut impl Write) -> Result<(), CliError> {
    let public =
        Witness::init(dir, name, log_key).map_err(|e| CliError::invalid(format!("error: {e}")))?;
    writeln!(out, "{public}")?;
    eprintln!(
        "witness {name} created in {}; its verifier key for auditors: {}",
        dir.display(),
        dir.join(coopledger::witness::PUBLIC_KEY_FILE).display()
    );
    Ok(())
}

/// Submits one checkpoint (with its proof from the latest cosigned size) and reports.
fn submit(
    witness: &mut Witness,
    request: &AddCheckpoint,
    out_file: Option<&Path>,
) -> Result<String, CliError> {
    let new = parse_unverified(&request.checkpoint)
        .map_err(|e| CliError::invalid(format!("error: the checkpoint: {e}")))?;
    if let Some(latest) = witness.latest()
        && new.size < latest.size
    {
        return Err(CliError::new(
            Code::Verification,
            format!(
                "refused to cosign: the log's checkpoint of {} records is older than the \
                 checkpoint of {} records this witness cosigned: a shortened history, or a replay",
                new.size, latest.size
            ),
        ));
    }
    witness
        .add_checkpoint(request)
        .map_err(|e| witness_error(&e))?;
    let cosigned = std::fs::read_to_string(witness.checkpoint_path()).map_err(|e| {
        CliError::new(
            Code::Failure,
            format!("error: cannot read back the cosigned checkpoint: {e}"),
        )
    })?;
    if let Some(file) = out_file {
        write_durably(file, cosigned.as_bytes()).map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot write {}: {e}", file.display()),
            )
        })?;
    }
    eprintln!(
        "cosigned the checkpoint of {} records by {} (root {})",
        new.size,
        new.origin,
        to_hex(&new.root)
    );
    Ok(cosigned)
}

/// `coopledger witness add --dir DIR --checkpoint FILE [--proof FILE] [--out FILE]`: the
/// checkpoint from a file, with the consistency proof `coopledger prove consistency --from OLD
/// --to NEW` printed (OLD the size this witness cosigned last); prints the cosigned checkpoint.
pub fn add(
    dir: &Path,
    checkpoint: &Path,
    proof: Option<&Path>,
    out_file: Option<&Path>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut witness = open(dir)?;
    // A note ends with exactly one newline; files edited by hand often gain another.
    let note = format!("{}\n", input::read(checkpoint)?.trim_end_matches('\n'));
    let latest = witness.latest().map_or(0, |c| c.size);
    let request = match proof {
        None if parse_unverified(&note).is_ok_and(|c| latest > 0 && c.size > latest) => {
            let size = parse_unverified(&note).map(|c| c.size).unwrap_or_default();
            return Err(CliError::invalid(format!(
                "error: this witness cosigned {latest} records last: pass --proof FILE, the output \
                 of `coopledger prove consistency --from {latest} --to {size}`"
            )));
        }
        None => AddCheckpoint {
            old: latest,
            proof: Vec::new(),
            checkpoint: note,
        },
        Some(file) => {
            let text = input::read(file)?;
            let proof: ConsistencyProof = proto_events::staff::parse_strict(&text)
                .and_then(serde_json::from_value)
                .map_err(|e| {
                    CliError::invalid(format!(
                        "error: {} is not a consistency proof: {e}",
                        input::name(file)
                    ))
                })?;
            let size = parse_unverified(&note).map(|c| c.size).unwrap_or_default();
            if proof.to != size {
                return Err(CliError::invalid(format!(
                    "error: the proof is to {} records, the checkpoint has {size}",
                    proof.to
                )));
            }
            AddCheckpoint {
                old: proof.from,
                proof: proof.path,
                checkpoint: note,
            }
        }
    };
    let cosigned = submit(&mut witness, &request, out_file)?;
    write!(out, "{cosigned}")?;
    Ok(())
}

/// `coopledger witness follow --dir DIR --log URL`: fetches the ledger's checkpoint
/// (`GET URL/checkpoint`) and the consistency proof from the latest cosigned size
/// (`GET URL/v1/proofs/consistency`), every `interval` seconds until SIGINT/SIGTERM (or once).
pub fn follow(cli: &Cli, options: &Follow<'_>, out: &mut impl Write) -> Result<(), CliError> {
    let mut witness = open(options.dir)?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| CliError::new(Code::Failure, format!("error: {e}")))?;
    let base = options.log.trim_end_matches('/');
    // Until SIGINT or SIGTERM ends the process: the state is replaced whole or not at all.
    loop {
        let result = follow_once(cli, &client, base, &mut witness, options.out);
        match (&result, options.once) {
            (_, true) => {
                return result.map(|note| write!(out, "{note}").map_err(CliError::from))?;
            }
            (Err(e), false) => eprintln!("{}", e.message),
            (Ok(_), false) => {}
        }
        std::thread::sleep(Duration::from_secs(options.interval));
    }
}

fn follow_once(
    cli: &Cli,
    client: &reqwest::blocking::Client,
    base: &str,
    witness: &mut Witness,
    out_file: Option<&Path>,
) -> Result<String, CliError> {
    let get = |path: &str| {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(token) = &cli.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot reach the log at {base}: {e}"),
            )
        })?;
        let status = response.status();
        let text = response.text().unwrap_or_default();
        if !status.is_success() {
            return Err(CliError::new(
                Code::Failure,
                format!("error: {base}{path}: {status}: {}", text.trim()),
            ));
        }
        Ok(text)
    };
    let note = get("/checkpoint")?;
    let new = parse_unverified(&note)
        .map_err(|e| CliError::invalid(format!("error: {base}/checkpoint: {e}")))?;
    let latest = witness.latest().cloned();
    let proof = match &latest {
        Some(l) if l.size > 0 && l.size < new.size => {
            let text = get(&format!(
                "/v1/proofs/consistency?from={}&to={}",
                l.size, new.size
            ))?;
            let proof: ConsistencyProof = serde_json::from_str(&text).map_err(|e| {
                CliError::new(
                    Code::Failure,
                    format!("error: the log's consistency proof: {e}"),
                )
            })?;
            proof.path
        }
        _ => Vec::new(),
    };
    if let Some(l) = &latest
        && l.size == new.size
        && l.root == new.root
    {
        return std::fs::read_to_string(witness.checkpoint_path())
            .map_err(|e| CliError::new(Code::Failure, format!("error: {e}")));
    }
    let request = AddCheckpoint {
        old: latest.map_or(0, |l| l.size),
        proof,
        checkpoint: note,
    };
    submit(witness, &request, out_file)
}

/// `coopledger witness serve --dir DIR --addr ADDR`: the C2SP tlog-witness API
/// (`POST /add-checkpoint`, `GET /checkpoint`) until SIGINT or SIGTERM.
/// With `json`, the start line is a JSON object (`witness`, `url`).
pub fn serve(dir: &Path, addr: &str, json: bool, out: &mut impl Write) -> Result<(), CliError> {
    let witness = open(dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
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
        if json {
            let line = serde_json::json!({
                "witness": dir.display().to_string(),
                "url": format!("http://{local}"),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "coopledger witness {} serving on http://{local}",
                dir.display()
            )?;
        }
        out.flush()?;
        coopledger::witness::serve::serve(listener, witness, super::serve::shutdown_signal())
            .await
            .map_err(|e| {
                CliError::new(
                    Code::Failure,
                    format!("error: the witness server failed: {e}"),
                )
            })
    })
}
