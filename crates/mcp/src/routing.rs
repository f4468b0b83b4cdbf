//! Where the agent's tools run: this machine, or the active VM. The one place that knows how
//! a VM id becomes a [`Workspace`] (through [`tether_router::Router`], connected on first use
//! so that local work never needs the Vers API).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tether_router::{Router, RouterOptions, StateDir, Tunnels};
use tether_swarm::{Limits, Swarms};
use tether_tools::Workspace;
use tokio::sync::OnceCell;

use crate::McpError;
use crate::progress::ProgressHub;

/// How to reach the Vers API (or the local simulator standing in for it).
#[derive(Clone, Debug)]
pub struct McpOptions {
    /// tether's state directory (pinned host keys, the embedded simulator's record).
    pub state: StateDir,
    /// With no Vers key configured, use (and if needed start) the local simulator.
    pub auto_sim: bool,
    /// The `tether` executable that runs the simulator.
    pub tether_exe: PathBuf,
    /// The simulator's data directory.
    pub sim_data_dir: PathBuf,
}

impl McpOptions {
    /// Options from the process environment, as the CLI reads them.
    pub fn from_env() -> Result<McpOptions, McpError> {
        let options = RouterOptions::from_env(Arc::new(tether_router::Silent))?;
        Ok(McpOptions {
            state: options.state,
            auto_sim: options.auto_sim,
            tether_exe: options.tether_exe,
            sim_data_dir: options.sim_data_dir,
        })
    }
}

/// Which machine the tools use now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// This machine.
    Local,
    /// The VM with this (full) id.
    Vm(String),
}

/// The session's routing state.
pub(crate) struct Routing {
    options: McpOptions,
    progress: ProgressHub,
    router: OnceCell<Arc<Router>>,
    swarms: OnceCell<Arc<Swarms>>,
    local: Workspace,
    vms: Mutex<HashMap<String, Workspace>>,
    active: Mutex<Place>,
    tunnels: Tunnels,
}

impl Routing {
    pub(crate) fn new(options: McpOptions, progress: ProgressHub, local: Workspace) -> Routing {
        Routing {
            options,
            progress,
            router: OnceCell::new(),
            swarms: OnceCell::new(),
            local,
            vms: Mutex::new(HashMap::new()),
            active: Mutex::new(Place::Local),
            tunnels: Tunnels::default(),
        }
    }

    /// The router, connected on first use.
    pub(crate) async fn router(&self) -> Result<Arc<Router>, McpError> {
        let router = self.router.get_or_try_init(|| async {
            let options = RouterOptions {
                state: self.options.state.clone(),
                auto_sim: self.options.auto_sim,
                tether_exe: self.options.tether_exe.clone(),
                sim_data_dir: self.options.sim_data_dir.clone(),
                progress: Arc::new(self.progress.clone()),
            };
            let router = Router::connect(options).await?;
            if let Some(notice) = router.notice() {
                tracing::info!("{notice}");
            }
            Ok::<_, McpError>(Arc::new(router))
        });
        Ok(router.await?.clone())
    }

    /// The session's swarms (through the router; limits from the environment), made on first
    /// use.
    pub(crate) async fn swarms(&self) -> Result<Arc<Swarms>, McpError> {
        let swarms = self.swarms.get_or_try_init(|| async {
            let router = self.router().await?;
            Ok::<_, McpError>(Arc::new(Swarms::new(router, Limits::from_env())))
        });
        Ok(swarms.await?.clone())
    }

    /// The active VM's id, if the tools run on a VM.
    pub(crate) fn active_vm(&self) -> Option<String> {
        match self.place() {
            Place::Vm(vm_id) => Some(vm_id),
            Place::Local => None,
        }
    }

    /// The session's tunnels (`vm_tunnel`).
    pub(crate) fn tunnels(&self) -> &Tunnels {
        &self.tunnels
    }

    /// Where the tools run now.
    pub(crate) fn place(&self) -> Place {
        lock(&self.active).clone()
    }

    /// The workspace the tools use now.
    pub(crate) async fn workspace(&self) -> Result<Workspace, McpError> {
        match self.place() {
            Place::Local => Ok(self.local.clone()),
            Place::Vm(vm_id) => self.vm_workspace(&vm_id).await,
        }
    }

    /// This machine's workspace.
    pub(crate) fn local(&self) -> &Workspace {
        &self.local
    }

    /// The VM named by `query` (a full id or a unique prefix): its full id.
    pub(crate) async fn resolve(&self, query: &str) -> Result<String, McpError> {
        Ok(self.router().await?.resolve_vm(query).await?)
    }

    /// The workspace of the VM `vm_id` (a full id): connected, resumed if paused, and its
    /// login directory found the first time.
    pub(crate) async fn vm_workspace(&self, vm_id: &str) -> Result<Workspace, McpError> {
        if let Some(ws) = lock(&self.vms).get(vm_id) {
            return Ok(ws.clone());
        }
        let target = self.router().await?.target(vm_id).await?;
        let ws = Workspace::discover(target).await?;
        lock(&self.vms).insert(vm_id.to_owned(), ws.clone());
        Ok(ws)
    }

    /// Routes the tools to `vm_id` (a full id) from now on.
    pub(crate) async fn use_vm(&self, vm_id: &str) -> Result<Workspace, McpError> {
        let ws = self.vm_workspace(vm_id).await?;
        *lock(&self.active) = Place::Vm(vm_id.to_owned());
        Ok(ws)
    }

    /// Routes the tools to this machine; returns where they went before.
    pub(crate) fn go_local(&self) -> Place {
        std::mem::replace(&mut *lock(&self.active), Place::Local)
    }

    /// Drops the connection to `vm_id` after its state changed (the next use resumes it).
    pub(crate) async fn reconnect(&self, vm_id: &str) {
        if let Some(router) = self.router.get() {
            router.forget(vm_id).await;
        }
    }

    /// Forgets the deleted VM `vm_id`; returns whether it was active, in which case the tools
    /// now run locally.
    pub(crate) async fn forget(&self, vm_id: &str) -> bool {
        lock(&self.vms).remove(vm_id);
        self.tunnels.close_vm(vm_id);
        self.reconnect(vm_id).await;
        let mut active = lock(&self.active);
        let was_active = *active == Place::Vm(vm_id.to_owned());
        if was_active {
            *active = Place::Local;
        }
        was_active
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
