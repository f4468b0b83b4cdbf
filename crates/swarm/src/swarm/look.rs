//! Looking at workers: status, waiting and gathering, reading one worker's output.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream;
use tether_router::ErrorKind;
use tether_tools::{Logs, Window};
use tokio_util::sync::CancellationToken;

use super::{Gathered, Swarms, TAIL_BYTES, TAIL_LINES, not_found};
use crate::SwarmError;
use crate::agent;
use crate::record::{Disposition, SwarmRecord, WorkerRecord};
use crate::spec::Task;
use crate::status::{AgentProgress, SwarmStatus, WorkerState, WorkerStatus};

/// The first pause between looks while waiting; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(100);
/// The longest pause between looks while waiting.
const MAX_POLL: Duration = Duration::from_millis(500);
/// A worker whose task has not started this long after the swarm was made never will: the
/// process starting it was interrupted.
const START_DEADLINE: Duration = Duration::from_secs(600);

/// What one look at a worker found.
struct Look {
    state: WorkerState,
    size: u64,
    tail: String,
    progress: Option<AgentProgress>,
}

impl Swarms {
    /// The swarm now: every unfinished worker is looked at (in parallel).
    pub async fn status(&self, id: Option<&str>) -> Result<SwarmStatus, SwarmError> {
        let record = self.find(id)?;
        let mut workers = self.look(&record).await?;
        for worker in &mut workers {
            worker.tail = None;
        }
        Ok(SwarmStatus::new(&record, workers))
    }

    /// Looks at every unfinished worker of `record` and records the ones that finished.
    async fn look(&self, record: &SwarmRecord) -> Result<Vec<WorkerStatus>, SwarmError> {
        let agent = matches!(record.task, Task::Agent(_));
        let abandoned = age(&record.created).is_some_and(|age| age > START_DEADLINE);
        let mut statuses: Vec<WorkerStatus> = stream::iter(record.workers.clone())
            .map(|worker| async move {
                let mut status = WorkerStatus::from_record(&worker);
                if status.state == WorkerState::Starting && abandoned {
                    status.state = WorkerState::Failed {
                        exit_code: None,
                        reason: "its task was never started (the tether process starting the \
                                 swarm stopped first); swarm_keep or swarm_stop with delete \
                                 removes its VM"
                            .into(),
                    };
                }
                if status.state.is_final() || worker.process.is_none() {
                    return status;
                }
                match self.look_at(record, &worker, agent).await {
                    Ok(look) => {
                        status.state = look.state;
                        status.output_bytes = Some(look.size);
                        status.agent = look.progress;
                        status.tail = Some(look.tail);
                    }
                    Err(e) if not_found(&e) && !self.vm_exists(&worker.vm_id).await => {
                        status.state = WorkerState::Deleted;
                        status.disposition = Disposition::Deleted;
                    }
                    Err(e) => status.unreachable = Some(e.to_string()),
                }
                status
            })
            .buffer_unordered(self.limits.concurrency)
            .collect()
            .await;
        statuses.sort_by_key(|s| s.index);
        self.record_ends(record, &statuses).await?;
        Ok(statuses)
    }

    /// Whether `vm_id` still exists (an error other than "not found" counts as yes).
    async fn vm_exists(&self, vm_id: &str) -> bool {
        match self.router.vers().status(vm_id).await {
            Ok(_) => true,
            Err(e) => ErrorKind::of(&e) != ErrorKind::NotFound,
        }
    }

    /// One worker's state, output size and (for agents) pi's progress.
    async fn look_at(
        &self,
        record: &SwarmRecord,
        worker: &WorkerRecord,
        agent: bool,
    ) -> Result<Look, SwarmError> {
        let ws = self.workspace(worker).await?;
        let process = worker.process.as_deref().unwrap_or_default();
        // The state, the size and the end of the output in one command: a worker found
        // finished needs no second look for its tail.
        let window = Window::Tail(TAIL_LINES);
        let logs = tether_tools::read_output(&ws, process, window, TAIL_BYTES, Duration::ZERO);
        let (logs, progress) = if agent {
            let dir = agent::dir(ws.home(), &record.id);
            let (logs, progress) = tokio::join!(logs, agent::progress(ws.target().as_ref(), &dir));
            (logs?, progress)
        } else {
            (logs.await?, None)
        };
        let state = match agent {
            true => WorkerState::of_agent(&logs.state, progress.as_ref()),
            false => WorkerState::of_command(&logs.state),
        };
        Ok(Look {
            state,
            size: logs.size,
            tail: String::from_utf8_lossy(&logs.bytes).into_owned(),
            progress,
        })
    }

