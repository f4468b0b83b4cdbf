//! Running one command in a VM for the exec API: output as it arrives, then the exit code.
//!
//! The command is spawned by the VM's init in its own process group, with a fixed base
//! environment (nothing of the host's leaks in), then the VM's `/etc/environment`, then the
//! request's `env`. Its stdin gets the request's `stdin` then EOF. When the command exits,
//! output still in the pipes is drained until they close or stay quiet for
//! [`OUTPUT_IDLE_AFTER_EXIT`] (a background child may hold them open). With a timeout, the
//! group gets SIGTERM, then SIGKILL after [`KILL_GRACE`], and the run reports exit code
//! [`TIMEOUT_EXIT_CODE`] with a note on stderr. A run does not depend on its client: it goes on
//! to its end when the client hangs up (as on Vers), recorded by [`Runs`] so a client can
//! rejoin it (`exec/stream/attach`) and read it back (`/logs`).

mod runs;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use tether_wire::{ExecRequest, ExecStream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::backend::{Command, ExitStatus, Process, SandboxError, Signaller, Stdio, VmHandle};
use crate::deadline::SPAWN_TIMEOUT;
use crate::error::ApiError;

pub(crate) use runs::{Follow, RunEvent, Runs};

/// How long the output pipes may stay quiet after the command exited before the run ends.
pub(crate) const OUTPUT_IDLE_AFTER_EXIT: Duration = Duration::from_millis(250);
/// Time between SIGTERM and SIGKILL when a command runs past its timeout.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);
/// Exit code of a command stopped by its timeout (as coreutils `timeout` reports).
pub(crate) const TIMEOUT_EXIT_CODE: i32 = 124;
/// Exit codes of a command that could not be started (as a shell reports them).
const NOT_FOUND_EXIT_CODE: i32 = 127;
const NOT_EXECUTABLE_EXIT_CODE: i32 = 126;

const CHANNEL_DEPTH: usize = 16;
const READ_CHUNK: usize = 64 * 1024;
const SIGTERM: i32 = 15;
const SIGKILL: i32 = 9;

/// The environment every command starts from; the request's `env` is laid over it.
const BASE_ENV: [(&str, &str); 6] = [
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("USER", "root"),
    ("LOGNAME", "root"),
    ("SHELL", "/bin/sh"),
    ("LANG", "C.UTF-8"),
];

/// What a run reports, in order: output, then one `Exit` or `Failed`.
#[derive(Debug)]
pub(crate) enum ExecEvent {
    /// Bytes from stdout or stderr.
    Output(ExecStream, Bytes),
    /// The command ended with this code (128 + signal if killed).
    Exit(i32),
    /// The VM went away under the command.
    Failed(ApiError),
}

/// A started run.
pub(crate) struct Execution {
    /// Its events; dropping this does not stop the command.
    pub events: mpsc::Receiver<ExecEvent>,
}

/// Starts `request` in `vm`. Fails only when the run cannot start at all (paused VM, bad
/// request); a program that does not exist is reported like a shell would (exit 127).
pub(crate) async fn start(
    vm: &dyn VmHandle,
    vm_id: &str,
    request: ExecRequest,
) -> Result<Execution, ApiError> {
    if request.command.is_empty() {
        let reason =
            "it is empty; give the program and its arguments, e.g. [\"sh\", \"-c\", \"ls\"]".into();
        return Err(ApiError::BadField {
            field: "command",
            reason,
        });
    }
    let vm_env = crate::vm_env::read(vm).await;
    let command = Command {
        argv: request.command.clone(),
        env: environment(vm_env, request.env.clone().unwrap_or_default()),
        cwd: request.working_dir.clone(),
        stdio: Stdio::Pipes,
    };
    let (tx, events) = mpsc::channel(CHANNEL_DEPTH);
    let spawned = tokio::time::timeout(SPAWN_TIMEOUT, vm.spawn(command)).await;
    let spawned = spawned.map_err(|_| ApiError::SandboxTimeout {
        action: "run a command in",
        vm_id: vm_id.to_owned(),
        timeout: SPAWN_TIMEOUT,
    })?;
    match spawned {
        Ok(process) => {
            let timeout = request.timeout();
            tokio::spawn(supervise(
                process,
                vm_id.to_owned(),
                request.stdin,
                timeout,
                tx,
            ));
        }
        Err(SandboxError::Spawn { program, source }) => {
            report_spawn_failure(&tx, &program, &source)
        }
        Err(err) => return Err(ApiError::from_sandbox("run a command in", vm_id, err)),
    }
    Ok(Execution { events })
}

/// The base, overlaid with the VM's `/etc/environment`, overlaid with the request's `env`.
fn environment(
    vm_env: Vec<(String, String)>,
    extra: BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = BASE_ENV
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    env.extend(vm_env);
    env.extend(extra);
    env.into_iter().collect()
}

fn report_spawn_failure(tx: &mpsc::Sender<ExecEvent>, program: &str, source: &std::io::Error) {
    let code = match source.kind() {
        std::io::ErrorKind::NotFound => NOT_FOUND_EXIT_CODE,
        _ => NOT_EXECUTABLE_EXIT_CODE,
    };
    let message = format!("tether sim: cannot run {program:?}: {source}\n");
    // The channel is new and deep enough for both events.
    let _ = tx.try_send(ExecEvent::Output(ExecStream::Stderr, Bytes::from(message)));
    let _ = tx.try_send(ExecEvent::Exit(code));
}

/// Feeds stdin, forwards output, enforces the timeout, reports the end. Events nobody takes
/// any more (the simulator is stopping) are dropped; the command runs on regardless.
async fn supervise(
    mut process: Process,
    vm_id: String,
    stdin: Option<String>,
    timeout: Option<Duration>,
    tx: mpsc::Sender<ExecEvent>,
) {
    let signaller = process.signaller();
    feed(process.stdin.take(), stdin);
    let (out_tx, mut output) = mpsc::channel(CHANNEL_DEPTH);
    let pumps = [
        pump(process.stdout.take(), ExecStream::Stdout, out_tx.clone()),
        pump(process.stderr.take(), ExecStream::Stderr, out_tx),
    ];
    let mut timer = Timer::new(timeout);
    let mut output_open = true;
    let status = loop {
        tokio::select! {
            event = output.recv(), if output_open => match event {
                Some(event) => { let _ = tx.send(event).await; }
                None => output_open = false,
            },
            status = process.wait() => break status,
            () = timer.fire(), if timer.armed() => timer.signal(&signaller).await,
        }
    };
    drain(&mut output, &tx).await;
    pumps.into_iter().flatten().for_each(|pump| pump.abort());
    for event in finish(status, &vm_id, timer.timed_out.then_some(timeout).flatten()) {
        let _ = tx.send(event).await;
    }
}

/// The final events of a run.
fn finish(
    status: Result<ExitStatus, SandboxError>,
    vm_id: &str,
    timed_out: Option<Duration>,
) -> Vec<ExecEvent> {
    let code = match status {
        Ok(ExitStatus::Code(code)) => code,
        Ok(ExitStatus::Signal { signal, .. }) => 128 + signal,
        Err(err) => {
            return vec![ExecEvent::Failed(ApiError::from_sandbox(
                "finish a command in",
                vm_id,
                err,
            ))];
        }
    };
    let Some(limit) = timed_out else {
        return vec![ExecEvent::Exit(code)];
    };
    let note =
        format!("tether sim: the command ran past its timeout of {limit:?} and was killed\n");
    vec![
        ExecEvent::Output(ExecStream::Stderr, Bytes::from(note)),
        ExecEvent::Exit(TIMEOUT_EXIT_CODE),
    ]
}

/// Forwards output still arriving after the exit, until the pipes close or go quiet.
async fn drain(output: &mut mpsc::Receiver<ExecEvent>, tx: &mpsc::Sender<ExecEvent>) {
    while let Ok(Some(event)) = tokio::time::timeout(OUTPUT_IDLE_AFTER_EXIT, output.recv()).await {
        let _ = tx.send(event).await;
    }
}

fn feed(writer: Option<Box<dyn AsyncWrite + Send + Unpin>>, input: Option<String>) {
    let (Some(mut writer), Some(input)) = (writer, input) else {
        return;
    };
    tokio::spawn(async move {
        // A command that does not read its stdin closes the pipe: not an error.
        let _ = writer.write_all(input.as_bytes()).await;
        let _ = writer.shutdown().await;
    });
}

fn pump(
    reader: Option<Box<dyn AsyncRead + Send + Unpin>>,
    stream: ExecStream,
    tx: mpsc::Sender<ExecEvent>,
) -> Option<tokio::task::JoinHandle<()>> {
    let mut reader = reader?;
    Some(tokio::spawn(async move {
        let mut buf = vec![0u8; READ_CHUNK];
        while let Ok(n @ 1..) = reader.read(&mut buf).await {
            if tx
                .send(ExecEvent::Output(stream, Bytes::copy_from_slice(&buf[..n])))
                .await
                .is_err()
            {
                return;
            }
        }
    }))
}

/// The timeout: SIGTERM at the deadline, SIGKILL [`KILL_GRACE`] later.
struct Timer {
    next: Option<(Instant, i32)>,
    timed_out: bool,
}

impl Timer {
    fn new(timeout: Option<Duration>) -> Timer {
        Timer {
            next: timeout.map(|limit| (Instant::now() + limit, SIGTERM)),
            timed_out: false,
        }
    }

