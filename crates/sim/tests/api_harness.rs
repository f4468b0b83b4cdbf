//! Test support for the API tests: a simulator started in this process with
//! `tether_sim::start` on `127.0.0.1:0`, and a thin HTTP client for it.
//!
//! Included by the `api*.rs` tests (`#[path]`); also built on its own as a test target with no
//! tests. VMs need an init program: `tether-vm-init` (from `tether-sandbox`) or `tether` (which
//! runs it as `tether __vm-init`) in this target directory; `cargo nextest run --workspace`
//! builds both. Without either, tests skip with a printed reason.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tether_sandbox::SandboxConfig;
use tether_sim::{RunningSim, SimConfig, SimInfo};

/// Deadline of one step (a request, a start, a stop).
pub const STEP: Duration = Duration::from_secs(60);

/// Awaits `future` within [`STEP`], panicking with `what` if it takes longer.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP:?} waiting for {what}"),
    }
}

/// The VM init program built in this target directory, if any.
fn sandbox_config() -> Option<SandboxConfig> {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent)?;
    let candidates: [(&str, Vec<OsString>); 2] = [
        ("tether-vm-init", vec![]),
        ("tether", vec!["__vm-init".into()]),
    ];
    candidates.into_iter().find_map(|(name, init_args)| {
        let init_program = profile_dir.join(name);
        init_program.is_file().then_some(SandboxConfig {
            init_program,
            init_args,
        })
    })
}

/// An HTTP reply: status and JSON body (`Null` when empty).
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The body, asserting a 2xx status.
    pub fn ok(self) -> Value {
        assert!(
            (200..300).contains(&self.status),
            "expected success, got {self:?}"
        );
        self.body
    }

    /// The error message, asserting the error shape and `status`.
    pub fn error(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["success"], false, "{self:?}");
        self.body["error"].as_str().unwrap()
    }
}

/// A running in-process simulator with its own data directory.
pub struct Harness {
    sim: Option<RunningSim>,
    pub data: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
    sandbox: SandboxConfig,
}

impl Harness {
    /// Starts a simulator on a fresh data directory; `None` (with a printed reason) if no VM
    /// init program is built.
    pub async fn start() -> Option<Harness> {
        let Some(sandbox) = sandbox_config() else {
            eprintln!(
                "SKIP: no tether-vm-init or tether binary in the target dir; run `cargo build --workspace --bins`"
            );
            return None;
        };
        let data = tempfile::Builder::new()
            .prefix("tether-sim-api-")
            .tempdir()
            .unwrap();
        let mut harness = Harness {
            sim: None,
            data: Some(data),
            http: reqwest::Client::new(),
            sandbox,
        };
        harness.boot(None).await;
        Some(harness)
    }

    /// Starts the simulator on this harness's data directory.
    pub async fn boot(&mut self, api_key: Option<String>) {
        let data_dir = self.data_dir().to_path_buf();
        let config = SimConfig {
            api_key,
            ..SimConfig::new(data_dir, self.sandbox.clone())
        };
        let sim = within("the simulator to start", tether_sim::start(config))
            .await
            .unwrap();
        self.sim = Some(sim);
    }

    /// Stops the simulator (the data directory stays).
    pub async fn stop(&mut self) {
        let sim = self.sim.take().expect("the simulator is running");
        within("the simulator to stop", sim.shutdown())
            .await
            .unwrap();
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(&mut self, api_key: Option<String>) {
        self.stop().await;
        self.boot(api_key).await;
    }

    pub fn data_dir(&self) -> &Path {
        self.data.as_ref().unwrap().path()
    }

    pub fn sim(&self) -> &RunningSim {
        self.sim.as_ref().expect("the simulator is running")
    }

    pub fn info(&self) -> &SimInfo {
        self.sim().info()
    }

    /// A request with the right key.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let key = self.info().api_key.clone();
        let body = body.map(|b| b.to_string());
        self.send(method, path, body, Some(&key)).await
    }

    /// A request with a raw body and any key.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        key: Option<&str>,
    ) -> Reply {
        let url = if path.starts_with("/health") {
            format!("{}{path}", self.info().vers_url)
        } else {
            format!("{}/api/v1{path}", self.info().vers_url)
        };
        let mut request = self.http.request(method.clone(), url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let what = format!("{method} {path}");
        let response = within(&what, request.send()).await.unwrap();
        let status = response.status().as_u16();
        let text = within(&what, response.text()).await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, body }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn set_state(&self, vm: &str, state: &str) -> Reply {
        self.call(
            Method::PATCH,
            &format!("/vm/{vm}/state"),
            Some(json!({ "state": state })),
        )
        .await
    }

    /// Creates a VM and waits for it to boot.
    pub async fn new_vm(&self) -> String {
        let body = self
            .post("/vm/new_root?wait_boot=true", json!({"vm_config": {}}))
            .await
            .ok();
        body["vm_id"].as_str().unwrap().to_owned()
    }

    /// Runs `sh -c script`; returns `(exit_code, stdout, stderr)`.
    pub async fn sh(&self, vm: &str, script: &str) -> (i64, String, String) {
        let body = self
            .post(
                &format!("/vm/{vm}/exec"),
                json!({ "command": ["sh", "-c", script] }),
            )
            .await
            .ok();
        let text = |k: &str| body[k].as_str().unwrap().to_owned();
        (
            body["exit_code"].as_i64().unwrap(),
            text("stdout"),
            text("stderr"),
        )
    }

    /// Runs `sh -c script` and returns its stdout, asserting success.
    pub async fn ok_sh(&self, vm: &str, script: &str) -> String {
        let (code, stdout, stderr) = self.sh(vm, script).await;
        assert_eq!(code, 0, "`{script}` failed in {vm}: {stderr}");
        stdout
    }

    /// State of a VM as `/status` reports it.
    pub async fn state(&self, vm: &str) -> String {
        let body = self.get(&format!("/vm/{vm}/status")).await.ok();
        body["state"].as_str().unwrap().to_owned()
    }

    /// Ids of all listed VMs.
    pub async fn vm_ids(&self) -> Vec<String> {
        let body = self.get("/vms").await.ok();
        body.as_array()
            .unwrap()
            .iter()
            .map(|vm| vm["vm_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // A failed test still stops its VMs (the tests run on the multi-threaded runtime).
        if let Some(sim) = self.sim.take() {
            tokio::task::block_in_place(|| {
                let _ = tokio::runtime::Handle::current().block_on(sim.shutdown());
            });
        }
    }
}

/// Pids of processes whose command line mentions `dir` (a data directory's VM inits).
pub fn processes_using(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(&needle)
        })
        .collect()
}

/// The data directory's absolute path (as the simulator resolved it).
pub fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap()
}
