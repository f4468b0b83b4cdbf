//! Starting a swarm: the source resolved, one branch call, each worker's task started.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::stream;
use tether_router::ErrorKind;
use tether_tools::{BgSpec, Workspace};
use tether_vers::BranchSource;
use tether_wire::BranchQuery;
use tokio::sync::OnceCell;

use super::{StartProgress, Swarms, not_found, now};
use crate::SwarmError;
use crate::agent;
use crate::pi_config::{self, Staged};
use crate::record::{Source, SwarmRecord, WorkerRecord};
use crate::spec::{SWARM_VAR, SwarmSpec, Task, WORKER_VAR};
use crate::status::{SwarmStatus, WorkerStatus};

/// A worker whose task started: its background process and the VM's home.
struct Launched {
    process: String,
    home: String,
}

impl Swarms {
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
        // Staged once, before any VM is made: a config that cannot be copied makes none.
        let pi_config = stage_pi_config(&spec).await?;
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
        let record = SwarmRecord {
            id: id.clone(),
            created: now(),
            api,
            source,
            task: spec.task.clone(),
            timeout_secs: spec.timeout.map(|t| t.as_secs_f64()),
            cwd: spec.cwd.clone(),
            workers: ids
                .iter()
                .zip(0u32..)
                .map(|(vm_id, index)| WorkerRecord::new(index, vm_id.clone()))
                .collect(),
        };
        {
            let _guard = self.records.lock().await;
            let _file = self.store.lock()?;
            self.store.save(&record)?;
        }
        let home = OnceCell::new();
        let total = record.workers.len();
        let done = AtomicUsize::new(0);
        progress(StartProgress::Started { done: 0, total });
        let results: Vec<(u32, Result<Launched, String>)> = stream::iter(record.workers.clone())
            .map(|worker| {
                let (spec, home, id, done) = (&spec, &home, &id, &done);
                let pi_config = pi_config.as_ref();
                async move {
                    let result = self.start_worker(id, &worker, spec, home, pi_config).await;
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    progress(StartProgress::Started { done: n, total });
                    (worker.index, result.map_err(|e| e.to_string()))
                }
            })
            .buffer_unordered(self.limits.concurrency)
            .collect()
            .await;
        let (record, ()) = self
            .update(record, |record| {
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
            })
            .await?;
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
        pi_config: Option<&Staged>,
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
        let command = match &spec.task {
            Task::Command { command } => command.clone(),
            Task::Agent(task) => {
                if let Some(config) = pi_config {
                    config.upload(ws.target().as_ref(), &home).await?;
                }
                let dir = agent::dir(&home, swarm);
                agent::install(ws.target().as_ref(), &dir, task, worker.index).await?;
                agent::command(&dir, false)
            }
        };
        let run = Run {
            swarm,
            index: worker.index,
            cwd: spec.cwd.clone(),
            env: spec.env.clone(),
            timeout: spec.timeout,
            name: None,
        };
        let process = launch(&ws, command, run).await?;
        Ok(Launched { process, home })
    }
}

/// The local pi configuration, staged for upload, when the agent task asks for it.
async fn stage_pi_config(spec: &SwarmSpec) -> Result<Option<Staged>, SwarmError> {
    let Task::Agent(task) = &spec.task else {
        return Ok(None);
    };
    if !task.pi_config {
        return Ok(None);
    }
    let dir = match &spec.pi_dir {
        Some(dir) => dir.clone(),
        None => pi_config::local_dir()?,
    };
    let read = dir.clone();
    tokio::task::spawn_blocking(move || Staged::stage(&read, pi_config::MAX_BYTES))
        .await
        .map_err(|e| SwarmError::PiConfigRead {
            path: dir,
            source: std::io::Error::other(e),
        })?
        .map(Some)
}

/// How a worker's task (or an agent's follow-up run) is started.
pub(super) struct Run<'a> {
    pub swarm: &'a str,
    pub index: u32,
    pub cwd: Option<String>,
    /// The variables given for it (tether adds `TETHER_WORKER` and `TETHER_SWARM`).
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// The background process's name: none for a worker's task (a name makes the start scan
    /// the VM's other processes for a clash); [`FOLLOW_UP`] for a follow-up run, so two
    /// processes that start one at once get one run.
    pub name: Option<&'static str>,
}

/// The name of an agent's follow-up run: while one runs, starting another with the same
/// command returns it (a retried or concurrent start never makes a second).
pub(super) const FOLLOW_UP: &str = "tether-swarm-follow-up";

/// Starts `command` on the worker as a background process; its id.
pub(super) async fn launch(
    ws: &Workspace,
    command: String,
    run: Run<'_>,
) -> Result<String, SwarmError> {
    let mut env = run.env;
    env.push((WORKER_VAR.to_owned(), run.index.to_string()));
    env.push((SWARM_VAR.to_owned(), run.swarm.to_owned()));
    let bg = BgSpec {
        command,
        cwd: run.cwd,
        name: run.name.map(str::to_owned),
        env,
        timeout: run.timeout,
    };
    Ok(tether_tools::start_process(ws, bg).await?.id)
}
