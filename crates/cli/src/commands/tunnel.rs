//! `tether tunnel`: local ports on 127.0.0.1 forwarded to ports on a VM, each accepted
//! connection carried by its own `direct-tcpip` channel of the VM's pooled connection.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde_json::json;
use tether_router::{ForwardFailure, Forwarder, Remote, listen_local};
use tokio_util::task::TaskTracker;

use super::Ctx;
use super::exec::cancel_on_signals;
use crate::cli::{ForwardSpec, TunnelArgs};

/// Serves the forwards in `args` until Ctrl-C or SIGTERM; 0 then.
pub(crate) async fn run(ctx: &Ctx, args: TunnelArgs) -> anyhow::Result<u8> {
    let (vm, specs) = args.split().map_err(|e| anyhow!(e))?;
    let router = ctx.router().await?;
    let vm_id = router.vm_or_default(vm.as_deref(), &ctx.cwd).await?;
    // The VM exists, runs and takes our key before anything listens.
    router.session(&vm_id).await?;
    let mut listeners = Vec::new();
    for spec in specs {
        listeners.push((listen_local(spec.local).await?, spec));
    }
    let (cancel, _) = cancel_on_signals()?;
    eprintln!("tether: listening on 127.0.0.1 only (this machine); Ctrl-C to stop");
    let tasks = TaskTracker::new();
    let forwarder = Forwarder::new(&router, &vm_id, tasks.clone(), Arc::new(report)).await?;
    for (listener, spec) in listeners {
        let local = listener
            .local_addr()
            .context("the listening socket has no address")?;
        announce(ctx, local, &vm_id, &spec)?;
        let remote = Remote {
            host: spec.host,
            port: spec.port,
        };
        forwarder.serve(listener, remote, cancel.clone());
    }
    tasks.close();
    cancel.cancelled().await;
    tasks.wait().await;
    eprintln!("tether: tunnel closed");
    Ok(0)
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

/// Reports a failed connection on stderr (the tunnel goes on).
fn report(failure: &ForwardFailure) {
    eprintln!(
        "tether: connection from {} to VM {}:{}: {}",
        failure.peer,
        failure.vm_id,
        failure.remote.written(),
        failure.error
    );
}
