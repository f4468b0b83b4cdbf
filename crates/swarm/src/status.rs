//! How workers are doing: [`WorkerState`] from the worker's background process (and, for
//! agents, pi's own progress), [`WorkerStatus`] per worker, [`SwarmStatus`] for the swarm.

use serde::{Deserialize, Serialize};
use tether_tools::BgState;

use crate::Task;
use crate::record::{Disposition, Source, SwarmRecord, WorkerRecord};

/// How a worker's task is doing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum WorkerState {
    /// Its task has not been started yet.
    Starting,
    /// Its task runs (an agent: pi is alive and has not finished).
    Running,
    /// It exited with code 0 (an agent: pi finished its task without an error).
    Done,
    /// It exited with another code, could not start, or its process is gone.
    Failed {
        /// The exit code, if it exited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// Why, in words.
        reason: String,
    },
    /// Its timeout ran out, so it was stopped.
    TimedOut {
        /// The timeout in seconds.
        seconds: f64,
    },
    /// `swarm_stop` stopped it (or someone stopped its process).
    Stopped {
        /// The signal that ended it (`TERM`, `KILL`).
        signal: String,
    },
    /// Its VM was deleted before it finished.
    Deleted,
}

impl WorkerState {
    /// Whether the worker will not change any more.
    pub fn is_final(&self) -> bool {
        !matches!(self, WorkerState::Starting | WorkerState::Running)
    }

    /// The exit code, when the task exited.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            WorkerState::Done => Some(0),
            WorkerState::Failed { exit_code, .. } => *exit_code,
            _ => None,
        }
    }

    /// A short word: `starting`, `running`, `done`, `failed`, `timed_out`, `stopped`, `deleted`.
    pub fn word(&self) -> &'static str {
        match self {
            WorkerState::Starting => "starting",
            WorkerState::Running => "running",
            WorkerState::Done => "done",
            WorkerState::Failed { .. } => "failed",
            WorkerState::TimedOut { .. } => "timed_out",
            WorkerState::Stopped { .. } => "stopped",
            WorkerState::Deleted => "deleted",
        }
    }

    /// A phrase for people: `done (exit 0)`, `failed (exit 3)`, `timed out after 5s`.
    pub fn describe(&self) -> String {
        match self {
            WorkerState::Starting => "starting".into(),
            WorkerState::Running => "running".into(),
            WorkerState::Done => "done (exit 0)".into(),
            WorkerState::Failed {
                exit_code: Some(code),
                reason,
            } => format!("failed (exit {code}): {reason}"),
            WorkerState::Failed {
                exit_code: None,
                reason,
            } => format!("failed: {reason}"),
            WorkerState::TimedOut { seconds } => format!("timed out after {seconds}s, stopped"),
            WorkerState::Stopped { signal } => format!("stopped (SIG{signal})"),
            WorkerState::Deleted => "deleted before it finished".into(),
        }
    }

    /// The state of a command worker whose process is in `bg`.
    pub(crate) fn of_command(bg: &BgState) -> WorkerState {
        match bg {
            BgState::Running => WorkerState::Running,
            BgState::Exited { code: 0 } => WorkerState::Done,
            BgState::Exited { code } => WorkerState::Failed {
                exit_code: Some(*code),
                reason: format!("the command exited with code {code}"),
            },
            BgState::Killed { signal } => WorkerState::Stopped {
                signal: signal.clone(),
            },
            BgState::TimedOut { seconds } => WorkerState::TimedOut { seconds: *seconds },
            BgState::Lost => WorkerState::Failed {
                exit_code: None,
                reason: "its process is gone without a recorded exit (killed outside tether, or the VM restarted)".into(),
            },
        }
    }

    /// The state of an agent worker whose driver is in `bg`, with pi's progress.
    pub(crate) fn of_agent(bg: &BgState, agent: Option<&AgentProgress>) -> WorkerState {
        let reason = || {
            agent
                .and_then(|a| a.error.clone())
                .unwrap_or_else(|| "the agent failed (see swarm_read)".into())
        };
        match bg {
            BgState::Exited { code: 0 } => WorkerState::Done,
            BgState::Exited { code } => WorkerState::Failed {
                exit_code: Some(*code),
                reason: reason(),
            },
            other => WorkerState::of_command(other),
        }
    }
}

