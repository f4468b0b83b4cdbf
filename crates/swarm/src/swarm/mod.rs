//! [`Swarms`]: start, follow, gather, keep and stop swarms through one [`Router`].

mod look;
mod manage;
mod send;
mod start;

pub use send::{SendMode, SendOutcome, Sent};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use tether_router::{ErrorKind, Router};
use tether_tools::Workspace;

use crate::SwarmError;
use crate::record::{Disposition, Store, SwarmRecord, WorkerRecord};
use crate::spec::Limits;
use crate::status::SwarmStatus;

/// The shortest all-digit text taken as a VM id prefix rather than a worker index.
const MIN_VM_PREFIX: usize = 4;

/// Lines of each worker's output `swarm_wait` gathers.
pub const TAIL_LINES: u64 = 20;
/// Bytes of each worker's output `swarm_wait` gathers at most.
pub const TAIL_BYTES: usize = 2000;

/// How far [`Swarms::start`] got, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartProgress {
    /// Asking the API for `count` branches.
    Branching {
        /// How many.
        count: usize,
    },
    /// `done` of `total` workers have their task started (or failed to).
    Started {
        /// How many are through.
        done: usize,
        /// How many there are.
        total: usize,
    },
}

/// What `swarm_wait` gathered.
#[derive(Clone, Debug, PartialEq)]
pub struct Gathered {
    /// The swarm, with each finished worker's output tail.
    pub status: SwarmStatus,
    /// Whether the wait ended at its deadline with workers still running.
    pub deadline_reached: bool,
    /// Whether the wait was cancelled (the workers go on).
    pub cancelled: bool,
    /// How long it waited.
    pub waited: Duration,
}

/// What `swarm_keep` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeepOutcome {
    /// The swarm.
    pub swarm_id: String,
    /// Workers kept: (index, VM id).
    pub kept: Vec<(u32, String)>,
    /// Workers whose VMs were deleted: (index, VM id).
    pub deleted: Vec<(u32, String)>,
    /// Workers whose VMs could not be deleted: (index, VM id, why).
    pub failed: Vec<(u32, String, String)>,
}

impl Gathered {
    /// The status as JSON, with `deadlineReached`, `cancelled` and `waitedSeconds`.
    pub fn to_json(&self) -> Value {
        let mut json = serde_json::to_value(&self.status).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut json {
            map.insert("deadlineReached".into(), json!(self.deadline_reached));
            map.insert("cancelled".into(), json!(self.cancelled));
            map.insert("waitedSeconds".into(), json!(self.waited.as_secs_f64()));
        }
        json
    }
}

impl KeepOutcome {
    /// `{swarmId, kept, deleted, failed}`, workers as `{worker, vmId}` (`error` when failed).
    pub fn to_json(&self) -> Value {
        let pairs = |list: &[(u32, String)]| -> Vec<Value> {
            list.iter()
                .map(|(i, vm)| json!({"worker": i, "vmId": vm}))
                .collect()
        };
        let failed: Vec<Value> = self
            .failed
            .iter()
            .map(|(i, vm, why)| json!({"worker": i, "vmId": vm, "error": why}))
            .collect();
        json!({
            "swarmId": self.swarm_id,
            "kept": pairs(&self.kept),
            "deleted": pairs(&self.deleted),
            "failed": failed,
        })
    }
}

