//! One channel's process: spawned inside the VM, its streams piped to the SSH channel.
//!
//! Output goes through russh's window-aware channel writers, so a client that stops reading
//! stops the process (its pipe fills) instead of filling the simulator's memory. Input goes
//! through [`super::stdin`].

use std::time::Duration;

use bytes::Bytes;
use russh::server::{Handle, Msg};
use russh::{ChannelId, ChannelWriteHalf};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::SshError;
use super::signal::{SIGHUP, SIGKILL};
use super::stdin::{self, StdinFeed, StdinQueue};
use crate::backend::{
    Command, ExitStatus, Process, Pty, PtySize, SandboxError, Signaller, Stdio, VmHandle,
};

/// How long starting a process inside the VM may take.
pub(super) const SPAWN_DEADLINE: Duration = Duration::from_secs(30);
/// How long a signal request to the VM's init may take.
pub(super) const SIGNAL_DEADLINE: Duration = Duration::from_secs(5);
/// After a terminal session's process exits, how long to wait for more terminal output before
/// closing (background jobs may keep the terminal open forever, as with sshd).
const PTY_DRAIN_IDLE: Duration = Duration::from_millis(100);
/// Read size for process output (one SSH packet).
const CHUNK: usize = 32 * 1024;
/// The shell that runs `exec` commands and interactive sessions.
const SHELL: &str = "/bin/bash";
/// The shell used when the VM has no bash.
const FALLBACK_SHELL: &str = "/bin/sh";

/// What the session keeps to steer a running process.
pub(super) struct Controls {
    /// Client input, in order.
    pub stdin: StdinQueue,
    /// Terminal size changes (terminal sessions only).
    pub resize: Option<watch::Sender<PtySize>>,
    /// Signals the process group.
    pub signaller: Signaller,
}

/// The channel a process talks to.
pub(super) struct Output {
    /// The channel's id.
    pub id: ChannelId,
    /// Window-aware writers for data and extended data.
    pub writer: ChannelWriteHalf<Msg>,
    /// For exit-status / exit-signal / EOF / close.
    pub handle: Handle,
    /// Cancelled when the client closes the channel or the connection ends.
    pub token: CancellationToken,
}

/// Spawns `command` in `vm` (falling back from bash to sh) and starts piping it to `out`.
pub(super) async fn start(
    vm: &dyn VmHandle,
    vm_id: &str,
    command: Command,
    out: Output,
) -> Result<Controls, SshError> {
    let pty_size = match command.stdio {
        Stdio::Pty(size) => Some(size),
        Stdio::Pipes => None,
    };
    let program = command.argv.first().cloned().unwrap_or_default();
    let spawn_error = |source| SshError::Spawn {
        program: program.clone(),
        vm_id: vm_id.to_owned(),
        source,
    };
    let mut process = tokio::time::timeout(SPAWN_DEADLINE, spawn(vm, command))
        .await
        .map_err(|_| SshError::SpawnTimeout {
            program: program.clone(),
            vm_id: vm_id.to_owned(),
            timeout: SPAWN_DEADLINE,
        })?
        .map_err(spawn_error)?;
    let signaller = process.signaller();
    let (stdin, queue) = stdin::channel();
    let resize = match (pty_size, process.pty.take()) {
        (Some(size), Some(pty)) => match start_pty(process, pty, size, queue, out) {
            Ok(resize) => Some(resize),
            Err(e) => {
                let _ = tokio::time::timeout(SIGNAL_DEADLINE, signaller.signal(SIGKILL)).await;
                return Err(spawn_error(e));
            }
        },
        _ => {
            start_pipes(process, queue, out);
            None
        }
    };
    Ok(Controls {
        stdin,
        resize,
        signaller,
    })
}

