//! `vm_list` (with labels), `vm_label`, `vm_disk` and `vm_env`.

use std::collections::BTreeMap;

use serde_json::json;
use tether_wire::Vm;

use super::args::{EnvAction, LabelAction, VmDiskArgs, VmEnvArgs, VmLabelArgs, VmListArgs};
use super::errors::for_tools;
use super::{ToolReply, needed, vm_or_active};
use crate::{Router, RouterError};

/// `vm_list`: every VM (or those with all of `labels`), the active one marked.
pub(super) async fn vm_list(
    router: &Router,
    args: VmListArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let all = router.vers().list_vms().await.map_err(for_tools)?;
    let wanted = args.labels.unwrap_or_default();
    let total = all.len();
    let vms: Vec<Vm> = all
        .into_iter()
        .filter(|vm| wanted.iter().all(|(k, v)| vm.labels.get(k) == Some(v)))
        .collect();
    let active_text = match active {
        Some(id) => format!("active: {id}"),
        None => "active: this machine".to_owned(),
    };
    let count = if wanted.is_empty() {
        format!("{} VM(s)", vms.len())
    } else {
        format!(
            "{} of {total} VM(s) with labels {}",
            vms.len(),
            written(&wanted)
        )
    };
    let details = json!({ "vms": vms, "activeVmId": active });
    if vms.is_empty() {
        let hint = if wanted.is_empty() {
            "Create one with create_vm."
        } else {
            "vm_list without labels shows them all; vm_label sets labels."
        };
        return Ok(ToolReply::new(
            format!("{count} ({active_text}). {hint}"),
            details,
        ));
    }
    let mut lines = vec![format!("{count} ({active_text}):")];
    lines.extend(vms.iter().map(|vm| vm_line(vm, active)));
    Ok(ToolReply::new(lines.join("\n"), details))
}

fn vm_line(vm: &Vm, active: Option<&str>) -> String {
    let state = serde_json::to_value(vm.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let labels = if vm.labels.is_empty() {
        String::new()
    } else {
        format!(" labels {}", written(&vm.labels))
    };
    let mark = if active == Some(vm.vm_id.as_str()) {
        " (active)"
    } else {
        ""
    };
    format!(
        "{} [{state}] created {}{labels}{mark}",
        vm.vm_id, vm.created_at
    )
}

/// `k=v,k2=v2`.
fn written(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// `vm_label`: set, remove or replace labels; answers with the VM's labels now.
pub(super) async fn vm_label(
    router: &Router,
    args: VmLabelArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let vm_id = vm_or_active(router, args.vm_id.as_deref(), active).await?;
    let vers = router.vers();
    let done = match args.action {
        LabelAction::Set => {
            let labels = needed(&args.labels, "vm_label", "set", "labels")?;
            vers.set_labels(&vm_id, labels.clone()).await
        }
        LabelAction::Replace => {
            let labels = needed(&args.labels, "vm_label", "replace", "labels")?;
            vers.replace_labels(&vm_id, labels.clone()).await
        }
        LabelAction::Remove => {
            let name = needed(
                &args.name,
                "vm_label",
                "remove",
                "name (the label to remove)",
            )?;
            vers.remove_label(&vm_id, name).await
        }
    };
    done.map_err(for_tools)?;
    let labels = vers.status(&vm_id).await.map_err(for_tools)?.labels;
    let text = if labels.is_empty() {
        format!("VM {vm_id} has no labels now.")
    } else {
        format!("VM {vm_id} labels now: {}", written(&labels))
    };
    Ok(ToolReply::new(
        text,
        json!({ "vmId": vm_id, "labels": labels }),
    ))
}

/// `vm_disk`: grows a VM's disk.
pub(super) async fn vm_disk(
    router: &Router,
    args: VmDiskArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let vm_id = vm_or_active(router, args.vm_id.as_deref(), active).await?;
    router
        .vers()
        .resize_disk(&vm_id, args.size_mib)
        .await
        .map_err(for_tools)?;
    let text = format!("VM {vm_id}'s disk is now {} MiB.", args.size_mib);
    Ok(ToolReply::new(
        text,
        json!({ "vmId": vm_id, "fsSizeMib": args.size_mib }),
    ))
}

/// `vm_env`: the account's environment variables.
pub(super) async fn vm_env(router: &Router, args: VmEnvArgs) -> Result<ToolReply, RouterError> {
    let vers = router.vers();
    let (first, vars) = match args.action {
        EnvAction::List => (String::new(), vers.env_vars().await.map_err(for_tools)?),
        EnvAction::Set => {
            let vars = needed(&args.vars, "vm_env", "set", "vars")?;
            let names: Vec<&str> = vars.keys().map(String::as_str).collect();
            let first = format!("Set {}. ", names.join(", "));
            let replace = args.replace == Some(true);
            let now = vers
                .set_env_vars(vars.clone(), replace)
                .await
                .map_err(for_tools)?;
            (first, now)
        }
        EnvAction::Delete => {
            let key = needed(&args.key, "vm_env", "delete", "key")?;
            vers.delete_env_var(key).await.map_err(for_tools)?;
            let now = vers.env_vars().await.map_err(for_tools)?;
            (format!("Deleted {key}. "), now)
        }
    };
    let mut lines = vec![format!(
        "{first}{} variable(s), put into every VM created from now on (running VMs keep theirs):",
        vars.len()
    )];
    lines.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
    Ok(ToolReply::new(lines.join("\n"), json!({ "vars": vars })))
}
