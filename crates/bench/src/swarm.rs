//! The swarm scenario: N tasks started on N branches of one VM by [`Swarms::start`] (one
//! branch call, tasks started `concurrency` at a time as background processes), against the
//! same tasks done one VM at a time with the same client core (branch 1, connect, run in the
//! foreground, collect the output; then the next).
//!
//! Two moments are timed from the first call of a run:
//! - **running**: every task is running. For the swarm, when `start` returns (every worker's
//!   background process has been started). One at a time, when the last task's command is
//!   handed to `exec` (its VM branched and connected) — a little early, which favours the
//!   baseline.
//! - **gathered**: every task has finished and its output is in. For the swarm, when `wait`
//!   returns with every worker done and its output tail read; one at a time, when the last
//!   `exec` returns.
//!
//! Workers are deleted after each run, untimed. Swarm and one-at-a-time runs alternate (which
//! goes first alternates too), so drift on a shared machine hits both sides alike.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use tether_router::{Backend, Router, Silent, StateDir};
use tether_swarm::{
    Limits, StartProgress, SwarmSpec, Swarms, Task, WORKER_VAR, WorkerState, WorkerStatus,
};
use tether_target::Target;
use tether_testkit::{Api, Sim};
use tether_transport::{ExecOutcome, ExecSpec};
use tether_vers::{BranchSource, StaticEnv, VersClient};
use tether_wire::BranchQuery;

use crate::Samples;
use crate::lab::tether_binary;

/// How long one swarm's `wait` may take before the run fails.
const WAIT_DEADLINE: Duration = Duration::from_secs(300);

/// One task every worker runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// The shell command; it prints `$TETHER_WORKER`, which each run checks.
    pub command: String,
}

impl Workload {
    /// `echo $TETHER_WORKER`: nothing but the overhead.
    pub fn echo() -> Workload {
        Workload {
            command: format!("echo ${WORKER_VAR}"),
        }
    }

    /// `sleep <secs>; echo $TETHER_WORKER`: a task that waits, as agents mostly do.
    pub fn sleep(secs: &str) -> Workload {
        Workload {
            command: format!("sleep {secs}; echo ${WORKER_VAR}"),
        }
    }
}

/// How much the swarm scenario measures.
#[derive(Clone, Debug)]
pub struct SwarmPlan {
    /// Workers per swarm, and tasks done one at a time.
    pub workers: u32,
    /// Runs of each side per workload (the median is reported).
    pub runs: usize,
    /// The tasks, each measured on both sides.
    pub workloads: Vec<Workload>,
    /// The swarm's limits (concurrency); [`Limits::from_env`] by default.
    pub limits: Limits,
}

impl SwarmPlan {
    /// The run the README's figures come from: 32 workers, 3 runs of each side (≈ 4 minutes
    /// on two cores, most of it the one-at-a-time `sleep 2` runs).
    pub fn full() -> SwarmPlan {
        SwarmPlan {
            workers: 32,
            runs: 3,
            workloads: vec![Workload::echo(), Workload::sleep("2")],
            limits: Limits::from_env(),
        }
    }

    /// A short run that checks the scenario works (`TETHER_BENCH_QUICK=1`).
    pub fn quick() -> SwarmPlan {
        SwarmPlan {
            workers: 8,
            runs: 1,
            ..SwarmPlan::full()
        }
    }

    /// The smallest run, for the test that keeps the scenario from rotting.
    pub fn tiny() -> SwarmPlan {
        SwarmPlan {
            workers: 2,
            runs: 1,
            workloads: vec![Workload::echo(), Workload::sleep("0.2")],
            limits: Limits::from_env(),
        }
    }
}

/// The times of one run of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// From the first call until every task was running.
    pub running: Duration,
    /// From the first call until every task's output was in.
    pub gathered: Duration,
    /// Of that, time spent in branch calls (the swarm's one call; the sum of one-at-a-time's).
    pub branching: Duration,
    /// One at a time: time spent connecting to each new VM (`Router::target`), summed. The
    /// swarm connects while it starts tasks, so this is zero for it.
    pub connecting: Duration,
}

/// Every run of both sides for one workload.
#[derive(Clone, Debug, Default)]
pub struct SideBySide {
    /// The command.
    pub command: String,
    /// The swarm's runs.
    pub swarm: Vec<Timing>,
    /// The one-at-a-time runs.
    pub serial: Vec<Timing>,
}

impl SideBySide {
    /// One figure of the swarm's runs.
    pub fn swarm(&self, pick: fn(&Timing) -> Duration) -> Samples {
        Samples::from_times(self.swarm.iter().map(pick).collect())
    }

    /// One figure of the one-at-a-time runs.
    pub fn serial(&self, pick: fn(&Timing) -> Duration) -> Samples {
        Samples::from_times(self.serial.iter().map(pick).collect())
    }
}

