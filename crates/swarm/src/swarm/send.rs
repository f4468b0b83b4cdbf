//! Sending a message to agent workers: into the running agent, or as a follow-up run that
//! continues its session.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tether_router::ErrorKind;
use tether_tools::{BgState, Workspace};

use super::Swarms;
use super::start::{FOLLOW_UP, Run, launch};
use crate::SwarmError;
use crate::agent;
use crate::record::{Disposition, SwarmRecord, WorkerRecord};
use crate::spec::{Task, bad, check_env};

/// How long a send waits for a running agent's driver to take the message (or to end without
/// it, which starts a follow-up run). A driver takes messages within a quarter second while
/// its agent works, and otherwise when the agent ends.
const CLAIM_DEADLINE: Duration = Duration::from_secs(30);
/// The pause between looks while waiting for the driver to take a message.
const CLAIM_POLL: Duration = Duration::from_millis(200);

/// How a message reaches an agent that is working.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SendMode {
    /// After the agent has finished what it is doing: the next prompt of its session.
    #[default]
    FollowUp,
    /// As soon as its current tool calls are done, before it asks the model again (pi's
    /// `steer`).
    Steer,
}

/// What became of a message sent to one worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Its agent was working and took the message.
    Delivered,
    /// Its agent had ended: a follow-up run continues its session with the message.
    Started {
        /// Which run of the worker this is (1 is the first).
        run: usize,
        /// The run's background process.
        process: String,
    },
    /// It could not be sent.
    Failed {
        /// Why, and what to do.
        reason: String,
    },
}

/// What `swarm_send` did, per worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendOutcome {
    /// The swarm.
    pub swarm_id: String,
    /// How the message was sent.
    pub mode: SendMode,
    /// Per worker: (index, VM id, what became of the message).
    pub workers: Vec<(u32, String, Sent)>,
}

impl SendOutcome {
    /// `{swarmId, mode, workers}`, workers as `{worker, vmId, outcome}` (`delivered`,
    /// `started` with `run`, or `failed` with `error`).
    pub fn to_json(&self) -> Value {
        let workers: Vec<Value> = self
            .workers
            .iter()
            .map(|(i, vm, sent)| match sent {
                Sent::Delivered => json!({"worker": i, "vmId": vm, "outcome": "delivered"}),
                Sent::Started { run, process } => json!({
                    "worker": i, "vmId": vm, "outcome": "started", "run": run, "process": process,
                }),
                Sent::Failed { reason } => {
                    json!({"worker": i, "vmId": vm, "outcome": "failed", "error": reason})
                }
            })
            .collect();
        json!({"swarmId": self.swarm_id, "mode": self.mode, "workers": workers})
    }

    /// One line per worker.
    pub fn lines(&self) -> Vec<String> {
        self.workers
            .iter()
            .map(|(i, vm, sent)| match sent {
                Sent::Delivered => format!("worker {i} (VM {vm}): delivered to its working agent"),
                Sent::Started { run, .. } => format!(
                    "worker {i} (VM {vm}): its agent had ended; run {run} continues its session with the message"
                ),
                Sent::Failed { reason } => format!("worker {i} (VM {vm}): not sent: {reason}"),
            })
            .collect()
    }
}

/// How one worker got the message.
enum Delivery {
    Delivered,
    Started(String),
}

impl Swarms {
    /// Sends `message` to the agents of `workers` (indexes or VM ids; empty: every agent
    /// worker whose VM is left), `limits.concurrency` at a time. A working agent gets it as
    /// `mode` says; an agent that has ended (done, failed, timed out, stopped) gets a follow-up
    /// run that continues its pi session with the message. A follow-up run gets
    /// `TETHER_WORKER`, `TETHER_SWARM` and `env` — not the variables given at the start, which
    /// tether does not keep.
    pub async fn send(
        &self,
        swarm: Option<&str>,
        workers: &[String],
        message: &str,
        mode: SendMode,
        env: &[(String, String)],
    ) -> Result<SendOutcome, SwarmError> {
        if message.trim().is_empty() {
            return Err(bad(
                "the message is empty; give the text the agents should get",
            ));
        }
        check_env(env)?;
        let record = self.find(swarm)?;
        let recipients = recipients(&record, workers)?;
        // One send at a time, so two never start follow-up runs on one worker.
        let _sending = self.sending.lock().await;
        let record = &record;
        let results: Vec<(u32, Result<Delivery, String>)> = stream::iter(recipients)
            .map(|worker| async move {
                let result = self.send_one(record, &worker, message, mode, env).await;
                (worker.index, result.map_err(|e| e.to_string()))
            })
            .buffer_unordered(self.limits.concurrency)
            .collect()
            .await;
        let mut outcome = SendOutcome {
            swarm_id: record.id.clone(),
            mode,
            workers: Vec::new(),
        };
        self.update(record.clone(), |saved| {
            for (index, result) in results {
                let Some(worker) = saved.workers.iter_mut().find(|w| w.index == index) else {
                    continue;
                };
                let sent = match result {
                    Ok(Delivery::Delivered) => Sent::Delivered,
                    Ok(Delivery::Started(process)) => {
                        // (the same process when another send started this run first)
                        if let Some(earlier) = worker.process.replace(process.clone())
                            && earlier != process
                        {
                            worker.runs.push(earlier);
                        }
                        worker.ended = None;
                        Sent::Started {
                            run: worker.runs.len() + 1,
                            process,
                        }
                    }
                    Err(reason) => Sent::Failed { reason },
                };
                outcome.workers.push((index, worker.vm_id.clone(), sent));
            }
        })
        .await?;
        outcome.workers.sort_by_key(|(i, _, _)| *i);
        Ok(outcome)
    }

