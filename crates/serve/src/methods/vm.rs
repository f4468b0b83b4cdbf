//! `backend/info` and `vm/…`: the VM lifecycle and the active VM.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tether_router::Backend;
use tether_vers::{BOOT_DEADLINE, BranchSource};
use tether_wire::{BranchQuery, CommitQuery, CommitRequest, RequestedState, Vm, VmConfig};

use super::paths;
use crate::ServeError;
use crate::state::{Place, State};

/// Maps an API error about `vm_id` to the model's words (a missing VM points at vm_list).
fn gone(vm_id: &str) -> impl Fn(tether_vers::VersError) -> ServeError + '_ {
    move |err| ServeError::about_vm(vm_id, err.into())
}

/// Which API is in use.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BackendInfo {
    /// `vers` or `simulator`.
    kind: &'static str,
    /// For the simulator: the line to show a person.
    notice: Option<String>,
}

pub(crate) async fn backend(state: &State) -> Result<BackendInfo, ServeError> {
    let router = state.router().await?;
    let kind = match router.backend() {
        Backend::Vers => "vers",
        Backend::Simulator(_) => "simulator",
    };
    Ok(BackendInfo {
        kind,
        notice: router.notice(),
    })
}

/// One VM as listed.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VmInfo {
    vm_id: String,
    state: Value,
    created_at: String,
    labels: BTreeMap<String, String>,
    active: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VmList {
    vms: Vec<VmInfo>,
    active_vm_id: Option<String>,
    backend: BackendInfo,
}

pub(crate) async fn list(state: &State) -> Result<VmList, ServeError> {
    let router = state.router().await?;
    let active = state.active();
    let vms = router.vers().list_vms().await?;
    let vms = vms
        .into_iter()
        .map(|vm| info(vm, active.as_deref()))
        .collect();
    Ok(VmList {
        vms,
        active_vm_id: active,
        backend: backend(state).await?,
    })
}

