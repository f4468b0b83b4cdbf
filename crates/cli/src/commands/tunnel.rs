//! `tether tunnel`: local ports on 127.0.0.1 forwarded to ports on a VM, each accepted
//! connection carried by its own `direct-tcpip` channel of the VM's pooled connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde_json::json;
use tether_router::{ErrorKind, Router, VmAccess};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Ctx;
use super::exec::cancel_on_signals;
use crate::cli::{ForwardSpec, TunnelArgs};

/// The most connections bridged at once (over all forwards); more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 256;

/// Serves the forwards in `args` until Ctrl-C or SIGTERM; 0 then.
pub(crate) async fn run(ctx: &Ctx, args: TunnelArgs) -> anyhow::Result<u8> {
    let (vm, specs) = args.split().map_err(|e| anyhow!(e))?;
    let router = ctx.router().await?;
    let vm_id = router.vm_or_default(vm.as_deref(), &ctx.cwd).await?;
    // The VM exists, runs and takes our key before anything listens.
    router.session(&vm_id).await?;
    let mut listeners = Vec::new();
    for spec in specs {
        listeners.push((listen(spec.local).await?, spec));
    }
    let (cancel, _) = cancel_on_signals()?;
    eprintln!("tether: listening on 127.0.0.1 only (this machine); Ctrl-C to stop");
    let vm = Arc::new(Vm::new(&router, vm_id).await?);
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let tasks = TaskTracker::new();
    for (listener, spec) in listeners {
        let local = listener
            .local_addr()
            .context("the listening socket has no address")?;
        announce(ctx, local, &vm.id, &spec)?;
        let forward = Forward {
            listener,
            spec: Arc::new(spec),
            vm: vm.clone(),
        };
        tasks.spawn(forward.serve(limit.clone(), cancel.clone(), tasks.clone()));
    }
    tasks.close();
    cancel.cancelled().await;
    tasks.wait().await;
    eprintln!("tether: tunnel closed");
    Ok(0)
}

/// A listener on 127.0.0.1:`port` (0: a free port).
async fn listen(port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => anyhow!(
                "local port {port} is already in use on 127.0.0.1; pick another LOCAL port, or 0 (or leave LOCAL out) for a free one"
            ),
            _ => anyhow!(e).context(format!(
                "could not listen on 127.0.0.1:{port}; pick another LOCAL port, or 0 for a free one"
            )),
        })
}

/// Prints the line (or JSON object) for one forward.
fn announce(ctx: &Ctx, local: SocketAddr, vm_id: &str, spec: &ForwardSpec) -> anyhow::Result<()> {
    let human = format!("{local} -> VM {vm_id}:{}", spec.remote());
    let json = json!({
        "local": local.to_string(),
        "local_port": local.port(),
        "vm_id": vm_id,
        "remote_host": spec.host,
        "remote_port": spec.port,
    });
    ctx.out.print(&human, &json)
}

/// The VM the forwards go to, and how to reach it.
struct Vm {
    id: String,
    access: Arc<VmAccess>,
    pool: Arc<tether_transport::Pool>,
}

impl Vm {
    async fn new(router: &Router, id: String) -> anyhow::Result<Vm> {
        Ok(Vm {
            access: router.access(&id),
            pool: router.pool().await?,
            id,
        })
    }

    /// A connection to `spec`'s host and port in the VM. After a failure to reach the VM, the
    /// next connection checks its state again (it may have been paused).
    async fn open(&self, spec: &ForwardSpec) -> anyhow::Result<tether_transport::ForwardStream> {
        let (endpoint, key) = self.access.connect_info().await?;
        let opened = self
            .pool
            .direct_tcpip(&endpoint, &key, &spec.host, spec.port)
            .await;
        if let Err(err) = &opened
            && ErrorKind::of(err) == ErrorKind::Unavailable
        {
            self.access.mark_stale();
        }
        Ok(opened?)
    }
}

/// One local port and where its connections go.
struct Forward {
    listener: TcpListener,
    spec: Arc<ForwardSpec>,
    vm: Arc<Vm>,
}

impl Forward {
    /// Accepts connections (while fewer than [`MAX_CONNECTIONS`] are open) until `cancel`.
    async fn serve(self, limit: Arc<Semaphore>, cancel: CancellationToken, tasks: TaskTracker) {
        loop {
            let permit = tokio::select! {
                permit = limit.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = cancel.cancelled() => return,
            };
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = cancel.cancelled() => return,
            };
            match accepted {
                Ok((socket, peer)) => {
                    let connection = Connection {
                        spec: self.spec.clone(),
                        vm: self.vm.clone(),
                        peer,
                        _permit: permit,
                    };
                    tasks.spawn(connection.bridge(socket, cancel.clone()));
                }
                Err(e) => eprintln!(
                    "tether: accepting a connection to {}: {e}",
                    self.spec.remote()
                ),
            }
        }
    }
}

/// One accepted connection.
struct Connection {
    spec: Arc<ForwardSpec>,
    vm: Arc<Vm>,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Opens its channel and copies both ways until both sides are done (or `cancel`); a
    /// failure is reported on stderr and closes only this connection.
    async fn bridge(self, mut socket: TcpStream, cancel: CancellationToken) {
        let _ = socket.set_nodelay(true);
        let bridged = async {
            let mut channel = self.vm.open(&self.spec).await?;
            tokio::io::copy_bidirectional(&mut socket, &mut channel)
                .await
                .context("the connection broke")?;
            anyhow::Ok(())
        };
        let result = tokio::select! {
            result = bridged => result,
            () = cancel.cancelled() => Ok(()),
        };
        if let Err(err) = result {
            eprintln!(
                "tether: connection from {} to VM {}:{}: {}",
                self.peer,
                self.vm.id,
                self.spec.remote(),
                crate::report::message(&err)
            );
        }
    }
}