    /// Sends to one worker: into its inbox, then a follow-up run if its agent has ended.
    async fn send_one(
        &self,
        record: &SwarmRecord,
        worker: &WorkerRecord,
        message: &str,
        mode: SendMode,
        env: &[(String, String)],
    ) -> Result<Delivery, SwarmError> {
        let ws = self.workspace(worker).await?;
        let dir = agent::dir(ws.home(), &record.id);
        let file = agent::post(ws.target().as_ref(), &dir, message, mode).await?;
        let process = worker.process.as_deref().unwrap_or_default();
        if worker.ended.is_none() && taken_or_running(&ws, process, &file).await? {
            return Ok(Delivery::Delivered);
        }
        agent::refresh(ws.target().as_ref(), &dir).await?;
        let run = Run {
            swarm: &record.id,
            index: worker.index,
            cwd: record.cwd.clone(),
            env: env.to_vec(),
            timeout: record
                .timeout_secs
                .and_then(|t| Duration::try_from_secs_f64(t).ok()),
            // Another tether process starting a run for this worker at the same moment gets
            // this one: one run, which takes both messages from the inbox.
            name: Some(FOLLOW_UP),
        };
        let process = launch(&ws, agent::command(&dir, true), run).await?;
        Ok(Delivery::Started(process))
    }
}

/// The workers `which` names (every agent worker whose VM is left when empty), checked.
fn recipients(record: &SwarmRecord, which: &[String]) -> Result<Vec<WorkerRecord>, SwarmError> {
    if !matches!(record.task, Task::Agent(_)) {
        return Err(match which.first() {
            None => SwarmError::CommandSwarm {
                swarm: record.id.clone(),
            },
            Some(which) => {
                let worker = Swarms::worker(record, which)?;
                SwarmError::CommandWorker {
                    swarm: record.id.clone(),
                    index: worker.index,
                    vm_id: worker.vm_id.clone(),
                }
            }
        });
    }
    if which.is_empty() {
        let all: Vec<WorkerRecord> = record
            .workers
            .iter()
            .filter(|w| w.disposition != Disposition::Deleted && w.process.is_some())
            .cloned()
            .collect();
        if all.is_empty() {
            return Err(bad(format!(
                "swarm {} has no agent left to send to (its worker VMs were deleted or never \
                 started); start a new swarm with swarm_start",
                record.id
            )));
        }
        return Ok(all);
    }
    let mut seen = BTreeSet::new();
    let mut chosen = Vec::new();
    for which in which {
        let worker = Swarms::worker(record, which)?;
        Swarms::process_of(record, worker)?;
        if seen.insert(worker.index) {
            chosen.push(worker.clone());
        }
    }
    Ok(chosen)
}

/// Waits until the driver in `process` takes the message at `file` (true), or ends without
/// taking it (false). After [`CLAIM_DEADLINE`] with the driver still running, true: it takes the
/// message when its agent ends at the latest.
async fn taken_or_running(ws: &Workspace, process: &str, file: &str) -> Result<bool, SwarmError> {
    let deadline = Instant::now() + CLAIM_DEADLINE;
    loop {
        // The state first: a driver seen ended before the file is seen waiting never took it.
        let state = tether_tools::process(ws, process).await?.state;
        match ws.target().stat(file).await {
            Ok(_) => {}
            Err(e) if ErrorKind::of(&e) == ErrorKind::NotFound => return Ok(true),
            Err(e) => return Err(tether_tools::ToolError::from(e).into()),
        }
        if state != BgState::Running {
            return Ok(false);
        }
        if Instant::now() >= deadline {
            return Ok(true);
        }
        tokio::time::sleep(CLAIM_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_the_same_as_json_and_as_lines() {
        let outcome = SendOutcome {
            swarm_id: "sw-1".into(),
            mode: SendMode::Steer,
            workers: vec![
                (0, "vm-a".into(), Sent::Delivered),
                (
                    1,
                    "vm-b".into(),
                    Sent::Started {
                        run: 2,
                        process: "bg-2".into(),
                    },
                ),
                (
                    2,
                    "vm-c".into(),
                    Sent::Failed {
                        reason: "unreachable".into(),
                    },
                ),
            ],
        };
        assert_eq!(
            outcome.to_json(),
            json!({"swarmId": "sw-1", "mode": "steer", "workers": [
                {"worker": 0, "vmId": "vm-a", "outcome": "delivered"},
                {"worker": 1, "vmId": "vm-b", "outcome": "started", "run": 2, "process": "bg-2"},
                {"worker": 2, "vmId": "vm-c", "outcome": "failed", "error": "unreachable"},
            ]})
        );
        assert_eq!(
            outcome.lines(),
            [
                "worker 0 (VM vm-a): delivered to its working agent",
                "worker 1 (VM vm-b): its agent had ended; run 2 continues its session with the message",
                "worker 2 (VM vm-c): not sent: unreachable",
            ]
        );
    }
}
