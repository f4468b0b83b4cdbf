//! The swarm tools as agents see them — `swarm_start`, `swarm_status`, `swarm_wait`,
//! `swarm_read`, `swarm_send`, `swarm_keep`, `swarm_stop` — with their arguments, descriptions and result
//! texts, shared by every front end (MCP, pi's sidecar) so they read the same everywhere.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tether_tools::{ToolOutput, Window};
use tokio_util::sync::CancellationToken;

use crate::spec::{AgentTask, SwarmSpec, Task, bad, seconds};
use crate::status::{SwarmStatus, WorkerState};
use crate::{KeepOutcome, SendMode, SwarmError, Swarms};

/// The tools' names.
pub const NAMES: [&str; 7] = [
    "swarm_start",
    "swarm_status",
    "swarm_wait",
    "swarm_read",
    "swarm_send",
    "swarm_keep",
    "swarm_stop",
];

/// How long `swarm_wait` waits when not told.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// The longest `swarm_wait` waits in one call.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);
/// The most output one `swarm_read` returns.
pub const READ_MAX_BYTES: usize = tether_tools::LOGS_MAX_BYTES;
/// Lines of output per worker the `swarm_wait` text shows, spread over the workers.
const WAIT_LINES_BUDGET: u64 = 160;

/// `swarm_start`.
pub const START: &str = "Branch a VM (or a commit) into `count` workers in one call and run a \
task on each, in the background: either a bash `command` (each worker gets TETHER_WORKER = \
0..count-1 in its environment) or an agent `prompt` (pi runs it on the worker; `{worker}` in the \
prompt becomes the index), or `prompts`, one per worker. Returns the swarm id and every worker's full VM id at once. \
Credentials reach workers only through `env`; `piConfig` also copies this machine's pi settings, \
models, AGENTS.md and skills to the workers. Follow with swarm_wait or swarm_status.";
/// `swarm_status`.
pub const STATUS: &str = "How a swarm's workers are doing: running, done, failed (exit code and \
reason), timed_out, stopped; agents show turns and tool calls. Default: the newest swarm.";
/// `swarm_wait`.
pub const WAIT: &str = "Wait until every worker of a swarm has finished (or `timeout` seconds \
pass: default 300), then gather each worker's state, exit code and the end of its output. On \
timeout, the partial results say who is still running.";
/// `swarm_read`.
pub const READ: &str = "Read one worker's output (by index or VM id): its last `tail` lines, or \
from a byte `offset` (the result says which offset continues). At most 50KB per call.";
/// `swarm_send`.
pub const SEND: &str = "Send agent workers a further message (default: every agent worker of \
the newest swarm). A working agent gets it as a follow-up once it has finished what it is doing \
(mode followUp, the default) or before its next model call (mode steer). An agent that has ended \
(done, failed, timed out, stopped) continues its conversation with the message in a new run \
and is working again. The variables given to swarm_start in `env` are not kept: pass them again \
in `env` for a follow-up run. Follow with swarm_wait.";
/// `swarm_keep`.
pub const KEEP: &str = "Keep the chosen workers (indexes or VM ids) and delete every other \
worker's VM. The source VM is never touched. Kept workers keep running; vm_use one to work there.";
/// `swarm_stop`.
pub const STOP: &str = "Stop every running worker of a swarm (its whole process group: SIGTERM, \
then SIGKILL). With delete: true, also delete every worker VM not kept.";

/// A worker: its index or its VM id (or a unique prefix).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged, expecting = "a worker index (0, 1, …) or a worker's VM id")]
pub enum WorkerRef {
    /// Its index (0..count-1).
    Index(u32),
    /// Its VM id or a unique prefix (or the index as text).
    Id(String),
}

impl WorkerRef {
    fn text(&self) -> String {
        match self {
            WorkerRef::Index(i) => i.to_string(),
            WorkerRef::Id(id) => id.clone(),
        }
    }
}

