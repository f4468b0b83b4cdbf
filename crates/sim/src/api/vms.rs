//! VM routes: list, create, restore, branch, status, metadata, ssh_key, state, delete.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tether_wire::{
    BranchQuery, BranchResponse, DeleteVmResponse, FromCommitRequest, NewRootQuery, NewRootRequest,
    NewVmResponse, RequestedState, SshKeyResponse, Vm, VmMetadata,
};

use super::AppState;
use super::extract::{Body, Id, OptionalBody, Params};
use crate::error::ApiError;
use crate::registry::{SnapshotOptions, check_count};

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

/// `skip_wait_boot`, accepted by state changes and delete.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WaitQuery {
    #[serde(default)]
    skip_wait_boot: Option<bool>,
}

/// The state body, read as text so any other value gets a message naming the allowed ones.
#[derive(Debug, Deserialize)]
pub(super) struct StateBody {
    state: String,
}

pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<Vm>> {
    Json(state.registry.list())
}

pub(super) async fn new_root(
    State(state): State<AppState>,
    Params(query): Params<NewRootQuery>,
    OptionalBody(body): OptionalBody<NewRootRequest>,
) -> Created<NewVmResponse> {
    let vm_id = state
        .registry
        .new_root(body.vm_config, query.wait_boot.unwrap_or(false))
        .await?;
    Ok((StatusCode::CREATED, Json(NewVmResponse { vm_id })))
}

pub(super) async fn from_commit(
    State(state): State<AppState>,
    Body(body): Body<FromCommitRequest>,
) -> Created<NewVmResponse> {
    let commit_id = match body {
        FromCommitRequest::CommitId { commit_id } => commit_id,
        FromCommitRequest::TagName { .. } | FromCommitRequest::Ref { .. } => return Err(no_tags()),
    };
    let mut vms = state.registry.restore(&commit_id, 1).await?;
    let vm_id = vms.pop().ok_or_else(|| ApiError::TaskFailed {
        detail: "a restore made no VM".into(),
    })?;
    Ok((StatusCode::CREATED, Json(NewVmResponse { vm_id })))
}

fn no_tags() -> ApiError {
    let reason =
        "tags and repository references are not supported by the simulator; restore by `commit_id`";
    ApiError::BadField {
        field: "body",
        reason: reason.into(),
    }
}

pub(super) async fn branch(
    State(state): State<AppState>,
    Id(id): Id,
    Params(query): Params<BranchQuery>,
) -> Created<BranchResponse> {
    let count = check_count(query.count)?;
    branched(
        state
            .registry
            .branch_any(&id, count, options(&query))
            .await?,
    )
}

pub(super) async fn branch_by_vm(
    State(state): State<AppState>,
    Id(id): Id,
    Params(query): Params<BranchQuery>,
) -> Created<BranchResponse> {
    let count = check_count(query.count)?;
    branched(
        state
            .registry
            .branch_vm(&id, count, options(&query))
            .await?,
    )
}

pub(super) async fn branch_by_commit(
    State(state): State<AppState>,
    Id(id): Id,
    Params(query): Params<BranchQuery>,
) -> Created<BranchResponse> {
    let count = check_count(query.count)?;
    branched(state.registry.restore(&id, count).await?)
}

fn options(query: &BranchQuery) -> SnapshotOptions {
    SnapshotOptions {
        keep_paused: query.keep_paused.unwrap_or(false),
        skip_wait_boot: query.skip_wait_boot.unwrap_or(false),
    }
}

fn branched(vm_ids: Vec<String>) -> Created<BranchResponse> {
    let vms = vm_ids
        .into_iter()
        .map(|vm_id| NewVmResponse { vm_id })
        .collect();
    Ok((StatusCode::CREATED, Json(BranchResponse { vms })))
}

pub(super) async fn status(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<Vm>, ApiError> {
    Ok(Json(state.registry.status(&id)?))
}

pub(super) async fn metadata(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<VmMetadata>, ApiError> {
    Ok(Json(state.registry.metadata(&id)?))
}

pub(super) async fn ssh_key(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<Json<SshKeyResponse>, ApiError> {
    let ssh_private_key = state.registry.ssh_private_key(&id)?;
    Ok(Json(SshKeyResponse {
        ssh_port: state.ssh_port,
        ssh_private_key,
    }))
}

pub(super) async fn set_state(
    State(state): State<AppState>,
    Id(id): Id,
    Params(query): Params<WaitQuery>,
    Body(body): Body<StateBody>,
) -> Result<StatusCode, ApiError> {
    let wanted = match body.state.as_str() {
        "Paused" => RequestedState::Paused,
        "Running" => RequestedState::Running,
        _ => return Err(ApiError::BadState { given: body.state }),
    };
    state
        .registry
        .set_state(&id, wanted, query.skip_wait_boot.unwrap_or(false))
        .await?;
    Ok(StatusCode::OK)
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
    Params(query): Params<WaitQuery>,
) -> Result<Json<DeleteVmResponse>, ApiError> {
    state
        .registry
        .delete(&id, query.skip_wait_boot.unwrap_or(false))
        .await?;
    Ok(Json(DeleteVmResponse { vm_id: id }))
}
