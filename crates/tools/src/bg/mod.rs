//! Background processes: started once, detached in their own session on the workspace's
//! target, with their output kept there (`~/.tether/bg/<id>/`), so they outlive the call, a
//! dropped connection and a restart of the agent, and can be listed, read and stopped by id.

mod records;
mod script;

use std::time::Duration;

use serde_json::json;
use tether_target::{ExecOutcome, ExecSpec, META_TIMEOUT, Stream, TargetError};

pub use records::{BgProcess, BgState};

use crate::args::{BgLogsArgs, BgStartArgs, BgStopArgs};
use crate::truncate::MAX_BYTES;
use crate::{ToolError, ToolOutput, Workspace};
use script::Window;

/// How long a stopped process's group gets between TERM and KILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);
/// The most output one `bg_logs` call returns.
pub const LOGS_MAX_BYTES: usize = MAX_BYTES;
/// The longest `bg_logs` waits for new output.
pub const LOGS_MAX_WAIT: Duration = Duration::from_secs(60);

/// Where a workspace keeps its background processes.
fn root(ws: &Workspace) -> String {
    format!("{}/.tether/bg", ws.home().trim_end_matches('/'))
}

/// Starts `args.command` in the background; the result names its id.
pub async fn bg_start(ws: &Workspace, args: BgStartArgs) -> Result<ToolOutput, ToolError> {
    let id = format!("bg-{:012x}", rand::random::<u64>() >> 16);
    let cwd = ws.resolve(args.cwd.as_deref().unwrap_or("."));
    let name = args.name.clone().unwrap_or_default();
    let text = script::start(&root(ws), &id, &args.command, &cwd, &name);
    let reply = run(ws, text, META_TIMEOUT, "starting a background process").await?;
    let pid = match reply.code {
        0 => String::from_utf8_lossy(&reply.stdout).trim().to_owned(),
        script::NAME_TAKEN => {
            return Err(ToolError::NameTaken {
                name,
                id: String::from_utf8_lossy(&reply.stdout).into_owned(),
            });
        }
        script::BAD_CWD => return Err(TargetError::BadWorkingDirectory { path: cwd }.into()),
        script::NO_SETSID => {
            return Err(TargetError::MissingTool {
                tool: "setsid",
                package: "util-linux",
            }
            .into());
        }
        _ => return Err(reply.unexpected(ws, "starting a background process")),
    };
    let text = format!(
        "Started background process {id} (pid {pid}) in {cwd}: {}\n\
         Read its output with bg_logs (id {id}); end it with bg_stop. It keeps running after \
         this call and if the agent restarts: bg_list finds it again.",
        args.command
    );
    Ok(ToolOutput::text(text).with_details(json!({ "id": id, "pid": pid, "cwd": cwd })))
}

/// Every background process of the workspace's target, oldest first.
pub async fn list_processes(ws: &Workspace) -> Result<Vec<BgProcess>, ToolError> {
    let reply = run(ws, script::list(&root(ws)), META_TIMEOUT, "listing").await?;
    if reply.code != 0 {
        return Err(reply.unexpected(ws, "listing background processes"));
    }
    let mut processes = records::parse_list(&reply.stdout)
        .ok_or_else(|| reply.unexpected(ws, "listing background processes"))?;
    processes.sort_by(|a, b| (&a.started, &a.id).cmp(&(&b.started, &b.id)));
    Ok(processes)
}

/// `bg_list`: one line per process.
pub async fn bg_list(ws: &Workspace) -> Result<ToolOutput, ToolError> {
    let processes = list_processes(ws).await?;
    if processes.is_empty() {
        return Ok(ToolOutput::text(
            "No background processes here. Start one with bg_start.",
        ));
    }
    let lines: Vec<String> = processes.iter().map(BgProcess::line).collect();
    let details = serde_json::to_value(&processes).unwrap_or_default();
    Ok(ToolOutput::text(lines.join("\n")).with_details(json!({ "processes": details })))
}