/// Swarms on one API: records in tether's state directory, workers on VMs.
pub struct Swarms {
    router: Arc<Router>,
    store: Store,
    limits: Limits,
    workspaces: Mutex<HashMap<String, Workspace>>,
    records: tokio::sync::Mutex<()>,
    sending: tokio::sync::Mutex<()>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Whether `err` says the thing it was about does not exist.
fn not_found(err: &SwarmError) -> bool {
    err.kind() == ErrorKind::NotFound
}

impl Swarms {
    /// Swarms through `router`, kept in its state directory (`swarms/`).
    pub fn new(router: Arc<Router>, limits: Limits) -> Swarms {
        let store = Store::new(router.state().root().join("swarms"));
        Swarms {
            router,
            store,
            limits,
            workspaces: Mutex::new(HashMap::new()),
            records: tokio::sync::Mutex::new(()),
            sending: tokio::sync::Mutex::new(()),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The router.
    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    fn remember(&self, vm_id: &str, ws: &Workspace) {
        lock(&self.workspaces).insert(vm_id.to_owned(), ws.clone());
    }

    /// The workspace of a worker whose task was started.
    async fn workspace(&self, worker: &WorkerRecord) -> Result<Workspace, SwarmError> {
        if let Some(ws) = lock(&self.workspaces).get(&worker.vm_id) {
            return Ok(ws.clone());
        }
        let target = self.router.target(&worker.vm_id).await?;
        let ws = match &worker.home {
            Some(home) => Workspace::new(target, home.clone(), home.clone()),
            None => Workspace::discover(target).await?,
        };
        self.remember(&worker.vm_id, &ws);
        Ok(ws)
    }

    /// Changes the saved record of `record.id` (`record` itself if it is no longer saved) with
    /// `change` and saves it, holding this process's and every other tether process's lock
    /// meanwhile; the record as saved and what `change` returned.
    async fn update<T>(
        &self,
        record: SwarmRecord,
        change: impl FnOnce(&mut SwarmRecord) -> T,
    ) -> Result<(SwarmRecord, T), SwarmError> {
        let _guard = self.records.lock().await;
        let _file = self.store.lock()?;
        let mut saved = match self.store.load(&record.id)? {
            Some(saved) => saved,
            None => record,
        };
        let out = change(&mut saved);
        self.store.save(&saved)?;
        Ok((saved, out))
    }

    /// Every swarm on this API, newest first.
    pub fn list(&self) -> Result<Vec<SwarmRecord>, SwarmError> {
        self.store.list(&self.router.api_identity()?)
    }

    /// The record of the swarm `id` names (a full id or a unique prefix), or of the newest
    /// swarm when `id` is `None`.
    pub fn find(&self, id: Option<&str>) -> Result<SwarmRecord, SwarmError> {
        let id = id.map(str::trim).filter(|id| !id.is_empty());
        let api = self.router.api_identity()?;
        if let Some(id) = id
            && let Some(record) = self.store.load(id)?
            && record.api == api
        {
            return Ok(record);
        }
        let all = self.list()?;
        match id {
            None => all.into_iter().next().ok_or(SwarmError::NoSwarms),
            Some(id) => {
                let mut matching: Vec<SwarmRecord> = all
                    .iter()
                    .filter(|r| r.id.starts_with(id))
                    .cloned()
                    .collect();
                if matching.len() == 1 {
                    return Ok(matching.remove(0));
                }
                Err(SwarmError::NoSuchSwarm {
                    id: id.to_owned(),
                    known: all.into_iter().map(|r| r.id).collect(),
                })
            }
        }
    }

    /// The process of `worker`'s task (an agent's current run), or why there is none: its VM
    /// was deleted, or its task never started.
    fn process_of<'a>(
        record: &SwarmRecord,
        worker: &'a WorkerRecord,
    ) -> Result<&'a str, SwarmError> {
        if worker.disposition == Disposition::Deleted {
            return Err(SwarmError::WorkerDeleted {
                swarm: record.id.clone(),
                index: worker.index,
                vm_id: worker.vm_id.clone(),
            });
        }
        worker
            .process
            .as_deref()
            .ok_or_else(|| SwarmError::WorkerNotStarted {
                swarm: record.id.clone(),
                index: worker.index,
                vm_id: worker.vm_id.clone(),
                reason: worker
                    .start_error
                    .clone()
                    .unwrap_or_else(|| "it is still starting; try again in a moment".into()),
            })
    }

    /// The worker `which` names: its index, or its VM id (or a unique prefix of it).
    pub fn worker<'a>(
        record: &'a SwarmRecord,
        which: &str,
    ) -> Result<&'a WorkerRecord, SwarmError> {
        let which = which.trim();
        let index = which.parse::<u32>().ok();
        if let Some(worker) = index.and_then(|i| record.workers.iter().find(|w| w.index == i)) {
            return Ok(worker);
        }
        // A short number is an index, never a VM id prefix ("7" is worker 7, not VM 7063…).
        let as_prefix = which.len() >= MIN_VM_PREFIX || index.is_none();
        let matching: Vec<&WorkerRecord> = record
            .workers
            .iter()
            .filter(|w| as_prefix && !which.is_empty() && w.vm_id.starts_with(which))
            .collect();
        match matching.as_slice() {
            [one] => Ok(one),
            _ => Err(SwarmError::NoSuchWorker {
                swarm: record.id.clone(),
                worker: which.to_owned(),
                count: record.workers.len(),
            }),
        }
    }
}

/// Now, UTC, RFC 3339.
fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::record::Source;
    use crate::spec::Task;

    fn worker(index: u32, vm_id: &str) -> WorkerRecord {
        WorkerRecord::new(index, vm_id)
    }

    #[test]
    fn workers_are_found_by_index_or_vm_id_prefix_and_short_numbers_are_indexes() {
        let record = SwarmRecord {
            id: "sw-1".into(),
            created: String::new(),
            api: String::new(),
            source: Source::Vm("src".into()),
            task: Task::Command {
                command: "true".into(),
            },
            timeout_secs: None,
            cwd: None,
            workers: vec![worker(0, "7063d72c-aaaa"), worker(1, "b7e59cd9-bbbb")],
        };
        assert_eq!(Swarms::worker(&record, "1").unwrap().index, 1);
        assert_eq!(Swarms::worker(&record, "b7e5").unwrap().index, 1);
        assert_eq!(Swarms::worker(&record, "7063").unwrap().index, 0);
        let seven = Swarms::worker(&record, "7").unwrap_err().to_string();
        assert!(seven.contains("its workers are 0 to 1"), "{seven}");
        assert!(Swarms::worker(&record, "").is_err());
    }
}
