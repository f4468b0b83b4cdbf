//! Repository routes: the account's repositories and their tags, visibility, forks, and the
//! public listing every account (and no key at all) can read.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use tether_wire::{
    CreateRepoTagRequest, CreateRepoTagResponse, CreateRepositoryRequest, CreateRepositoryResponse,
    ForkRequest, ForkResponse, PublicRepositoryInfo, PublicRepositoryList, RepoTagInfo,
    RepoTagList, RepositoryInfo, RepositoryList, UpdateTagRequest, VisibilityRequest,
};

use super::extract::{Body, Caller, Id, Ids2, Ids3};
use super::{AppState, Created, created};
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/repositories", get(list).post(create))
        .route("/repositories/fork", post(fork))
        .route("/repositories/{repo_name}", get(show).delete(remove))
        .route("/repositories/{repo_name}/visibility", patch(visibility))
        .route("/repositories/{repo_name}/tags", get(tags).post(create_tag))
        .route(
            "/repositories/{repo_name}/tags/{tag_name}",
            get(show_tag).patch(update_tag).delete(remove_tag),
        )
}

/// The public listing: no key needed (as on Vers).
pub(super) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/public/repositories", get(public_list))
        .route(
            "/public/repositories/{org_name}/{repo_name}",
            get(public_show),
        )
        .route(
            "/public/repositories/{org_name}/{repo_name}/tags",
            get(public_tags),
        )
        .route(
            "/public/repositories/{org_name}/{repo_name}/tags/{tag_name}",
            get(public_tag),
        )
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<CreateRepositoryRequest>,
) -> Created<CreateRepositoryResponse> {
    created(state.registry.catalog().create_repo(&caller, body)?)
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<RepositoryList>, ApiError> {
    Ok(Json(state.registry.catalog().list_repos(&caller)?))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(repo): Id,
) -> Result<Json<RepositoryInfo>, ApiError> {
    Ok(Json(state.registry.catalog().get_repo(&caller, &repo)?))
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(repo): Id,
) -> Result<StatusCode, ApiError> {
    state.registry.catalog().delete_repo(&caller, &repo)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn visibility(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(repo): Id,
    Body(body): Body<VisibilityRequest>,
) -> Result<StatusCode, ApiError> {
    let catalog = state.registry.catalog();
    catalog.set_visibility(&caller, &repo, body.is_public)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn fork(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<ForkRequest>,
) -> Created<ForkResponse> {
    created(state.registry.fork(&caller, body).await?)
}

async fn create_tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(repo): Id,
    Body(body): Body<CreateRepoTagRequest>,
) -> Created<CreateRepoTagResponse> {
    created(
        state
            .registry
            .catalog()
            .create_repo_tag(&caller, &repo, body)?,
    )
}

async fn tags(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(repo): Id,
) -> Result<Json<RepoTagList>, ApiError> {
    Ok(Json(
        state.registry.catalog().list_repo_tags(&caller, &repo)?,
    ))
}

async fn show_tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Ids2(repo, tag): Ids2,
) -> Result<Json<RepoTagInfo>, ApiError> {
    Ok(Json(
        state
            .registry
            .catalog()
            .get_repo_tag(&caller, &repo, &tag)?,
    ))
}

async fn update_tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Ids2(repo, tag): Ids2,
    Body(body): Body<UpdateTagRequest>,
) -> Result<StatusCode, ApiError> {
    let catalog = state.registry.catalog();
    catalog.update_repo_tag(&caller, &repo, &tag, body)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_tag(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Ids2(repo, tag): Ids2,
) -> Result<StatusCode, ApiError> {
    state
        .registry
        .catalog()
        .delete_repo_tag(&caller, &repo, &tag)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn public_list(
    State(state): State<AppState>,
) -> Result<Json<PublicRepositoryList>, ApiError> {
    Ok(Json(state.registry.catalog().list_public_repos()?))
}

async fn public_show(
    State(state): State<AppState>,
    Ids2(org, repo): Ids2,
) -> Result<Json<PublicRepositoryInfo>, ApiError> {
    Ok(Json(state.registry.catalog().get_public_repo(&org, &repo)?))
}

async fn public_tags(
    State(state): State<AppState>,
    Ids2(org, repo): Ids2,
) -> Result<Json<RepoTagList>, ApiError> {
    Ok(Json(
        state
            .registry
            .catalog()
            .list_public_repo_tags(&org, &repo)?,
    ))
}

async fn public_tag(
    State(state): State<AppState>,
    Ids3(org, repo, tag): Ids3,
) -> Result<Json<RepoTagInfo>, ApiError> {
    Ok(Json(
        state
            .registry
            .catalog()
            .get_public_repo_tag(&org, &repo, &tag)?,
    ))
}
