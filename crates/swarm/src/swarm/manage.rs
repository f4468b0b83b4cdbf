//! Keeping, stopping and deleting workers.

use std::collections::{BTreeSet, HashMap};

use futures::StreamExt;
use futures::stream;
use tether_router::ErrorKind;
use tether_tools::{BgState, Stopped};

use super::{KeepOutcome, Swarms, lock};
use crate::SwarmError;
use crate::record::{Disposition, SwarmRecord, WorkerRecord};
use crate::spec::Task;
use crate::status::{SwarmStatus, WorkerState, WorkerStatus};

impl Swarms {
    /// Keeps the workers `keep` names (indexes or VM ids) and deletes every other worker's VM
    /// (the source is never touched). Kept workers go on running.
    pub async fn keep(&self, id: Option<&str>, keep: &[String]) -> Result<KeepOutcome, SwarmError> {
        let record = self.find(id)?;
        let mut chosen = BTreeSet::new();
        for which in keep {
            chosen.insert(Self::worker(&record, which)?.index);
        }
        if let Some(gone) = record
            .workers
            .iter()
            .find(|w| chosen.contains(&w.index) && w.disposition == Disposition::Deleted)
        {
            return Err(SwarmError::WorkerDeleted {
                swarm: record.id.clone(),
                index: gone.index,
                vm_id: gone.vm_id.clone(),
            });
        }
        let doomed: Vec<WorkerRecord> = record
            .workers
            .iter()
            .filter(|w| !chosen.contains(&w.index) && w.disposition != Disposition::Deleted)
            .cloned()
            .collect();
        let deleted = self.delete_vms(&doomed).await;
        let mut outcome = KeepOutcome {
            swarm_id: record.id.clone(),
            ..KeepOutcome::default()
        };
        self.update(record, |record| {
            for worker in &mut record.workers {
                if chosen.contains(&worker.index) {
                    worker.disposition = Disposition::Kept;
                    outcome.kept.push((worker.index, worker.vm_id.clone()));
                }
            }
            apply_deletes(record, deleted, &mut outcome.deleted, &mut outcome.failed);
        })
        .await?;
        Ok(outcome)
    }

    /// Deletes the VMs of `workers`, in parallel; per worker, `Ok` or why not.
    async fn delete_vms(&self, workers: &[WorkerRecord]) -> Vec<(u32, Result<(), String>)> {
        stream::iter(workers.to_vec())
            .map(|worker| async move {
                let result = match self.router.vers().delete_vm(&worker.vm_id).await {
                    Ok(_) => Ok(()),
                    Err(e) if ErrorKind::of(&e) == ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e.to_string()),
                };
                if result.is_ok() {
                    lock(&self.workspaces).remove(&worker.vm_id);
                    self.router.forget(&worker.vm_id).await;
                }
                (worker.index, result)
            })
            .buffer_unordered(self.limits.concurrency)
            .collect()
            .await
    }

    /// Stops every running worker (its whole process group: TERM, then KILL); with `delete`,
    /// also deletes every worker VM that was not kept.
    pub async fn stop(
        &self,
        id: Option<&str>,
        delete: bool,
    ) -> Result<(SwarmStatus, KeepOutcome), SwarmError> {
        let record = self.find(id)?;
        let running: Vec<WorkerRecord> = record
            .workers
            .iter()
            .filter(|w| {
                w.ended.is_none() && w.process.is_some() && w.disposition != Disposition::Deleted
            })
            .cloned()
            .collect();
        let agent = matches!(record.task, Task::Agent(_));
        let stopped: Vec<(u32, Result<WorkerState, String>)> = stream::iter(running)
            .map(|worker| async move {
                let result = async {
                    let ws = self.workspace(&worker).await?;
                    let process = worker.process.as_deref().unwrap_or_default();
                    let state = match tether_tools::stop_process(&ws, process).await? {
                        Stopped::Now(state) | Stopped::Already(state) => state,
                    };
                    Ok::<_, SwarmError>(state)
                }
                .await;
                let result = result.map(|state| match (&state, agent) {
                    (BgState::Exited { .. }, true) => WorkerState::of_agent(&state, None),
                    _ => WorkerState::of_command(&state),
                });
                (worker.index, result.map_err(|e| e.to_string()))
            })
            .buffer_unordered(self.limits.concurrency)
            .collect()
            .await;
        let doomed: Vec<WorkerRecord> = if delete {
            record
                .workers
                .iter()
                .filter(|w| w.disposition == Disposition::Active)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let deleted = self.delete_vms(&doomed).await;
        let mut outcome = KeepOutcome {
            swarm_id: record.id.clone(),
            ..KeepOutcome::default()
        };
        let mut unreachable = HashMap::new();
        let (record, ()) = self
            .update(record, |record| {
                for (index, result) in stopped {
                    let Some(worker) = record.workers.iter_mut().find(|w| w.index == index) else {
                        continue;
                    };
                    match result {
                        Ok(state) => {
                            if worker.ended.is_none() {
                                worker.ended = Some(state);
                            }
                        }
                        Err(why) => {
                            unreachable.insert(index, why);
                        }
                    }
                }
                apply_deletes(record, deleted, &mut outcome.deleted, &mut outcome.failed);
            })
            .await?;
        let workers = record
            .workers
            .iter()
            .map(|w| WorkerStatus {
                unreachable: unreachable.get(&w.index).cloned(),
                ..WorkerStatus::from_record(w)
            })
            .collect();
        Ok((SwarmStatus::new(&record, workers), outcome))
    }
}

/// Marks the workers whose VMs were deleted; collects what was and was not.
fn apply_deletes(
    record: &mut SwarmRecord,
    results: Vec<(u32, Result<(), String>)>,
    deleted: &mut Vec<(u32, String)>,
    failed: &mut Vec<(u32, String, String)>,
) {
    for (index, result) in results {
        let Some(worker) = record.workers.iter_mut().find(|w| w.index == index) else {
            continue;
        };
        match result {
            Ok(()) => {
                worker.disposition = Disposition::Deleted;
                if worker.ended.is_none() {
                    worker.ended = Some(WorkerState::Deleted);
                }
                deleted.push((index, worker.vm_id.clone()));
            }
            Err(why) => failed.push((index, worker.vm_id.clone(), why)),
        }
    }
    deleted.sort();
    failed.sort();
}
