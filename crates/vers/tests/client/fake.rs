//! A small server that answers like the real Vers API does, quirks included (capitalised
//! states, plain-text 403s, hybrid branch errors, `{vm_id}` branch replies, `deleted_ids`),
//! since the real Vers cloud cannot be reached from tests.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The VM the fake knows.
pub const VM: &str = "11111111-1111-4111-8111-111111111111";
/// An id nothing has.
pub const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";
/// The key the fake accepts.
pub const KEY: &str = "fake-key";

/// What the fake saw and what it will answer.
#[derive(Default)]
pub struct FakeState {
    /// Every request: `(method, path?query, Authorization header)`.
    pub log: Mutex<Vec<(String, String, String)>>,
    /// States `/status` will report for a VM, one per poll; the last one sticks.
    pub states: Mutex<HashMap<String, VecDeque<String>>>,
    /// The body of the next `/exec/stream` reply, fed by the test.
    stream: Mutex<Option<mpsc::UnboundedReceiver<Bytes>>>,
}

/// A fake Vers API on `127.0.0.1:0`, stopped when dropped.
pub struct Fake {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Shared with the handlers.
    pub state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Fake {
    /// Starts the fake.
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = routes(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Fake { url, state, task }
    }

    /// Sets the states `/status` reports for `vm`, in order.
    pub fn set_states(&self, vm: &str, states: &[&str]) {
        let states = states.iter().map(|s| (*s).to_owned()).collect();
        self.state
            .states
            .lock()
            .unwrap()
            .insert(vm.to_owned(), states);
    }

    /// Makes the next `/exec/stream` reply stream whatever is sent here; dropping the sender
    /// ends the body.
    pub fn feed_stream(&self) -> mpsc::UnboundedSender<Bytes> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.state.stream.lock().unwrap() = Some(rx);
        tx
    }

    /// The logged requests as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        let log = self.state.log.lock().unwrap();
        log.iter().map(|(m, p, _)| format!("{m} {p}")).collect()
    }

    /// The Authorization headers seen, in order.
    pub fn keys_seen(&self) -> Vec<String> {
        let log = self.state.log.lock().unwrap();
        log.iter().map(|(_, _, auth)| auth.clone()).collect()
    }
}

type Shared = State<Arc<FakeState>>;

fn routes(state: Arc<FakeState>) -> Router {
    Router::new()
        .route("/api/v1/vms", get(list))
        .route("/api/v1/vm/new_root", post(new_root))
        .route("/api/v1/vm/from_commit", post(from_commit))
        .route("/api/v1/vm/branch/by_vm/{id}", post(branch_by_vm))
        .route("/api/v1/vm/branch/by_commit/{id}", post(branch_by_commit))
        .route("/api/v1/vm/{id}/branch", post(branch_any))
        .route("/api/v1/vm/{id}/status", get(status))
        .route("/api/v1/vm/{id}/metadata", get(metadata))
        .route("/api/v1/vm/{id}/state", patch(set_state))
        .route("/api/v1/vm/{id}", delete(delete_vm))
        .route("/api/v1/vm/{id}/exec/stream", post(exec_stream))
        .route("/api/v1/vm/{id}/files", get(get_file))
        .route("/api/v1/commits", get(commits))
        .route("/api/v1/commits/{id}", delete(delete_commit))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// Logs the request; a wrong key gets the gateway's bare `403 Forbidden` (no content type).
async fn auth(State(state): Shared, request: Request, next: Next) -> Response {
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let uri = request.uri().path_and_query().map(ToString::to_string);
    let entry = (
        request.method().to_string(),
        uri.unwrap_or_default(),
        auth.clone(),
    );
    state.log.lock().unwrap().push(entry);
    if auth != format!("Bearer {KEY}") {
        return Response::builder()
            .status(StatusCode::FORBIDDEN)
            .body(Body::from("403 Forbidden"))
            .unwrap();
    }
    next.run(request).await
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": message, "success": false})),
    )
        .into_response()
}

fn text(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

fn vm_json(id: &str, state: &str) -> Value {
    json!({"vm_id": id, "owner_id": "o", "created_at": "2026-04-01T00:00:00Z",
           "state": state, "labels": {"role": "web"}})
}

async fn list() -> Response {
    axum::Json(json!([vm_json(VM, "Running")])).into_response()
}

async fn new_root(axum::Json(body): axum::Json<Value>) -> Response {
    if body["vm_config"]["vcpu_count"] == 0 {
        return text(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Failed to deserialize the JSON body into the target type: vm_config.vcpu_count: invalid value: integer `0`, expected a nonzero u32",
        );
    }
    (StatusCode::CREATED, axum::Json(json!({"vm_id": VM}))).into_response()
}

async fn from_commit() -> Response {
    error(StatusCode::NOT_FOUND, "commit not found")
}

async fn branch_by_vm(Path(id): Path<String>) -> Response {
    if id != VM {
        let hybrid = json!({"vms": [], "error": "parent vm not found"});
        return (StatusCode::NOT_FOUND, axum::Json(hybrid)).into_response();
    }
    let vms = json!({"vms": [{"vm_id": "child-1"}, {"vm_id": "child-2"}]});
    (StatusCode::CREATED, axum::Json(vms)).into_response()
}

async fn branch_by_commit() -> Response {
    error(StatusCode::NOT_FOUND, "commit not found")
}

/// Known VM: the older single-VM reply; unknown id: "commit not found", whatever it was.
async fn branch_any(Path(id): Path<String>) -> Response {
    if id != VM {
        return error(StatusCode::NOT_FOUND, "commit not found");
    }
    (StatusCode::CREATED, axum::Json(json!({"vm_id": "child-3"}))).into_response()
}

async fn status(State(state): Shared, Path(id): Path<String>) -> Response {
    let mut states = state.states.lock().unwrap();
    let Some(queue) = states.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    let current = if queue.len() > 1 {
        queue.pop_front()
    } else {
        queue.front().cloned()
    };
    axum::Json(vm_json(&id, &current.unwrap_or_default())).into_response()
}

async fn metadata() -> Response {
    text(StatusCode::BAD_GATEWAY, "upstream unavailable")
}

/// Records the new state (capitalised, as written) for `/status` to report back.
async fn set_state(State(state): Shared, Path(id): Path<String>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let wanted = body["state"].as_str().unwrap_or_default().to_owned();
    state
        .states
        .lock()
        .unwrap()
        .insert(id, VecDeque::from([wanted]));
    StatusCode::OK.into_response()
}

async fn delete_vm(Path(id): Path<String>) -> Response {
    if id != VM {
        return error(StatusCode::FORBIDDEN, "Forbidden");
    }
    axum::Json(json!({"deleted_ids": [VM]})).into_response()
}

async fn exec_stream(State(state): Shared) -> Response {
    let Some(rx) = state.stream.lock().unwrap().take() else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "no stream fed");
    };
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    });
    let headers = [(header::CONTENT_TYPE, "application/x-ndjson")];
    (headers, Body::from_stream(body)).into_response()
}

async fn get_file() -> Response {
    error(StatusCode::NOT_FOUND, "file not found")
}

/// Vers's observed shape: `commits` only, no paging fields.
async fn commits() -> Response {
    let commit = json!({"commit_id": "c-1", "name": null, "owner_id": "o", "is_public": false,
                        "created_at": "2026-04-01T00:00:00Z", "parent_vm_id": VM});
    axum::Json(json!({"commits": [commit]})).into_response()
}

async fn delete_commit() -> Response {
    error(StatusCode::CONFLICT, "commit still has 1 active VM(s)")
}