    /// Saves the final states among `statuses` (looked at in `looked`) and VMs found deleted in
    /// the record — not for a worker whose agent started another run since.
    async fn record_ends(
        &self,
        looked: &SwarmRecord,
        statuses: &[WorkerStatus],
    ) -> Result<(), SwarmError> {
        let ended: Vec<&WorkerStatus> = statuses.iter().filter(|s| s.state.is_final()).collect();
        if ended.is_empty() {
            return Ok(());
        }
        let _guard = self.records.lock().await;
        let _file = self.store.lock()?;
        let Some(mut record) = self.store.load(&looked.id)? else {
            return Ok(());
        };
        let mut changed = false;
        for status in ended {
            let Some(worker) = record.workers.iter_mut().find(|w| w.index == status.index) else {
                continue;
            };
            let same_run = looked
                .workers
                .iter()
                .any(|w| w.index == status.index && w.process == worker.process);
            if worker.ended.is_none() && worker.start_error.is_none() && same_run {
                worker.ended = Some(status.state.clone());
                changed = true;
            }
            if status.disposition == Disposition::Deleted
                && worker.disposition != Disposition::Deleted
            {
                worker.disposition = Disposition::Deleted;
                changed = true;
            }
        }
        if changed {
            self.store.save(&record)?;
        }
        Ok(())
    }

    /// Waits until every worker has finished or `deadline` passes (or `cancel` fires), calling
    /// `on_update` after each look; then gathers each worker's output tail.
    pub async fn wait(
        &self,
        id: Option<&str>,
        deadline: Duration,
        on_update: &mut (dyn FnMut(&SwarmStatus) + Send),
        cancel: Option<CancellationToken>,
    ) -> Result<Gathered, SwarmError> {
        let mut record = self.find(id)?;
        let started = Instant::now();
        let cancel = cancel.unwrap_or_default();
        let mut pause = FIRST_POLL;
        let mut last: Option<Vec<(WorkerState, Option<AgentProgress>)>> = None;
        // Workers seen finished, as seen then (with their tail): not looked at again.
        let mut finished: HashMap<u32, WorkerStatus> = HashMap::new();
        let status = loop {
            let mut workers = self.look(&record).await?;
            for worker in &mut workers {
                if let Some(seen) = finished.get(&worker.index) {
                    *worker = seen.clone();
                } else if worker.state.is_final() {
                    finished.insert(worker.index, worker.clone());
                    if let Some(r) = record.workers.iter_mut().find(|r| r.index == worker.index) {
                        r.ended = Some(worker.state.clone());
                    }
                }
            }
            let status = SwarmStatus::new(&record, workers);
            let seen: Vec<(WorkerState, Option<AgentProgress>)> = status
                .workers
                .iter()
                .map(|w| (w.state.clone(), w.agent.clone()))
                .collect();
            if last.as_ref() != Some(&seen) {
                on_update(&status);
            }
            let elapsed = started.elapsed();
            if status.finished || elapsed >= deadline || cancel.is_cancelled() {
                break status;
            }
            last = Some(seen);
            let nap = pause.min(deadline - elapsed);
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                () = cancel.cancelled() => {}
            }
            pause = (pause * 2).min(MAX_POLL);
        };
        let cancelled = !status.finished && cancel.is_cancelled();
        let deadline_reached = !status.finished && !cancelled;
        let status = self.with_tails(&record, status).await;
        Ok(Gathered {
            status,
            deadline_reached,
            cancelled,
            waited: started.elapsed(),
        })
    }

    /// `status` with the end of each finished worker's output.
    async fn with_tails(&self, record: &SwarmRecord, mut status: SwarmStatus) -> SwarmStatus {
        let have: BTreeSet<u32> = status
            .workers
            .iter()
            .filter(|w| w.tail.is_some())
            .map(|w| w.index)
            .collect();
        let tails: HashMap<u32, (String, u64)> = stream::iter(record.workers.clone())
            .filter(|w| {
                let wanted = w.process.is_some()
                    && w.disposition != Disposition::Deleted
                    && !have.contains(&w.index);
                async move { wanted }
            })
            .map(|worker| async move {
                let ws = self.workspace(&worker).await.ok()?;
                let process = worker.process.as_deref()?;
                let window = Window::Tail(TAIL_LINES);
                let logs =
                    tether_tools::read_output(&ws, process, window, TAIL_BYTES, Duration::ZERO)
                        .await
                        .ok()?;
                Some((
                    worker.index,
                    (String::from_utf8_lossy(&logs.bytes).into_owned(), logs.size),
                ))
            })
            .buffer_unordered(self.limits.concurrency)
            .filter_map(|found| async move { found })
            .collect()
            .await;
        for worker in &mut status.workers {
            if let Some((tail, size)) = tails.get(&worker.index) {
                worker.tail = Some(tail.clone());
                worker.output_bytes = Some(*size);
            }
        }
        status
    }

    /// A worker's output as `window` says (at most `max` bytes), waiting up to `wait` for
    /// output past an offset.
    pub async fn read(
        &self,
        id: Option<&str>,
        which: &str,
        window: Window,
        max: usize,
        wait: Duration,
    ) -> Result<(SwarmRecord, WorkerRecord, Logs), SwarmError> {
        let record = self.find(id)?;
        let worker = Self::worker(&record, which)?.clone();
        let process = Self::process_of(&record, &worker)?;
        let ws = self.workspace(&worker).await?;
        let logs = tether_tools::read_output(&ws, process, window, max, wait).await?;
        Ok((record, worker, logs))
    }
}

/// How long ago `created` (RFC 3339) was.
fn age(created: &str) -> Option<Duration> {
    let then = time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Duration::try_from(time::OffsetDateTime::now_utc() - then).ok()
}
