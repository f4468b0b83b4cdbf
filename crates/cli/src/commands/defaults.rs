//! `tether use`, `tether local`, `tether status`: the default VM and which API is in use.

use serde_json::{Value, json};
use tether_router::{ActiveVm, Backend};
use tether_wire::VmState;

use super::Ctx;
use crate::output::table;

/// `tether use VM`: checks the VM exists, then makes it the default.
pub(crate) async fn use_vm(ctx: &Ctx, query: &str) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let vm_id = router.resolve_vm(query).await?;
    let vm = router.vers().status(&vm_id).await?;
    router.defaults()?.choose(&vm_id)?;
    ctx.out
        .print(&vm_id, &json!({ "default_vm": vm_id, "state": vm.state }))
}

/// `tether local`: no default VM.
pub(crate) async fn local(ctx: &Ctx) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    router.defaults()?.go_local()?;
    ctx.out.print("", &json!({ "default_vm": Value::Null }))
}

/// `tether status`: the API in use and the default VM.
pub(crate) async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    let settings = router.vers().settings()?;
    let active = router.active(&ctx.cwd)?;
    let state = match active.vm_id() {
        Some(vm_id) => router.vers().status(vm_id).await.ok().map(|vm| vm.state),
        None => None,
    };
    let (api, simulator) = match router.backend() {
        Backend::Vers => (format!("Vers at {}", settings.api_url), Value::Null),
        Backend::Simulator(sim) => (
            format!(
                "local simulator at {} (data in {}; VMs on {})",
                settings.api_url,
                sim.record.data_dir.display(),
                sim.record
                    .vm_backend
                    .as_deref()
                    .unwrap_or("an unnamed backend")
            ),
            json!({
                "pid": sim.record.pid,
                "data_dir": sim.record.data_dir,
                "vm_backend": sim.record.vm_backend,
            }),
        ),
    };
    let json = json!({
        "backend": if simulator.is_null() { "vers" } else { "simulator" },
        "api_url": settings.api_url.as_str(),
        "simulator": simulator,
        "default_vm": active.vm_id(),
        "default_from": origin_name(&active),
        "default_file": origin_file(&active),
        "state": state,
    });
    let rows = vec![
        vec!["api".into(), api],
        vec!["default VM".into(), default_text(&active, state)],
    ];
    ctx.out.print(&table(&rows), &json)
}

fn origin_name(active: &ActiveVm) -> &'static str {
    match active {
        ActiveVm::Chosen { .. } => "use",
        ActiveVm::Local { .. } => "local",
        ActiveVm::VersHead { .. } => "vers_head",
        ActiveVm::Unset => "unset",
    }
}

fn origin_file(active: &ActiveVm) -> Option<String> {
    match active {
        ActiveVm::Chosen { file, .. }
        | ActiveVm::Local { file }
        | ActiveVm::VersHead { file, .. } => Some(file.display().to_string()),
        ActiveVm::Unset => None,
    }
}

fn default_text(active: &ActiveVm, state: Option<VmState>) -> String {
    let state = match state {
        Some(state) => serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => "not found".into(),
    };
    match active {
        ActiveVm::Chosen { vm_id, .. } => format!("{vm_id} ({state}; chosen with `tether use`)"),
        ActiveVm::VersHead { vm_id, file } => {
            format!("{vm_id} ({state}; from {})", file.display())
        }
        ActiveVm::Local { .. } => "none (`tether local`); choose one with `tether use VM`".into(),
        ActiveVm::Unset => "none; choose one with `tether use VM`".into(),
    }
}
