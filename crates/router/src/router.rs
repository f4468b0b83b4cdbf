//! [`Router`]: the Vers client (or the local simulator standing in for it), one connection
//! pool, VM access with keys held in memory, id resolution and the default VM.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tether_target::{RemoteTarget, Target};
use tether_transport::{Pool, Session, TransportConfig};
use tether_vers::{ProcessEnv, Settings, VersClient};
use tokio::sync::OnceCell;

use crate::local_sim::{self, LocalSim, SimSource};
use crate::{ActiveVm, Defaults, Progress, RouterError, StateDir, VmAccess, resolve};

/// The environment variable that turns the embedded simulator off (`1`).
pub const NO_AUTO_SIM: &str = "TETHER_NO_AUTO_SIM";

/// How a front end wants the router set up.
pub struct RouterOptions {
    /// tether's state directory.
    pub state: StateDir,
    /// With no Vers key configured, use (and if needed start) the local simulator.
    pub auto_sim: bool,
    /// The `tether` executable that runs the simulator.
    pub tether_exe: PathBuf,
    /// The simulator's data directory.
    pub sim_data_dir: PathBuf,
    /// Where waits are reported.
    pub progress: Arc<dyn Progress>,
}

impl RouterOptions {
    /// Options from the process environment: the state directory, [`NO_AUTO_SIM`], this
    /// executable, the simulator's default data directory.
    pub fn from_env(progress: Arc<dyn Progress>) -> Result<RouterOptions, RouterError> {
        let state = StateDir::locate()?;
        let tether_exe = std::env::current_exe().map_err(|e| RouterError::SimStart {
            reason: format!("the tether executable cannot be located: {e}"),
            log: state.root().join("sim.log"),
        })?;
        let sim_data_dir = local_sim::default_sim_data_dir().ok_or(RouterError::NoStateDir)?;
        let auto_sim = std::env::var(NO_AUTO_SIM).map_or(true, |v| v.trim() != "1");
        Ok(RouterOptions {
            state,
            auto_sim,
            tether_exe,
            sim_data_dir,
            progress,
        })
    }
}

/// Which API tether talks to.
#[derive(Clone, Debug)]
pub enum Backend {
    /// Vers (or whatever `VERS_URL` names), configured by the environment and `~/.versrc`.
    Vers,
    /// The local simulator, used because no Vers key is configured.
    Simulator(LocalSim),
}

/// What every front end shares: the API client, the connection pool, VM access, the default VM.
pub struct Router {
    vers: VersClient,
    backend: Backend,
    state: StateDir,
    progress: Arc<dyn Progress>,
    pool: OnceCell<Arc<Pool>>,
    vms: Mutex<HashMap<String, Arc<VmAccess>>>,
}

impl Router {
    /// A router for the configured Vers API, or for the local simulator (started if needed)
    /// when no key is configured and `options.auto_sim` is set.
    pub async fn connect(options: RouterOptions) -> Result<Router, RouterError> {
        let settings = Settings::resolve(&ProcessEnv)?;
        if settings.api_key.is_some() || !options.auto_sim {
            let vers = VersClient::new();
            return Ok(Router::new(
                vers,
                Backend::Vers,
                options.state,
                options.progress,
            ));
        }
        let sim = local_sim::ensure_local_sim(
            &options.state,
            &options.tether_exe,
            &options.sim_data_dir,
            options.progress.as_ref(),
        )
        .await?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let vers = VersClient::with_source(Arc::new(SimSource::new(sim.record.clone(), home)));
        let backend = Backend::Simulator(sim);
        Ok(Router::new(vers, backend, options.state, options.progress))
    }

    /// A router over an existing client (tests, embedding).
    pub fn new(
        vers: VersClient,
        backend: Backend,
        state: StateDir,
        progress: Arc<dyn Progress>,
    ) -> Router {
        Router {
            vers,
            backend,
            state,
            progress,
            pool: OnceCell::new(),
            vms: Mutex::new(HashMap::new()),
        }
    }

    /// The Vers API client.
    pub fn vers(&self) -> &VersClient {
        &self.vers
    }

    /// Which API is in use.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// tether's state directory.
    pub fn state(&self) -> &StateDir {
        &self.state
    }

    /// Where waits are reported.
    pub fn progress(&self) -> &Arc<dyn Progress> {
        &self.progress
    }