/// Spawns `command`; if its program is bash and the VM has none, retries with sh.
async fn spawn(vm: &dyn VmHandle, mut command: Command) -> Result<Process, SandboxError> {
    match vm.spawn(command.clone()).await {
        Err(SandboxError::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound
                && command.argv.first().map(String::as_str) == Some(SHELL) =>
        {
            command.argv[0] = FALLBACK_SHELL.to_owned();
            vm.spawn(command).await
        }
        other => other,
    }
}

/// The argv that runs a client's `exec` command, as sshd runs it with the user's shell.
pub(super) fn exec_argv(command: &[u8]) -> Vec<String> {
    vec![
        SHELL.to_owned(),
        "-c".to_owned(),
        String::from_utf8_lossy(command).into_owned(),
    ]
}

/// The argv of an interactive (login) shell.
pub(super) fn shell_argv() -> Vec<String> {
    vec![SHELL.to_owned(), "-l".to_owned()]
}

fn start_pipes(mut process: Process, queue: StdinFeed, out: Output) {
    if let Some(stdin) = process.stdin.take() {
        tokio::spawn(until_cancelled(
            out.token.clone(),
            stdin::feed(stdin, queue, true),
        ));
    }
    tokio::spawn(async move {
        let outcome = tokio::select! {
            outcome = pipes_to_exit(&mut process, &out.writer) => Some(outcome),
            () = out.token.cancelled() => None,
        };
        if let Some(outcome) = outcome {
            report(&out, outcome).await;
        }
        out.token.cancel();
    });
}

fn start_pty(
    mut process: Process,
    pty: Pty,
    size: PtySize,
    queue: StdinFeed,
    out: Output,
) -> Result<watch::Sender<PtySize>, SandboxError> {
    let reader = pty.reader()?;
    let writer = pty.writer()?;
    let (resize, sizes) = watch::channel(size);
    tokio::spawn(until_cancelled(
        out.token.clone(),
        stdin::feed(writer, queue, false),
    ));
    tokio::spawn(until_cancelled(
        out.token.clone(),
        follow_resizes(pty, sizes),
    ));
    let signaller = process.signaller();
    tokio::spawn(async move {
        let outcome = tokio::select! {
            outcome = pty_to_exit(&mut process, reader, &out.writer) => Some(outcome),
            () = out.token.cancelled() => None,
        };
        match outcome {
            Some(outcome) => report(&out, outcome).await,
            None => hang_up(&signaller).await,
        }
        out.token.cancel();
    });
    Ok(resize)
}

/// Runs `task` until it ends or `token` is cancelled.
async fn until_cancelled(token: CancellationToken, task: impl Future<Output = ()>) {
    tokio::select! {
        () = task => {}
        () = token.cancelled() => {}
    }
}

/// Like sshd when a terminal session's client goes away: SIGHUP to the process group.
async fn hang_up(signaller: &Signaller) {
    match tokio::time::timeout(SIGNAL_DEADLINE, signaller.signal(SIGHUP)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("SIGHUP after disconnect failed: {e}"),
        Err(_) => tracing::debug!("SIGHUP after disconnect took over {SIGNAL_DEADLINE:?}"),
    }
}

async fn follow_resizes(pty: Pty, mut sizes: watch::Receiver<PtySize>) {
    while sizes.changed().await.is_ok() {
        let size = *sizes.borrow_and_update();
        if let Err(e) = pty.resize(size) {
            tracing::debug!("terminal resize to {size:?} failed: {e}");
        }
    }
}

/// Pipes stdout and stderr to the channel until both end, and waits for the process.
async fn pipes_to_exit(
    process: &mut Process,
    writer: &ChannelWriteHalf<Msg>,
) -> Result<ExitStatus, SandboxError> {
    let stdout = process.stdout.take();
    let stderr = process.stderr.take();
    let (status, (), ()) = tokio::join!(
        process.wait(),
        pump(stdout, writer.make_writer()),
        pump(stderr, writer.make_writer_ext(Some(1))),
    );
    status
}

/// Copies `from` into `to` until end of input or a write error (the channel is gone).
async fn pump(from: Option<Box<dyn AsyncRead + Send + Unpin>>, mut to: impl AsyncWrite + Unpin) {
    let Some(mut from) = from else { return };
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

enum PtyEvent {
    Read(Option<std::io::Result<usize>>),
    Exited(Result<ExitStatus, SandboxError>),
}

/// Copies terminal output to the channel until the process has exited and the terminal has
/// gone quiet (or closed), and returns how the process ended.
async fn pty_to_exit(
    process: &mut Process,
    mut reader: Box<dyn AsyncRead + Send + Unpin>,
    writer: &ChannelWriteHalf<Msg>,
) -> Result<ExitStatus, SandboxError> {
    let mut to = writer.make_writer();
    let mut buf = vec![0u8; CHUNK];
    let mut status = None;
    loop {
        let exited = status.is_some();
        let event = {
            let read = async {
                if exited {
                    tokio::time::timeout(PTY_DRAIN_IDLE, reader.read(&mut buf))
                        .await
                        .ok()
                } else {
                    Some(reader.read(&mut buf).await)
                }
            };
            tokio::select! {
                biased;
                read = read => PtyEvent::Read(read),
                outcome = process.wait(), if !exited => PtyEvent::Exited(outcome),
            }
        };
        match event {
            PtyEvent::Exited(outcome) => status = Some(outcome),
            PtyEvent::Read(Some(Ok(n))) if n > 0 => {
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            PtyEvent::Read(_) => break,
        }
    }
    match status {
        Some(outcome) => outcome,
        None => process.wait().await,
    }
}

/// Tells the client how the process ended, then sends EOF and closes the channel.
async fn report(out: &Output, outcome: Result<ExitStatus, SandboxError>) {
    let (handle, id) = (&out.handle, out.id);
    match outcome {
        Ok(ExitStatus::Code(code)) => {
            let code = u32::try_from(code).unwrap_or(255);
            let _ = handle.exit_status_request(id, code).await;
        }
        Ok(ExitStatus::Signal {
            signal,
            core_dumped,
        }) => {
            let name = super::signal::sig(signal);
            let _ = handle
                .exit_signal_request(id, name, core_dumped, String::new(), "en".into())
                .await;
        }
        Err(e) => {
            let message = format!("tether: lost the process: {e}\r\n");
            let _ = handle.extended_data(id, 1, Bytes::from(message)).await;
        }
    }
    let _ = handle.eof(id).await;
    let _ = handle.close(id).await;
}
