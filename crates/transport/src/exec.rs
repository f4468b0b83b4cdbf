//! Commands on channels: streamed output, stdin, cwd, explicit env, timeout and cancel.
//!
//! Every command is wrapped so that its first stdout line is its pid, which is also its process
//! group (sshd and the simulator start each command as a session leader). A timeout or cancel
//! then kills the whole group from a second channel — TERM, a grace period, KILL — and the
//! caller still gets all output produced until then.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use russh::{ChannelMsg, Sig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{Session, TransportError};

/// How long a killed command's group gets between TERM and KILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a killed command's channel to close and its output to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a streamed stdin is read at a time.
const STDIN_CHUNK: usize = 64 * 1024;

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

/// Why the loop stopped early.
enum Stop {
    Timeout,
    Cancel,
    /// Reading the caller's stdin source or writing to its output failed.
    Local(&'static str, std::io::Error),
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
        stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
        output: &mut Output<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecRun, TransportError> {
        let mut channel = self.channel().await?;
        let refill = self.clone();
        tokio::spawn(async move { refill.prepare_spare().await });
        channel
            .exec(true, wrap(&spec))
            .await
            .map_err(|source| self.ssh_error(source, false))?;
        let mut bytes: &[u8] = spec.stdin.as_deref().unwrap_or_default();
        let source: &mut (dyn AsyncRead + Send + Unpin) = match stdin {
            Some(stream) => stream,
            None => &mut bytes,
        };
        let feeder = feed(source, channel.make_writer());
        tokio::pin!(feeder);
        let mut fed = false;
        let deadline = spec.timeout.map(|t| Instant::now() + t);
        let cancel = cancel.unwrap_or_default();
        let mut state = RunState::default();
        let mut stop = None;
        loop {
            tokio::select! {
                message = channel.wait() => match message {
                    Some(message) => if let Some((stream, data)) = state.take(message)
                        && let Err(e) = output.put(stream, &data).await
                    {
                        stop = Some(Stop::Local("writing the command's output", e));
                    },
                    None => break,
                },
                result = &mut feeder, if !fed => {
                    fed = true;
                    if let Err(e) = result {
                        stop = Some(Stop::Local("reading the command's input", e));
                    }
                }
                () = sleep_until(deadline), if stop.is_none() => stop = Some(Stop::Timeout),
                () = cancel.cancelled(), if stop.is_none() => stop = Some(Stop::Cancel),
            }
            if let Some(reason) = stop.take() {
                return self.stop(channel, state, reason, output).await;
            }
        }
        output
            .flush()
            .await
            .map_err(|source| TransportError::LocalIo {
                what: "writing the command's output",
                source,
            })?;
        state.finish(self.host())
    }

    async fn stop(
        self: &Arc<Self>,
        mut channel: russh::Channel<russh::client::Msg>,
        mut state: RunState,
        reason: Stop,
        output: &mut Output<'_>,
    ) -> Result<ExecRun, TransportError> {
        if let Some(pid) = state.pid {
            self.kill_group(pid).await?;
        }
        let _ = channel.close().await;
        let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
            while let Some(message) = channel.wait().await {
                if let Some((stream, data)) = state.take(message) {
                    let _ = output.put(stream, &data).await;
                }
            }
            let _ = output.flush().await;
        })
        .await;
        let outcome = match reason {
            Stop::Timeout => ExecOutcome::TimedOut,
            Stop::Cancel => ExecOutcome::Cancelled,
            Stop::Local(what, source) => return Err(TransportError::LocalIo { what, source }),
        };
        Ok(ExecRun {
            outcome,
            remote_pid: state.pid,
        })
    }

    /// TERM, grace, KILL to the remote process group `pgid`, from a fresh channel.
    async fn kill_group(self: &Arc<Self>, pgid: u32) -> Result<(), TransportError> {
        let tenths = KILL_GRACE.as_millis() / 100;
        let script = format!(
            "kill -TERM -- -{pgid} 2>/dev/null || exit 0; i=0; \
             while kill -0 -- -{pgid} 2>/dev/null && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done; \
             kill -KILL -- -{pgid} 2>/dev/null; exit 0"
        );
        let mut channel = self.channel().await?;
        channel
            .exec(true, script)
            .await
            .map_err(|source| self.ssh_error(source, true))?;
        let _ = channel.eof().await;
        let waited = tokio::time::timeout(KILL_GRACE + DRAIN_TIMEOUT, async {
            while channel.wait().await.is_some() {}
        });
        waited.await.map_err(|_| TransportError::Timeout {
            what: "killing a command",
            host: self.host().into(),
            after: KILL_GRACE + DRAIN_TIMEOUT,
        })
    }

    fn ssh_error(&self, source: russh::Error, started: bool) -> TransportError {
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

/// What has been seen of a running command.
#[derive(Default)]
struct RunState {
    pid: Option<u32>,
    pid_line: Vec<u8>,
    outcome: Option<ExecOutcome>,
}

impl RunState {
    /// Records exit status and signal; returns output bytes (stdout without the pid line).
    fn take(&mut self, message: ChannelMsg) -> Option<(Stream, Bytes)> {
        match message {
            ChannelMsg::Data { data } => self.stdout(data).map(|data| (Stream::Stdout, data)),
            ChannelMsg::ExtendedData { data, ext: 1 } => Some((Stream::Stderr, data)),
            ChannelMsg::ExitStatus { exit_status } => {
                self.outcome = Some(ExecOutcome::Exited(exit_status));
                None
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                self.outcome = Some(ExecOutcome::Signaled(signal_name_of(&signal_name)));
                None
            }
            _ => None,
        }
    }

    /// Strips the pid line the wrapper prints first, then passes stdout through.
    fn stdout(&mut self, data: Bytes) -> Option<Bytes> {
        if self.pid.is_some() {
            return Some(data);
        }
        match data.iter().position(|b| *b == b'\n') {
            None => {
                self.pid_line.extend_from_slice(&data);
                None
            }
            Some(end) => {
                self.pid_line.extend_from_slice(&data[..end]);
                self.pid = String::from_utf8_lossy(&self.pid_line)
                    .trim()
                    .parse()
                    .ok()
                    .or(Some(0));
                (end + 1 < data.len()).then(|| data.slice(end + 1..))
            }
        }
    }

    fn finish(self, host: &str) -> Result<ExecRun, TransportError> {
        match self.outcome {
            Some(outcome) => Ok(ExecRun {
                outcome,
                remote_pid: self.pid,
            }),
            None => Err(TransportError::Disconnected {
                host: host.into(),
                started: true,
            }),
        }
    }
}

fn signal_name_of(signal: &Sig) -> String {
    match signal {
        Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

/// Copies `source` into the channel, then sends EOF. A read error is the caller's and is
/// returned; a write error means the command stopped reading, which is not an error.
async fn feed(
    source: &mut (dyn AsyncRead + Send + Unpin),
    mut channel: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; STDIN_CHUNK];
    loop {
        let n = source.read(&mut buf).await?;
        if n == 0 {
            let _ = channel.shutdown().await;
            return Ok(());
        }
        if channel.write_all(&buf[..n]).await.is_err() {
            return Ok(());
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The wrapper: pid line, cwd, explicit env, then the command in bash (or sh).
fn wrap(spec: &ExecSpec) -> String {
    let mut script = String::from("printf '%s\\n' \"$$\"; ");
    if let Some(cwd) = &spec.cwd {
        script.push_str(&format!("cd -- {} || exit 1; ", quote(cwd)));
    }
    let env: String = spec
        .env
        .iter()
        .map(|(k, v)| format!("{} ", quote(&format!("{k}={v}"))))
        .collect();
    // `env` is one more program started per command: only when there is something to set.
    let env = if env.is_empty() {
        env
    } else {
        format!("env {env}")
    };
    let command = quote(&spec.command);
    script.push_str(&format!(
        "if command -v bash >/dev/null 2>&1; then exec {env}bash -c {command}; else exec {env}sh -c {command}; fi"
    ));
    script
}

/// POSIX single-quoting.
fn quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(
        |_| format!("'{}'", text.replace('\'', "'\\''")),
        |q| q.into_owned(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_pid_line_is_stripped_even_when_split_across_packets() {
        let mut state = RunState::default();
        let mut seen = Vec::new();
        for chunk in [b"12".as_slice(), b"34\nhello ", b"world\n"] {
            if let Some((_, bytes)) = state.take(ChannelMsg::Data {
                data: Bytes::copy_from_slice(chunk),
            }) {
                seen.extend_from_slice(&bytes);
            }
        }
        assert_eq!(state.pid, Some(1234));
        assert_eq!(seen, b"hello world\n");
    }

    #[test]
    fn the_wrapper_quotes_cwd_env_and_command() {
        let dir = tempfile::Builder::new().prefix("a b '").tempdir().unwrap();
        let cwd = dir.path().display().to_string();
        let spec = ExecSpec {
            command: "echo 'it''s'; pwd; echo \"$K\"".into(),
            cwd: Some(cwd.clone()),
            env: vec![("K".into(), "v w".into())],
            ..ExecSpec::default()
        };
        let script = wrap(&spec);
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env_clear()
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let (pid, rest) = stdout.split_once('\n').unwrap();
        assert!(pid.parse::<u32>().is_ok(), "{stdout}");
        assert_eq!(rest, format!("its\n{cwd}\nv w\n"));
    }

    #[test]
    fn without_env_the_wrapper_starts_the_shell_directly() {
        let script = wrap(&ExecSpec::shell("echo \"$0\""));
        assert!(!script.contains("env "), "{script}");
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        let (_, rest) = stdout.split_once('\n').unwrap();
        assert!(rest == "bash\n" || rest == "sh\n", "{stdout}");
    }
}
