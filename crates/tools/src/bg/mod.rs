//! Background processes: started once, detached in their own session on the workspace's
//! target, with their output kept there (`~/.tether/bg/<id>/`), so they outlive the call, a
//! dropped connection and a restart of the agent, and can be listed, read and stopped by id.

mod records;
mod script;

use std::time::Duration;

use serde_json::json;
use tether_target::{ExecOutcome, ExecSpec, META_TIMEOUT, Stream, TargetError};

pub use crate::args::{BgLogsArgs, BgStartArgs, BgStopArgs};
use crate::truncate::MAX_BYTES;
use crate::{ToolError, ToolOutput, Workspace};
pub use records::{BgProcess, BgState, Logs};
pub use script::Window;

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

/// What to start in the background.
#[derive(Clone, Debug, Default)]
pub struct BgSpec {
    /// The bash command.
    pub command: String,
    /// Where to run it (resolved against the workspace; default its working directory).
    pub cwd: Option<String>,
    /// A name no other running process may have.
    pub name: Option<String>,
    /// Environment variables for it alone, kept on the target in a file only its owner can read
    /// (never shown by `bg_list`).
    pub env: Vec<(String, String)>,
    /// How long it may run; then its group gets SIGTERM, SIGKILL after [`STOP_GRACE`], and its
    /// state is [`BgState::TimedOut`].
    pub timeout: Option<Duration>,
}

/// A process [`start_process`] started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// Its id (`bg-…`).
    pub id: String,
    /// Its pid on the target (the process group and session it leads).
    pub pid: String,
    /// The directory it runs in.
    pub cwd: String,
    /// It was already running: a process of the same name, command and directory (a retried
    /// start), so nothing new was started.
    pub already_running: bool,
}

/// Starts `spec` in the background, detached in its own session — unless a running process
/// has the same name, command and directory: then that one is returned (a retry is safe).
pub async fn start_process(ws: &Workspace, spec: BgSpec) -> Result<Started, ToolError> {
    let id = format!("bg-{:012x}", rand::random::<u64>() >> 16);
    let cwd = ws.resolve(spec.cwd.as_deref().unwrap_or("."));
    let name = spec.name.clone().unwrap_or_default();
    if let Some((bad, _)) = spec.env.iter().find(|(name, _)| !is_env_name(name)) {
        return Err(ToolError::BadArguments {
            tool: "bg_start".into(),
            reason: format!("{bad:?} is not an environment variable name (letters, digits, _)"),
        });
    }
    let timeout = match spec.timeout {
        Some(t) if t.is_zero() => {
            return Err(ToolError::BadArguments {
                tool: "bg_start".into(),
                reason: "timeout must be more than 0 seconds".into(),
            });
        }
        Some(t) => Some((t.as_secs_f64(), STOP_GRACE)),
        None => None,
    };
    let root = root(ws);
    let launch = script::Launch {
        root: &root,
        id: &id,
        command: &spec.command,
        cwd: &cwd,
        name: &name,
        env: !spec.env.is_empty(),
        timeout,
    };
    let stdin = (!spec.env.is_empty()).then(|| script::env_file(&spec.env).into_bytes());
    let reply = run_with(ws, script::start(&launch), stdin, META_TIMEOUT, "starting").await?;
    match reply.code {
        0 => Ok(Started {
            id,
            pid: String::from_utf8_lossy(&reply.stdout).trim().to_owned(),
            cwd,
            already_running: false,
        }),
        script::SAME_RUNNING => {
            let text = String::from_utf8_lossy(&reply.stdout);
            let (id, pid) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
            Ok(Started {
                id: id.to_owned(),
                pid: pid.to_owned(),
                cwd,
                already_running: true,
            })
        }
        script::NAME_TAKEN => Err(ToolError::NameTaken {
            name,
            id: String::from_utf8_lossy(&reply.stdout).into_owned(),
        }),
        script::BAD_CWD => Err(TargetError::BadWorkingDirectory { path: cwd }.into()),
        script::NO_SETSID => Err(TargetError::MissingTool {
            tool: "setsid",
            package: "util-linux",
        }
        .into()),
        _ => Err(reply.unexpected(ws, "starting a background process")),
    }
}