fn info(vm: Vm, active: Option<&str>) -> VmInfo {
    VmInfo {
        active: active == Some(vm.vm_id.as_str()),
        state: serde_json::to_value(vm.state).unwrap_or(Value::Null),
        vm_id: vm.vm_id,
        created_at: vm.created_at,
        labels: vm.labels,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CreateParams {
    vcpu_count: Option<u32>,
    mem_size_mib: Option<u32>,
    fs_size_mib: Option<u32>,
    /// Echoed in `progress` notifications about this request.
    progress_id: Option<String>,
}

pub(crate) async fn create(state: &State, params: CreateParams) -> Result<Value, ServeError> {
    let router = state.router().await?;
    let config = VmConfig {
        vcpu_count: params.vcpu_count,
        mem_size_mib: params.mem_size_mib,
        fs_size_mib: params.fs_size_mib,
        ..VmConfig::default()
    };
    let progress = |message: String| {
        let params = json!({ "progressId": params.progress_id, "message": message });
        state.notifier.send("progress", params)
    };
    progress("creating a VM…".into()).await;
    let vm_id = router.vers().new_root(config, false).await?;
    progress(format!("VM {vm_id} created; waiting for it to boot…")).await;
    let vm = router
        .vers()
        .wait_until_running(&vm_id, BOOT_DEADLINE)
        .await?;
    progress(format!("VM {vm_id} is running")).await;
    Ok(json!({ "vmId": vm_id, "state": vm.state }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UseParams {
    vm_id: String,
    /// The working directory on the VM (default: as before, else its home).
    cwd: Option<String>,
}

/// The active VM and where tools work on it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Active {
    vm_id: Option<String>,
    home: Option<String>,
    cwd: Option<String>,
    previous_vm_id: Option<String>,
}

pub(crate) async fn use_vm(state: &State, params: UseParams) -> Result<Active, ServeError> {
    let vm_id = state.vm(Some(&params.vm_id)).await?;
    let mut place = state.check(&vm_id).await?;
    if let Some(cwd) = params.cwd {
        let cwd = paths::resolve(&place, &cwd);
        let meta = state.target(&vm_id).await?.stat(&cwd).await?;
        if meta.kind != tether_target::FileKind::Dir {
            return Err(tether_target::TargetError::NotADirectory { path: cwd }.into());
        }
        place.cwd = cwd;
        state.set_cwd(&vm_id, place.clone());
    }
    let previous = state.set_active(Some(vm_id.clone()));
    Ok(Active {
        vm_id: Some(vm_id),
        home: Some(place.home),
        cwd: Some(place.cwd),
        previous_vm_id: previous,
    })
}

pub(crate) fn local(state: &State) -> Result<Active, ServeError> {
    Ok(Active {
        vm_id: None,
        home: None,
        cwd: None,
        previous_vm_id: state.set_active(None),
    })
}

pub(crate) async fn active(state: &State) -> Result<Active, ServeError> {
    let Some(vm_id) = state.active() else {
        return Ok(Active {
            vm_id: None,
            home: None,
            cwd: None,
            previous_vm_id: None,
        });
    };
    let Place { home, cwd } = state.place(&vm_id).await?;
    Ok(Active {
        vm_id: Some(vm_id),
        home: Some(home),
        cwd: Some(cwd),
        previous_vm_id: None,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BranchParams {
    vm_id: Option<String>,
    count: Option<u32>,
    keep_paused: Option<bool>,
}

pub(crate) async fn branch(state: &State, params: BranchParams) -> Result<Value, ServeError> {
    let vm_id = state.vm(params.vm_id.as_deref()).await?;
    let query = BranchQuery {
        count: Some(params.count.unwrap_or(1)),
        keep_paused: params.keep_paused.filter(|keep| *keep),
        skip_wait_boot: None,
    };
    let router = state.router().await?;
    let source = BranchSource::Vm(vm_id.clone());
    let vm_ids = router
        .vers()
        .branch(&source, query)
        .await
        .map_err(gone(&vm_id))?;
    Ok(json!({ "sourceVmId": vm_id, "vmIds": vm_ids }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CommitParams {
    vm_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    keep_paused: Option<bool>,
}

pub(crate) async fn commit(state: &State, params: CommitParams) -> Result<Value, ServeError> {
    let vm_id = state.vm(params.vm_id.as_deref()).await?;
    let query = CommitQuery {
        keep_paused: params.keep_paused.filter(|keep| *keep),
        skip_wait_boot: None,
    };
    let request = CommitRequest {
        commit_id: None,
        name: params.name,
        description: params.description,
    };
    let router = state.router().await?;
    let commit_id = router
        .vers()
        .commit(&vm_id, query, &request)
        .await
        .map_err(gone(&vm_id))?;
    if params.keep_paused == Some(true) {
        router.forget(&vm_id).await;
    }
    Ok(json!({ "vmId": vm_id, "commitId": commit_id }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RestoreParams {
    commit_id: String,
}

pub(crate) async fn restore(state: &State, params: RestoreParams) -> Result<Value, ServeError> {
    let router = state.router().await?;
    let commit_id = router
        .resolve_commit(&params.commit_id)
        .await
        .map_err(|err| ServeError::about_vm(&params.commit_id, err))?;
    let vm_id = router.vers().from_commit(&commit_id).await?;
    Ok(json!({ "commitId": commit_id, "vmId": vm_id }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct DeleteParams {
    vm_id: String,
}

pub(crate) async fn delete(state: &State, params: DeleteParams) -> Result<Value, ServeError> {
    let vm_id = state.vm(Some(&params.vm_id)).await?;
    let router = state.router().await?;
    let deleted = router
        .vers()
        .delete_vm(&vm_id)
        .await
        .map_err(gone(&vm_id))?;
    router.forget(&vm_id).await;
    let mut was_active = false;
    for id in &deleted {
        was_active |= state.forget(id);
    }
    was_active |= state.forget(&vm_id);
    Ok(json!({ "vmId": vm_id, "deleted": deleted, "wasActive": was_active }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct StateParams {
    vm_id: String,
    /// `paused` or `running`.
    state: String,
}

pub(crate) async fn set_state(state: &State, params: StateParams) -> Result<Value, ServeError> {
    let requested = match params.state.to_ascii_lowercase().as_str() {
        "paused" | "pause" => RequestedState::Paused,
        "running" | "resume" | "resumed" => RequestedState::Running,
        _ => {
            return Err(ServeError::InvalidParams {
                method: "vm/state".into(),
                reason: format!(
                    "state {:?} is neither \"paused\" nor \"running\"",
                    params.state
                ),
            });
        }
    };
    let vm_id = state.vm(Some(&params.vm_id)).await?;
    let router = state.router().await?;
    router
        .vers()
        .set_state(&vm_id, requested)
        .await
        .map_err(gone(&vm_id))?;
    router.forget(&vm_id).await;
    let vm = match requested {
        RequestedState::Running => {
            router
                .vers()
                .wait_until_running(&vm_id, BOOT_DEADLINE)
                .await?
        }
        RequestedState::Paused | RequestedState::Sleeping => router.vers().status(&vm_id).await?,
    };
    Ok(json!({ "vmId": vm_id, "state": vm.state }))
}