/// `bg_logs`: output from a byte offset (or its last lines), in order, with where to go on.
pub async fn bg_logs(ws: &Workspace, args: BgLogsArgs) -> Result<ToolOutput, ToolError> {
    let id = checked_id(ws, &args.id)?;
    let window = match (args.tail, args.offset) {
        (Some(lines), _) => Window::Tail(lines),
        (None, offset) => Window::From(offset.unwrap_or(0)),
    };
    let wait = match args.wait {
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s).min(LOGS_MAX_WAIT),
        None => Duration::ZERO,
        Some(s) => {
            return Err(ToolError::BadArguments {
                tool: "bg_logs".into(),
                reason: format!("wait must be a number of seconds from 0 to 60, not {s}"),
            });
        }
    };
    let text = script::logs(&root(ws), id, window, LOGS_MAX_BYTES, wait);
    let reply = run(ws, text, wait + META_TIMEOUT, "reading output").await?;
    match reply.code {
        0 => {}
        script::NOT_FOUND => return Err(no_such(ws, id)),
        _ => return Err(reply.unexpected(ws, "reading a background process's output")),
    }
    let logs = records::parse_logs(&reply.stdout, window)
        .ok_or_else(|| reply.unexpected(ws, "reading a background process's output"))?;
    Ok(logs.into_output(id))
}

/// `bg_stop`: ends the process's whole group (TERM, [`STOP_GRACE`], KILL) and says how.
pub async fn bg_stop(ws: &Workspace, args: BgStopArgs) -> Result<ToolOutput, ToolError> {
    let id = checked_id(ws, &args.id)?;
    let text = script::stop(&root(ws), id, STOP_GRACE);
    let reply = run(ws, text, 2 * STOP_GRACE + META_TIMEOUT, "stopping").await?;
    match reply.code {
        0 => {}
        script::NOT_FOUND => return Err(no_such(ws, id)),
        _ => return Err(reply.unexpected(ws, "stopping a background process")),
    }
    let reply_text = String::from_utf8_lossy(&reply.stdout);
    let (text, state) = match reply_text.split_once(' ') {
        Some(("stopped", state)) => {
            let state = BgState::parse(state);
            let text = format!("Stopped {id}: {}.", state.describe());
            (text, state)
        }
        Some(("ended", state)) => {
            let state = BgState::parse(state);
            (
                format!("{id} was not running: {}.", state.describe()),
                state,
            )
        }
        _ => return Err(reply.unexpected(ws, "stopping a background process")),
    };
    Ok(ToolOutput::text(text).with_details(json!({ "id": id, "state": state })))
}

fn no_such(ws: &Workspace, id: &str) -> ToolError {
    ToolError::NoSuchProcess {
        id: id.to_owned(),
        target: ws.target().describe(),
    }
}

/// `id` if it can be an id (letters, digits, `-`, `_`), else the "no such process" error.
fn checked_id<'a>(ws: &Workspace, id: &'a str) -> Result<&'a str, ToolError> {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid { Ok(id) } else { Err(no_such(ws, id)) }
}

/// What a snippet printed and how it ended.
struct Reply {
    code: u32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Reply {
    fn unexpected(&self, ws: &Workspace, what: &'static str) -> ToolError {
        let mut reply = format!("exit code {}", self.code);
        let stderr = String::from_utf8_lossy(&self.stderr);
        if !stderr.trim().is_empty() {
            reply.push_str(": ");
            reply.extend(stderr.trim().chars().take(300));
        }
        ToolError::Unexpected {
            target: ws.target().describe(),
            what,
            reply,
        }
    }
}

/// Runs a snippet in the workspace's environment.
async fn run(
    ws: &Workspace,
    text: String,
    timeout: Duration,
    what: &'static str,
) -> Result<Reply, ToolError> {
    let spec = ExecSpec {
        command: text,
        cwd: None,
        env: ws.env().to_vec(),
        stdin: None,
        timeout: Some(timeout),
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let outcome = ws
        .target()
        .exec(
            spec,
            &mut |stream, bytes| match stream {
                Stream::Stdout => stdout.extend_from_slice(bytes),
                Stream::Stderr => stderr.extend_from_slice(bytes),
            },
            None,
        )
        .await?;
    match outcome {
        ExecOutcome::Exited(code) => Ok(Reply {
            code,
            stdout,
            stderr,
        }),
        ExecOutcome::TimedOut => Err(TargetError::Timeout {
            what: "a background-process request",
            after: timeout,
        }
        .into()),
        other => Err(ToolError::Unexpected {
            target: ws.target().describe(),
            what,
            reply: format!("{other:?}"),
        }),
    }
}
