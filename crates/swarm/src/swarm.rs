//! [`Swarms`]: start, follow, gather, keep and stop swarms through one [`Router`].

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream;
use tether_router::{ErrorKind, Router};
use tether_tools::{BgSpec, BgState, Logs, Stopped, Window, Workspace};
use tether_vers::BranchSource;
use tether_wire::BranchQuery;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use crate::SwarmError;
use crate::agent;
use crate::record::{Disposition, Source, Store, SwarmRecord, WorkerRecord};
use crate::spec::{Limits, SWARM_VAR, SwarmSpec, Task, WORKER_VAR};
use crate::status::{AgentProgress, SwarmStatus, WorkerState, WorkerStatus};

/// Lines of each worker's output `swarm_wait` gathers.
pub const TAIL_LINES: u64 = 20;
/// Bytes of each worker's output `swarm_wait` gathers at most.
pub const TAIL_BYTES: usize = 2000;
/// The first pause between looks while waiting; it doubles up to [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(100);
/// The longest pause between looks while waiting.
const MAX_POLL: Duration = Duration::from_millis(500);
/// A worker whose task has not started this long after the swarm was made never will: the
/// process starting it was interrupted.
const START_DEADLINE: Duration = Duration::from_secs(600);

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

/// What one look at a worker found.
struct Look {
    state: WorkerState,
    size: u64,
    tail: String,
    progress: Option<AgentProgress>,
}

/// A worker whose task started: its background process and the VM's home.
struct Launched {
    process: String,
    home: String,
}

/// Swarms on one API: records in tether's state directory, workers on VMs.
pub struct Swarms {
    router: Arc<Router>,
    store: Store,
    limits: Limits,
    workspaces: Mutex<HashMap<String, Workspace>>,
    records: tokio::sync::Mutex<()>,
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

    /// Branches `spec.source` into `spec.count` workers (one API call) and starts the task on
    /// each, `limits.concurrency` at a time. The record is saved as soon as the VMs exist, so
    /// none is ever lost track of; a worker whose task could not start is reported failed.
    pub async fn start(
        &self,
        spec: SwarmSpec,
        progress: &(dyn Fn(StartProgress) + Send + Sync),
    ) -> Result<SwarmStatus, SwarmError> {
        spec.validate(&self.limits)?;
        let api = self.router.api_identity()?;
        let source = self.resolve_source(&spec.source).await?;
        let count = usize::try_from(spec.count).unwrap_or(usize::MAX);
        progress(StartProgress::Branching { count });
        let branch = match &source {
            Source::Vm(id) => BranchSource::Vm(id.clone()),
            Source::Commit(id) => BranchSource::Commit(id.clone()),
        };
        let query = BranchQuery {
            count: u32::try_from(spec.count).ok(),
            keep_paused: None,
            skip_wait_boot: None,
        };
        let ids =
            self.router.vers().branch(&branch, query).await.map_err(
                |e| match SwarmError::from(e) {
                    e if not_found(&e) => SwarmError::UnknownSource {
                        query: spec.source.clone(),
                    },
                    e => e,
                },
            )?;
        let id = format!("sw-{:08x}", rand::random::<u32>());
        let mut record = SwarmRecord {
            id: id.clone(),
            created: now(),
            api,
            source,
            task: spec.task.clone(),
            timeout_secs: spec.timeout.map(|t| t.as_secs_f64()),
            workers: ids
                .iter()
                .zip(0u32..)
                .map(|(vm_id, index)| WorkerRecord {
                    index,
                    vm_id: vm_id.clone(),
                    process: None,
                    home: None,
                    start_error: None,
                    disposition: Disposition::Active,
                    ended: None,
                })
                .collect(),
        };
        {
            let _guard = self.records.lock().await;
            let _file = self.store.lock()?;
            self.store.save(&record)?;
        }
        let home = OnceCell::new();
        let total = record.workers.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        progress(StartProgress::Started { done: 0, total });
        let results: Vec<(u32, Result<Launched, String>)> = stream::iter(record.workers.clone())
            .map(|worker| {
                let (spec, home, id, done) = (&spec, &home, &id, &done);
                async move {
                    let result = self.start_worker(id, &worker, spec, home).await;
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress(StartProgress::Started { done: n, total });
                    (worker.index, result.map_err(|e| e.to_string()))
                }
            })
            .buffer_unordered(self.limits.concurrency)
            .collect()
            .await;
        {
            let _guard = self.records.lock().await;
            let _file = self.store.lock()?;
            record = self.store.load(&id)?.unwrap_or(record);
            for (index, result) in results {
                let Some(worker) = record.workers.iter_mut().find(|w| w.index == index) else {
                    continue;
                };
                match result {
                    Ok(Launched { process, home }) => {
                        worker.process = Some(process);
                        worker.home = Some(home);
                    }
                    Err(reason) => worker.start_error = Some(reason),
                }
            }
            self.store.save(&record)?;
        }
        let workers = record
            .workers
            .iter()
            .map(WorkerStatus::from_record)
            .collect();
        Ok(SwarmStatus::new(&record, workers))
    }