    fn armed(&self) -> bool {
        self.next.is_some()
    }

    async fn fire(&self) {
        match self.next {
            Some((at, _)) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }

    async fn signal(&mut self, signaller: &Signaller) {
        let Some((_, signal)) = self.next.take() else {
            return;
        };
        self.timed_out = true;
        if signal == SIGTERM {
            self.next = Some((Instant::now() + KILL_GRACE, SIGKILL));
        }
        if let Err(err) = signaller.signal(signal).await {
            tracing::debug!("could not signal a timed-out command: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn request_env_overrides_the_vm_env_which_overrides_the_base_and_nothing_else_leaks() {
        let extra = BTreeMap::from([
            ("HOME".to_owned(), "/tmp".to_owned()),
            ("X".to_owned(), "1".to_owned()),
        ]);
        let vm_env = vec![
            ("X".to_owned(), "vm".to_owned()),
            ("Y".to_owned(), "2".to_owned()),
        ];
        let env = environment(vm_env, extra);
        assert!(env.contains(&("HOME".into(), "/tmp".into())));
        assert!(env.contains(&("X".into(), "1".into())));
        assert!(env.contains(&("Y".into(), "2".into())));
        assert_eq!(env.len(), BASE_ENV.len() + 2);
        assert!(!env.iter().any(|(k, _)| k == "CARGO" || k == "RUST_LOG"));
    }

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        let code = |events: Vec<ExecEvent>| match events.last() {
            Some(ExecEvent::Exit(code)) => *code,
            other => panic!("no exit event: {other:?}"),
        };
        assert_eq!(code(finish(Ok(ExitStatus::Code(3)), "vm", None)), 3);
        assert_eq!(
            code(finish(
                Ok(ExitStatus::Signal {
                    signal: 9,
                    core_dumped: false
                }),
                "vm",
                None
            )),
            137
        );
        let timed_out = finish(
            Ok(ExitStatus::Signal {
                signal: 15,
                core_dumped: false,
            }),
            "vm",
            Some(Duration::from_secs(1)),
        );
        assert!(
            matches!(&timed_out[0], ExecEvent::Output(ExecStream::Stderr, note) if note.starts_with(b"tether sim: the command ran past"))
        );
        assert_eq!(code(timed_out), TIMEOUT_EXIT_CODE);
        assert!(matches!(
            finish(Err(SandboxError::NotRunning), "vm", None)[..],
            [ExecEvent::Failed(_)]
        ));
    }

    #[tokio::test]
    async fn a_missing_program_reads_like_a_shell_error() {
        let (tx, mut rx) = mpsc::channel(CHANNEL_DEPTH);
        report_spawn_failure(
            &tx,
            "nope",
            &std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        assert!(matches!(
            rx.recv().await,
            Some(ExecEvent::Output(ExecStream::Stderr, _))
        ));
        assert!(matches!(
            rx.recv().await,
            Some(ExecEvent::Exit(NOT_FOUND_EXIT_CODE))
        ));
    }
}
