//! Commit routes: commit a VM, list commits, delete one.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tether_wire::{CommitList, CommitQuery, CommitRequest, CommitResponse, ListCommitsQuery};

use super::AppState;
use super::extract::{Id, OptionalBody, Params};
use crate::error::ApiError;
use crate::registry::SnapshotOptions;

pub(super) async fn commit(
    State(state): State<AppState>,
    Id(id): Id,
    Params(query): Params<CommitQuery>,
    OptionalBody(body): OptionalBody<CommitRequest>,
) -> Result<(StatusCode, Json<CommitResponse>), ApiError> {
    let options = SnapshotOptions {
        keep_paused: query.keep_paused.unwrap_or(false),
        skip_wait_boot: query.skip_wait_boot.unwrap_or(false),
    };
    let commit_id = state.registry.commit(&id, body, options).await?;
    Ok((StatusCode::CREATED, Json(CommitResponse { commit_id })))
}

pub(super) async fn list(
    State(state): State<AppState>,
    Params(query): Params<ListCommitsQuery>,
) -> Result<Json<CommitList>, ApiError> {
    Ok(Json(
        state.registry.list_commits(query.limit, query.offset)?,
    ))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    Id(id): Id,
) -> Result<StatusCode, ApiError> {
    state.registry.delete_commit(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
