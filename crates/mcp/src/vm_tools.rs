//! The VM tools: lifecycle through the Vers API, switching the active target, one-off
//! commands, copies. Every id the model reads is a full id.

use serde_json::{Map, Value, json};
use tether_router::{VmTunnelArgs, vers_tools};
use tether_target::FileKind;
use tether_tools::args::BashArgs;
use tether_tools::{ToolOutput, Workspace};
use tether_vers::BOOT_DEADLINE;
use tether_wire::{RequestedState, VmConfig};
use tokio_util::sync::CancellationToken;

use crate::McpError;
use crate::routing::{Place, Routing};
use crate::vm_args::{CreateVmArgs, VmArgs, VmCopyArgs, VmExecArgs, VmStateArgs, WantedState};

/// `create_vm`: a new VM, booted.
pub(crate) async fn create_vm(r: &Routing, args: CreateVmArgs) -> Result<ToolOutput, McpError> {
    let config = VmConfig {
        vcpu_count: args.vcpu_count,
        mem_size_mib: args.mem_size_mib,
        fs_size_mib: args.fs_size_mib,
        labels: args.labels,
        ..VmConfig::default()
    };
    let vm_id = r.router().await?.vers().new_root(config, true).await?;
    let text = format!(
        "VM created: {vm_id}\nIt is running. vm_use routes bash and the file tools to it; \
         vm_exec runs a single command there."
    );
    Ok(ToolOutput::text(text).with_details(json!({ "vmId": vm_id })))
}

/// `vm_use`: route the tools to a VM.
pub(crate) async fn vm_use(r: &Routing, args: VmArgs) -> Result<ToolOutput, McpError> {
    let vm_id = r.resolve(&args.vm_id).await?;
    let ws = r.use_vm(&vm_id).await?;
    let text = format!(
        "Routing to {vm_id}: bash, read, edit, write, ls, find, grep and bg_* now run on this \
         VM, in {}. Use vm_local to switch back.",
        ws.cwd()
    );
    Ok(ToolOutput::text(text).with_details(json!({ "vmId": vm_id, "cwd": ws.cwd() })))
}

/// `vm_local`: route the tools to this machine.
pub(crate) fn vm_local(r: &Routing) -> ToolOutput {
    let cwd = r.local().cwd().to_owned();
    let text = match r.go_local() {
        Place::Vm(vm_id) => format!(
            "Switched from VM {vm_id} back to local execution: the tools run on this machine, in {cwd}."
        ),
        Place::Local => format!("Already local: the tools run on this machine, in {cwd}."),
    };
    ToolOutput::text(text)
}

/// `vm_exec`: one command on a VM, with bash's output rules.
pub(crate) async fn vm_exec(
    r: &Routing,
    args: VmExecArgs,
    cancel: CancellationToken,
) -> Result<ToolOutput, McpError> {
    if args.detach == Some(true) {
        let detach = json!({ "vmId": args.vm_id, "command": args.command,
            "timeout": args.timeout, "detach": true });
        return vers_tool(r, "vm_exec", detach.as_object().cloned()).await;
    }
    let vm_id = r.resolve(&args.vm_id).await?;
    let ws = r.vm_workspace(&vm_id).await?;
    let bash = BashArgs {
        command: args.command,
        timeout: args.timeout,
    };
    Ok(tether_tools::bash(&ws, bash, Some(cancel)).await?)
}

/// A tool of [`tether_router::vers_tools`], with the active VM as the default VM.
pub(crate) async fn vers_tool(
    r: &Routing,
    name: &str,
    args: Option<Map<String, Value>>,
) -> Result<ToolOutput, McpError> {
    let router = r.router().await?;
    let active = r.active_vm();
    let reply = vers_tools::call(&router, name, args, active.as_deref()).await?;
    Ok(ToolOutput::text(reply.text).with_details(reply.details))
}

/// `vm_delete`: a VM (and the VMs the API deletes with it).
pub(crate) async fn vm_delete(r: &Routing, args: VmArgs) -> Result<ToolOutput, McpError> {
    let vm_id = r.resolve(&args.vm_id).await?;
    let deleted = r.router().await?.vers().delete_vm(&vm_id).await?;
    let mut was_active = r.forget(&vm_id).await;
    for id in &deleted {
        was_active |= r.forget(id).await;
    }
    let mut text = format!("VM {vm_id} deleted.");
    let others: Vec<&String> = deleted.iter().filter(|id| **id != vm_id).collect();
    if !others.is_empty() {
        let others: Vec<&str> = others.iter().map(|s| s.as_str()).collect();
        text.push_str(&format!(" Also deleted: {}.", others.join(", ")));
    }
    if was_active {
        text.push_str(" It was the active VM: the tools run on this machine again.");
    }
    Ok(ToolOutput::text(text).with_details(json!({ "deleted": deleted })))
}

