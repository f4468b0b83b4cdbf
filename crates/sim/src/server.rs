//! Starting and stopping the whole simulator: state, CA, listeners, VMs.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tether_sandbox::SandboxConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::{self, AppState};
use crate::backend::{Backend, BackendChoice, BackendKind, NamespaceBackend};
use crate::ca::CertificateAuthority;
use crate::datadir::DataDir;
use crate::error::SimError;
use crate::registry::Registry;

/// The domain VMs are named under: `<vm_id>.vm.tether.localhost` (`.localhost` never leaves
/// the machine, and the gateway's certificate covers `*.vm.tether.localhost`).
pub const VM_DOMAIN: &str = "vm.tether.localhost";

/// How long in-flight HTTP requests may take to finish once shutdown has begun.
const HTTP_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the gateway may take to stop once shutdown has begun.
const GATEWAY_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How to run a simulator.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Address of the HTTP API (plain HTTP; loopback is the intended use).
    pub listen: SocketAddr,
    /// Address of the SSH-over-TLS gateway; default: the API's IP, any port.
    pub gateway_listen: Option<SocketAddr>,
    /// Where state, disks, commits and the CA live (created if missing).
    pub data_dir: PathBuf,
    /// Bearer key to require for this run; default: the key stored in the data directory
    /// (generated on first start).
    pub api_key: Option<String>,
    /// How VMs' init processes are started (namespace backend).
    pub sandbox: SandboxConfig,
    /// Which backend runs VMs; default: [`BackendChoice::Auto`].
    pub backend: BackendChoice,
}

impl SimConfig {
    /// A simulator on `127.0.0.1`, ports chosen by the OS, with its state in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>, sandbox: SandboxConfig) -> SimConfig {
        SimConfig {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            gateway_listen: None,
            data_dir: data_dir.into(),
            api_key: None,
            sandbox,
            backend: BackendChoice::Auto,
        }
    }
}

/// What a client needs to use a running simulator (`tether sim` prints it as its first line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimInfo {
    /// Base URL of the HTTP API, without `/api/v1` (what `VERS_URL` would be).
    pub vers_url: String,
    /// Bearer key for the API.
    pub api_key: String,
    /// `host:port` of the SSH-over-TLS gateway (Vers: `<vm>.vm.vers.sh:443`).
    pub ssh_gateway: String,
    /// Domain VMs are named under.
    pub vm_domain: String,
    /// CA certificate (PEM) that verifies the gateway.
    pub ca_cert: PathBuf,
    /// The data directory (absolute).
    pub data_dir: PathBuf,
    /// What runs the VMs (`"namespaces"`).
    pub backend: BackendKind,
}

/// A running simulator. Call [`RunningSim::shutdown`] to stop it: dropping it does not stop
/// its VMs.
pub struct RunningSim {
    info: SimInfo,
    gateway_addr: SocketAddr,
    registry: Arc<Registry>,
    cancel: CancellationToken,
    api: JoinHandle<std::io::Result<()>>,
    gateway: JoinHandle<std::io::Result<()>>,
    /// The data directory's lock, released when the simulator is gone.
    _lock: File,
}

/// Starts a simulator: opens (or creates) the data directory, boots every VM recorded there,
/// and serves the API and the gateway.
pub async fn start(config: SimConfig) -> Result<RunningSim, SimError> {
    let data = DataDir::open(&config.data_dir)?;
    let ca = CertificateAuthority::load_or_create(data.layout.root(), VM_DOMAIN)?;
    let listeners = Listeners::bind(&config).await?;
    let first = data.identity.clone();
    let api_key = config.api_key.clone().unwrap_or(first.api_key.clone());
    let data_dir = data.layout.root().to_path_buf();
    let backend: Arc<dyn Backend> = match config.backend.resolve() {
        BackendKind::Namespaces => Arc::new(NamespaceBackend::new(config.sandbox)),
    };
    let kind = backend.kind();
    let registry = Registry::new(data.db, data.layout, backend);
    if let Err(err) = registry.restore_all().await {
        let _ = registry.shutdown_all().await;
        return Err(err);
    }
    let info = SimInfo {
        vers_url: format!("http://{}", reachable(listeners.api_addr)),
        api_key,
        ssh_gateway: reachable(listeners.gateway_addr).to_string(),
        vm_domain: VM_DOMAIN.to_owned(),
        ca_cert: ca.ca_cert_path().to_path_buf(),
        data_dir,
        backend: kind,
    };
    tracing::info!(
        vers_url = info.vers_url,
        ssh_gateway = info.ssh_gateway,
        backend = %info.backend,
        "simulator started"
    );
    let keys = Keys {
        api_key_override: config.api_key.map(Into::into),
        first_owner: first.owner_id.into(),
    };
    Ok(listeners.serve(info, &ca, registry, keys, data.lock))
}

