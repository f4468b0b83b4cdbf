//! A simulator, a router on it, and the [`Swarms`] under test.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tether_router::{Backend, Router, Silent, StateDir};
use tether_swarm::{Limits, StartProgress, SwarmSpec, Swarms, Task};
use tether_testkit::{Sim, tether_binary};
use tether_vers::{StaticEnv, VersClient};

/// Long enough for any one step on a loaded 2-core machine, short enough to fail fast.
pub const STEP: Duration = Duration::from_secs(120);

/// A simulator with a source VM, and swarms on it kept in a scratch state directory.
pub struct Rig {
    pub sim: Sim,
    pub source: String,
    pub swarms: Swarms,
    state: TempDir,
}

impl Rig {
    /// Starts a simulator and a source VM.
    pub async fn start(limits: Limits) -> anyhow::Result<Rig> {
        let sim = Sim::start(tether_binary()?).await?;
        let source = sim.api().new_vm().await?;
        let state = tempfile::tempdir()?;
        let swarms = Swarms::new(router(&sim, &state), limits);
        Ok(Rig {
            sim,
            source,
            swarms,
            state,
        })
    }

    /// Another process's view: a new router and new swarms on the same state directory.
    pub fn fresh(&self) -> Swarms {
        Swarms::new(router(&self.sim, &self.state), self.swarms.limits())
    }

    /// The ids of every VM, as the API lists them.
    pub async fn vms(&self) -> anyhow::Result<BTreeSet<String>> {
        Ok(self.sim.api().vm_ids().await?.into_iter().collect())
    }

    /// Runs `script` on `vm` (through the API's exec) and returns its stdout.
    pub async fn sh(&self, vm: &str, script: &str) -> anyhow::Result<String> {
        self.sim.api().sh(vm, script).await
    }
}

fn router(sim: &Sim, state: &TempDir) -> Arc<Router> {
    let info = sim.info();
    let source = info
        .client_env()
        .into_iter()
        .fold(StaticEnv::new(None), |env, (name, value)| {
            env.with(name, &value)
        });
    Arc::new(Router::new(
        VersClient::with_source(Arc::new(source)),
        Backend::Vers,
        StateDir::at(state.path().join("state")),
        Arc::new(Silent),
    ))
}

/// A command swarm of `count` from `source`.
pub fn command(source: &str, count: u64, command: &str) -> SwarmSpec {
    SwarmSpec {
        source: source.to_owned(),
        count,
        task: Task::Command {
            command: command.to_owned(),
        },
        timeout: None,
        env: Vec::new(),
        cwd: None,
        pi_dir: None,
    }
}

/// Ignores start progress.
pub fn quiet(_: StartProgress) {}
