//! A JSON-RPC client for `tether-serve` on pipes, and a simulator to point it at.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tether_testkit::Sim;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long any one message may take to arrive.
pub const MESSAGE_DEADLINE: Duration = Duration::from_secs(60);

/// A simulator and a state directory for the sidecar.
pub struct Setup {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub async fn start() -> Setup {
        let sim = Sim::start(tether_testkit::tether_binary().unwrap())
            .await
            .unwrap();
        let dir = tempfile::Builder::new()
            .prefix("tether-serve-")
            .tempdir()
            .unwrap();
        Setup { sim, dir }
    }

    /// Starts `tether-serve` configured for the simulator.
    pub fn serve(&self) -> Client {
        let info = self.sim.info();
        let mut child = Command::new(env!("CARGO_BIN_EXE_tether-serve"))
            .envs(info.client_env())
            .env("TETHER_NO_AUTO_SIM", "1")
            .env("XDG_STATE_HOME", self.dir.path())
            .env("TETHER_TEST_SECRET", "hunter2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|e| panic!("stdout carries only JSON ({e}): {line}"));
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Client {
            child,
            stdin,
            messages,
            next: 1,
            notes: Vec::new(),
        }
    }

    /// A local scratch path.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A running `tether-serve`.
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: mpsc::UnboundedReceiver<Value>,
    next: u64,
    /// Notifications received so far.
    pub notes: Vec<Value>,
}

impl Client {
    /// Writes one raw line.
    pub async fn line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Sends a request; returns its id.
    pub async fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next;
        self.next += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.line(&request.to_string()).await;
        id
    }

    /// Sends a notification.
    pub async fn notify(&mut self, method: &str, params: Value) {
        let note = json!({"jsonrpc": "2.0", "method": method, "params": params});
        self.line(&note.to_string()).await;
    }

    /// The next message that is not a notification (kept in `notes`).
    pub async fn response(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(MESSAGE_DEADLINE, self.messages.recv())
                .await
                .expect("a message from tether-serve in time")
                .expect("tether-serve is running");
            if message.get("method").is_some() {
                self.notes.push(message);
            } else {
                return message;
            }
        }
    }

    /// Reads notifications until exec `exec_id` has printed `text` on stdout.
    pub async fn until_output(&mut self, exec_id: &str, text: &str) {
        while !self.output(exec_id, "stdout").contains(text) {
            let message = tokio::time::timeout(MESSAGE_DEADLINE, self.messages.recv())
                .await
                .expect("output from tether-serve in time")
                .expect("tether-serve is running");
            assert!(
                message.get("method").is_some(),
                "the command ended early: {message}"
            );
            self.notes.push(message);
        }
    }

    /// The response to request `id` (responses to others are an error).
    pub async fn answer(&mut self, id: u64) -> Value {
        let response = self.response().await;
        assert_eq!(response["id"], id, "{response}");
        response
    }

    /// Calls `method` and returns its result (panics on an error response).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params.clone()).await;
        let response = self.answer(id).await;
        assert!(
            response.get("error").is_none(),
            "{method} {params} failed: {response}"
        );
        response["result"].clone()
    }

    /// Calls `method` and returns its error object (panics on success).
    pub async fn error(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params.clone()).await;
        let response = self.answer(id).await;
        response
            .get("error")
            .cloned()
            .unwrap_or_else(|| panic!("{method} {params} should fail: {response}"))
    }

    /// `initialize`.
    pub async fn initialize(&mut self) -> Value {
        self.call(
            "initialize",
            json!({"protocolVersion": 1, "clientInfo": {"name": "test"}}),
        )
        .await
    }

    /// Initializes, creates a VM and makes it active; returns its id.
    pub async fn active_vm(&mut self) -> String {
        self.initialize().await;
        let vm = self.call("vm/create", json!({})).await["vmId"]
            .as_str()
            .unwrap()
            .to_owned();
        self.call("vm/use", json!({"vmId": vm})).await;
        vm
    }

    /// Runs a command on the active VM; returns (result, stdout, stderr).
    pub async fn exec(&mut self, exec_id: &str, command: &str) -> (Value, String, String) {
        let result = self
            .call("exec", json!({"execId": exec_id, "command": command}))
            .await;
        (
            result,
            self.output(exec_id, "stdout"),
            self.output(exec_id, "stderr"),
        )
    }

    /// The output of exec `exec_id` on `stream` received so far.
    pub fn output(&self, exec_id: &str, stream: &str) -> String {
        use base64::Engine;
        let mut bytes = Vec::new();
        for note in &self.notes {
            let params = &note["params"];
            if note["method"] == "exec/output"
                && params["execId"] == exec_id
                && params["stream"] == stream
            {
                let data = params["data"].as_str().unwrap();
                bytes.extend(
                    base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .unwrap(),
                );
            }
        }
        String::from_utf8(bytes).unwrap()
    }

    /// Closes stdin and waits for the server to exit; returns its exit code.
    pub async fn close(mut self) -> Option<i32> {
        self.stdin.take();
        let status = tokio::time::timeout(MESSAGE_DEADLINE, self.child.wait())
            .await
            .context("tether-serve did not exit after stdin closed")
            .unwrap()
            .unwrap();
        status.code()
    }
}
