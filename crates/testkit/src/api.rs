//! A deliberately thin HTTP client for the simulator's API: tests assert on raw status codes
//! and JSON, exactly what any Vers client would see.

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{STEP_DEADLINE, within};

/// An HTTP reply: status and body (JSON when it parses, else a JSON string of the text).
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Body as JSON (`Value::Null` when empty).
    pub body: Value,
}

impl Reply {
    /// The body if the status is 2xx, else an error that shows both.
    pub fn ok(self) -> anyhow::Result<Value> {
        if !self.status.is_success() {
            bail!("expected success, got {}: {}", self.status, self.body);
        }
        Ok(self.body)
    }

    /// The `error` message of an error body (empty if none).
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
}

/// Client for `<vers_url>/api/v1`.
#[derive(Clone, Debug)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    /// A client for the API at `vers_url` with bearer `key`.
    pub fn new(vers_url: &str, key: &str) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("{vers_url}/api/v1"),
            key: key.into(),
        }
    }

    /// The same client with another key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: key.into(),
            ..self.clone()
        }
    }

    /// Sends a request with a JSON body (or none) and returns the reply.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Reply> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request, &format!("{method} {path}")).await
    }

    /// Sends raw bytes as the body (for malformed-input tests).
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        body: &'static str,
    ) -> anyhow::Result<Reply> {
        let request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .body(body);
        self.send(request, &format!("{method} {path}")).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Reply> {
        within(STEP_DEADLINE, what, async {
            let response = request
                .send()
                .await
                .with_context(|| format!("{what} failed"))?;
            let status = response.status();
            let text = response.text().await?;
            let body = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            Ok(Reply { status, body })
        })
        .await
    }

    /// GET.
    pub async fn get(&self, path: &str) -> anyhow::Result<Reply> {
        self.call(Method::GET, path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Reply> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        self.call(Method::DELETE, path, None).await
    }

    /// `GET /vm/{vm}/ssh_key` → the VM's private key in OpenSSH PEM form.
    pub async fn ssh_key(&self, vm: &str) -> anyhow::Result<String> {
        let body = self.get(&format!("/vm/{vm}/ssh_key")).await?.ok()?;
        let pem = body["ssh_private_key"]
            .as_str()
            .context("the ssh_key reply has no ssh_private_key")?;
        Ok(pem.to_owned())
    }

    /// Creates a VM (waiting for boot) and returns its id.
    pub async fn new_vm(&self) -> anyhow::Result<String> {
        let body = self
            .post("/vm/new_root?wait_boot=true", json!({"vm_config": {}}))
            .await?
            .ok()?;
        vm_id(&body)
    }

    /// Branches `source` (a VM or commit id) `count` times; returns the new VM ids.
    pub async fn branch(&self, source: &str, count: u32) -> anyhow::Result<Vec<String>> {
        let body = self
            .post(&format!("/vm/{source}/branch?count={count}"), json!({}))
            .await?
            .ok()?;
        let vms = body["vms"]
            .as_array()
            .context("branch reply has no `vms` array")?;
        vms.iter().map(vm_id).collect()
    }

    /// Commits `vm`; returns the commit id.
    pub async fn commit(&self, vm: &str) -> anyhow::Result<String> {
        let body = self
            .post(&format!("/vm/{vm}/commit"), json!({}))
            .await?
            .ok()?;
        Ok(body["commit_id"]
            .as_str()
            .context("commit reply has no commit_id")?
            .to_owned())
    }

    /// Sets a VM's state (`Paused` or `Running`).
    pub async fn set_state(&self, vm: &str, state: &str) -> anyhow::Result<Reply> {
        self.call(
            Method::PATCH,
            &format!("/vm/{vm}/state"),
            Some(json!({ "state": state })),
        )
        .await
    }

    /// Runs argv through `POST /vm/{id}/exec`; returns `(exit_code, stdout, stderr)`.
    pub async fn exec(&self, vm: &str, argv: &[&str]) -> anyhow::Result<(i64, String, String)> {
        let body = self
            .post(&format!("/vm/{vm}/exec"), json!({ "command": argv }))
            .await?
            .ok()?;
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let code = body["exit_code"]
            .as_i64()
            .context("exec reply has no exit_code")?;
        Ok((code, text("stdout"), text("stderr")))
    }

    /// Runs `sh -c script` through the exec API; returns stdout, failing on a non-zero exit.
    pub async fn sh(&self, vm: &str, script: &str) -> anyhow::Result<String> {
        let (code, stdout, stderr) = self.exec(vm, &["sh", "-c", script]).await?;
        if code != 0 {
            bail!("`{script}` exited {code} in {vm}: {stderr}");
        }
        Ok(stdout)
    }

    /// Writes a file through `PUT /vm/{id}/files`.
    pub async fn put_file(&self, vm: &str, path: &str, content: &[u8]) -> anyhow::Result<Reply> {
        let body = json!({ "path": path, "content_b64": B64.encode(content), "create_dirs": true });
        self.call(Method::PUT, &format!("/vm/{vm}/files"), Some(body))
            .await
    }

    /// Reads a file through `GET /vm/{id}/files`.
    pub async fn get_file(&self, vm: &str, path: &str) -> anyhow::Result<Vec<u8>> {
        let query = reqwest::Url::parse_with_params("http://x/", [("path", path)])?;
        let body = self
            .get(&format!(
                "/vm/{vm}/files?{}",
                query.query().unwrap_or_default()
            ))
            .await?
            .ok()?;
        let b64 = body["content_b64"]
            .as_str()
            .context("files reply has no content_b64")?;
        Ok(B64.decode(b64)?)
    }

    /// The ids of all VMs listed by `GET /vms`.
    pub async fn vm_ids(&self) -> anyhow::Result<Vec<String>> {
        let body = self.get("/vms").await?.ok()?;
        let vms = body
            .as_array()
            .context("GET /vms did not return an array")?;
        vms.iter().map(vm_id).collect()
    }
}

fn vm_id(value: &Value) -> anyhow::Result<String> {
    Ok(value["vm_id"]
        .as_str()
        .with_context(|| format!("no vm_id in {value}"))?
        .to_owned())
}
