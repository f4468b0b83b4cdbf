//! `tether exec`: run a command on a VM, stream its output, exit with its code.

use std::io::IsTerminal;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tether_target::{ExecOutcome, ExecSpec, Output, Source, Stream, Target, TargetError};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

use tether_router::Router;
use tether_wire::ExecRequest;
use tokio::io::AsyncReadExt;

use super::Ctx;
use super::exec_api::{Ended, Run, Sink};
use crate::cli::ExecArgs;
use crate::report::CliError;

/// Exit code of a command killed by `--timeout` (as GNU timeout).
pub(crate) const EXIT_TIMEOUT: u8 = 124;
/// Exit codes of commands killed by a signal start here (128 + signal number).
const EXIT_SIGNAL_BASE: u8 = 128;

/// Runs `args` and returns the exit code to leave with.
pub(crate) async fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<u8> {
    let router = ctx.router().await?;
    let vm_id = router.vm_or_default(args.vm.as_deref(), &ctx.cwd).await?;
    if args.api {
        return run_api(ctx, &router, &vm_id, args).await;
    }
    let target = router.target(&vm_id).await?;
    let spec = ExecSpec {
        command: command_line(&args.command)?,
        cwd: args.cwd,
        env: args.env,
        stdin: None,
        timeout: args.timeout,
    };
    let (cancel, caught) = cancel_on_signals()?;
    let mut stdin = tokio::io::stdin();
    let forward = !std::io::stdin().is_terminal();
    let stdin: Option<Source<'_>> = forward.then_some(&mut stdin);
    if ctx.out.json {
        let (outcome, captured) = captured(target.as_ref(), spec, stdin, cancel).await?;
        let code = exit_code(&outcome, &caught);
        ctx.out.print("", &captured.json(&vm_id, &outcome, code))?;
        return Ok(code);
    }
    let outcome = streamed(target.as_ref(), spec, stdin, cancel).await?;
    explain(&outcome, args.timeout);
    Ok(exit_code(&outcome, &caught))
}

/// `tether exec --api`: the command through the API's exec stream, rejoined after a drop.
async fn run_api(ctx: &Ctx, router: &Router, vm_id: &str, args: ExecArgs) -> anyhow::Result<u8> {
    let request = ExecRequest {
        command: vec!["/bin/sh".into(), "-c".into(), command_line(&args.command)?],
        env: (!args.env.is_empty()).then(|| args.env.into_iter().collect()),
        working_dir: args.cwd,
        stdin: api_stdin().await?,
        timeout_secs: args.timeout.map(|limit| limit.as_secs_f64().ceil() as u64),
        exec_id: None,
    };
    router.vers().ensure_running(vm_id).await?;
    follow(ctx, vm_id, Run::start(router.vers(), vm_id, request)).await
}

/// Stdin, read to its end, as the API takes it (text), unless it is a terminal.
async fn api_stdin() -> anyhow::Result<Option<String>> {
    if std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    tokio::io::stdin()
        .read_to_end(&mut bytes)
        .await
        .context("could not read stdin")?;
    if bytes.is_empty() {
        return Ok(None);
    }
    String::from_utf8(bytes).map(Some).map_err(|_| {
        CliError::usage(
            "stdin is not UTF-8 text, and --api sends stdin as text; run without --api to \
             forward binary stdin over SSH",
        )
    })
}

/// Follows `run` to its end (printing or, with `--json`, collecting its output); returns the
/// exit code to leave with.
pub(crate) async fn follow(ctx: &Ctx, vm_id: &str, mut run: Run<'_>) -> anyhow::Result<u8> {
    let (cancel, caught) = cancel_on_signals()?;
    let mut sink = match ctx.out.json {
        true => Sink::Capture(Captured::default()),
        false => Sink::Terminal,
    };
    let outcome = match run.follow(&mut sink, &cancel).await? {
        Ended::Exit(code) => ExecOutcome::Exited(code as u32),
        Ended::Cancelled => ExecOutcome::Cancelled,
    };
    let code = exit_code(&outcome, &caught);
    if outcome == ExecOutcome::Cancelled {
        eprintln!(
            "tether: stopped following; the command goes on in the VM: rejoin it with \
             `tether vm attach {vm_id} {}`",
            run.exec_id()
        );
    }
    if let Sink::Capture(captured) = sink {
        let mut json = captured.json(vm_id, &outcome, code);
        json["exec_id"] = run.exec_id().into();
        ctx.out.print("", &json)?;
    }
    Ok(code)
}