/// Whether `name` can be an environment variable's name (letters, digits, `_`; not starting
/// with a digit).
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `bg_start`: starts `args.command` in the background; the result names its id.
pub async fn bg_start(ws: &Workspace, args: BgStartArgs) -> Result<ToolOutput, ToolError> {
    let timeout = match args.timeout {
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        None => None,
        Some(s) => {
            return Err(ToolError::BadArguments {
                tool: "bg_start".into(),
                reason: format!("timeout must be a number of seconds above 0, not {s}"),
            });
        }
    };
    let spec = BgSpec {
        command: args.command.clone(),
        cwd: args.cwd,
        name: args.name.clone(),
        env: Vec::new(),
        timeout,
    };
    let Started {
        id,
        pid,
        cwd,
        already_running,
    } = start_process(ws, spec).await?;
    let text = if already_running {
        format!(
            "Background process {id} (pid {pid}) named {:?} is already running this command in \
             {cwd}, so it was not started again: {}\n\
             Read its output with bg_logs (id {id}); end it with bg_stop.",
            args.name.unwrap_or_default(),
            args.command
        )
    } else {
        let limit = timeout
            .map(|t| format!(" It is stopped after {}s.", t.as_secs_f64()))
            .unwrap_or_default();
        format!(
            "Started background process {id} (pid {pid}) in {cwd}: {}\n\
             Read its output with bg_logs (id {id}); end it with bg_stop. It keeps running after \
             this call and if the agent restarts: bg_list finds it again.{limit}",
            args.command
        )
    };
    let details = json!({ "id": id, "pid": pid, "cwd": cwd, "alreadyRunning": already_running });
    Ok(ToolOutput::text(text).with_details(details))
}

/// One background process of the workspace's target, by id.
pub async fn process(ws: &Workspace, id: &str) -> Result<BgProcess, ToolError> {
    let id = checked_id(ws, id)?;
    let reply = run(
        ws,
        script::list(&root(ws), Some(id)),
        META_TIMEOUT,
        "listing",
    )
    .await?;
    match reply.code {
        0 => {}
        script::NOT_FOUND => return Err(no_such(ws, id)),
        _ => return Err(reply.unexpected(ws, "looking at a background process")),
    }
    records::parse_list(&reply.stdout)
        .and_then(|mut found| found.pop())
        .ok_or_else(|| reply.unexpected(ws, "looking at a background process"))
}

/// Every background process of the workspace's target, oldest first.
pub async fn list_processes(ws: &Workspace) -> Result<Vec<BgProcess>, ToolError> {
    let reply = run(ws, script::list(&root(ws), None), META_TIMEOUT, "listing").await?;
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
    Ok(read_output(ws, id, window, LOGS_MAX_BYTES, wait)
        .await?
        .into_output(id))
}

/// Reads at most `max` bytes of a background process's output as `window` says; from an
/// offset, first waits up to `wait` for output past it or for the process to end.
pub async fn read_output(
    ws: &Workspace,
    id: &str,
    window: Window,
    max: usize,
    wait: Duration,
) -> Result<Logs, ToolError> {
    let id = checked_id(ws, id)?;
    let text = script::logs(&root(ws), id, window, max, wait);
    let reply = run(ws, text, wait + META_TIMEOUT, "reading output").await?;
    match reply.code {
        0 => {}
        script::NOT_FOUND => return Err(no_such(ws, id)),
        _ => return Err(reply.unexpected(ws, "reading a background process's output")),
    }
    records::parse_logs(&reply.stdout, window)
        .ok_or_else(|| reply.unexpected(ws, "reading a background process's output"))
}

/// How [`stop_process`] found a process.
#[derive(Clone, Debug, PartialEq)]
pub enum Stopped {
    /// It was running and now is not; how it ended.
    Now(BgState),
    /// It had already ended, like this.
    Already(BgState),
}

/// Ends a background process's whole group (TERM, [`STOP_GRACE`], KILL).
pub async fn stop_process(ws: &Workspace, id: &str) -> Result<Stopped, ToolError> {
    let id = checked_id(ws, id)?;
    let text = script::stop(&root(ws), id, STOP_GRACE);
    let reply = run(ws, text, 2 * STOP_GRACE + META_TIMEOUT, "stopping").await?;
    match reply.code {
        0 => {}
        script::NOT_FOUND => return Err(no_such(ws, id)),
        _ => return Err(reply.unexpected(ws, "stopping a background process")),
    }
    let reply_text = String::from_utf8_lossy(&reply.stdout);
    match reply_text.split_once(' ') {
        Some(("stopped", state)) => Ok(Stopped::Now(BgState::parse(state))),
        Some(("ended", state)) => Ok(Stopped::Already(BgState::parse(state))),
        _ => Err(reply.unexpected(ws, "stopping a background process")),
    }
}

/// `bg_stop`: ends the process's whole group (TERM, [`STOP_GRACE`], KILL) and says how.
pub async fn bg_stop(ws: &Workspace, args: BgStopArgs) -> Result<ToolOutput, ToolError> {
    let id = args.id.as_str();
    let (text, state) = match stop_process(ws, id).await? {
        Stopped::Now(state) => (format!("Stopped {id}: {}.", state.describe()), state),
        Stopped::Already(state) => (
            format!("{id} was not running: {}.", state.describe()),
            state,
        ),
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
    run_with(ws, text, None, timeout, what).await
}

/// Runs a snippet with `stdin` in the workspace's environment.
async fn run_with(
    ws: &Workspace,
    text: String,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    what: &'static str,
) -> Result<Reply, ToolError> {
    let spec = ExecSpec {
        command: text,
        cwd: None,
        env: ws.env().to_vec(),
        stdin,
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