/// What pi reported about an agent's progress (the driver's `agent-state.json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentProgress {
    /// `starting`, `working`, `done` or `failed`.
    #[serde(default)]
    pub phase: String,
    /// Turns finished.
    #[serde(default)]
    pub turns: u64,
    /// Tool calls made.
    #[serde(default)]
    pub tool_calls: u64,
    /// The last tool called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tool: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One worker, now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerStatus {
    /// Its index.
    pub index: u32,
    /// Its VM (a full id).
    pub vm_id: String,
    /// How its task is doing.
    #[serde(flatten)]
    pub state: WorkerState,
    /// What became of its VM.
    pub disposition: Disposition,
    /// Bytes of output so far, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_bytes: Option<u64>,
    /// An agent's progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentProgress>,
    /// The end of its output (with the final state, from `swarm_wait`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<String>,
    /// Why its state could not be looked up just now (the last known state is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<String>,
}

impl WorkerStatus {
    /// The status a record alone gives (no lookup).
    pub(crate) fn from_record(worker: &WorkerRecord) -> WorkerStatus {
        let state = if let Some(ended) = &worker.ended {
            ended.clone()
        } else if worker.disposition == Disposition::Deleted {
            WorkerState::Deleted
        } else if let Some(reason) = &worker.start_error {
            WorkerState::Failed {
                exit_code: None,
                reason: format!("could not start its task: {reason}"),
            }
        } else if worker.process.is_none() {
            WorkerState::Starting
        } else {
            WorkerState::Running
        };
        WorkerStatus {
            index: worker.index,
            vm_id: worker.vm_id.clone(),
            state,
            disposition: worker.disposition,
            output_bytes: None,
            agent: None,
            tail: None,
            unreachable: None,
        }
    }

    /// One line: `worker 3 (VM <id>) done (exit 0), 120 bytes of output [kept]`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "worker {} (VM {}) {}",
            self.index,
            self.vm_id,
            self.state.describe()
        );
        if let Some(agent) = &self.agent
            && self.state == WorkerState::Running
        {
            let phase = if agent.phase.is_empty() {
                "starting"
            } else {
                &agent.phase
            };
            line.push_str(&format!(
                ", agent {phase}: {} turn(s), {} tool call(s)",
                agent.turns, agent.tool_calls
            ));
            if let Some(tool) = &agent.last_tool {
                line.push_str(&format!(", last {tool}"));
            }
        }
        if let Some(bytes) = self.output_bytes {
            line.push_str(&format!(", {bytes} bytes of output"));
        }
        match self.disposition {
            Disposition::Kept => line.push_str(" [kept]"),
            Disposition::Deleted if self.state != WorkerState::Deleted => {
                line.push_str(" [VM deleted]")
            }
            _ => {}
        }
        if let Some(why) = &self.unreachable {
            line.push_str(&format!(" (could not check just now: {why})"));
        }
        line
    }
}

/// Counts of workers per state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Not started yet.
    pub starting: usize,
    /// Running.
    pub running: usize,
    /// Done.
    pub done: usize,
    /// Failed.
    pub failed: usize,
    /// Timed out.
    pub timed_out: usize,
    /// Stopped.
    pub stopped: usize,
    /// Deleted before finishing.
    pub deleted: usize,
}

impl Counts {
    fn of(workers: &[WorkerStatus]) -> Counts {
        let mut counts = Counts::default();
        for w in workers {
            let slot = match w.state {
                WorkerState::Starting => &mut counts.starting,
                WorkerState::Running => &mut counts.running,
                WorkerState::Done => &mut counts.done,
                WorkerState::Failed { .. } => &mut counts.failed,
                WorkerState::TimedOut { .. } => &mut counts.timed_out,
                WorkerState::Stopped { .. } => &mut counts.stopped,
                WorkerState::Deleted => &mut counts.deleted,
            };
            *slot += 1;
        }
        counts
    }