/// `vm_state`: pause or resume.
pub(crate) async fn vm_state(r: &Routing, args: VmStateArgs) -> Result<ToolOutput, McpError> {
    let router = r.router().await?;
    let vm_id = router.resolve_vm(&args.vm_id).await?;
    let (requested, name) = match args.state {
        WantedState::Paused => (RequestedState::Paused, "paused"),
        WantedState::Running => (RequestedState::Running, "running"),
    };
    router.vers().set_state(&vm_id, requested).await?;
    r.reconnect(&vm_id).await;
    if requested == RequestedState::Running {
        router
            .vers()
            .wait_until_running(&vm_id, BOOT_DEADLINE)
            .await?;
    }
    let text = format!("VM {vm_id} is now {name}.");
    Ok(ToolOutput::text(text).with_details(json!({ "vmId": vm_id, "state": name })))
}

/// One side of a copy, located.
struct Side {
    ws: Workspace,
    label: String,
    path: String,
}

async fn locate(r: &Routing, text: &str) -> Result<Side, McpError> {
    let Some(rest) = text.strip_prefix("vm:") else {
        let path = r.local().resolve(text);
        return Ok(Side {
            ws: r.local().clone(),
            label: path.clone(),
            path,
        });
    };
    let Some((vm, path)) = rest.split_once(':').filter(|(_, p)| !p.is_empty()) else {
        return Err(McpError::usage(format!(
            "{text:?} is not vm:<vmId>:<path>; write vm:<vmId>:/path, or vm::/path for the active VM"
        )));
    };
    let vm_id = match (vm, r.place()) {
        ("", Place::Vm(active)) => active,
        ("", Place::Local) => {
            return Err(McpError::usage(format!(
                "{text:?} names the active VM, but the tools run locally; call vm_use first or write vm:<vmId>:{path}"
            )));
        }
        (query, _) => r.resolve(query).await?,
    };
    let ws = r.vm_workspace(&vm_id).await?;
    let path = ws.resolve(path);
    Ok(Side {
        label: format!("vm:{vm_id}:{path}"),
        ws,
        path,
    })
}

/// `vm_copy`: a file or a tree between this machine and VMs.
pub(crate) async fn vm_copy(r: &Routing, args: VmCopyArgs) -> Result<ToolOutput, McpError> {
    let from = locate(r, &args.src).await?;
    let mut to = locate(r, &args.dst).await?;
    let (source, sink) = (from.ws.target().clone(), to.ws.target().clone());
    let tree = source.stat(&from.path).await?.kind == FileKind::Dir;
    if matches!(sink.stat(&to.path).await, Ok(m) if m.kind == FileKind::Dir) {
        let name = from
            .path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(".");
        to.path = format!("{}/{name}", to.path.trim_end_matches('/'));
        to.label = format!("{}/{name}", to.label.trim_end_matches('/'));
    }
    let text = if tree {
        tether_target::copy_tree(source.as_ref(), &from.path, sink.as_ref(), &to.path).await?;
        format!("Copied directory {} to {}", from.label, to.label)
    } else {
        let bytes =
            tether_target::copy_file(source.as_ref(), &from.path, sink.as_ref(), &to.path).await?;
        format!("Copied {} to {} ({bytes} bytes)", from.label, to.label)
    };
    let details = json!({ "source": from.label, "destination": to.label, "directory": tree });
    Ok(ToolOutput::text(text).with_details(details))
}

/// `vm_tunnel`: a VM's port on 127.0.0.1 here, for as long as this server runs.
pub(crate) async fn vm_tunnel(r: &Routing, args: VmTunnelArgs) -> Result<ToolOutput, McpError> {
    let router = r.router().await?;
    let active = r.active_vm();
    let reply = tether_router::vm_tunnel(r.tunnels(), &router, args, active.as_deref()).await?;
    Ok(ToolOutput::text(reply.text).with_details(reply.details))
}
