//! `tether completion SHELL`: a completion script on stdout.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionArgs};

/// Prints the completion script for `args.shell`.
pub(crate) fn run(args: &CompletionArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "tether", &mut stdout);
    Ok(())
}
