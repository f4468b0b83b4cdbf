//! `tether vm …`: the VM lifecycle, through the Vers API.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{Value, json};
use tether_router::{Progress, Router};
use tether_vers::{BOOT_DEADLINE, BranchSource};
use tether_wire::{BranchQuery, RequestedState, Vm, VmConfig, VmMetadata};

use super::tags::parse_tag;
use super::{Ctx, commits, logs};
use crate::cli::{BranchArgs, LabelArgs, NewArgs, VmCommand};
use crate::output::table;

/// Runs a `tether vm` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: VmCommand) -> anyhow::Result<u8> {
    let router = ctx.router().await?;
    let done = match command {
        VmCommand::New(args) => new(ctx, &router, args).await,
        VmCommand::Ls(args) => list(ctx, &router, &args.labels).await,
        VmCommand::Info(args) => info(ctx, &router, &args.vm).await,
        VmCommand::Rm(args) => remove(ctx, &router, &args.vms).await,
        VmCommand::Branch(args) => branch(ctx, &router, args).await,
        VmCommand::Pause(args) => set_state(ctx, &router, &args.vm, RequestedState::Paused).await,
        VmCommand::Resume(args) => set_state(ctx, &router, &args.vm, RequestedState::Running).await,
        VmCommand::Label(args) => label(ctx, &router, args).await,
        VmCommand::Disk(args) => disk(ctx, &router, &args.vm, args.size_mib).await,
        VmCommand::Logs(args) => return logs::logs(ctx, &router, args).await,
        VmCommand::Attach(args) => return logs::attach(ctx, &router, args).await,
        command => commits::run(ctx, &router, command).await,
    };
    done.map(|()| 0)
}

async fn new(ctx: &Ctx, router: &Router, args: NewArgs) -> anyhow::Result<()> {
    let config = VmConfig {
        vcpu_count: args.vcpus,
        mem_size_mib: args.mem,
        fs_size_mib: args.disk,
        labels: (!args.labels.is_empty()).then(|| args.labels.into_iter().collect()),
        ..VmConfig::default()
    };
    let wait = (!args.no_wait).then(|| ctx.progress.begin("creating VM…"));
    let vm_id = router.vers().new_root(config, !args.no_wait).await?;
    drop(wait);
    let vm = router.vers().status(&vm_id).await?;
    ctx.out.print(&vm_id, &serde_json::to_value(&vm)?)
}

async fn list(ctx: &Ctx, router: &Router, wanted: &[(String, String)]) -> anyhow::Result<()> {
    let mut vms = router.vers().list_vms().await?;
    vms.retain(|vm| {
        wanted
            .iter()
            .all(|(k, v)| vm.labels.get(k).is_some_and(|have| have == v))
    });
    let active = router.active(&ctx.cwd)?;
    let is_default = |vm: &Vm| active.vm_id() == Some(vm.vm_id.as_str());
    let mut rows = vec![
        ["", "VM ID", "STATE", "CREATED", "LABELS"]
            .map(str::to_owned)
            .to_vec(),
    ];
    let mut json = Vec::new();
    for vm in &vms {
        let mark = if is_default(vm) { "*" } else { "" };
        rows.push(vec![
            mark.into(),
            vm.vm_id.clone(),
            state_name(&vm.state)?,
            vm.created_at.clone(),
            labels(vm),
        ]);
        let mut value = serde_json::to_value(vm)?;
        value["default"] = Value::Bool(is_default(vm));
        json.push(value);
    }
    if vms.is_empty() && !ctx.out.json {
        match wanted.is_empty() {
            true => eprintln!("tether: no VMs; create one with `tether vm new`"),
            false => {
                eprintln!("tether: no VM has all these labels; see every VM's with `tether vm ls`")
            }
        }
        return Ok(());
    }
    ctx.out.print(&table(&rows), &Value::Array(json))
}

async fn info(ctx: &Ctx, router: &Router, query: &str) -> anyhow::Result<()> {
    let vm_id = router.resolve_vm(query).await?;
    let (vm, meta) =
        tokio::try_join!(router.vers().status(&vm_id), router.vers().metadata(&vm_id))?;
    let mut json = serde_json::to_value(&meta)?;
    json["labels"] = serde_json::to_value(&vm.labels)?;
    ctx.out.print(&info_text(&vm, &meta)?, &json)
}

fn info_text(vm: &Vm, meta: &VmMetadata) -> anyhow::Result<String> {
    let or_none = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
    let rows = vec![
        vec!["vm_id".into(), vm.vm_id.clone()],
        vec!["state".into(), state_name(&vm.state)?],
        vec!["created_at".into(), vm.created_at.clone()],
        vec!["ip".into(), meta.ip.clone()],
        vec!["parent_commit_id".into(), or_none(&meta.parent_commit_id)],
        vec!["grandparent_vm_id".into(), or_none(&meta.grandparent_vm_id)],
        vec!["labels".into(), labels(vm)],
    ];
    Ok(table(&rows))
}

