//! Exec routes: run a command and answer with its output, stream it as NDJSON, rejoin a run
//! (`exec/stream/attach`), read the VM's exec log (`/logs`).

use std::convert::Infallible;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use tether_wire::{
    AttachRequest, ExecLogEntry, ExecLogQuery, ExecLogResponse, ExecRequest, ExecResponse,
    ExecStream,
};

use super::AppState;
use super::extract::{Body, Caller, Id, Params};
use crate::db::Account;
use crate::error::ApiError;
use crate::exec::{Follow, RunEvent};

/// Entries `/logs` returns when not told, and the most it returns.
const LOG_PAGE: (u32, u32) = (100, 1000);

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/vm/{vm_id}/exec", post(exec))
        .route("/vm/{vm_id}/exec/stream", post(stream))
        .route("/vm/{vm_id}/exec/stream/attach", post(attach))
        .route("/vm/{vm_id}/logs", get(logs))
}

/// Starts a recorded run: the VM must be the caller's, have booted, and not be paused.
async fn start(
    state: &AppState,
    caller: &Account,
    vm_id: &str,
    request: ExecRequest,
) -> Result<Follow, ApiError> {
    let vm = state.registry.vm(caller, vm_id)?.running().await?;
    let (_, follow) = state.registry.runs().start(&*vm, vm_id, request).await?;
    Ok(follow)
}

async fn exec(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(request): Body<ExecRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    let mut follow = start(&state, &caller, &id, request).await?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(event) = follow.next().await {
        match event {
            RunEvent::Chunk {
                stream: ExecStream::Stdout,
                data,
                ..
            } => stdout.extend_from_slice(&data),
            RunEvent::Chunk {
                stream: ExecStream::Stderr,
                data,
                ..
            } => stderr.extend_from_slice(&data),
            RunEvent::Failed { message, .. } => {
                return Err(ApiError::Dead {
                    vm_id: id,
                    reason: message,
                });
            }
            RunEvent::Exit { code, .. } => {
                return Ok(Json(ExecResponse {
                    exit_code: code,
                    stdout: String::from_utf8_lossy(&stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                    exec_id: Some(follow.exec_id().to_owned()),
                }));
            }
        }
    }
    Err(ApiError::TaskFailed {
        detail: "the run ended without an exit code".into(),
    })
}

async fn stream(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(request): Body<ExecRequest>,
) -> Result<Response, ApiError> {
    Ok(ndjson(start(&state, &caller, &id, request).await?))
}

async fn attach(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Body(request): Body<AttachRequest>,
) -> Result<Response, ApiError> {
    state.registry.vm(&caller, &id)?;
    Ok(ndjson(state.registry.runs().attach(&id, &request)?))
}

/// A run's events as an NDJSON reply (one line each, flushed as they come).
fn ndjson(follow: Follow) -> Response {
    let lines = futures::stream::unfold(follow, |mut follow| async move {
        let event = follow.next().await?;
        let line = line(&event.to_wire(follow.exec_id()));
        Some((Ok::<Bytes, Infallible>(line), follow))
    });
    let headers = [(header::CONTENT_TYPE, "application/x-ndjson")];
    (headers, axum::body::Body::from_stream(lines)).into_response()
}

fn line(event: &tether_wire::ExecStreamEvent) -> Bytes {
    // Serialising these plain structs cannot fail; an empty object keeps the stream line-framed.
    let mut line = serde_json::to_vec(event).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    Bytes::from(line)
}

async fn logs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Id(id): Id,
    Params(query): Params<ExecLogQuery>,
) -> Result<Json<ExecLogResponse>, ApiError> {
    state.registry.vm(&caller, &id)?;
    let max = query.max_entries.unwrap_or(LOG_PAGE.0).min(LOG_PAGE.1);
    let offset = query.offset.unwrap_or(0);
    let db = state.registry.catalog().db();
    let page = db.read_log(&id, offset, u64::from(max), query.stream)?;
    Ok(Json(ExecLogResponse {
        entries: page.entries.into_iter().map(entry).collect(),
        next_offset: page.next_offset,
        eof: page.eof,
    }))
}

fn entry(chunk: crate::db::LogChunk) -> ExecLogEntry {
    use base64::Engine;
    ExecLogEntry {
        exec_id: Some(chunk.exec_id),
        timestamp: chunk.timestamp,
        stream: chunk.stream,
        data_b64: base64::engine::general_purpose::STANDARD.encode(chunk.data),
    }
}
