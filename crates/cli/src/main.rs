//! `tether`: runs a coding agent's tools on Vers VMs; `tether sim` is a local Vers.
//!
//! Exit codes: see `tether --help` ([`cli::EXIT_CODES`]).

// clap turns the argument docs into `--help` text, where `vm:<id>:<path>` must read as written.
#![allow(rustdoc::invalid_html_tags)]

mod cli;
mod commands;
mod logging;
mod output;
mod progress;
mod report;

use std::ffi::OsStr;
use std::process::ExitCode;

use clap::Parser;

/// The hidden subcommand a VM's init process runs as (`tether __vm-init …`).
pub(crate) const VM_INIT_COMMAND: &str = "__vm-init";

fn main() -> ExitCode {
    let mut args = std::env::args_os();
    // A VM's init must start before any runtime or thread exists: dispatch it first.
    if args.nth(1).as_deref() == Some(OsStr::new(VM_INIT_COMMAND)) {
        tether_sandbox::init_main(args.collect());
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return report::usage(err),
    };
    logging::init();
    commands::run(cli)
}
