//! What a swarm is asked to do: [`SwarmSpec`], its [`Task`], and the [`Limits`] it runs under.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::SwarmError;

/// The environment variable that caps a swarm's worker count.
pub const MAX_WORKERS_VAR: &str = "TETHER_SWARM_MAX_WORKERS";
/// The environment variable that caps how many workers are set up (API calls, connections,
/// commands) at once.
pub const CONCURRENCY_VAR: &str = "TETHER_SWARM_CONCURRENCY";
/// The worker count cap when [`MAX_WORKERS_VAR`] is not set.
pub const DEFAULT_MAX_WORKERS: u32 = 64;
/// Work done on workers at once when [`CONCURRENCY_VAR`] is not set.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// The environment variable each worker's task gets its index (0..N-1) in.
pub const WORKER_VAR: &str = "TETHER_WORKER";
/// The environment variable each worker's task gets the swarm id in.
pub const SWARM_VAR: &str = "TETHER_SWARM";
/// In an agent prompt, this is replaced by the worker's index.
pub const WORKER_PLACEHOLDER: &str = "{worker}";

/// How big swarms may be and how much is done at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most workers one swarm may have.
    pub max_workers: u32,
    /// How many workers are set up, polled, stopped or deleted at once.
    pub concurrency: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_workers: DEFAULT_MAX_WORKERS,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

impl Limits {
    /// The limits [`MAX_WORKERS_VAR`] and [`CONCURRENCY_VAR`] set (defaults otherwise; an
    /// unreadable value is ignored with a warning).
    pub fn from_env() -> Limits {
        let mut limits = Limits::default();
        if let Some(max) = read_var(MAX_WORKERS_VAR) {
            limits.max_workers = max;
        }
        if let Some(n) = read_var::<usize>(CONCURRENCY_VAR) {
            limits.concurrency = n.max(1);
        }
        limits
    }
}

fn read_var<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    let parsed = value.trim().parse().ok();
    if parsed.is_none() {
        tracing::warn!("{name}={value:?} is not a number; using the default");
    }
    parsed
}

/// What each worker runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Task {
    /// A bash command; `TETHER_WORKER` tells it which worker it is.
    Command {
        /// The command.
        command: String,
    },
    /// A pi agent in RPC mode, given one prompt.
    Agent(AgentTask),
}

/// A pi agent's task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentTask {
    /// The prompt; `{worker}` is replaced by the worker's index.
    pub prompt: String,
    /// One prompt per worker, in order, when they differ (then `prompt` is the first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_worker: Vec<String>,
    /// How to start pi on the VM (shell words), default `pi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pi: Option<String>,
    /// pi's `--provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// pi's `--model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// More pi arguments (e.g. `-ne`, `--thinking`, `low`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Copy the local pi configuration ([`crate::pi_config::SELECTED`]: settings, models,
    /// AGENTS.md, skills, …; never `auth.json` or sessions) to `~/.pi/agent` on each worker
    /// before its agent starts. Follow-up runs find it there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pi_config: bool,
}

impl AgentTask {
    /// The pi command, `pi` by default.
    pub fn pi_command(&self) -> &str {
        self.pi
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or("pi")
    }

    /// pi's arguments after `--mode rpc --session-dir <dir>`.
    pub fn pi_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(provider) = &self.provider {
            args.extend(["--provider".to_owned(), provider.clone()]);
        }
        if let Some(model) = &self.model {
            args.extend(["--model".to_owned(), model.clone()]);
        }
        args.extend(self.args.iter().cloned());
        args
    }

    /// A task with one prompt per worker (`prompts` must not be empty).
    pub fn per_worker(prompts: Vec<String>) -> AgentTask {
        AgentTask {
            prompt: prompts.first().cloned().unwrap_or_default(),
            per_worker: prompts,
            ..AgentTask::default()
        }
    }

    /// The prompt worker `index` gets.
    pub fn prompt_for(&self, index: u32) -> String {
        let prompt = usize::try_from(index)
            .ok()
            .and_then(|i| self.per_worker.get(i))
            .unwrap_or(&self.prompt);
        prompt.replace(WORKER_PLACEHOLDER, &index.to_string())
    }
}

impl Task {
    /// `command` or `agent`.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Command { .. } => "command",
            Task::Agent(_) => "agent",
        }
    }

    /// The command or prompt, for people.
    pub fn text(&self) -> &str {
        match self {
            Task::Command { command } => command,
            Task::Agent(agent) => &agent.prompt,
        }
    }
}

/// A swarm to start.
#[derive(Clone, Debug, PartialEq)]
pub struct SwarmSpec {
    /// The VM or commit to branch (a full id or a unique prefix; a VM is tried first).
    pub source: String,
    /// How many workers.
    pub count: u64,
    /// What each runs.
    pub task: Task,
    /// How long each worker's task may run; then its process group is stopped and it is
    /// reported as timed out.
    pub timeout: Option<Duration>,
    /// Environment variables for every task (credentials go here, and only when asked).
    pub env: Vec<(String, String)>,
    /// The directory tasks run in (default: the VM's login directory).
    pub cwd: Option<String>,
    /// Where the local pi configuration is read when the agent task asks for it
    /// ([`AgentTask::pi_config`]); `None`: pi's own choice, `$PI_CODING_AGENT_DIR` or else
    /// `~/.pi/agent` ([`crate::pi_config::local_dir`]).
    pub pi_dir: Option<PathBuf>,
}

