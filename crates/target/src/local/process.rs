//! Local commands: `bash -c` in a fresh process group with a minimal environment, streamed,
//! with timeout and cancel that kill the whole group.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tether_transport::{ExecOutcome, ExecSpec, Output, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{Source, TargetError};

/// How long a killed command's group gets between TERM and KILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for a killed command's pipes to close.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// The `PATH` commands get (nothing of the caller's environment is passed on).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Bytes read from a pipe at a time.
const CHUNK: usize = 64 * 1024;

/// Why the loop stopped before the command finished.
enum Stop {
    Timeout,
    Cancel,
    Local(&'static str, std::io::Error),
}

/// Kills the group with SIGKILL if a run is abandoned (its future dropped) midway.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// The child's pipes and what has been seen of them.
struct Pipes {
    stdout: tokio::process::ChildStdout,
    stderr: tokio::process::ChildStderr,
    out_open: bool,
    err_open: bool,
}

/// Runs `spec` (its `cwd` already folded into the command) locally.
pub(crate) async fn run(
    spec: ExecSpec,
    stdin: Option<Source<'_>>,
    output: &mut Output<'_>,
    cancel: Option<CancellationToken>,
) -> Result<ExecOutcome, TargetError> {
    let (mut child, mut guard, child_stdin, mut pipes) = spawn(&spec)?;
    let mut bytes: &[u8] = spec.stdin.as_deref().unwrap_or_default();
    let source: Source<'_> = match stdin {
        Some(stream) => stream,
        None => &mut bytes,
    };
    let feeder = feed(source, child_stdin);
    tokio::pin!(feeder);
    let (mut fed, mut status) = (false, None);
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let cancel = cancel.unwrap_or_default();
    let (mut out_buf, mut err_buf) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let mut stop = None;
    while status.is_none() || pipes.out_open || pipes.err_open {
        tokio::select! {
            read = pipes.stdout.read(&mut out_buf), if pipes.out_open => {
                stop = forward(read, Stream::Stdout, &out_buf, output, &mut pipes.out_open).await;
            }
            read = pipes.stderr.read(&mut err_buf), if pipes.err_open => {
                stop = forward(read, Stream::Stderr, &err_buf, output, &mut pipes.err_open).await;
            }
            result = &mut feeder, if !fed => {
                fed = true;
                stop = result.err().map(|e| Stop::Local("reading the command's input", e));
            }
            waited = child.wait(), if status.is_none() => {
                status = Some(waited.map_err(|e| TargetError::io("waiting for a local command", e))?);
            }
            () = sleep_until(deadline) => stop = Some(Stop::Timeout),
            () = cancel.cancelled() => stop = Some(Stop::Cancel),
        }
        if let Some(reason) = stop.take() {
            return stopped(child, guard, pipes, reason, output).await;
        }
    }
    guard.0 = None;
    output
        .flush()
        .await
        .map_err(|e| TargetError::io("writing the command's output", e))?;
    Ok(outcome_of(status.unwrap_or_default()))
}

/// Starts the command in its own process group, armed to be killed if abandoned.
fn spawn(spec: &ExecSpec) -> Result<(Child, GroupGuard, ChildStdin, Pipes), TargetError> {
    let starting = |e| TargetError::io("starting a local shell", e);
    let mut child = command(spec).spawn().map_err(starting)?;
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let guard = GroupGuard(pgid);
    match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
        (Some(stdin), Some(stdout), Some(stderr)) => {
            let pipes = Pipes {
                stdout,
                stderr,
                out_open: true,
                err_open: true,
            };
            Ok((child, guard, stdin, pipes))
        }
        _ => Err(starting(std::io::Error::other(
            "the child's pipes are missing",
        ))),
    }
}

/// The command: bash (or sh), a fresh process group, only the explicit environment.
fn command(spec: &ExecSpec) -> Command {
    let shell = ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("/bin/sh");
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/".into());
    let mut command = Command::new(shell);
    command
        .arg("-c")
        .arg(&spec.command)
        .env_clear()
        .env("PATH", DEFAULT_PATH)
        .env("HOME", home)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Passes a chunk read from a pipe on; EOF or a read error closes that pipe.
async fn forward(
    read: std::io::Result<usize>,
    stream: Stream,
    buf: &[u8],
    output: &mut Output<'_>,
    open: &mut bool,
) -> Option<Stop> {
    match read {
        Ok(0) | Err(_) => {
            *open = false;
            None
        }
        Ok(n) => output
            .put(stream, &buf[..n])
            .await
            .err()
            .map(|e| Stop::Local("writing the command's output", e)),
    }
}

/// Copies `source` to the child's stdin, then closes it. A read error is the caller's; a write
/// error means the command stopped reading, which is not an error.
async fn feed(source: Source<'_>, mut stdin: ChildStdin) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = source.read(&mut buf).await?;
        if n == 0 || stdin.write_all(&buf[..n]).await.is_err() {
            return Ok(());
        }
    }
}

/// TERM to the group, a grace period, KILL; then drains what the pipes still hold.
async fn stopped(
    mut child: Child,
    mut guard: GroupGuard,
    mut pipes: Pipes,
    reason: Stop,
    output: &mut Output<'_>,
) -> Result<ExecOutcome, TargetError> {
    if let Some(pgid) = guard.0.take() {
        let _ = killpg(pgid, Signal::SIGTERM);
        let _ = tokio::time::timeout(KILL_GRACE, child.wait()).await;
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain(&mut pipes, output)).await;
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, child.wait()).await;
    match reason {
        Stop::Timeout => Ok(ExecOutcome::TimedOut),
        Stop::Cancel => Ok(ExecOutcome::Cancelled),
        Stop::Local(what, source) => Err(TargetError::io(what, source)),
    }
}

async fn drain(pipes: &mut Pipes, output: &mut Output<'_>) {
    let mut buf = vec![0u8; CHUNK];
    while pipes.out_open {
        match pipes.stdout.read(&mut buf).await {
            Ok(0) | Err(_) => pipes.out_open = false,
            Ok(n) => {
                let _ = output.put(Stream::Stdout, &buf[..n]).await;
            }
        }
    }
    while pipes.err_open {
        match pipes.stderr.read(&mut buf).await {
            Ok(0) | Err(_) => pipes.err_open = false,
            Ok(n) => {
                let _ = output.put(Stream::Stderr, &buf[..n]).await;
            }
        }
    }
    let _ = output.flush().await;
}

/// An exit status as the transport reports a remote one.
fn outcome_of(status: ExitStatus) -> ExecOutcome {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => ExecOutcome::Exited(code as u32),
        (None, Some(signal)) => ExecOutcome::Signaled(signal_name(signal)),
        (None, None) => ExecOutcome::Exited(0),
    }
}

/// `KILL` for 9: the name without `SIG`, as SSH reports it.
fn signal_name(signal: i32) -> String {
    Signal::try_from(signal).map_or_else(
        |_| signal.to_string(),
        |s| s.as_str().trim_start_matches("SIG").to_owned(),
    )
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
