//! The HTTP API: Vers's paths under `/api/v1`, bearer-key auth, JSON errors.
//!
//! The API is plain HTTP on loopback: a local simulator has no certificate a client trusts by
//! default, and the clients (tools, tests) run on the same machine. VM access goes through the
//! TLS gateway, as on Vers.

mod commits;
mod exec;
mod extract;
mod files;
mod vms;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde_json::json;
use tether_wire::ErrorBody;

use crate::error::ApiError;
use crate::keys::key_matches;
use crate::registry::Registry;

/// Largest request body: a file of ~190 MiB fits as base64 in JSON.
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

/// What every handler sees.
#[derive(Clone)]
pub(crate) struct AppState {
    pub registry: Arc<Registry>,
    pub api_key: Arc<str>,
    /// Port of the TLS gateway (`ssh_port` of `/ssh_key`).
    pub ssh_port: u16,
}

/// The whole HTTP service.
pub(crate) fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/vms", get(vms::list))
        .route("/vm/new_root", post(vms::new_root))
        .route("/vm/from_commit", post(vms::from_commit))
        .route("/vm/branch/by_vm/{vm_id}", post(vms::branch_by_vm))
        .route(
            "/vm/branch/by_commit/{commit_id}",
            post(vms::branch_by_commit),
        )
        .route("/vm/{vm_or_commit_id}/branch", post(vms::branch))
        .route("/vm/{vm_id}", delete(vms::delete))
        .route("/vm/{vm_id}/status", get(vms::status))
        .route("/vm/{vm_id}/metadata", get(vms::metadata))
        .route("/vm/{vm_id}/ssh_key", get(vms::ssh_key))
        .route("/vm/{vm_id}/state", patch(vms::set_state))
        .route("/vm/{vm_id}/commit", post(commits::commit))
        .route("/commits", get(commits::list))
        .route("/commits/{commit_id}", delete(commits::delete))
        .route("/vm/{vm_id}/exec", post(exec::exec))
        .route("/vm/{vm_id}/exec/stream", post(exec::stream))
        .route("/vm/{vm_id}/files", get(files::get).put(files::put))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/health", get(health))
        .nest("/api/v1", api)
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        None => ApiError::Unauthorized {
            problem: "missing API key",
        }
        .into_response(),
        Some(key) if !key_matches(key.trim(), &state.api_key) => ApiError::Unauthorized {
            problem: "wrong API key",
        }
        .into_response(),
        Some(_) => next.run(request).await,
    }
}

/// `GET /health` (outside `/api/v1`, no key needed).
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "vms": state.registry.list().len() }))
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::NoRoute {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!("{self}");
        } else {
            tracing::debug!(status = status.as_u16(), "{self}");
        }
        (status, Json(ErrorBody::new(self.to_string()))).into_response()
    }
}