    /// The VM or commit `query` names.
    async fn resolve_source(&self, query: &str) -> Result<Source, SwarmError> {
        let query = query.trim();
        if tether_router::is_full_id(query) {
            return match self.router.vers().status(query).await {
                Ok(_) => Ok(Source::Vm(query.to_owned())),
                Err(e) if ErrorKind::of(&e) == ErrorKind::NotFound => {
                    Ok(Source::Commit(query.to_owned()))
                }
                Err(e) => Err(e.into()),
            };
        }
        match self.router.resolve_vm(query).await {
            Ok(vm) => return Ok(Source::Vm(vm)),
            Err(tether_router::RouterError::NoMatch { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        match self.router.resolve_commit(query).await {
            Ok(commit) => Ok(Source::Commit(commit)),
            Err(tether_router::RouterError::NoMatch { .. }) => Err(SwarmError::UnknownSource {
                query: query.to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Starts one worker's task; its background process id and the VM's home.
    async fn start_worker(
        &self,
        swarm: &str,
        worker: &WorkerRecord,
        spec: &SwarmSpec,
        home: &OnceCell<String>,
    ) -> Result<Launched, SwarmError> {
        let target = self.router.target(&worker.vm_id).await?;
        // Every branch of one source has the same home: ask the first VM that answers.
        let home = home
            .get_or_try_init(|| async {
                let found = Workspace::discover(target.clone()).await?;
                Ok::<_, SwarmError>(found.home().to_owned())
            })
            .await?
            .clone();
        let ws = Workspace::new(target, home.clone(), home.clone());
        self.remember(&worker.vm_id, &ws);
        let mut env = spec.env.clone();
        env.push((WORKER_VAR.to_owned(), worker.index.to_string()));
        env.push((SWARM_VAR.to_owned(), swarm.to_owned()));
        let command = match &spec.task {
            Task::Command { command } => command.clone(),
            Task::Agent(task) => {
                let dir = agent::dir(&home, swarm);
                agent::install(ws.target().as_ref(), &dir, task, worker.index).await?;
                agent::command(&dir)
            }
        };
        let bg = BgSpec {
            command,
            cwd: spec.cwd.clone(),
            // No name: a name makes the start scan every other process on the VM for a clash.
            name: None,
            env,
            timeout: spec.timeout,
        };
        let started = tether_tools::start_process(&ws, bg).await?;
        Ok(Launched {
            process: started.id,
            home,
        })
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
        self.record_ends(&record.id, &statuses).await?;
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

    /// Saves the final states among `statuses` (and VMs found deleted) in the record.
    async fn record_ends(&self, id: &str, statuses: &[WorkerStatus]) -> Result<(), SwarmError> {
        let ended: Vec<&WorkerStatus> = statuses.iter().filter(|s| s.state.is_final()).collect();
        if ended.is_empty() {
            return Ok(());
        }
        let _guard = self.records.lock().await;
        let _file = self.store.lock()?;
        let Some(mut record) = self.store.load(id)? else {
            return Ok(());
        };
        let mut changed = false;
        for status in ended {
            let Some(worker) = record.workers.iter_mut().find(|w| w.index == status.index) else {
                continue;
            };
            if worker.ended.is_none() && worker.start_error.is_none() {
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
        let record = self.find(id)?;
        let started = Instant::now();
        let cancel = cancel.unwrap_or_default();
        let mut pause = FIRST_POLL;
        let mut last: Option<Vec<(WorkerState, Option<AgentProgress>)>> = None;
        let status = loop {
            let workers = self.look(&record).await?;
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

    /// The worker `which` names: its index, or its VM id (or a unique prefix of it).
    pub fn worker<'a>(
        record: &'a SwarmRecord,
        which: &str,
    ) -> Result<&'a WorkerRecord, SwarmError> {
        let which = which.trim();
        if let Ok(index) = which.parse::<u32>()
            && let Some(worker) = record.workers.iter().find(|w| w.index == index)
        {
            return Ok(worker);
        }
        let matching: Vec<&WorkerRecord> = record
            .workers
            .iter()
            .filter(|w| !which.is_empty() && w.vm_id.starts_with(which))
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
        if worker.disposition == Disposition::Deleted {
            return Err(SwarmError::WorkerDeleted {
                swarm: record.id.clone(),
                index: worker.index,
                vm_id: worker.vm_id.clone(),
            });
        }
        let Some(process) = worker.process.clone() else {
            return Err(SwarmError::WorkerNotStarted {
                swarm: record.id.clone(),
                index: worker.index,
                vm_id: worker.vm_id.clone(),
                reason: worker
                    .start_error
                    .clone()
                    .unwrap_or_else(|| "it is still starting".into()),
            });
        };
        let ws = self.workspace(&worker).await?;
        let logs = tether_tools::read_output(&ws, &process, window, max, wait).await?;
        Ok((record, worker, logs))
    }

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
        let _guard = self.records.lock().await;
        let _file = self.store.lock()?;
        let mut record = self.store.load(&record.id)?.unwrap_or(record);
        for worker in &mut record.workers {
            if chosen.contains(&worker.index) {
                worker.disposition = Disposition::Kept;
                outcome.kept.push((worker.index, worker.vm_id.clone()));
            }
        }
        apply_deletes(
            &mut record,
            deleted,
            &mut outcome.deleted,
            &mut outcome.failed,
        );
        self.store.save(&record)?;
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
        let record = {
            let _guard = self.records.lock().await;
            let _file = self.store.lock()?;
            let mut record = self.store.load(&record.id)?.unwrap_or(record);
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
            apply_deletes(
                &mut record,
                deleted,
                &mut outcome.deleted,
                &mut outcome.failed,
            );
            self.store.save(&record)?;
            record
        };
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

/// How long ago `created` (RFC 3339) was.
fn age(created: &str) -> Option<Duration> {
    let then = time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Duration::try_from(time::OffsetDateTime::now_utc() - then).ok()
}

/// Now, UTC, RFC 3339.
fn now() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
