//! Legacy tag routes (`/commit_tags`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use tether_wire::{CreateTagRequest, CreateTagResponse, TagInfo, TagList, UpdateTagRequest};

use super::extract::{Body, Caller, Id};
use super::{AppState, Created, created};
use crate::error::ApiError;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/commit_tags", get(list).post(create))
        .route(
            "/commit_tags/{tag_name}",
            get(show).patch(update).delete(remove),
        )
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<CreateTagRequest>,
) -> Created<CreateTagResponse> {
    created(state.registry.catalog().create_tag(&caller, body)?)
}

async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<TagList>, ApiError> {
    Ok(Json(state.registry.catalog().list_tags(&caller)?))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(name): Id,
) -> Result<Json<TagInfo>, ApiError> {
    Ok(Json(state.registry.catalog().get_tag(&caller, &name)?))
}

async fn update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(name): Id,
    Body(body): Body<UpdateTagRequest>,
) -> Result<StatusCode, ApiError> {
    state.registry.catalog().update_tag(&caller, &name, body)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(name): Id,
) -> Result<StatusCode, ApiError> {
    state.registry.catalog().delete_tag(&caller, &name)?;
    Ok(StatusCode::NO_CONTENT)
}
