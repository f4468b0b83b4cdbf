//! Commit routes: commit a VM, list the account's and the public commits, publish or rename
//! one, delete one, walk its lineage.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use tether_wire::{
    CommitEntity, CommitInfo, CommitList, CommitQuery, CommitRequest, CommitResponse,
    ListCommitsQuery, UpdateCommitRequest,
};

use super::extract::{Body, Caller, Id, OptionalBody, Params};
use super::{AppState, Created, created};
use crate::error::ApiError;
use crate::registry::SnapshotOptions;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/vm/{vm_id}/commit", post(commit))
        .route("/vm/commits/{commit_id}/parents", get(parents))
        .route("/commits", get(list))
        .route("/commits/public", get(list_public))
        .route("/commits/{commit_id}", patch(update).delete(remove))
}

async fn commit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<CommitQuery>,
    OptionalBody(body): OptionalBody<CommitRequest>,
) -> Created<CommitResponse> {
    let options = SnapshotOptions {
        keep_paused: query.keep_paused.unwrap_or(false),
        skip_wait_boot: query.skip_wait_boot.unwrap_or(false),
    };
    let commit_id = state.registry.commit(&caller, &id, body, options).await?;
    created(CommitResponse { commit_id })
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<ListCommitsQuery>,
) -> Result<Json<CommitList>, ApiError> {
    let list = state
        .registry
        .list_commits(&caller, false, query.limit, query.offset)?;
    Ok(Json(list))
}

async fn list_public(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Params(query): Params<ListCommitsQuery>,
) -> Result<Json<CommitList>, ApiError> {
    let list = state
        .registry
        .list_commits(&caller, true, query.limit, query.offset)?;
    Ok(Json(list))
}

async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(body): Body<UpdateCommitRequest>,
) -> Result<Json<CommitInfo>, ApiError> {
    Ok(Json(state.registry.update_commit(&caller, &id, body)?))
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.registry.delete_commit(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn parents(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
) -> Result<Json<Vec<CommitEntity>>, ApiError> {
    Ok(Json(state.registry.catalog().parents(&caller, &id)?))
}
