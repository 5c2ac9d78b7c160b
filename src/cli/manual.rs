//! `coopledger completions SHELL` and `coopledger man`: generated from the argument parser
//! itself (clap_complete, clap_mangen), so they list exactly the commands and options there are.

use std::io::Write;

use clap::CommandFactory;

use super::Cli;
use super::exit::CliError;

/// Writes the completion script of `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut impl Write) -> Result<(), CliError> {
    let mut command = Cli::command();
    // Into memory first: the generator panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "coopledger", &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

/// Writes the manual page, `coopledger(1)`, in roff: the synopsis, the global options and the
/// exit codes (in `--help`'s text), then every command with its options.
pub fn man(out: &mut impl Write) -> Result<(), CliError> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render(out)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("coopledger {}", sub.get_name());
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        let page = clap_mangen::Man::new(sub.clone().bin_name(name.clone()).display_name(name));
        page.render_synopsis_section(out)?;
        page.render_description_section(out)?;
        page.render_options_section(out)?;
    }
    out.flush()?;
    Ok(())
}
