//! [`Forwarder`]: local ports on 127.0.0.1 bridged to a host and port as a VM sees them, each
//! accepted connection on its own `direct-tcpip` channel of the VM's pooled connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tether_transport::{ForwardStream, Pool};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{ErrorKind, Router, RouterError, VmAccess};

/// The most connections bridged at once by one [`Forwarder`] (over all its ports); more wait
/// in the listen backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// The host a forward goes to when none is given: the VM itself.
pub const DEFAULT_HOST: &str = "localhost";

/// Where a forward goes: a host and port as the VM sees them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Remote {
    /// The host (no brackets around an IPv6 address).
    pub host: String,
    /// The port.
    pub port: u16,
}

impl Remote {
    /// As written: `PORT` for [`DEFAULT_HOST`], else `HOST:PORT` (`[v6]:PORT`).
    pub fn written(&self) -> String {
        match self.host.as_str() {
            DEFAULT_HOST => self.port.to_string(),
            host if host.contains(':') => format!("[{host}]:{}", self.port),
            host => format!("{host}:{}", self.port),
        }
    }
}

/// Why one forwarded connection failed (the forward goes on).
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The connection in the VM could not be opened.
    #[error(transparent)]
    Open(#[from] RouterError),
    /// The connection broke while bytes were copied.
    #[error("the connection broke: {0}")]
    Broke(#[source] std::io::Error),
}

/// One forwarded connection that failed.
#[derive(Debug)]
pub struct ForwardFailure {
    /// Who connected on this machine.
    pub peer: SocketAddr,
    /// The VM.
    pub vm_id: String,
    /// Where in the VM.
    pub remote: Remote,
    /// What went wrong.
    pub error: ForwardError,
}

/// Told about every connection that failed.
pub type OnFailure = Arc<dyn Fn(&ForwardFailure) + Send + Sync>;

/// A listener on 127.0.0.1:`port` (0: a free port).
pub async fn listen_local(port: u16) -> Result<TcpListener, RouterError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => RouterError::LocalPortInUse { port },
            _ => RouterError::Listen { port, source },
        })
}

/// Bridges connections accepted on local listeners to one VM.
#[derive(Clone)]
pub struct Forwarder {
    vm: Arc<VmLink>,
    limit: Arc<Semaphore>,
    tasks: TaskTracker,
    on_failure: OnFailure,
}

impl Forwarder {
    /// A forwarder to `vm_id` whose connections run on `tasks`, at most [`MAX_CONNECTIONS`] at
    /// once; failed connections are told to `on_failure`.
    pub async fn new(
        router: &Router,
        vm_id: &str,
        tasks: TaskTracker,
        on_failure: OnFailure,
    ) -> Result<Forwarder, RouterError> {
        let vm = VmLink {
            id: vm_id.to_owned(),
            access: router.access(vm_id),
            pool: router.pool().await?,
        };
        Ok(Forwarder {
            vm: Arc::new(vm),
            limit: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            tasks,
            on_failure,
        })
    }

    /// Serves `listener` until `cancel`: every connection goes to `remote` in the VM.
    pub fn serve(&self, listener: TcpListener, remote: Remote, cancel: CancellationToken) {
        let this = self.clone();
        self.tasks
            .spawn(async move { this.accept_loop(listener, Arc::new(remote), cancel).await });
    }

    async fn accept_loop(
        &self,
        listener: TcpListener,
        remote: Arc<Remote>,
        cancel: CancellationToken,
    ) {
        loop {
            let permit = tokio::select! {
                permit = self.limit.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = cancel.cancelled() => return,
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = cancel.cancelled() => return,
            };
            match accepted {
                Ok((socket, peer)) => {
                    let connection = Connection {
                        remote: remote.clone(),
                        forwarder: self.clone(),
                        peer,
                        _permit: permit,
                    };
                    self.tasks.spawn(connection.bridge(socket, cancel.clone()));
                }
                Err(e) => tracing::warn!("accepting a connection to {}: {e}", remote.written()),
            }
        }
    }
}

/// The VM the connections go to, and how to reach it.
struct VmLink {
    id: String,
    access: Arc<VmAccess>,
    pool: Arc<Pool>,
}

impl VmLink {
    /// A connection to `remote` in the VM. After a failure to reach the VM, the next
    /// connection checks its state again (it may have been paused).
    async fn open(&self, remote: &Remote) -> Result<ForwardStream, RouterError> {
        let (endpoint, key) = self.access.connect_info().await?;
        let opened = self
            .pool
            .direct_tcpip(&endpoint, &key, &remote.host, remote.port)
            .await;
        if let Err(err) = &opened
            && ErrorKind::of(err) == ErrorKind::Unavailable
        {
            self.access.mark_stale();
        }
        Ok(opened?)
    }
}

/// One accepted connection.
struct Connection {
    remote: Arc<Remote>,
    forwarder: Forwarder,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Opens its channel and copies both ways until both sides are done (or `cancel`); a
    /// failure is told to the forwarder's `on_failure` and closes only this connection.
    async fn bridge(self, mut socket: TcpStream, cancel: CancellationToken) {
        let _ = socket.set_nodelay(true);
        let vm = &self.forwarder.vm;
        let bridged = async {
            let mut channel = vm.open(&self.remote).await?;
            tokio::io::copy_bidirectional(&mut socket, &mut channel)
                .await
                .map_err(ForwardError::Broke)?;
            Ok::<_, ForwardError>(())
        };
        let result = tokio::select! {
            result = bridged => result,
            () = cancel.cancelled() => Ok(()),
        };
        if let Err(error) = result {
            let failure = ForwardFailure {
                peer: self.peer,
                vm_id: vm.id.clone(),
                remote: self.remote.as_ref().clone(),
                error,
            };
            (self.forwarder.on_failure)(&failure);
        }
    }
}