/// A whole swarm-scenario run.
#[derive(Clone, Debug, Default)]
pub struct SwarmResults {
    /// Workers per swarm.
    pub workers: u32,
    /// The swarm's concurrency.
    pub concurrency: usize,
    /// Per workload, in the plan's order.
    pub workloads: Vec<SideBySide>,
}

/// Starts a simulator with one source VM and measures everything in `plan`. Progress goes
/// to stderr.
pub async fn run_swarm(plan: &SwarmPlan) -> anyhow::Result<SwarmResults> {
    ensure!(plan.workers > 0 && plan.runs > 0, "nothing to measure");
    let rig = Rig::start(plan.limits).await?;
    let mut results = SwarmResults {
        workers: plan.workers,
        concurrency: plan.limits.concurrency,
        workloads: Vec::new(),
    };
    for workload in &plan.workloads {
        let mut side = SideBySide {
            command: workload.command.clone(),
            ..SideBySide::default()
        };
        for run in 0..plan.runs {
            let progress = |what: &str, t: &Timing| {
                eprintln!(
                    "tether-bench: `{}` run {}/{}: {what}: running {:.3} s, gathered {:.3} s",
                    workload.command,
                    run + 1,
                    plan.runs,
                    t.running.as_secs_f64(),
                    t.gathered.as_secs_f64()
                );
            };
            // Alternate which side goes first.
            if run % 2 == 0 {
                let t = rig.swarm(workload, plan.workers).await?;
                progress("swarm", &t);
                side.swarm.push(t);
                let t = rig.one_at_a_time(workload, plan.workers).await?;
                progress("one at a time", &t);
                side.serial.push(t);
            } else {
                let t = rig.one_at_a_time(workload, plan.workers).await?;
                progress("one at a time", &t);
                side.serial.push(t);
                let t = rig.swarm(workload, plan.workers).await?;
                progress("swarm", &t);
                side.swarm.push(t);
            }
        }
        results.workloads.push(side);
    }
    Ok(results)
}

/// A simulator, its source VM, and tether's client core on it: one router (one connection
/// pool) shared by both sides.
struct Rig {
    sim: Sim,
    source: String,
    swarms: Swarms,
    _state: tempfile::TempDir,
}

impl Rig {
    async fn start(limits: Limits) -> anyhow::Result<Rig> {
        let sim = Sim::start(tether_binary()?).await?;
        let source = sim.api().new_vm().await?;
        let state = tempfile::Builder::new()
            .prefix("tether-bench-swarm-")
            .tempdir()?;
        let swarms = Swarms::new(router(&sim, &state)?, limits);
        let rig = Rig {
            sim,
            source,
            swarms,
            _state: state,
        };
        // Untimed: the pool, the source's key and connection, so neither side pays for them.
        let out = exec(
            rig.router().target(&rig.source).await?.as_ref(),
            "echo hi",
            0,
        )
        .await?;
        ensure!(out == "hi\n", "the source VM said {out:?}");
        Ok(rig)
    }

    fn router(&self) -> &Arc<Router> {
        self.swarms.router()
    }

    fn api(&self) -> Api {
        self.sim.api()
    }

    /// One swarm of `workers` running `workload`, gathered, then deleted (untimed).
    async fn swarm(&self, workload: &Workload, workers: u32) -> anyhow::Result<Timing> {
        let spec = SwarmSpec {
            source: self.source.clone(),
            count: u64::from(workers),
            task: Task::Command {
                command: workload.command.clone(),
            },
            timeout: None,
            env: Vec::new(),
            cwd: None,
            pi_dir: None,
        };
        let branched: Mutex<Option<Instant>> = Mutex::new(None);
        let on_progress = |p: StartProgress| {
            // `Started { done: 0 }` comes right after the one branch call (and the record).
            if let StartProgress::Started { done: 0, .. } = p
                && let Ok(mut at) = branched.lock()
            {
                *at = Some(Instant::now());
            }
        };
        let start = Instant::now();
        let started = self.swarms.start(spec, &on_progress).await?;
        let running = start.elapsed();
        let id = started.swarm_id.clone();
        let branching = branched
            .lock()
            .ok()
            .and_then(|at| *at)
            .map_or(Duration::ZERO, |at| at - start);
        let gathered = self
            .swarms
            .wait(Some(&id), WAIT_DEADLINE, &mut |_| {}, None)
            .await;
        let gathered_at = start.elapsed();
        let (status, deleted) = self.swarms.stop(Some(&id), true).await?;
        ensure!(
            deleted.failed.is_empty(),
            "workers not deleted: {:?}",
            deleted.failed
        );
        self.no_workers_left().await?;
        all_started(&started.workers)?;
        let gathered = gathered?;
        ensure!(
            gathered.status.finished && !gathered.deadline_reached,
            "the swarm did not finish in {WAIT_DEADLINE:?}: {}",
            status.text()
        );
        ensure!(
            gathered.status.workers.len() == workers as usize,
            "{} workers gathered, not {workers}",
            gathered.status.workers.len()
        );
        for w in &gathered.status.workers {
            let tail = w.tail.as_deref().unwrap_or_default();
            ensure!(
                w.state == WorkerState::Done && tail == format!("{}\n", w.index),
                "worker {} ended {} with output {tail:?}",
                w.index,
                w.state.describe()
            );
        }
        Ok(Timing {
            running,
            gathered: gathered_at,
            branching,
            connecting: Duration::ZERO,
        })
    }