/// How the API checks keys.
struct Keys {
    api_key_override: Option<Arc<str>>,
    first_owner: Arc<str>,
}

/// The two bound listeners.
struct Listeners {
    api: TcpListener,
    api_addr: SocketAddr,
    gateway: TcpListener,
    gateway_addr: SocketAddr,
}

impl Listeners {
    async fn bind(config: &SimConfig) -> Result<Listeners, SimError> {
        let gateway_at = config
            .gateway_listen
            .unwrap_or(SocketAddr::new(config.listen.ip(), 0));
        let api = bind("HTTP API", config.listen).await?;
        let gateway = bind("SSH gateway", gateway_at).await?;
        let api_addr = local_addr("HTTP API", &api, config.listen)?;
        let gateway_addr = local_addr("SSH gateway", &gateway, gateway_at)?;
        Ok(Listeners {
            api,
            api_addr,
            gateway,
            gateway_addr,
        })
    }

    /// Spawns the gateway and the API server.
    fn serve(
        self,
        info: SimInfo,
        ca: &CertificateAuthority,
        registry: Arc<Registry>,
        keys: Keys,
        lock: File,
    ) -> RunningSim {
        let cancel = CancellationToken::new();
        let tls = ca.server_config();
        let directory = Arc::clone(&registry);
        let gateway_task = crate::gateway::serve(
            self.gateway,
            tls,
            VM_DOMAIN.to_owned(),
            directory,
            cancel.child_token(),
        );
        let state = AppState {
            registry: Arc::clone(&registry),
            api_key_override: keys.api_key_override,
            first_owner: keys.first_owner,
            ssh_port: self.gateway_addr.port(),
            vm_domain: VM_DOMAIN.into(),
        };
        RunningSim {
            info,
            gateway_addr: self.gateway_addr,
            registry,
            api: tokio::spawn(serve_api(self.api, state, cancel.clone())),
            gateway: tokio::spawn(gateway_task),
            cancel,
            _lock: lock,
        }
    }
}

async fn serve_api(
    listener: TcpListener,
    state: AppState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
}

impl RunningSim {
    /// Everything a client needs, as `tether sim` prints it.
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// Base URL of the API (`http://127.0.0.1:PORT`), without `/api/v1`.
    pub fn vers_url(&self) -> &str {
        &self.info.vers_url
    }

    /// Bearer key for the API.
    pub fn api_key(&self) -> &str {
        &self.info.api_key
    }

    /// Address of the SSH-over-TLS gateway.
    pub fn ssh_gateway(&self) -> SocketAddr {
        self.gateway_addr
    }

    /// Domain VMs are named under (`<vm_id>.<vm_domain>`).
    pub fn vm_domain(&self) -> &str {
        &self.info.vm_domain
    }

    /// Path of the CA certificate that verifies the gateway.
    pub fn ca_cert(&self) -> &Path {
        &self.info.ca_cert
    }

    /// Stops the listeners and shuts down every VM (their disks and records stay for the next
    /// start). Fails only if a VM could not be shut down.
    pub async fn shutdown(self) -> Result<(), SimError> {
        self.cancel.cancel();
        let vms = self.registry.shutdown_all().await;
        stop_task("HTTP API", self.api, HTTP_DRAIN_TIMEOUT).await;
        stop_task("SSH gateway", self.gateway, GATEWAY_STOP_TIMEOUT).await;
        tracing::info!("simulator stopped");
        vms
    }
}

/// Waits for a server task to end; aborts it after `timeout` (its VMs are already down).
async fn stop_task(what: &'static str, task: JoinHandle<std::io::Result<()>>, timeout: Duration) {
    let abort = task.abort_handle();
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => tracing::warn!("the {what} stopped with an error: {err}"),
        Ok(Err(err)) => tracing::warn!("the {what} task failed: {err}"),
        Err(_) => {
            tracing::warn!("the {what} did not stop within {timeout:?}; aborting it");
            abort.abort();
        }
    }
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, SimError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { what, addr, source })
}

fn local_addr(
    what: &'static str,
    listener: &TcpListener,
    asked: SocketAddr,
) -> Result<SocketAddr, SimError> {
    listener.local_addr().map_err(|source| SimError::Bind {
        what,
        addr: asked,
        source,
    })
}

/// The address a local client dials: an unspecified IP (`0.0.0.0`, `::`) becomes loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}