    /// The line to show a person when this process started the local simulator (a simulator
    /// that was already running is not announced again on every command; `tether status`
    /// always says which API is in use).
    pub fn notice(&self) -> Option<String> {
        let Backend::Simulator(sim) = &self.backend else {
            return None;
        };
        if !sim.started {
            return None;
        }
        Some(format!(
            "no Vers API key configured: started the local simulator (pid {}, data in {}); \
             it keeps running for the next commands; set VERS_API_KEY to use Vers, or \
             {NO_AUTO_SIM}=1 to turn this off",
            sim.record.pid,
            sim.record.data_dir.display()
        ))
    }

    /// The connection pool (made on first use; pins host keys in the state directory and
    /// trusts the configured extra CA).
    pub async fn pool(&self) -> Result<Arc<Pool>, RouterError> {
        let pool = self.pool.get_or_try_init(|| async {
            let settings = self.vers.settings()?;
            self.state.ensure()?;
            let mut config = TransportConfig::new(self.state.known_hosts());
            config.extra_ca = settings.ca_cert;
            Ok::<_, RouterError>(Arc::new(Pool::new(config)?))
        });
        Ok(pool.await?.clone())
    }

    /// Access to `vm_id` (one per VM for the router's life: its key is fetched once).
    pub fn access(&self, vm_id: &str) -> Arc<VmAccess> {
        let mut vms = match self.vms.lock() {
            Ok(vms) => vms,
            Err(poisoned) => poisoned.into_inner(),
        };
        vms.entry(vm_id.to_owned())
            .or_insert_with(|| {
                Arc::new(VmAccess::new(
                    vm_id,
                    self.vers.clone(),
                    self.progress.clone(),
                ))
            })
            .clone()
    }

    /// The VM `vm_id` as a [`Target`], running (resumed or waited for) and with its key
    /// fetched, so a missing VM is reported here rather than by the first operation.
    pub async fn target(&self, vm_id: &str) -> Result<Arc<dyn Target>, RouterError> {
        let access = self.access(vm_id);
        access.connect_info().await?;
        let pool = self.pool().await?;
        Ok(Arc::new(RemoteTarget::new(pool, access)))
    }

    /// A live SSH session to `vm_id` (resumed or waited for first).
    pub async fn session(&self, vm_id: &str) -> Result<Arc<Session>, RouterError> {
        let (endpoint, key) = self.access(vm_id).connect_info().await?;
        Ok(self.pool().await?.session(&endpoint, &key).await?)
    }

    /// Drops what is known about `vm_id`'s state and connection (after a pause or delete).
    pub async fn forget(&self, vm_id: &str) {
        let access = self.access(vm_id);
        access.mark_stale();
        if let (Ok(endpoint), Some(pool)) = (access.endpoint(), self.pool.get()) {
            pool.forget(&endpoint).await;
        }
    }

    /// The VM id `query` names (a full id, or a unique prefix of a listed one).
    pub async fn resolve_vm(&self, query: &str) -> Result<String, RouterError> {
        resolve::resolve_vm(&self.vers, query).await
    }

    /// The commit id `query` names (a full id, or a unique prefix of a listed one).
    pub async fn resolve_commit(&self, query: &str) -> Result<String, RouterError> {
        resolve::resolve_commit(&self.vers, query).await
    }

    /// The default VM, kept for the API in use: per API URL, or per data directory for the
    /// local simulator (whose port changes when it restarts).
    pub fn defaults(&self) -> Result<Defaults, RouterError> {
        Ok(Defaults::new(self.state.clone(), self.api_identity()?))
    }

    /// Which API this is, stably: its URL, or the local simulator's data directory (whose
    /// port changes when it restarts). State kept per API (the default VM, swarms) is keyed
    /// by it.
    pub fn api_identity(&self) -> Result<String, RouterError> {
        Ok(match &self.backend {
            Backend::Simulator(sim) => {
                format!("local-simulator:{}", sim.record.data_dir.display())
            }
            Backend::Vers => self.vers.settings()?.api_url.to_string(),
        })
    }

    /// Where the default VM comes from, seen from `cwd`.
    pub fn active(&self, cwd: &Path) -> Result<ActiveVm, RouterError> {
        self.defaults()?.active(cwd)
    }

    /// The VM `query` names, or the default VM when `query` is `None`.
    pub async fn vm_or_default(
        &self,
        query: Option<&str>,
        cwd: &Path,
    ) -> Result<String, RouterError> {
        match query {
            Some(query) => self.resolve_vm(query).await,
            None => Ok(self.active(cwd)?.require()?.to_owned()),
        }
    }
}