/// `swarm_start`'s arguments.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartArgs {
    /// The VM or commit id to branch (a unique prefix works). Default: the active VM.
    #[serde(default)]
    pub source: Option<String>,
    /// How many workers (1 to the limit, 64 unless TETHER_SWARM_MAX_WORKERS says otherwise).
    #[serde(deserialize_with = "whole_number")]
    pub count: u64,
    /// The bash command each worker runs (give this or prompt).
    #[serde(default)]
    pub command: Option<String>,
    /// The task each worker's pi agent works on (give this, prompts or command).
    #[serde(default)]
    pub prompt: Option<String>,
    /// One task per worker, in order, for agents exploring different approaches (instead of prompt; as many as count).
    #[serde(default)]
    pub prompts: Option<Vec<String>>,
    /// Seconds each worker may run; then it is stopped and reported as timed out.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Environment variables for every worker (e.g. the model's API key for agents). Nothing else from this machine is passed.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
    /// The directory tasks run in (default: the VM's home).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Agents: pi's --provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Agents: pi's --model.
    #[serde(default)]
    pub model: Option<String>,
    /// Agents: how to start pi on the VM (default `pi`).
    #[serde(default)]
    pub pi: Option<String>,
    /// Agents: more pi arguments.
    #[serde(default)]
    pub pi_args: Option<Vec<String>>,
    /// Agents: copy this machine's pi configuration ($PI_CODING_AGENT_DIR or ~/.pi/agent: settings.json, models.json, AGENTS.md, SYSTEM.md, APPEND_SYSTEM.md, keybindings.json, skills/, prompts/, extensions/, themes/; at most 16 MiB) to ~/.pi/agent on every worker before its agent starts. Never auth.json or sessions: credentials reach workers only through env. models.json can itself hold API keys and is copied as it is.
    #[serde(default)]
    pub pi_config: Option<bool>,
}

/// A count sent as `3` or `3.0` (some clients send every number as a float).
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = f64::deserialize(deserializer)?;
    if value.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&value) {
        Ok(value as u64)
    } else {
        Err(serde::de::Error::custom(format!(
            "count must be a whole number of workers, not {value}"
        )))
    }
}

/// `swarm_status`'s arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusArgs {
    /// The swarm id (a unique prefix works). Default: the newest swarm.
    #[serde(default)]
    pub swarm: Option<String>,
}

/// `swarm_wait`'s arguments.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitArgs {
    /// The swarm id (a unique prefix works). Default: the newest swarm.
    #[serde(default)]
    pub swarm: Option<String>,
    /// Seconds to wait at most (default 300, at most 3600).
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `swarm_read`'s arguments.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadArgs {
    /// The swarm id (a unique prefix works). Default: the newest swarm.
    #[serde(default)]
    pub swarm: Option<String>,
    /// The worker: its index, or its VM id.
    pub worker: WorkerRef,
    /// Return the last this many lines.
    #[serde(default)]
    pub tail: Option<u64>,
    /// Return output from this byte offset on (default 0).
    #[serde(default)]
    pub offset: Option<u64>,
    /// Seconds to wait for output past `offset` (at most 60).
    #[serde(default)]
    pub wait: Option<f64>,
}

/// `swarm_send`'s arguments.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendArgs {
    /// The swarm id (a unique prefix works). Default: the newest swarm.
    #[serde(default)]
    pub swarm: Option<String>,
    /// The workers to send to (indexes or VM ids). Default: every agent worker whose VM is left.
    #[serde(default)]
    pub workers: Option<Vec<WorkerRef>>,
    /// The message: a further task, a correction, a question.
    pub message: String,
    /// followUp (default): after the agent has finished what it is doing; steer: before its next model call.
    #[serde(default)]
    pub mode: Option<SendMode>,
    /// Environment variables for a follow-up run of an agent that has ended (e.g. the model's API key again). Nothing else from this machine is passed.
    #[serde(default)]
    pub env: Option<BTreeMap<String, String>>,
}

/// `swarm_keep`'s arguments.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeepArgs {
    /// The swarm id (a unique prefix works). Default: the newest swarm.
    #[serde(default)]
    pub swarm: Option<String>,
    /// The workers to keep (indexes or VM ids); every other worker VM is deleted. An empty list deletes them all.
    pub workers: Vec<WorkerRef>,
}

