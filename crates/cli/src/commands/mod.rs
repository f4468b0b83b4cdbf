//! One module per subcommand; each returns the process exit code.

mod sim;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Exit code of a usage or internal error.
pub(crate) const EXIT_FAILURE: u8 = 2;

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Sim(args) => sim::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tether: {err:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
