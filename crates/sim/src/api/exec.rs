//! Exec routes: run a command and answer with its output, or stream it as NDJSON.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use tether_wire::{ExecRequest, ExecResponse, ExecStream, ExecStreamEvent};

use super::AppState;
use super::extract::{Body, Id};
use crate::error::ApiError;
use crate::exec::{self, ExecEvent, Execution};

/// Starts a run: the VM must exist, have booted, and not be paused.
async fn start(state: &AppState, vm_id: &str, request: ExecRequest) -> Result<Execution, ApiError> {
    let slot = state.registry.slot(vm_id)?;
    let vm = slot.running().await?;
    exec::start(&vm, vm_id, request).await
}

pub(super) async fn exec(
    State(state): State<AppState>,
    Id(id): Id,
    Body(request): Body<ExecRequest>,
) -> Result<Json<ExecResponse>, ApiError> {
    let Execution {
        exec_id,
        mut events,
    } = start(&state, &id, request).await?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(event) = events.recv().await {
        match event {
            ExecEvent::Output(ExecStream::Stdout, bytes) => stdout.extend_from_slice(&bytes),
            ExecEvent::Output(ExecStream::Stderr, bytes) => stderr.extend_from_slice(&bytes),
            ExecEvent::Failed(err) => return Err(err),
            ExecEvent::Exit(exit_code) => {
                return Ok(Json(ExecResponse {
                    exit_code,
                    stdout: String::from_utf8_lossy(&stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&stderr).into_owned(),
                    exec_id: Some(exec_id),
                }));
            }
        }
    }
    Err(ApiError::TaskFailed {
        detail: "the command's supervisor ended without an exit code".into(),
    })
}

pub(super) async fn stream(
    State(state): State<AppState>,
    Id(id): Id,
    Body(request): Body<ExecRequest>,
) -> Result<Response, ApiError> {
    let Execution { exec_id, events } = start(&state, &id, request).await?;
    let lines = futures::stream::unfold(
        (events, exec_id, 0u64),
        |(mut events, exec_id, cursor)| async move {
            let event = events.recv().await?;
            let cursor = cursor + 1;
            let line = ndjson(&wire_event(event, &exec_id, cursor));
            Some((Ok::<Bytes, Infallible>(line), (events, exec_id, cursor)))
        },
    );
    let headers = [(header::CONTENT_TYPE, "application/x-ndjson")];
    Ok((headers, axum::body::Body::from_stream(lines)).into_response())
}

fn wire_event(event: ExecEvent, exec_id: &str, cursor: u64) -> ExecStreamEvent {
    let exec_id = exec_id.to_owned();
    match event {
        ExecEvent::Output(stream, bytes) => ExecStreamEvent::Chunk {
            exec_id,
            cursor,
            stream,
            data_b64: B64.encode(&bytes),
        },
        ExecEvent::Exit(exit_code) => ExecStreamEvent::Exit {
            exec_id,
            cursor,
            exit_code,
        },
        ExecEvent::Failed(err) => ExecStreamEvent::Error {
            code: "vm_unavailable".into(),
            message: err.to_string(),
        },
    }
}

fn ndjson(event: &ExecStreamEvent) -> Bytes {
    // Serialising these plain structs cannot fail; an empty object keeps the stream line-framed.
    let mut line = serde_json::to_vec(event).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    Bytes::from(line)
}
