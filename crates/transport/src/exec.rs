//! Commands: streamed output, stdin, cwd, explicit env, timeout and cancel.
//!
//! A command runs on the connection's agent ([`crate::agent`]) when it is up: one frame there
//! and back, one process started in the VM. Otherwise — the agent still starting, turned off,
//! or unable to run there — it runs on a channel of its own ([`crate::channel`]). Both give the
//! same results: `bash -c` in its own process group, and a timeout or cancel kills the whole
//! group (TERM, a grace period, KILL), the caller still getting all output produced until then.

use std::sync::Arc;
use std::time::Duration;

use russh::Sig;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::{Session, TransportError};

/// How long a killed command's group gets between TERM and KILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a killed command's output to drain and its end to arrive.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// A command to run.
#[derive(Clone, Debug, Default)]
pub struct ExecSpec {
    /// Shell command line (run by `bash -c`, or `sh -c` where there is no bash).
    pub command: String,
    /// Working directory on the remote side; `None` = the login directory.
    pub cwd: Option<String>,
    /// Environment variables to set. Nothing else from the local environment is sent.
    pub env: Vec<(String, String)>,
    /// Bytes fed to stdin, then EOF. `None` = EOF at once.
    pub stdin: Option<Vec<u8>>,
    /// Kill the command after this long. `None` = no limit.
    pub timeout: Option<Duration>,
}

impl ExecSpec {
    /// A plain shell command with no cwd, env, stdin or timeout.
    pub fn shell(command: impl Into<String>) -> ExecSpec {
        ExecSpec {
            command: command.into(),
            ..ExecSpec::default()
        }
    }
}

/// Which output stream bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecOutcome {
    /// It exited with this code.
    Exited(u32),
    /// It was killed by a signal (name without `SIG`, e.g. `KILL`).
    Signaled(String),
    /// It ran past its timeout and its process group was killed.
    TimedOut,
    /// It was cancelled and its process group was killed.
    Cancelled,
}

/// The result of [`Session::exec`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecRun {
    /// How it ended.
    pub outcome: ExecOutcome,
    /// Its pid (= process group) on the remote side, once known.
    pub remote_pid: Option<u32>,
}

/// Where a command's output goes.
pub enum Output<'a> {
    /// Each chunk is handed to a callback as it arrives.
    Callback(&'a mut (dyn FnMut(Stream, &[u8]) + Send)),
    /// Each chunk is written to a stream and awaited, so a slow consumer slows the command down
    /// instead of filling memory (downloads of any size).
    Writers {
        /// Receives standard output.
        stdout: &'a mut (dyn AsyncWrite + Send + Unpin),
        /// Receives standard error.
        stderr: &'a mut (dyn AsyncWrite + Send + Unpin),
    },
}

impl Output<'_> {
    /// Hands `bytes` from `stream` to the callback or writes them to the matching writer.
    pub async fn put(&mut self, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        match (self, stream) {
            (Output::Callback(f), _) => {
                f(stream, bytes);
                Ok(())
            }
            (Output::Writers { stdout, .. }, Stream::Stdout) => stdout.write_all(bytes).await,
            (Output::Writers { stderr, .. }, Stream::Stderr) => stderr.write_all(bytes).await,
        }
    }

    /// Flushes the writers (a no-op for a callback).
    pub async fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Callback(_) => Ok(()),
            Output::Writers { stdout, stderr } => {
                stdout.flush().await?;
                stderr.flush().await
            }
        }
    }
}

impl Session {
    /// Runs `spec`, passing output to `on_output` as it arrives.
    pub async fn exec(
        self: &Arc<Self>,
        spec: ExecSpec,
        on_output: &mut (dyn FnMut(Stream, &[u8]) + Send),
        cancel: Option<CancellationToken>,
    ) -> Result<ExecRun, TransportError> {
        self.exec_io(spec, None, &mut Output::Callback(on_output), cancel)
            .await
    }

    /// Runs `spec` with streamed input and output: stdin is read from `stdin` when given (else
    /// `spec.stdin`), output goes to `output`. Neither is buffered whole, so this moves files of
    /// any size. A failing `stdin` source or output writer stops the command like a cancel and
    /// gives [`TransportError::LocalIo`].
    pub async fn exec_io(
        self: &Arc<Self>,
        spec: ExecSpec,
        mut stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
        output: &mut Output<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecRun, TransportError> {
        if let Some(link) = self.agent_link() {
            let input = stdin
                .as_mut()
                .map(|s| &mut **s as &mut (dyn AsyncRead + Send + Unpin));
            match crate::agent::run(&link, &spec, input, output, cancel.clone()).await {
                Err(crate::agent::Failure::NotStarted) => {
                    tracing::debug!(host = %self.host(), "agent gone before the command; using a channel");
                }
                other => return other.map_err(|failure| self.agent_error(failure)),
            }
        }
        self.exec_channel(spec, stdin, output, cancel).await
    }

    pub(crate) fn ssh_error(&self, source: russh::Error, started: bool) -> TransportError {
        if self.is_closed() {
            TransportError::Disconnected {
                host: self.host().into(),
                started,
            }
        } else {
            TransportError::Ssh {
                host: self.host().into(),
                source,
            }
        }
    }
}

/// A signal's name without `SIG`, as SSH reports it (`KILL` for 9); the number when unknown.
pub(crate) fn signal_name(number: u32) -> String {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    number
        .checked_sub(1)
        .and_then(|i| NAMES.get(i as usize))
        .map_or_else(|| number.to_string(), |name| (*name).to_owned())
}

/// The name of a signal SSH reported, without `SIG`.
pub(crate) fn signal_name_of(signal: &Sig) -> String {
    match signal {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

/// POSIX single-quoting.
pub(crate) fn quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(
        |_| format!("'{}'", text.replace('\'', "'\\''")),
        |q| q.into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_numbers_have_ssh_names() {
        assert_eq!(signal_name(9), "KILL");
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(31), "SYS");
        assert_eq!(signal_name(40), "40");
        assert_eq!(signal_name(0), "0");
        assert_eq!(signal_name_of(&Sig::KILL), "KILL");
    }
}
