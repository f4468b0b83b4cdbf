//! The HTTP API: Vers's paths under `/api/v1` (every operation of its OpenAPI description
//! and of its current SDK), bearer-key auth, JSON errors.
//!
//! The API is plain HTTP on loopback: a local simulator has no certificate a client trusts by
//! default, and the clients (tools, tests) run on the same machine. VM access goes through the
//! TLS gateway, as on Vers. Keys are looked up in the database on every request, so a key
//! added by `tether sim key add` works at once.

mod account;
mod branch;
mod commits;
mod domains;
mod exec;
mod extract;
mod files;
mod repos;
mod tags;
mod vms;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tether_wire::ErrorBody;

use crate::db::Account;
use crate::error::ApiError;
use crate::keys::key_matches;
use crate::registry::Registry;

/// Largest request body: a file of ~190 MiB fits as base64 in JSON.
pub(crate) const MAX_BODY: usize = 256 * 1024 * 1024;

/// What every handler sees.
#[derive(Clone)]
pub(crate) struct AppState {
    pub registry: Arc<Registry>,
    /// The key given at start (`--api-key`): it stands for the first account's stored key.
    pub api_key_override: Option<Arc<str>>,
    /// The first account's key id.
    pub first_owner: Arc<str>,
    /// Port of the TLS gateway (`ssh_port` of `/ssh_key`).
    pub ssh_port: u16,
    /// The domain VMs are named under (custom domains must stay outside it).
    pub vm_domain: Arc<str>,
}

impl AppState {
    /// The account a presented key belongs to.
    fn account(&self, key: &str) -> Result<Account, ApiError> {
        let wrong = ApiError::Unauthorized {
            problem: "wrong API key",
        };
        let db = self.registry.catalog().db();
        if let Some(given) = &self.api_key_override
            && key_matches(key, given)
        {
            return db.account_by_key(&self.first_owner)?.ok_or(wrong);
        }
        match db.account_by_secret(key)? {
            Some(account)
                if self.api_key_override.is_some() && *account.key_id == *self.first_owner =>
            {
                Err(wrong)
            }
            Some(account) => Ok(account),
            None => Err(wrong),
        }
    }
}

/// The whole HTTP service.
pub(crate) fn router(state: AppState) -> Router {
    let open = Router::new()
        .route("/system/version", get(account::version))
        .merge(repos::public_routes());
    let api = Router::new()
        .merge(vms::routes())
        .merge(branch::routes())
        .merge(commits::routes())
        .merge(exec::routes())
        .route("/vm/{vm_id}/files", get(files::get).put(files::put))
        .merge(tags::routes())
        .merge(repos::routes())
        .merge(domains::routes())
        .merge(account::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .route("/health", get(health))
        .nest("/api/v1", api.merge(open))
        .fallback(no_route)
        .method_not_allowed_fallback(no_route)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|key| !key.is_empty());
    let account = match presented {
        None => Err(ApiError::Unauthorized {
            problem: "missing API key",
        }),
        Some(key) => state.account(key),
    };
    match account {
        Ok(account) => {
            request.extensions_mut().insert(account);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// `GET /health` (outside `/api/v1`, no key needed).
async fn health(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "vms": state.registry.count() }))
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
        log(&self);
        (status, Json(ErrorBody::new(self.to_string()))).into_response()
    }
}

/// Logs a failed request: server errors loudly, the client's mistakes quietly.
fn log(err: &ApiError) {
    let status = err.status();
    if status.is_server_error() {
        tracing::error!("{err}");
    } else {
        tracing::debug!(status = status.as_u16(), "{err}");
    }
}

/// `201 Created` with a JSON body.
type Created<T> = Result<(axum::http::StatusCode, Json<T>), ApiError>;

fn created<T>(body: T) -> Created<T> {
    Ok((axum::http::StatusCode::CREATED, Json(body)))
}