/// `swarm_stop`'s arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StopArgs {
    /// The swarm id (a unique prefix works). Default: the newest swarm.
    #[serde(default)]
    pub swarm: Option<String>,
    /// Also delete every worker VM that was not kept.
    #[serde(default)]
    pub delete: Option<bool>,
}

/// Runs the swarm tool `name` with raw `arguments`. `active_vm` is the source when none is
/// given; `on_update` sees each look `swarm_wait` takes.
pub async fn call(
    swarms: &Swarms,
    name: &str,
    arguments: Option<Map<String, Value>>,
    active_vm: Option<&str>,
    on_update: &mut (dyn FnMut(&SwarmStatus) + Send),
    cancel: Option<CancellationToken>,
) -> Result<ToolOutput, SwarmError> {
    match name {
        "swarm_start" => start(swarms, parse(name, arguments)?, active_vm).await,
        "swarm_status" => status(swarms, parse(name, arguments)?).await,
        "swarm_wait" => wait(swarms, parse(name, arguments)?, on_update, cancel).await,
        "swarm_read" => read(swarms, parse(name, arguments)?).await,
        "swarm_send" => send(swarms, parse(name, arguments)?).await,
        "swarm_keep" => keep(swarms, parse(name, arguments)?).await,
        "swarm_stop" => stop(swarms, parse(name, arguments)?).await,
        other => Err(bad(format!(
            "there is no swarm tool {other:?}; they are: {}",
            NAMES.join(", ")
        ))),
    }
}

/// `arguments` as `T`, or an error naming the tool.
pub fn parse<T: serde::de::DeserializeOwned>(
    tool: &str,
    arguments: Option<Map<String, Value>>,
) -> Result<T, SwarmError> {
    serde_json::from_value(Value::Object(arguments.unwrap_or_default()))
        .map_err(|e| bad(format!("{tool}: {e}")))
}

/// The spec `args` ask for.
pub fn spec(args: StartArgs, active_vm: Option<&str>) -> Result<SwarmSpec, SwarmError> {
    let source = match (args.source, active_vm) {
        (Some(source), _) => source,
        (None, Some(vm)) => vm.to_owned(),
        (None, None) => {
            return Err(bad(
                "no source: give the VM or commit id to branch (or vm_use a VM first)",
            ));
        }
    };
    let agent_only = args.provider.is_some()
        || args.model.is_some()
        || args.pi.is_some()
        || args.pi_args.is_some()
        || args.pi_config == Some(true);
    let prompt = match (args.prompt, args.prompts) {
        (Some(_), Some(_)) => return Err(bad("give prompt or prompts, not both")),
        (Some(prompt), None) => Some(AgentTask {
            prompt,
            ..AgentTask::default()
        }),
        (None, Some(prompts)) => Some(AgentTask::per_worker(prompts)),
        (None, None) => None,
    };
    let task = match (args.command, prompt) {
        (Some(command), None) if !agent_only => Task::Command { command },
        (Some(_), None) => {
            return Err(bad(
                "provider, model, pi, piArgs and piConfig are for agents: give a prompt instead of a command",
            ));
        }
        (None, Some(agent)) => Task::Agent(AgentTask {
            pi: args.pi,
            provider: args.provider,
            model: args.model,
            args: args.pi_args.unwrap_or_default(),
            pi_config: args.pi_config.unwrap_or(false),
            ..agent
        }),
        (Some(_), Some(_)) => return Err(bad("give either command or prompt, not both")),
        (None, None) => {
            return Err(bad(
                "give a command (a bash command for every worker) or a prompt (a task for a pi agent on every worker)",
            ));
        }
    };
    Ok(SwarmSpec {
        source,
        count: args.count,
        task,
        timeout: seconds(args.timeout, "timeout")?,
        env: args.env.unwrap_or_default().into_iter().collect(),
        cwd: args.cwd,
        pi_dir: None,
    })
}