async fn remove(ctx: &Ctx, router: &Router, queries: &[String]) -> anyhow::Result<()> {
    let mut vm_ids = Vec::new();
    for query in queries {
        vm_ids.push(router.resolve_vm(query).await?);
    }
    let defaults = router.defaults()?;
    let mut deleted = Vec::new();
    for vm_id in &vm_ids {
        deleted.extend(router.vers().delete_vm(vm_id).await?);
        router.forget(vm_id).await;
        if defaults.forget(vm_id)? {
            eprintln!("tether: {vm_id} was the default VM; there is no default VM now");
        }
    }
    ctx.out
        .print(&deleted.join("\n"), &json!({ "deleted": deleted }))
}

async fn branch(ctx: &Ctx, router: &Router, args: BranchArgs) -> anyhow::Result<()> {
    let (source, source_json) = match (&args.tag, &args.vm) {
        (Some(tag), _) => {
            let reference = parse_tag(tag)?;
            let name = reference.to_string();
            (BranchSource::Tag(reference), json!({ "source_tag": name }))
        }
        (None, Some(vm)) => {
            let vm_id = router.resolve_vm(vm).await?;
            (
                BranchSource::Vm(vm_id.clone()),
                json!({ "source_vm_id": vm_id }),
            )
        }
        (None, None) => unreachable_source()?,
    };
    let query = BranchQuery {
        count: Some(args.count),
        keep_paused: args.keep_paused.then_some(true),
        skip_wait_boot: None,
    };
    let wait = ctx.progress.begin("branching VM…");
    let vm_ids = router.vers().branch(&source, query).await?;
    drop(wait);
    let mut json = source_json;
    json["vm_ids"] = json!(vm_ids);
    ctx.out.print(&vm_ids.join("\n"), &json)
}

/// clap requires a VM or --tag; this is the error should it ever let neither through.
fn unreachable_source<T>() -> anyhow::Result<T> {
    Err(crate::report::CliError::usage(
        "give a VM to branch, or --tag NAME",
    ))
}

async fn label(ctx: &Ctx, router: &Router, args: LabelArgs) -> anyhow::Result<()> {
    let vm_id = router.resolve_vm(&args.vm).await?;
    let vers = router.vers();
    let wanted: BTreeMap<String, String> = args.labels.into_iter().collect();
    match (args.replace, wanted.is_empty()) {
        (true, _) => vers.replace_labels(&vm_id, wanted).await?,
        (false, false) => vers.set_labels(&vm_id, wanted).await?,
        (false, true) => {}
    }
    for name in &args.remove {
        vers.remove_label(&vm_id, name).await?;
    }
    let vm = vers.status(&vm_id).await?;
    let json = json!({ "vm_id": vm_id, "labels": vm.labels });
    ctx.out.print(&labels(&vm).replace(',', "\n"), &json)
}

async fn disk(ctx: &Ctx, router: &Router, query: &str, size_mib: u32) -> anyhow::Result<()> {
    let vm_id = router.resolve_vm(query).await?;
    router
        .vers()
        .resize_disk(&vm_id, size_mib)
        .await
        .with_context(|| {
            format!("VM {vm_id}'s disk was not resized to {size_mib} MiB (a disk only grows)")
        })?;
    let json = json!({ "vm_id": vm_id, "fs_size_mib": size_mib });
    ctx.out.print(&format!("{size_mib} MiB"), &json)
}

async fn set_state(
    ctx: &Ctx,
    router: &Router,
    query: &str,
    state: RequestedState,
) -> anyhow::Result<()> {
    let vm_id = router.resolve_vm(query).await?;
    router.vers().set_state(&vm_id, state).await?;
    router.forget(&vm_id).await;
    let vm = match state {
        RequestedState::Running => {
            let _wait = ctx.progress.begin("waiting for the VM to run…");
            router
                .vers()
                .wait_until_running(&vm_id, BOOT_DEADLINE)
                .await?
        }
        RequestedState::Paused | RequestedState::Sleeping => router.vers().status(&vm_id).await?,
    };
    ctx.out.print(&vm_id, &serde_json::to_value(&vm)?)
}

/// A state as the API spells it (`running`).
pub(crate) fn state_name(state: &tether_wire::VmState) -> anyhow::Result<String> {
    Ok(serde_json::to_value(state)?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn labels(vm: &Vm) -> String {
    let pairs: Vec<String> = vm.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}