impl SwarmSpec {
    /// Checks what can be checked before anything is created.
    pub(crate) fn validate(&self, limits: &Limits) -> Result<(), SwarmError> {
        if self.count == 0 || self.count > u64::from(limits.max_workers) {
            return Err(SwarmError::BadCount {
                count: self.count,
                max: limits.max_workers,
            });
        }
        if self.source.trim().is_empty() {
            return Err(bad("source must name a VM or a commit to branch"));
        }
        if self.task.text().trim().is_empty() {
            return Err(bad(match self.task {
                Task::Command { .. } => "the command is empty; give the command each worker runs",
                Task::Agent(_) => "the prompt is empty; give the task each agent works on",
            }));
        }
        if let Task::Agent(agent) = &self.task
            && !agent.per_worker.is_empty()
        {
            if agent.per_worker.len() as u64 != self.count {
                return Err(bad(format!(
                    "{} prompts for {} workers: give one prompt per worker (or one prompt for all)",
                    agent.per_worker.len(),
                    self.count
                )));
            }
            if let Some(i) = agent.per_worker.iter().position(|p| p.trim().is_empty()) {
                return Err(bad(format!("prompt {i} is empty")));
            }
        }
        if let Some(timeout) = self.timeout
            && timeout.is_zero()
        {
            return Err(bad("timeout must be more than 0 seconds"));
        }
        check_env(&self.env)
    }
}

/// Checks the names of environment variables given for workers.
pub(crate) fn check_env(env: &[(String, String)]) -> Result<(), SwarmError> {
    for (name, _) in env {
        if !tether_tools::is_env_name(name) {
            return Err(bad(format!(
                "{name:?} is not an environment variable name (letters, digits, _; not starting with a digit)"
            )));
        }
        if name == WORKER_VAR || name == SWARM_VAR {
            return Err(bad(format!("{name} is set by tether for each worker")));
        }
    }
    Ok(())
}

/// A [`SwarmError::BadRequest`].
pub(crate) fn bad(reason: impl Into<String>) -> SwarmError {
    SwarmError::BadRequest {
        reason: reason.into(),
    }
}

/// Parses a timeout given in seconds (`None` stays `None`).
pub fn seconds(value: Option<f64>, what: &str) -> Result<Option<Duration>, SwarmError> {
    match value {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(bad(format!(
            "{what} must be a number of seconds above 0, not {s}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(count: u64) -> SwarmSpec {
        SwarmSpec {
            source: "vm".into(),
            count,
            task: Task::Command {
                command: "true".into(),
            },
            timeout: None,
            env: Vec::new(),
            cwd: None,
            pi_dir: None,
        }
    }

    #[test]
    fn counts_outside_the_limit_are_refused_with_the_way_out() {
        let limits = Limits {
            max_workers: 4,
            concurrency: 2,
        };
        assert!(spec(4).validate(&limits).is_ok());
        let zero = spec(0).validate(&limits).unwrap_err().to_string();
        assert_eq!(zero, "count must be from 1 to 4, not 0");
        let many = spec(5).validate(&limits).unwrap_err().to_string();
        assert!(many.contains("raise TETHER_SWARM_MAX_WORKERS"), "{many}");
    }

    #[test]
    fn env_names_and_reserved_names_are_checked() {
        let limits = Limits::default();
        let mut s = spec(1);
        s.env = vec![("1X".into(), "v".into())];
        assert!(s.validate(&limits).is_err());
        s.env = vec![(WORKER_VAR.into(), "v".into())];
        let err = s.validate(&limits).unwrap_err().to_string();
        assert!(err.contains("set by tether"), "{err}");
        s.env = vec![("API_KEY".into(), "v".into())];
        assert!(s.validate(&limits).is_ok());
    }

    #[test]
    fn prompts_name_their_worker_and_args_keep_their_words() {
        let task = AgentTask {
            prompt: "you are worker {worker} of 3".into(),
            provider: Some("mock".into()),
            model: Some("mock 1".into()),
            args: vec!["-ne".into()],
            ..AgentTask::default()
        };
        assert_eq!(task.prompt_for(2), "you are worker 2 of 3");
        let each = AgentTask::per_worker(vec!["try A".into(), "try B as {worker}".into()]);
        assert_eq!(
            (each.prompt_for(0), each.prompt_for(1)),
            ("try A".into(), "try B as 1".into())
        );
        let mut spec = spec(3);
        spec.task = Task::Agent(each);
        let err = spec.validate(&Limits::default()).unwrap_err().to_string();
        assert!(err.starts_with("2 prompts for 3 workers"), "{err}");
        assert_eq!(
            task.pi_args(),
            ["--provider", "mock", "--model", "mock 1", "-ne"]
        );
        assert_eq!(task.pi_command(), "pi");
        // pi_config is kept in the record only when asked for; older records read as false.
        let copied = AgentTask {
            pi_config: true,
            ..task.clone()
        };
        assert_eq!(serde_json::to_value(&copied).unwrap()["piConfig"], true);
        let plain = serde_json::to_value(&task).unwrap();
        assert!(plain.get("piConfig").is_none(), "{plain}");
        assert_eq!(serde_json::from_value::<AgentTask>(plain).unwrap(), task);
    }
}