async fn start(
    swarms: &Swarms,
    args: StartArgs,
    active_vm: Option<&str>,
) -> Result<ToolOutput, SwarmError> {
    let spec = spec(args, active_vm)?;
    let status = swarms.start(spec, &|_| {}).await?;
    let id = &status.swarm_id;
    let mut lines = vec![format!(
        "Swarm {id}: branched {} into {} worker(s), each running the {}{} in the background:",
        status.source.describe(),
        status.workers.len(),
        status.kind,
        if status.pi_config {
            " (with the local pi config)"
        } else {
            ""
        }
    )];
    for w in &status.workers {
        match &w.state {
            WorkerState::Failed { reason, .. } => {
                lines.push(format!("worker {}: VM {} — {reason}", w.index, w.vm_id));
            }
            _ => lines.push(format!("worker {}: VM {}", w.index, w.vm_id)),
        }
    }
    lines.push(format!(
        "swarm_wait gathers the results (swarm {id}); swarm_status shows progress; swarm_read \
         reads one worker; swarm_keep keeps the best and deletes the rest; swarm_stop ends it."
    ));
    Ok(ToolOutput::text(lines.join("\n")).with_details(details(&status)))
}

fn details(status: &SwarmStatus) -> Value {
    serde_json::to_value(status).unwrap_or(Value::Null)
}

async fn status(swarms: &Swarms, args: StatusArgs) -> Result<ToolOutput, SwarmError> {
    let status = swarms.status(args.swarm.as_deref()).await?;
    let mut text = status.text();
    if !status.finished {
        text.push_str("\nswarm_wait waits for the rest.");
    }
    Ok(ToolOutput::text(text).with_details(details(&status)))
}

async fn wait(
    swarms: &Swarms,
    args: WaitArgs,
    on_update: &mut (dyn FnMut(&SwarmStatus) + Send),
    cancel: Option<CancellationToken>,
) -> Result<ToolOutput, SwarmError> {
    let deadline = seconds(args.timeout, "timeout")?
        .unwrap_or(DEFAULT_WAIT)
        .min(MAX_WAIT);
    let gathered = swarms
        .wait(args.swarm.as_deref(), deadline, on_update, cancel)
        .await?;
    let status = &gathered.status;
    let workers = status.workers.len().max(1) as u64;
    let lines_each = (WAIT_LINES_BUDGET / workers).clamp(3, crate::TAIL_LINES);
    let waited = gathered.waited.as_secs_f64();
    let mut text = vec![if gathered.cancelled {
        format!(
            "Stopped waiting after {waited:.1}s (cancelled): {}. The workers go on; swarm_wait \
             or swarm_status looks again.",
            status.counts.summary(status.workers.len())
        )
    } else if gathered.deadline_reached {
        format!(
            "Waited {waited:.1}s (the deadline): {}. Partial results below; call swarm_wait again \
             to keep waiting, or swarm_stop to end the rest.",
            status.counts.summary(status.workers.len())
        )
    } else {
        format!(
            "All workers of swarm {} finished after {waited:.1}s: {}.",
            status.swarm_id,
            status.counts.summary(status.workers.len())
        )
    }];
    for w in &status.workers {
        text.push(w.line());
        if let Some(tail) = &w.tail {
            let lines: Vec<&str> = tail.lines().collect();
            let start = lines.len().saturating_sub(lines_each as usize);
            if start > 0 {
                text.push("  …".to_owned());
            }
            text.extend(lines[start..].iter().map(|l| format!("  | {l}")));
        }
    }
    text.push(format!(
        "swarm_read shows a worker's whole output; swarm_keep keeps the best (swarm {}).",
        status.swarm_id
    ));
    Ok(ToolOutput::text(text.join("\n")).with_details(gathered.to_json()))
}

