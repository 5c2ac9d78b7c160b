//! `coopledger export --format iati`: the programme as an IATI 2.03 activity file on stdout.

use std::io::Write;

use coopledger::iati::{self, Options, codelists};

use super::exit::CliError;
use super::{AsOfArgs, Cli, open};

/// The organisation identifier used without `--org-ref`: `XX` is no registration agency, so a
/// file written with it is plainly not meant for publication.
pub const DEFAULT_ORG_REF: &str = "XX-COOPLEDGER";

/// Writes the IATI file of the programme at `at`.
pub fn run(
    cli: &Cli,
    org_ref: &str,
    org_type: Option<&str>,
    title: Option<&str>,
    at: &AsOfArgs,
    out: &mut impl Write,
) -> Result<(), CliError> {
    let ledger = open(cli)?;
    let reader = ledger.reader();
    let point = reader.resolve(at.as_of())?;
    let options = Options {
        org_ref: org_ref.to_owned(),
        org_type: org_type.unwrap_or(codelists::ORG_MULTILATERAL).to_owned(),
        title: title.map(str::to_owned),
        generated_at: proto_events::Timestamp::now(),
    };
    let xml = iati::export(&reader, point, &options)?;
    out.write_all(xml.as_bytes())?;
    out.flush()?;
    Ok(())
}
