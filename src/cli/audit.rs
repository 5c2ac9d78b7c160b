//! `keygen`, `checkpoint`, `prove`, `verify --checkpoint`, `receipt` and `verify-receipt`.

use std::io::Write;
use std::path::Path;

use coopledger::audit::checkpoint::{self, Key, PublicKey};
use coopledger::audit::receipt::{self, Receipt};
use coopledger::audit::sign::sign_checkpoint;
use proto_events::hash::to_hex;

use super::exit::{CliError, Code};
use super::progress::Progress;
use super::{Cli, ProofArg, input, open};

fn json(value: &impl serde::Serialize, out: &mut impl Write) -> Result<(), CliError> {
    let text = serde_json::to_string(value).map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{text}")?;
    Ok(())
}

fn key_error(e: impl std::fmt::Display) -> CliError {
    CliError::invalid(format!("error: {e}"))
}

/// `coopledger keygen --out FILE`: FILE (private, mode 0600) and FILE.pub; never overwrites.
pub fn keygen(file: &Path, name: &str, out: &mut impl Write) -> Result<(), CliError> {
    if !checkpoint::is_valid_name(name) {
        return Err(CliError::invalid(format!(
            "error: {name:?} cannot name a key (no spaces or `+`)"
        )));
    }
    let public = {
        let mut p = file.as_os_str().to_owned();
        p.push(".pub");
        std::path::PathBuf::from(p)
    };
    for path in [file, public.as_path()] {
        if path.exists() {
            return Err(CliError::invalid(format!(
                "error: {} exists; refusing to overwrite a key",
                path.display()
            )));
        }
    }
    let (private, verifier) = checkpoint::generate(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = |path: &Path, text: &str, options: &std::fs::OpenOptions| {
        let mut f = options.open(path).map_err(|e| {
            CliError::new(
                Code::Failure,
                format!("error: cannot write {}: {e}", path.display()),
            )
        })?;
        writeln!(f, "{text}")
            .and_then(|()| f.sync_all())
            .map_err(|e| {
                CliError::new(
                    Code::Failure,
                    format!("error: cannot write {}: {e}", path.display()),
                )
            })
    };
    write(file, &private, &options)?;
    let mut public_options = std::fs::OpenOptions::new();
    public_options.write(true).create_new(true);
    write(&public, &verifier, &public_options)?;
    writeln!(out, "{verifier}")?;
    eprintln!(
        "private key: {} (keep it secret); verifier key: {}",
        file.display(),
        public.display()
    );
    Ok(())
}

/// `coopledger checkpoint --key FILE`.
pub fn checkpoint(cli: &Cli, key: &Path, out: &mut impl Write) -> Result<(), CliError> {
    let key = Key::load(key).map_err(key_error)?;
    let mut ledger = super::open_to_write(cli)?;
    let signed = sign_checkpoint(&mut ledger, &key)?;
    write!(out, "{signed}")?;
    Ok(())
}

/// `coopledger prove inclusion|consistency`.
pub fn prove(cli: &Cli, proof: &ProofArg, out: &mut impl Write) -> Result<(), CliError> {
    let ledger = open(cli)?;
    let reader = ledger.reader();
    match proof {
        ProofArg::Inclusion { seq, size } => json(&reader.inclusion_proof(*seq, *size)?, out),
        ProofArg::Consistency { from, to } => json(&reader.consistency_proof(*from, *to)?, out),
    }
}

/// `coopledger verify --checkpoint FILE --pubkey FILE`: the signature, a consistency proof from
/// the checkpoint to the head, the hash chain and the whole tree.
pub fn verify_against(
    cli: &Cli,
    checkpoint: &Path,
    pubkey: &Path,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let failed =
        |why: String| CliError::new(Code::Verification, format!("verification failed: {why}"));
    let key = PublicKey::load(pubkey).map_err(key_error)?;
    let text = std::fs::read_to_string(checkpoint).map_err(|e| {
        CliError::invalid(format!("error: cannot read {}: {e}", checkpoint.display()))
    })?;
    let signed = key
        .open(&text)
        .map_err(|e| failed(format!("{}: {e}", checkpoint.display())))?;
    let report = coopledger::ledger::verify_at(&cli.location(), &mut |_| {})?;
    let ledger = open(cli)?;
    let reader = ledger.reader();
    if signed.size > report.head_seq {
        return Err(failed(format!(
            "the checkpoint signs {} records but the log holds {} (records removed)",
            signed.size, report.head_seq
        )));
    }
    let mut progress = Progress::new("recomputed", Some(report.head_seq), cli.quiet > 0);
    let root = reader.verify_tree(&mut |done, total| progress.set(done, Some(total)))?;
    progress.finish();
    let proof = reader.consistency_proof(signed.size.max(1), report.head_seq)?;
    if signed.size > 0 {
        coopledger::merkle::verify_consistency(signed.size, report.head_seq, &signed.root, &root, &proof.path)
            .map_err(|e| {
                failed(format!(
                    "the log is not consistent with the checkpoint of {} records ({e}): history was rewritten",
                    signed.size
                ))
            })?;
    }
    writeln!(
        out,
        "ok: checkpoint of {} records by {} is consistent with the head {} (root {}); {} events, head {} {}",
        signed.size,
        signed.origin,
        report.head_seq,
        to_hex(&root),
        report.events,
        report.head_seq,
        to_hex(&report.head_hash)
    )?;
    Ok(())
}

/// `coopledger receipt EVENT_ID [--key FILE]`.
pub fn receipt(
    cli: &Cli,
    event_id: &uuid::Uuid,
    key: Option<&Path>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let mut ledger = if key.is_some() {
        super::open_to_write(cli)?
    } else {
        open(cli)?
    };
    let note = match key {
        Some(path) => {
            let key = Key::load(path).map_err(key_error)?;
            sign_checkpoint(&mut ledger, &key)?
        }
        None => {
            let reader = ledger.reader();
            let event = reader.get(event_id)?.ok_or_else(|| {
                CliError::invalid(format!("error: no event {event_id} in the ledger"))
            })?;
            reader
                .checkpoint_covering(event.sequence)?
                .map(|(_, note)| note)
                .ok_or_else(|| {
                    CliError::invalid(format!(
                        "error: no signed checkpoint includes record {}; pass --key FILE to sign one",
                        event.sequence
                    ))
                })?
        }
    };
    let bundle = receipt::build(&ledger.reader(), event_id, &note)?;
    let text =
        serde_json::to_string_pretty(&bundle).map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// `coopledger verify-receipt FILE --pubkey FILE`: exit 4 unless every link holds.
pub fn verify_receipt(file: &Path, pubkey: &Path, out: &mut impl Write) -> Result<(), CliError> {
    let key = PublicKey::load(pubkey).map_err(key_error)?;
    let text = input::read(file)?;
    let bundle: Receipt = serde_json::from_str(&text)
        .map_err(|e| CliError::invalid(format!("{}: not a receipt: {e}", input::name(file))))?;
    let checkpoint = receipt::verify(&bundle, &key)
        .map_err(|e| CliError::new(Code::Verification, format!("verification failed: {e}")))?;
    writeln!(
        out,
        "ok: event {} is record {} of the {} records signed by {} (root {})",
        bundle
            .event
            .get("event_id")
            .and_then(|v| v.as_str())
            .unwrap_or("?"),
        bundle.proof.leaf_index + 1,
        checkpoint.size,
        checkpoint.origin,
        to_hex(&checkpoint.root)
    )?;
    Ok(())
}