async fn read(swarms: &Swarms, args: ReadArgs) -> Result<ToolOutput, SwarmError> {
    let window = match (args.tail, args.offset) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "give tail (the last lines) or offset (from a byte on), not both",
            ));
        }
        (Some(lines), None) => Window::Tail(lines),
        (None, offset) => Window::From(offset.unwrap_or(0)),
    };
    let wait = seconds(args.wait, "wait")?
        .unwrap_or_default()
        .min(tether_tools::LOGS_MAX_WAIT);
    let (record, worker, logs) = swarms
        .read(
            args.swarm.as_deref(),
            &args.worker.text(),
            window,
            READ_MAX_BYTES,
            wait,
        )
        .await?;
    let state = match &record.task {
        Task::Agent(_) => WorkerState::of_agent(&logs.state, None),
        Task::Command { .. } => WorkerState::of_command(&logs.state),
    };
    let mut who = format!(
        "worker {} of swarm {} (VM {})",
        worker.index, record.id, worker.vm_id
    );
    let run = worker.runs.len() + 1;
    if run > 1 {
        who.push_str(&format!(", run {run} of {run}"));
    }
    let text = logs.page(&who, state.word(), "swarm_read");
    let end = logs.end();
    let details = json!({
        "swarmId": record.id, "worker": worker.index, "vmId": worker.vm_id, "run": run,
        "state": state.word(), "offset": logs.start, "nextOffset": end, "size": logs.size,
    });
    Ok(ToolOutput::text(text).with_details(details))
}

async fn send(swarms: &Swarms, args: SendArgs) -> Result<ToolOutput, SwarmError> {
    let which: Vec<String> = args.workers.iter().flatten().map(WorkerRef::text).collect();
    let env: Vec<(String, String)> = args.env.unwrap_or_default().into_iter().collect();
    let mode = args.mode.unwrap_or_default();
    let outcome = swarms
        .send(args.swarm.as_deref(), &which, &args.message, mode, &env)
        .await?;
    let mut text = vec![format!(
        "Swarm {}: sent the message ({}) to {} worker(s):",
        outcome.swarm_id,
        match mode {
            SendMode::FollowUp => "follow-up",
            SendMode::Steer => "steer",
        },
        outcome.workers.len()
    )];
    text.extend(outcome.lines());
    text.push(format!(
        "swarm_wait gathers the answers (swarm {}); swarm_read reads one worker's current run.",
        outcome.swarm_id
    ));
    Ok(ToolOutput::text(text.join("\n")).with_details(outcome.to_json()))
}

async fn keep(swarms: &Swarms, args: KeepArgs) -> Result<ToolOutput, SwarmError> {
    let which: Vec<String> = args.workers.iter().map(WorkerRef::text).collect();
    let outcome = swarms.keep(args.swarm.as_deref(), &which).await?;
    let record = swarms.find(Some(&outcome.swarm_id))?;
    let mut text = Vec::new();
    if outcome.kept.is_empty() {
        text.push(format!("Swarm {}: kept no worker.", outcome.swarm_id));
    } else {
        let kept: Vec<String> = outcome
            .kept
            .iter()
            .map(|(i, vm)| format!("worker {i} (VM {vm})"))
            .collect();
        text.push(format!(
            "Swarm {}: kept {}; vm_use a kept VM to work there.",
            outcome.swarm_id,
            kept.join(", ")
        ));
    }
    text.extend(deletions(&outcome));
    text.push(format!("{} was not touched.", record.source.describe()));
    Ok(ToolOutput::text(text.join("\n")).with_details(outcome.to_json()))
}

fn deletions(outcome: &KeepOutcome) -> Vec<String> {
    let mut text = Vec::new();
    if !outcome.deleted.is_empty() {
        let ids: Vec<&str> = outcome.deleted.iter().map(|(_, vm)| vm.as_str()).collect();
        text.push(format!(
            "Deleted {} worker VM(s): {}",
            ids.len(),
            ids.join(", ")
        ));
    }
    for (index, vm, why) in &outcome.failed {
        text.push(format!(
            "Could not delete worker {index} (VM {vm}): {why}; retry, or vm_delete it"
        ));
    }
    text
}

