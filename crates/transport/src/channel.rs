//! Commands on channels of their own: the path every command takes while the connection's
//! agent is not up (starting, turned off, or unable to run there).
//!
//! Every command is wrapped so that its first stdout line is its pid, which is also its process
//! group (sshd and the simulator start each command as a session leader). A timeout or cancel
//! then kills the whole group from a second channel — TERM, a grace period, KILL — and the
//! caller still gets all output produced until then. The wrapper marks where its output starts
//! on both streams, so whatever the login shell printed before is dropped ([`Preamble`]).

use std::sync::Arc;

use bytes::Bytes;
use russh::ChannelMsg;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::exec::{DRAIN_TIMEOUT, KILL_GRACE, quote, signal_name_of};
use crate::preamble::Preamble;
use crate::{ExecOutcome, ExecRun, ExecSpec, Output, Session, Stream, TransportError};

/// How much of a streamed stdin is read at a time.
const STDIN_CHUNK: usize = 64 * 1024;
/// What the wrapper prints first on stdout, followed by its pid and a newline.
const PID_MARKER: &[u8] = b"\x1etether-pid ";
/// What the wrapper prints first on stderr, followed by a newline.
const ERR_MARKER: &[u8] = b"\x1etether-err";

/// Why the loop stopped early.
enum Stop {
    Timeout,
    Cancel,
    /// Reading the caller's stdin source or writing to its output failed.
    Local(&'static str, std::io::Error),
}

impl Session {
    /// Runs `spec` on a channel of its own; see [`Session::exec_io`].
    pub(crate) async fn exec_channel(
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
        state.flush_leftovers(output).await;
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
        if let Some(pid) = state.pid() {
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
            remote_pid: state.pid(),
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
}

/// What has been seen of a running command.
struct RunState {
    stdout: Preamble,
    stderr: Preamble,
    outcome: Option<ExecOutcome>,
}

impl Default for RunState {
    fn default() -> RunState {
        RunState {
            stdout: Preamble::new(PID_MARKER),
            stderr: Preamble::new(ERR_MARKER),
            outcome: None,
        }
    }
}

impl RunState {
    /// Records exit status and signal; returns the command's output bytes (the wrapper's
    /// marker lines, and anything before them, taken out).
    fn take(&mut self, message: ChannelMsg) -> Option<(Stream, Bytes)> {
        let (stream, data) = match message {
            ChannelMsg::Data { data } => (Stream::Stdout, data),
            ChannelMsg::ExtendedData { data, ext: 1 } => (Stream::Stderr, data),
            ChannelMsg::ExitStatus { exit_status } => {
                self.outcome = Some(ExecOutcome::Exited(exit_status));
                return None;
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                self.outcome = Some(ExecOutcome::Signaled(signal_name_of(&signal_name)));
                return None;
            }
            _ => return None,
        };
        let preamble = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
        };
        if preamble.seen() {
            return Some((stream, data));
        }
        let bytes = preamble.take(&data)?;
        Some((stream, Bytes::copy_from_slice(&bytes)))
    }

    /// The wrapper's pid (= its process group), once its first line arrived.
    fn pid(&self) -> Option<u32> {
        let line = self.stdout.line()?;
        String::from_utf8_lossy(line).trim().parse().ok()
    }

    /// Passes on what a stream held when it ended without the wrapper's marker: the command
    /// never started, and the login shell's words say why.
    async fn flush_leftovers(&mut self, output: &mut Output<'_>) {
        for (stream, preamble) in [
            (Stream::Stdout, &mut self.stdout),
            (Stream::Stderr, &mut self.stderr),
        ] {
            let held = preamble.leftover();
            if !preamble.seen() && !held.is_empty() {
                let _ = output.put(stream, &held).await;
            }
        }
    }

    fn finish(self, host: &str) -> Result<ExecRun, TransportError> {
        let remote_pid = self.pid();
        match self.outcome {
            Some(outcome) => Ok(ExecRun {
                outcome,
                remote_pid,
            }),
            None => Err(TransportError::Disconnected {
                host: host.into(),
                started: true,
            }),
        }
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

/// The wrapper: the markers with the pid, cwd, explicit env, then the command in bash (or sh).
fn wrap(spec: &ExecSpec) -> String {
    let mut script =
        String::from("printf '\\036tether-pid %s\\n' \"$$\"; printf '\\036tether-err\\n' >&2; ");
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Runs the wrapper for `spec` in a local `sh`, as the login shell would; returns its raw
    /// stdout and stderr.
    fn run_wrapper(spec: &ExecSpec) -> (String, String) {
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(wrap(spec))
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap();
        (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    }

    #[test]
    fn the_pid_line_is_stripped_even_when_split_across_packets() {
        let mut state = RunState::default();
        let mut seen = Vec::new();
        for chunk in [
            b"noise\n\x1etether-pid 12".as_slice(),
            b"34\nhello ",
            b"world\n",
        ] {
            if let Some((_, bytes)) = state.take(ChannelMsg::Data {
                data: Bytes::copy_from_slice(chunk),
            }) {
                seen.extend_from_slice(&bytes);
            }
        }
        assert_eq!(state.pid(), Some(1234));
        assert_eq!(seen, b"hello world\n");
    }

    #[test]
    fn the_wrapper_quotes_cwd_env_and_command() {
        let dir = tempfile::Builder::new().prefix("a b '").tempdir().unwrap();
        let cwd = dir.path().display().to_string();
        let spec = ExecSpec {
            command: "echo 'it''s'; pwd; echo \"$K\"; echo e >&2".into(),
            cwd: Some(cwd.clone()),
            env: vec![("K".into(), "v w".into())],
            ..ExecSpec::default()
        };
        let (stdout, stderr) = run_wrapper(&spec);
        let (pid, rest) = stdout.split_once('\n').unwrap();
        let pid = pid.strip_prefix("\x1etether-pid ").unwrap();
        assert!(pid.parse::<u32>().is_ok(), "{stdout}");
        assert_eq!(rest, format!("its\n{cwd}\nv w\n"));
        assert_eq!(stderr, "\x1etether-err\ne\n");
    }

    #[test]
    fn without_env_the_wrapper_starts_the_shell_directly() {
        let spec = ExecSpec::shell("echo \"$0\"");
        assert!(!wrap(&spec).contains("env "), "{}", wrap(&spec));
        let (stdout, _) = run_wrapper(&spec);
        let (_, rest) = stdout.split_once('\n').unwrap();
        assert!(rest == "bash\n" || rest == "sh\n", "{stdout}");
    }
}
