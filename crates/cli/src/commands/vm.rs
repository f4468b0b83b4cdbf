//! `tether vm …`: the VM lifecycle, through the Vers API.

use serde_json::{Value, json};
use tether_router::{Progress, Router};
use tether_vers::{BOOT_DEADLINE, BranchSource};
use tether_wire::{
    BranchQuery, CommitInfo, CommitQuery, CommitRequest, ListCommitsQuery, RequestedState, Vm,
    VmConfig, VmMetadata,
};

use super::Ctx;
use crate::cli::{BranchArgs, CommitArgs, NewArgs, VmCommand};
use crate::output::table;

/// Page size when listing commits.
const COMMIT_PAGE: u64 = 100;

/// Runs a `tether vm` subcommand.
pub(crate) async fn run(ctx: &Ctx, command: VmCommand) -> anyhow::Result<()> {
    let router = ctx.router().await?;
    match command {
        VmCommand::New(args) => new(ctx, &router, args).await,
        VmCommand::Ls => list(ctx, &router).await,
        VmCommand::Info(args) => info(ctx, &router, &args.vm).await,
        VmCommand::Rm(args) => remove(ctx, &router, &args.vms).await,
        VmCommand::Branch(args) => branch(ctx, &router, args).await,
        VmCommand::Commit(args) => commit(ctx, &router, args).await,
        VmCommand::Restore(args) => restore(ctx, &router, &args.commit).await,
        VmCommand::Pause(args) => set_state(ctx, &router, &args.vm, RequestedState::Paused).await,
        VmCommand::Resume(args) => set_state(ctx, &router, &args.vm, RequestedState::Running).await,
        VmCommand::Commits => commits(ctx, &router).await,
    }
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

async fn list(ctx: &Ctx, router: &Router) -> anyhow::Result<()> {
    let vms = router.vers().list_vms().await?;
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
        eprintln!("tether: no VMs; create one with `tether vm new`");
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
    let vm_id = router.resolve_vm(&args.vm).await?;
    let query = BranchQuery {
        count: Some(args.count),
        keep_paused: args.keep_paused.then_some(true),
        skip_wait_boot: None,
    };
    let wait = ctx.progress.begin("branching VM…");
    let vm_ids = router
        .vers()
        .branch(&BranchSource::Vm(vm_id.clone()), query)
        .await?;
    drop(wait);
    let json = json!({ "source_vm_id": vm_id, "vm_ids": vm_ids });
    ctx.out.print(&vm_ids.join("\n"), &json)
}

async fn commit(ctx: &Ctx, router: &Router, args: CommitArgs) -> anyhow::Result<()> {
    let vm_id = router.resolve_vm(&args.vm).await?;
    let query = CommitQuery {
        keep_paused: args.keep_paused.then_some(true),
        skip_wait_boot: None,
    };
    let request = CommitRequest {
        commit_id: None,
        name: args.name,
        description: args.description,
    };
    let wait = ctx.progress.begin("committing VM…");
    let commit_id = router.vers().commit(&vm_id, query, &request).await?;
    drop(wait);
    let json = json!({ "vm_id": vm_id, "commit_id": commit_id });
    ctx.out.print(&commit_id, &json)
}

async fn restore(ctx: &Ctx, router: &Router, query: &str) -> anyhow::Result<()> {
    let commit_id = router.resolve_commit(query).await?;
    let wait = ctx.progress.begin("restoring commit…");
    let vm_id = router.vers().from_commit(&commit_id).await?;
    drop(wait);
    let json = json!({ "commit_id": commit_id, "vm_id": vm_id });
    ctx.out.print(&vm_id, &json)
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

async fn commits(ctx: &Ctx, router: &Router) -> anyhow::Result<()> {
    let mut all: Vec<CommitInfo> = Vec::new();
    loop {
        let query = ListCommitsQuery {
            limit: Some(COMMIT_PAGE),
            offset: Some(all.len() as u64),
        };
        let page = router.vers().list_commits(query).await?;
        let got = page.commits.len() as u64;
        all.extend(page.commits);
        if got < COMMIT_PAGE || all.len() as u64 >= page.total {
            break;
        }
    }
    if all.is_empty() && !ctx.out.json {
        eprintln!("tether: no commits; make one with `tether vm commit VM`");
        return Ok(());
    }
    let mut rows = vec![
        ["COMMIT ID", "NAME", "VM", "CREATED"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for commit in &all {
        let vm = commit.parent_vm_id.clone().unwrap_or_else(|| "-".into());
        rows.push(vec![
            commit.commit_id.clone(),
            commit.name.clone(),
            vm,
            commit.created_at.clone(),
        ]);
    }
    ctx.out.print(&table(&rows), &serde_json::to_value(&all)?)
}

/// A state as the API spells it (`running`).
fn state_name(state: &tether_wire::VmState) -> anyhow::Result<String> {
    Ok(serde_json::to_value(state)?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

fn labels(vm: &Vm) -> String {
    let pairs: Vec<String> = vm.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}
