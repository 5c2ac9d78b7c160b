//! `keygen`, `checkpoint`, `prove`, `verify --checkpoint`, `receipt` and `verify-receipt`.

use std::io::Write;
use std::path::Path;

use coopledger::audit::checkpoint::{self, Key, PublicKey};
use coopledger::audit::receipt::{self, Receipt};
use coopledger::audit::sign::sign_checkpoint;
use coopledger::witness::cosignature::CosignatureVerifier;
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
pub fn keygen(
    file: &Path,
    name: &str,
    json_output: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
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
    if json_output {
        return json(
            &serde_json::json!({
                "private_key": file.display().to_string(),
                "verifier_key": public.display().to_string(),
                "verifier": verifier,
            }),
            out,
        );
    }
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
    if cli.json {
        // The ledger signed it a moment ago, so its content is read without a key.
        let body = checkpoint::parse_unverified(&signed).map_err(key_error)?;
        return json(
            &serde_json::json!({
                "origin": body.origin,
                "size": body.size,
                "root": to_hex(&body.root),
                "note": signed,
            }),
            out,
        );
    }
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

/// The witnesses whose cosignatures a checkpoint must carry.
pub struct Witnesses<'a> {
    /// Their verifier keys' files.
    pub keys: &'a [std::path::PathBuf],
    /// How many of them must have cosigned.
    pub required: u64,
}

/// Counts the valid cosignatures of `witnesses` on `note`; refuses fewer than required.
fn check_cosignatures(
    note: &str,
    file: &Path,
    witnesses: &Witnesses<'_>,
) -> Result<Vec<String>, CliError> {
    let keys = witnesses
        .keys
        .iter()
        .map(|path| CosignatureVerifier::load(path).map_err(key_error))
        .collect::<Result<Vec<_>, _>>()?;
    // One witness counts once, however many times its key is given.
    let mut distinct = std::collections::BTreeSet::new();
    for (key, path) in keys.iter().zip(witnesses.keys) {
        if !distinct.insert((key.name().to_owned(), signed_note::Verifier::key_id(key))) {
            return Err(CliError::invalid(format!(
                "error: --witness-key {} is the key of {}, given twice",
                path.display(),
                key.name()
            )));
        }
    }
    if witnesses.required > keys.len() as u64 {
        return Err(CliError::invalid(format!(
            "error: --witnesses {} needs at least as many --witness-key files ({} given)",
            witnesses.required,
            keys.len()
        )));
    }
    // A note ends with exactly one newline; files edited by hand often gain another.
    let note = format!("{}\n", note.trim_end_matches('\n'));
    let mut cosigned = Vec::new();
    let mut problems = Vec::new();
    for key in &keys {
        match key.check(&note) {
            Ok(Some(_)) => cosigned.push(key.name().to_owned()),
            Ok(None) => problems.push(format!("none by {}", key.name())),
            Err(e) => problems.push(format!("{}: {e}", key.name())),
        }
    }
    if (cosigned.len() as u64) < witnesses.required {
        return Err(CliError::new(
            Code::Verification,
            format!(
                "verification failed: {} carries {} valid witness cosignature(s), {} required ({})",
                file.display(),
                cosigned.len(),
                witnesses.required,
                problems.join("; ")
            ),
        ));
    }
    Ok(cosigned)
}

/// `coopledger verify --checkpoint FILE --pubkey FILE [--witness-key FILE…]`: the signature,
/// the witnesses' cosignatures, a consistency proof from the checkpoint to the head, the hash
/// chain and the whole tree.
pub fn verify_against(
    cli: &Cli,
    checkpoint: &Path,
    pubkey: &Path,
    witnesses: &Witnesses<'_>,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let failed =
        |why: String| CliError::new(Code::Verification, format!("verification failed: {why}"));
    let key = PublicKey::load(pubkey).map_err(key_error)?;
    let text = std::fs::read_to_string(checkpoint).map_err(|e| {
        CliError::invalid(format!("error: cannot read {}: {e}", checkpoint.display()))
    })?;
    let signed = open_checkpoint(&key, checkpoint, &text)?;
    let cosigned = check_cosignatures(&text, checkpoint, witnesses)?;
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
    if cli.json {
        return json(
            &serde_json::json!({
                "ok": true,
                "checkpoint": {"origin": signed.origin, "size": signed.size, "root": to_hex(&signed.root)},
                "root": to_hex(&root),
                "events": report.events,
                "head_seq": report.head_seq,
                "head_hash": to_hex(&report.head_hash),
            }),
            out,
        );
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
    if !cosigned.is_empty() {
        writeln!(out, "ok: cosigned by {}", cosigned.join(", "))?;
    }
    Ok(())
}

/// Opens a signed checkpoint file: a text that is no signed note at all is invalid input (exit
/// 2), one whose signature or content fails is a failed verification (exit 4).
fn open_checkpoint(
    key: &PublicKey,
    file: &Path,
    text: &str,
) -> Result<checkpoint::CheckpointBody, CliError> {
    key.open(text).map_err(|e| match e {
        checkpoint::CheckpointError::NotANote(_) => CliError::invalid(format!(
            "error: {} is not a signed checkpoint (a C2SP signed note from `coopledger checkpoint`): {e}",
            file.display()
        )),
        e => CliError::new(
            Code::Verification,
            format!("verification failed: {}: {e}", file.display()),
        ),
    })
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
                CliError::not_found(format!("error: no event {event_id} in the ledger"))
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
    let text = if cli.json {
        serde_json::to_string(&bundle)
    } else {
        serde_json::to_string_pretty(&bundle)
    }
    .map_err(|e| CliError::invalid(e.to_string()))?;
    writeln!(out, "{text}")?;
    Ok(())
}

/// `coopledger verify-receipt FILE --pubkey FILE`: exit 4 unless every link holds.
pub fn verify_receipt(
    file: &Path,
    pubkey: &Path,
    json_output: bool,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let key = PublicKey::load(pubkey).map_err(key_error)?;
    let text = input::read(file)?;
    // Strictly: a key given twice would show one value and be checked with another.
    let bundle: Receipt = proto_events::staff::parse_strict(&text)
        .and_then(serde_json::from_value)
        .map_err(|e| CliError::invalid(format!("{}: not a receipt: {e}", input::name(file))))?;
    let checkpoint = receipt::verify(&bundle, &key)
        .map_err(|e| CliError::new(Code::Verification, format!("verification failed: {e}")))?;
    if json_output {
        return json(
            &serde_json::json!({
                "ok": true,
                "event_id": bundle.event.get("event_id"),
                "seq": bundle.proof.leaf_index + 1,
                "checkpoint": {"origin": checkpoint.origin, "size": checkpoint.size, "root": to_hex(&checkpoint.root)},
            }),
            out,
        );
    }
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
