//! VM routes: list, create, restore, status, metadata, ssh_key, state, labels, disk, delete.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post, put};
use serde::Deserialize;
use tether_wire::{
    DeleteVmResponse, FromCommitRequest, LabelsRequest, NewRootQuery, NewRootRequest,
    NewVmResponse, RequestedState, ResizeDiskRequest, SshKeyResponse, Vm, VmMetadata, WaitQuery,
};

use super::extract::{Body, Caller, Id, Ids2, OptionalBody, Params};
use super::{AppState, Created, created};
use crate::error::ApiError;
use crate::registry::LabelChange;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/vms", get(list))
        .route("/vm", get(list))
        .route("/vm/new_root", post(new_root))
        .route("/vm/from_commit", post(from_commit))
        .route("/vm/{vm_id}", delete(remove))
        .route("/vm/{vm_id}/status", get(status))
        .route("/vm/{vm_id}/metadata", get(metadata))
        .route("/vm/{vm_id}/ssh_key", get(ssh_key))
        .route("/vm/{vm_id}/state", patch(set_state))
        .route("/vm/{vm_id}/disk", patch(resize_disk))
        .route("/vm/{vm_id}/label", patch(upsert_labels))
        .route("/vm/{vm_id}/labels", put(replace_labels))
        .route("/vm/{vm_id}/label/{label_name}", delete(remove_label))
}

/// The state body, read as text so any other value gets a message naming the allowed ones.
#[derive(Debug, Deserialize)]
struct StateBody {
    state: String,
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Json<Vec<Vm>> {
    Json(state.registry.list(&caller))
}

async fn new_root(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<NewRootQuery>,
    OptionalBody(body): OptionalBody<NewRootRequest>,
) -> Created<NewVmResponse> {
    let wait = query.wait_boot.unwrap_or(false);
    let vm_id = state
        .registry
        .new_root(&caller, body.vm_config, wait)
        .await?;
    created(NewVmResponse { vm_id })
}

async fn from_commit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<FromCommitRequest>,
) -> Created<NewVmResponse> {
    let registry = &state.registry;
    let mut vms = match body {
        FromCommitRequest::CommitId { commit_id } => {
            registry.restore_commit(&caller, &commit_id, 1).await?
        }
        FromCommitRequest::TagName { tag_name } => {
            registry.restore_tag(&caller, &tag_name, 1).await?
        }
        FromCommitRequest::Ref { reference } => {
            let row = registry.catalog().resolve_reference(&caller, &reference)?;
            registry.restore(&caller, row, 1).await?
        }
    };
    let vm_id = vms.pop().ok_or_else(|| ApiError::TaskFailed {
        detail: "a restore made no VM".into(),
    })?;
    created(NewVmResponse { vm_id })
}

async fn status(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<Json<Vm>, ApiError> {
    Ok(Json(state.registry.status(&caller, &id)?))
}

async fn metadata(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<Json<VmMetadata>, ApiError> {
    Ok(Json(state.registry.metadata(&caller, &id)?))
}

async fn ssh_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<Json<SshKeyResponse>, ApiError> {
    let ssh_private_key = state.registry.ssh_private_key(&caller, &id)?;
    Ok(Json(SshKeyResponse {
        ssh_port: state.ssh_port,
        ssh_private_key,
    }))
}

async fn set_state(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<WaitQuery>,
    Body(body): Body<StateBody>,
) -> Result<StatusCode, ApiError> {
    let wanted = match body.state.as_str() {
        "Paused" => RequestedState::Paused,
        "Sleeping" => RequestedState::Sleeping,
        "Running" => RequestedState::Running,
        _ => return Err(ApiError::BadState { given: body.state }),
    };
    let skip = query.skip_wait_boot.unwrap_or(false);
    state.registry.set_state(&caller, &id, wanted, skip).await?;
    Ok(StatusCode::OK)
}

async fn resize_disk(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<WaitQuery>,
    Body(body): Body<ResizeDiskRequest>,
) -> Result<StatusCode, ApiError> {
    let skip = query.skip_wait_boot.unwrap_or(false);
    state
        .registry
        .resize_disk(&caller, &id, body.fs_size_mib, skip)
        .await?;
    Ok(StatusCode::OK)
}

async fn upsert_labels(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(body): Body<LabelsRequest>,
) -> Result<StatusCode, ApiError> {
    let change = LabelChange::Upsert(body.labels);
    state.registry.set_labels(&caller, &id, change)?;
    Ok(StatusCode::OK)
}

async fn replace_labels(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(body): Body<LabelsRequest>,
) -> Result<StatusCode, ApiError> {
    let change = LabelChange::Replace(body.labels);
    state.registry.set_labels(&caller, &id, change)?;
    Ok(StatusCode::OK)
}

async fn remove_label(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Ids2(id, name): Ids2,
) -> Result<StatusCode, ApiError> {
    state
        .registry
        .set_labels(&caller, &id, LabelChange::Remove(name))?;
    Ok(StatusCode::OK)
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<WaitQuery>,
) -> Result<Json<DeleteVmResponse>, ApiError> {
    let skip = query.skip_wait_boot.unwrap_or(false);
    state.registry.delete(&caller, &id, skip).await?;
    Ok(Json(DeleteVmResponse { vm_id: id }))
}
