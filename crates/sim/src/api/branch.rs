//! Branch routes: by VM, by commit, by tag, by `repo/tag`, and the one that takes either id.
//!
//! The four `branch/by_*` routes answer errors as Vers does, in their reply's shape:
//! `{"vms": [], "error": "..."}` (no `success` field); `/vm/{id}/branch` answers the common
//! `{"error", "success": false}`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tether_wire::{BranchQuery, BranchResponse, NewVmResponse};

use super::extract::{Caller, Id, Ids2, Params};
use super::{AppState, Created, created, log};
use crate::error::ApiError;
use crate::registry::{SnapshotOptions, check_count};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/vm/branch/by_vm/{vm_id}", post(by_vm))
        .route("/vm/branch/by_commit/{commit_id}", post(by_commit))
        .route("/vm/branch/by_tag/{tag_name}", post(by_tag))
        .route("/vm/branch/by_ref/{repo_name}/{tag_name}", post(by_ref))
        .route("/vm/{vm_or_commit_id}/branch", post(any))
}

/// An error of a `branch/by_*` route, in Vers's hybrid shape.
struct Hybrid(ApiError);

impl From<ApiError> for Hybrid {
    fn from(err: ApiError) -> Hybrid {
        Hybrid(err)
    }
}

impl IntoResponse for Hybrid {
    fn into_response(self) -> Response {
        log(&self.0);
        let body = json!({ "vms": [], "error": self.0.to_string() });
        (self.0.status(), Json(body)).into_response()
    }
}

type Branched = Result<(axum::http::StatusCode, Json<BranchResponse>), Hybrid>;

async fn any(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<BranchQuery>,
) -> Created<BranchResponse> {
    let count = check_count(query.count)?;
    let ids = state
        .registry
        .branch_any(&caller, &id, count, options(&query))
        .await?;
    branched(ids)
}

async fn by_vm(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Id, ApiError>,
    query: Result<Params<BranchQuery>, ApiError>,
) -> Branched {
    let (Id(id), Params(query)) = (path?, query?);
    let count = check_count(query.count)?;
    let ids = state
        .registry
        .branch_vm(&caller, &id, count, options(&query))
        .await?;
    Ok(branched(ids)?)
}

async fn by_commit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Id, ApiError>,
    query: Result<Params<BranchQuery>, ApiError>,
) -> Branched {
    let (Id(id), Params(query)) = (path?, query?);
    let count = check_count(query.count)?;
    let ids = state.registry.restore_commit(&caller, &id, count).await?;
    Ok(branched(ids)?)
}

async fn by_tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Id, ApiError>,
    query: Result<Params<BranchQuery>, ApiError>,
) -> Branched {
    let (Id(tag), Params(query)) = (path?, query?);
    let count = check_count(query.count)?;
    let ids = state.registry.restore_tag(&caller, &tag, count).await?;
    Ok(branched(ids)?)
}

async fn by_ref(
    State(state): State<AppState>,
    Caller(caller): Caller,
    path: Result<Ids2, ApiError>,
    query: Result<Params<BranchQuery>, ApiError>,
) -> Branched {
    let (Ids2(repo, tag), Params(query)) = (path?, query?);
    let count = check_count(query.count)?;
    let registry = &state.registry;
    let ids = registry
        .restore_repo_tag(&caller, &repo, &tag, count)
        .await?;
    Ok(branched(ids)?)
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
    created(BranchResponse { vms })
}