    /// `8 workers: 5 done, 2 failed, 1 running`.
    pub fn summary(&self, total: usize) -> String {
        let parts: Vec<String> = [
            (self.done, "done"),
            (self.failed, "failed"),
            (self.timed_out, "timed out"),
            (self.stopped, "stopped"),
            (self.deleted, "deleted"),
            (self.running, "running"),
            (self.starting, "starting"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        format!("{total} worker(s): {}", parts.join(", "))
    }
}

/// A swarm, now.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmStatus {
    /// Its id.
    pub swarm_id: String,
    /// When it started.
    pub created: String,
    /// What it branched.
    pub source: Source,
    /// `command` or `agent`.
    pub kind: &'static str,
    /// Whether the local pi configuration was copied to the agent workers.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pi_config: bool,
    /// The command or prompt.
    pub task: String,
    /// Workers per state.
    pub counts: Counts,
    /// Whether every worker has finished.
    pub finished: bool,
    /// The workers, by index.
    pub workers: Vec<WorkerStatus>,
}

impl SwarmStatus {
    /// The status of `record` with `workers` looked up.
    pub(crate) fn new(record: &SwarmRecord, workers: Vec<WorkerStatus>) -> SwarmStatus {
        let counts = Counts::of(&workers);
        SwarmStatus {
            swarm_id: record.id.clone(),
            created: record.created.clone(),
            source: record.source.clone(),
            kind: record.task.kind(),
            pi_config: matches!(&record.task, Task::Agent(a) if a.pi_config),
            task: record.task.text().to_owned(),
            finished: workers.iter().all(|w| w.state.is_final()),
            counts,
            workers,
        }
    }

    /// A heading line and one line per worker.
    pub fn text(&self) -> String {
        let task = self.task.lines().next().unwrap_or_default();
        let config = if self.pi_config {
            " + local pi config"
        } else {
            ""
        };
        let mut lines = vec![format!(
            "swarm {} ({}{config} from {}, {}): {}",
            self.swarm_id,
            self.kind,
            self.source.describe(),
            task,
            self.counts.summary(self.workers.len())
        )];
        lines.extend(self.workers.iter().map(WorkerStatus::line));
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn process_states_map_to_worker_states() {
        assert_eq!(
            WorkerState::of_command(&BgState::Exited { code: 0 }),
            WorkerState::Done
        );
        let failed = WorkerState::of_command(&BgState::Exited { code: 3 });
        assert_eq!(failed.exit_code(), Some(3));
        assert!(failed.is_final());
        assert!(!WorkerState::of_command(&BgState::Running).is_final());
        let agent = AgentProgress {
            phase: "failed".into(),
            error: Some("pi was killed by SIGKILL before the agent finished".into()),
            ..AgentProgress::default()
        };
        let state = WorkerState::of_agent(&BgState::Exited { code: 2 }, Some(&agent));
        assert_eq!(
            state.describe(),
            "failed (exit 2): pi was killed by SIGKILL before the agent finished"
        );
        assert!(matches!(
            WorkerState::of_agent(&BgState::Lost, None),
            WorkerState::Failed { .. }
        ));
    }

    #[test]
    fn states_serialize_flat_with_a_state_tag() {
        let json = serde_json::to_value(WorkerState::TimedOut { seconds: 2.0 }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"state": "timed_out", "seconds": 2.0})
        );
        let back: WorkerState = serde_json::from_value(json).unwrap();
        assert_eq!(back, WorkerState::TimedOut { seconds: 2.0 });
        let failed = WorkerState::of_command(&BgState::Exited { code: 4 });
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["exitCode"], 4);
        assert_eq!(serde_json::from_value::<WorkerState>(json).unwrap(), failed);
    }
}