    /// The same tasks one VM at a time: branch one VM, connect, run the task in the
    /// foreground and collect its output; then the next. The VMs are deleted after (untimed).
    async fn one_at_a_time(&self, workload: &Workload, workers: u32) -> anyhow::Result<Timing> {
        let router = self.router();
        let source = BranchSource::Vm(self.source.clone());
        let mut vms = Vec::new();
        let mut outputs = Vec::new();
        let mut branching = Duration::ZERO;
        let mut connecting = Duration::ZERO;
        let mut running = Duration::ZERO;
        let start = Instant::now();
        let result: anyhow::Result<()> = async {
            for index in 0..workers {
                let before = Instant::now();
                let query = BranchQuery {
                    count: Some(1),
                    keep_paused: None,
                    skip_wait_boot: None,
                };
                let ids = router.vers().branch(&source, query).await?;
                branching += before.elapsed();
                vms.extend(ids.iter().cloned());
                let [vm] = ids.as_slice() else {
                    bail!("a branch of 1 made {} VMs", ids.len());
                };
                let before = Instant::now();
                let target = router.target(vm).await?;
                connecting += before.elapsed();
                running = start.elapsed();
                outputs.push(exec(target.as_ref(), &workload.command, index).await?);
            }
            Ok(())
        }
        .await;
        let gathered = start.elapsed();
        for vm in &vms {
            router.vers().delete_vm(vm).await?;
            router.forget(vm).await;
        }
        self.no_workers_left().await?;
        result?;
        for (index, out) in outputs.iter().enumerate() {
            ensure!(*out == format!("{index}\n"), "task {index} printed {out:?}");
        }
        Ok(Timing {
            running,
            gathered,
            branching,
            connecting,
        })
    }

    /// Fails unless the source is the only VM.
    async fn no_workers_left(&self) -> anyhow::Result<()> {
        let vms = self.api().vm_ids().await?;
        ensure!(
            vms == [self.source.clone()],
            "VMs left behind: {} besides the source",
            vms.len().saturating_sub(1)
        );
        Ok(())
    }
}

/// Fails unless every worker's task was started.
fn all_started(workers: &[WorkerStatus]) -> anyhow::Result<()> {
    for w in workers {
        ensure!(
            w.state == WorkerState::Running,
            "worker {} did not start: {}",
            w.index,
            w.line()
        );
    }
    Ok(())
}

/// Runs `command` in the foreground on `target` with `TETHER_WORKER=index`; its stdout, after
/// checking it exited 0.
async fn exec(target: &dyn Target, command: &str, index: u32) -> anyhow::Result<String> {
    let spec = ExecSpec {
        env: vec![(WORKER_VAR.to_owned(), index.to_string())],
        ..ExecSpec::shell(command)
    };
    let mut stdout = Vec::new();
    let outcome = target
        .exec(spec, &mut |_, bytes| stdout.extend_from_slice(bytes), None)
        .await?;
    let out = String::from_utf8_lossy(&stdout).into_owned();
    if outcome != ExecOutcome::Exited(0) {
        bail!("`{command}` ended {outcome:?} with output {out:?}");
    }
    Ok(out)
}

/// A router on the simulator, as tether's front ends make one for a Vers API, with its state
/// (pins, swarm records) in `state`.
fn router(sim: &Sim, state: &tempfile::TempDir) -> anyhow::Result<Arc<Router>> {
    let info = sim.info();
    let ca = info
        .ca_cert
        .to_str()
        .context("the simulator's CA path is not UTF-8")?;
    let source = StaticEnv::new(None)
        .with("VERS_URL", &info.vers_url)
        .with("VERS_API_KEY", &info.api_key)
        .with("TETHER_VM_DOMAIN", &info.vm_domain)
        .with("TETHER_SSH_GATEWAY", &info.ssh_gateway)
        .with("TETHER_CA_CERT", ca);
    Ok(Arc::new(Router::new(
        VersClient::with_source(Arc::new(source)),
        Backend::Vers,
        StateDir::at(state.path().join("state")),
        Arc::new(Silent),
    )))
}
