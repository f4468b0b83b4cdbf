//! File routes: read or write one whole file inside a VM (base64 in JSON).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use tether_wire::{GetFileQuery, GetFileResponse, PutFileRequest};

use super::AppState;
use super::extract::{Body, Caller, Id, Params};
use crate::deadline::{FILE_TIMEOUT, within};
use crate::error::ApiError;

pub(super) async fn get(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<GetFileQuery>,
) -> Result<Json<GetFileResponse>, ApiError> {
    let vm = state.registry.vm(&caller, &id)?.ready(false).await?;
    check_absolute(&query.path)?;
    let read = vm.read_file(&query.path);
    let content = within("read a file in", &id, FILE_TIMEOUT, read).await?;
    Ok(Json(GetFileResponse {
        content_b64: B64.encode(content),
    }))
}

pub(super) async fn put(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(request): Body<PutFileRequest>,
) -> Result<StatusCode, ApiError> {
    let content = B64
        .decode(&request.content_b64)
        .map_err(|err| ApiError::BadField {
            field: "content_b64",
            reason: format!(
                "it is not base64 ({err}); encode the file with the standard alphabet and padding"
            ),
        })?;
    let vm = state.registry.vm(&caller, &id)?.ready(false).await?;
    check_absolute(&request.path)?;
    let create_dirs = request.create_dirs.unwrap_or(false);
    let write = vm.write_file(&request.path, &content, request.mode, create_dirs);
    within("write a file in", &id, FILE_TIMEOUT, write).await?;
    Ok(StatusCode::OK)
}

fn check_absolute(path: &str) -> Result<(), ApiError> {
    if path.starts_with('/') {
        return Ok(());
    }
    Err(ApiError::BadPath {
        path: path.to_owned(),
        reason: "it is relative".into(),
    })
}