/// Runs `spec` with its output going to this process's stdout and stderr as it arrives.
async fn streamed(
    target: &dyn Target,
    spec: ExecSpec,
    stdin: Option<Source<'_>>,
    cancel: CancellationToken,
) -> Result<ExecOutcome, TargetError> {
    let (mut stdout, mut stderr) = (tokio::io::stdout(), tokio::io::stderr());
    let mut output = Output::Writers {
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    target.exec_io(spec, stdin, &mut output, Some(cancel)).await
}

/// Runs `spec` collecting its output (for `--json`).
async fn captured(
    target: &dyn Target,
    spec: ExecSpec,
    stdin: Option<Source<'_>>,
    cancel: CancellationToken,
) -> Result<(ExecOutcome, Captured), TargetError> {
    let mut captured = Captured::default();
    let mut collect = |stream: Stream, bytes: &[u8]| captured.push(stream, bytes);
    let mut output = Output::Callback(&mut collect);
    let outcome = target
        .exec_io(spec, stdin, &mut output, Some(cancel))
        .await?;
    Ok((outcome, captured))
}

/// One argument is a shell command line; several are quoted and joined so each stays one word.
pub(crate) fn command_line(words: &[String]) -> anyhow::Result<String> {
    match words {
        [line] => Ok(line.clone()),
        words => shlex::try_join(words.iter().map(String::as_str))
            .context("a command argument contains a NUL byte; remove it"),
    }
}

/// A token cancelled by Ctrl-C, SIGTERM or SIGHUP, and the signal that did it.
pub(crate) fn cancel_on_signals() -> anyhow::Result<(CancellationToken, Arc<Mutex<Option<i32>>>)> {
    let cancel = CancellationToken::new();
    let caught = Arc::new(Mutex::new(None));
    for kind in [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ] {
        let mut stream = signal(kind).context("could not listen for signals")?;
        let (cancel, caught) = (cancel.clone(), caught.clone());
        tokio::spawn(async move {
            if stream.recv().await.is_some() {
                if let Ok(mut caught) = caught.lock() {
                    caught.get_or_insert(kind.as_raw_value());
                }
                cancel.cancel();
            }
        });
    }
    Ok((cancel, caught))
}

/// The exit code for how the command ended.
fn exit_code(outcome: &ExecOutcome, caught: &Mutex<Option<i32>>) -> u8 {
    let signal_code =
        |number: i32| EXIT_SIGNAL_BASE.saturating_add(u8::try_from(number).unwrap_or(127));
    match outcome {
        ExecOutcome::Exited(code) => (code & 0xff) as u8,
        ExecOutcome::Signaled(name) => signal_code(signal_number(name)),
        ExecOutcome::TimedOut => EXIT_TIMEOUT,
        ExecOutcome::Cancelled => {
            let caught = caught.lock().ok().and_then(|c| *c);
            signal_code(caught.unwrap_or(nix::sys::signal::Signal::SIGINT as i32))
        }
    }
}

/// The number of the signal SSH names `name` (`KILL`), or 127 (unknown).
fn signal_number(name: &str) -> i32 {
    nix::sys::signal::Signal::from_str(&format!("SIG{}", name.trim_start_matches("SIG")))
        .map_or(127, |signal| signal as i32)
}

/// Says on stderr why a command that did not exit by itself ended.
fn explain(outcome: &ExecOutcome, timeout: Option<Duration>) {
    match (outcome, timeout) {
        (ExecOutcome::TimedOut, Some(after)) => eprintln!(
            "tether: the command ran longer than {after:?} and was killed (its whole process group); exit code {EXIT_TIMEOUT}"
        ),
        (ExecOutcome::Cancelled, _) => {
            eprintln!("tether: cancelled; the command's processes in the VM were killed")
        }
        _ => {}
    }
}

/// Output collected for `--json`.
#[derive(Default)]
pub(crate) struct Captured {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Captured {
    pub(crate) fn push(&mut self, stream: Stream, bytes: &[u8]) {
        match stream {
            Stream::Stdout => self.stdout.extend_from_slice(bytes),
            Stream::Stderr => self.stderr.extend_from_slice(bytes),
        }
    }

    fn json(&self, vm_id: &str, outcome: &ExecOutcome, code: u8) -> serde_json::Value {
        let (how, signal) = match outcome {
            ExecOutcome::Exited(_) => ("exited", None),
            ExecOutcome::Signaled(name) => ("signaled", Some(name.clone())),
            ExecOutcome::TimedOut => ("timed_out", None),
            ExecOutcome::Cancelled => ("cancelled", None),
        };
        json!({
            "vm_id": vm_id,
            "outcome": how,
            "exit_code": code,
            "signal": signal,
            "stdout": String::from_utf8_lossy(&self.stdout),
            "stderr": String::from_utf8_lossy(&self.stderr),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn one_word_is_a_command_line_and_several_keep_their_boundaries() {
        assert_eq!(
            command_line(&["cd /x && ls".into()]).unwrap(),
            "cd /x && ls"
        );
        let words: Vec<String> = ["printf", "%s\\n", "a b", "$HOME", "it's"]
            .map(String::from)
            .to_vec();
        let line = command_line(&words).unwrap();
        assert_eq!(shlex::split(&line).unwrap(), words, "{line}");
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        let none = Mutex::new(None);
        assert_eq!(exit_code(&ExecOutcome::Exited(3), &none), 3);
        assert_eq!(exit_code(&ExecOutcome::Exited(256 + 7), &none), 7);
        assert_eq!(exit_code(&ExecOutcome::Signaled("KILL".into()), &none), 137);
        assert_eq!(exit_code(&ExecOutcome::Signaled("TERM".into()), &none), 143);
        assert_eq!(exit_code(&ExecOutcome::TimedOut, &none), 124);
        assert_eq!(exit_code(&ExecOutcome::Cancelled, &none), 130);
        assert_eq!(
            exit_code(&ExecOutcome::Cancelled, &Mutex::new(Some(15))),
            143
        );
    }
}