async fn stop(swarms: &Swarms, args: StopArgs) -> Result<ToolOutput, SwarmError> {
    let delete = args.delete.unwrap_or(false);
    let (status, outcome) = swarms.stop(args.swarm.as_deref(), delete).await?;
    let mut text = vec![status.text()];
    text.extend(deletions(&outcome));
    if !delete {
        text.push(
            "The worker VMs remain: swarm_keep keeps some and deletes the rest, swarm_stop with \
             delete: true deletes them all."
                .to_owned(),
        );
    }
    let mut details = details(&status);
    if let Value::Object(map) = &mut details {
        map.insert("deleted".into(), outcome.to_json()["deleted"].clone());
    }
    Ok(ToolOutput::text(text.join("\n")).with_details(details))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(value: Value) -> StartArgs {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn start_args_become_a_spec_or_a_clear_error() {
        let command = spec(args(json!({"count": 2, "command": "make"})), Some("vm-1")).unwrap();
        assert_eq!(command.source, "vm-1");
        assert_eq!(
            command.task,
            Task::Command {
                command: "make".into()
            }
        );
        let agent = spec(
            args(json!({"source": "c", "count": 2, "prompt": "fix it", "model": "m", "env": {"K": "v"}})),
            None,
        )
        .unwrap();
        assert!(
            matches!(agent.task, Task::Agent(AgentTask { ref model, .. }) if model.as_deref() == Some("m"))
        );
        assert_eq!(agent.env, [("K".to_owned(), "v".to_owned())]);
        let both = spec(
            args(json!({"count": 1, "command": "a", "prompt": "b"})),
            Some("v"),
        );
        assert!(both.unwrap_err().to_string().contains("not both"));
        let neither = spec(args(json!({"count": 1})), Some("v"))
            .unwrap_err()
            .to_string();
        assert!(neither.contains("give a command"), "{neither}");
        let no_source = spec(args(json!({"count": 1, "command": "a"})), None).unwrap_err();
        assert!(no_source.to_string().contains("vm_use"));
        let each = spec(args(json!({"count": 2, "prompts": ["a", "b"]})), Some("v")).unwrap();
        assert!(matches!(each.task, Task::Agent(ref a) if a.prompt_for(1) == "b"));
        let both = spec(
            args(json!({"count": 1, "prompt": "a", "prompts": ["b"]})),
            Some("v"),
        );
        assert!(both.unwrap_err().to_string().contains("prompt or prompts"));
        let model_on_command = spec(
            args(json!({"count": 1, "command": "a", "model": "m"})),
            Some("v"),
        );
        assert!(
            model_on_command
                .unwrap_err()
                .to_string()
                .contains("for agents")
        );
        let copied = spec(
            args(json!({"count": 1, "prompt": "a", "piConfig": true})),
            Some("v"),
        )
        .unwrap();
        assert!(matches!(copied.task, Task::Agent(ref a) if a.pi_config));
        let config_on_command = spec(
            args(json!({"count": 1, "command": "a", "piConfig": true})),
            Some("v"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            config_on_command,
            "provider, model, pi, piArgs and piConfig are for agents: give a prompt instead of a command"
        );
        let not_asked = spec(
            args(json!({"count": 1, "command": "a", "piConfig": false})),
            Some("v"),
        );
        assert!(not_asked.is_ok());
        let unknown = parse::<StartArgs>(
            "swarm_start",
            json!({"count": 1, "cmd": "a"}).as_object().cloned(),
        );
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `cmd`")
        );
    }

    #[test]
    fn workers_are_named_by_index_or_id() {
        let read: ReadArgs = serde_json::from_value(json!({"worker": 3})).unwrap();
        assert_eq!(read.worker, WorkerRef::Index(3));
        let keep: KeepArgs = serde_json::from_value(json!({"workers": [1, "4c1e"]})).unwrap();
        let bad = serde_json::from_value::<ReadArgs>(json!({"worker": -1})).unwrap_err();
        assert!(
            bad.to_string()
                .contains("a worker index (0, 1, …) or a worker's VM id"),
            "{bad}"
        );
        let float: StartArgs =
            serde_json::from_value(json!({"count": 2.0, "command": "a"})).unwrap();
        assert_eq!(float.count, 2);
        let half = serde_json::from_value::<StartArgs>(json!({"count": 1.5, "command": "a"}));
        assert!(half.unwrap_err().to_string().contains("whole number"));
        assert_eq!(
            keep.workers,
            [WorkerRef::Index(1), WorkerRef::Id("4c1e".into())]
        );
    }
}
