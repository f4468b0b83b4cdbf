//! Commands on the agent: one frame starts one (`bash -c` in its own session there), its output
//! streams back within its credit, its end arrives as a frame; a timeout or cancel stops its
//! group there (TERM, grace, KILL).

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Failure;
use super::link::{Event, Events, Handle, Link};
use super::wire::{self, End};
use crate::exec::{DRAIN_TIMEOUT, KILL_GRACE, quote, signal_name};
use crate::{ExecOutcome, ExecRun, ExecSpec, Output};

/// Output a command may have in flight towards tether before it waits for tether to take it.
const OUTPUT_WINDOW: u32 = 2 << 20;
/// Consumed output returned as credit once this much has accumulated.
const GRANT_AT: u32 = OUTPUT_WINDOW / 4;
/// Input read from the caller's stream at a time.
const INPUT_CHUNK: usize = 64 * 1024;

/// Why the loop stopped before the command ended.
enum Stop {
    Timeout,
    Cancel,
    Local(&'static str, std::io::Error),
}

/// Runs `spec` on the agent; see [`crate::Session::exec_io`].
pub(crate) async fn run(
    link: &Arc<Link>,
    spec: &ExecSpec,
    stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
    output: &mut Output<'_>,
    cancel: Option<CancellationToken>,
) -> Result<ExecRun, Failure> {
    let given = spec.stdin.as_deref().unwrap_or_default();
    let has_stdin = stdin.is_some() || !given.is_empty();
    let command = command_line(spec);
    let window = link.hello().exec_window;
    let first = |id| wire::exec(id, &command, &spec.env, has_stdin, OUTPUT_WINDOW);
    let mut request = link
        .request(window, first)
        .await
        .ok_or(Failure::NotStarted)?;
    let mut bytes = given;
    let source: &mut (dyn AsyncRead + Send + Unpin) = match stdin {
        Some(stream) => stream,
        None => &mut bytes,
    };
    let handle = &request.handle;
    let feeder = async {
        if has_stdin {
            feed(handle, source).await
        } else {
            Ok(())
        }
    };
    tokio::pin!(feeder);
    let (mut fed, mut owed) = (false, 0);
    let deadline = spec.timeout.map(|t| Instant::now() + t);
    let cancel = cancel.unwrap_or_default();
    let stop = loop {
        tokio::select! {
            event = request.events.next() => match event {
                Some(Event::Out(stream, data)) => {
                    if let Err(e) = output.put(stream, &data).await {
                        break Stop::Local("writing the command's output", e);
                    }
                    owed = repay(handle, owed, data.len());
                }
                Some(Event::End(end)) => return finish(end, output).await,
                Some(Event::Stat(_)) => {}
                None => return Err(Failure::Lost(link.why())),
            },
            result = &mut feeder, if !fed => {
                fed = true;
                if let Err(e) = result {
                    break Stop::Local("reading the command's input", e);
                }
            }
            () = sleep_until(deadline) => break Stop::Timeout,
            () = cancel.cancelled() => break Stop::Cancel,
        }
    };
    stopped(handle, &mut request.events, stop, output).await
}

/// The command line the agent runs with `bash -c`: the working directory entered first, as the
/// channel path's wrapper does.
fn command_line(spec: &ExecSpec) -> String {
    match &spec.cwd {
        Some(cwd) => format!("cd -- {} || exit 1; {}", quote(cwd), spec.command),
        None => spec.command.clone(),
    }
}

/// Counts `taken` more bytes of output consumed, granting them back once enough are owed.
fn repay(handle: &Handle, owed: u32, taken: usize) -> u32 {
    let owed = owed.saturating_add(u32::try_from(taken).unwrap_or(u32::MAX));
    if owed >= GRANT_AT {
        handle.grant(owed);
        0
    } else {
        owed
    }
}

/// Copies `source` to the command's stdin within the agent's credit, then ends it. A read
/// error is the caller's; the agent going away ends the copy quietly (the loop reports it).
async fn feed(handle: &Handle, source: &mut (dyn AsyncRead + Send + Unpin)) -> std::io::Result<()> {
    let mut buf = vec![0u8; INPUT_CHUNK];
    loop {
        let n = source.read(&mut buf).await?;
        if n == 0 {
            handle.close_input();
            return Ok(());
        }
        if !handle.input(&buf[..n]).await {
            return Ok(());
        }
    }
}

/// Stops the command's group, takes what output still comes until its end, and says why it
/// stopped.
async fn stopped(
    handle: &Handle,
    events: &mut Events,
    stop: Stop,
    output: &mut Output<'_>,
) -> Result<ExecRun, Failure> {
    handle.stop(u32::try_from(KILL_GRACE.as_millis()).unwrap_or(u32::MAX));
    let drained = tokio::time::timeout(KILL_GRACE + DRAIN_TIMEOUT, async {
        let mut owed = 0;
        while let Some(event) = events.next().await {
            match event {
                Event::Out(stream, data) => {
                    let _ = output.put(stream, &data).await;
                    owed = repay(handle, owed, data.len());
                }
                Event::End(end) => return Some(end.pid),
                Event::Stat(_) => {}
            }
        }
        None
    })
    .await;
    let _ = output.flush().await;
    let outcome = match stop {
        Stop::Timeout => ExecOutcome::TimedOut,
        Stop::Cancel => ExecOutcome::Cancelled,
        Stop::Local(what, source) => return Err(Failure::Local(what, source)),
    };
    match drained {
        Ok(pid) => Ok(ExecRun {
            outcome,
            remote_pid: pid.filter(|p| *p != 0),
        }),
        Err(_) => Err(Failure::KillTimeout(KILL_GRACE + DRAIN_TIMEOUT)),
    }
}

/// The run as the command's `z` frame reports it.
async fn finish(end: End, output: &mut Output<'_>) -> Result<ExecRun, Failure> {
    output
        .flush()
        .await
        .map_err(|e| Failure::Local("writing the command's output", e))?;
    let outcome = match end.kind {
        0 => ExecOutcome::Exited(end.code),
        1 => ExecOutcome::Signaled(signal_name(end.code)),
        _ => return Err(Failure::CouldNotStart(end.message)),
    };
    Ok(ExecRun {
        outcome,
        remote_pid: Some(end.pid),
    })
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
