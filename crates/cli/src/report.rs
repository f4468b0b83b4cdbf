//! Failures: one line on stderr that says what to do (or a JSON error object on stdout with
//! `--json`), and the exit code for the kind of failure.

use std::process::ExitCode;

use serde_json::json;
use tether_router::ErrorKind;
use tether_swarm::SwarmError;

use crate::output::write_stdout;

/// Exit code: not found.
pub(crate) const EXIT_NOT_FOUND: u8 = 1;
/// Exit code: usage or internal error.
pub(crate) const EXIT_FAILURE: u8 = 2;
/// Exit code: no API key, or the key was rejected.
pub(crate) const EXIT_AUTH: u8 = 3;
/// Exit code: the API, simulator or VM could not be reached in time.
pub(crate) const EXIT_UNAVAILABLE: u8 = 4;

/// The exit code for a failure of `kind`.
pub(crate) fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::NotFound => EXIT_NOT_FOUND,
        ErrorKind::Auth => EXIT_AUTH,
        ErrorKind::Unavailable => EXIT_UNAVAILABLE,
        ErrorKind::Usage | ErrorKind::Internal => EXIT_FAILURE,
    }
}

/// A failure the command line finds itself, with its kind (and so its exit code); the
/// message says what to do.
#[derive(Debug)]
pub(crate) struct CliError {
    /// What kind of failure it is.
    pub kind: ErrorKind,
    /// What failed and what to do.
    pub message: String,
}

impl CliError {
    /// A usage error (exit 2): the arguments are wrong.
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(CliError {
            kind: ErrorKind::Usage,
            message: message.into(),
        })
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

/// Reports `err` and returns its exit code.
pub(crate) fn failure(err: &anyhow::Error, json: bool) -> ExitCode {
    let kind = match (
        err.downcast_ref::<SwarmError>(),
        err.downcast_ref::<CliError>(),
    ) {
        (Some(swarm), _) => swarm.kind(),
        (None, Some(cli)) => cli.kind,
        (None, None) => ErrorKind::of(err.as_ref()),
    };
    let code = exit_code(kind);
    let message = message(err);
    if json {
        let object = json!({"error": {"kind": kind.name(), "message": message, "exit_code": code}});
        if write_stdout(&format!("{object}\n")).is_ok() {
            return ExitCode::from(code);
        }
    }
    eprintln!("tether: {message}");
    ExitCode::from(code)
}

/// The error's message and its causes, up to the first error of tether's own: those say what
/// to do and already include their cause.
pub(crate) fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let line = cause.to_string();
        if !text.contains(&line) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&line);
        }
        if ErrorKind::knows(cause) || cause.is::<SwarmError>() || cause.is::<CliError>() {
            break;
        }
    }
    text
}

/// Reports a command line clap rejected (or prints help/version, which clap treats alike).
pub(crate) fn usage(err: clap::Error) -> ExitCode {
    let json = std::env::args().any(|arg| arg == "--json");
    if !err.use_stderr() || !json {
        err.exit()
    }
    let message = err.render().to_string();
    let first = message.lines().next().unwrap_or("invalid command line");
    let message = first.trim_start_matches("error: ");
    let object = json!({"error": {"kind": "usage", "message": message, "exit_code": EXIT_FAILURE}});
    let _ = write_stdout(&format!("{object}\n"));
    ExitCode::from(EXIT_FAILURE)
}
