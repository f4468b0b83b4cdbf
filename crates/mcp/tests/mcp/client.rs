//! A real MCP client (the official Python SDK, through `tests/client/driver.py`) driving the
//! `tether-mcp-server` binary, and the environment it runs in: a temporary home and working
//! directory, and, when asked, a simulator.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{Value, json};
use tether_testkit::{STEP_DEADLINE, Sim, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The server under test.
pub const SERVER: &str = env!("CARGO_BIN_EXE_tether-mcp-server");

/// The driver script.
fn driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client/driver.py")
}

/// Why the Python MCP client cannot run here, if it cannot.
pub async fn client_missing() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import mcp, jsonschema, anyio"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    match probe {
        Ok(status) if status.success() => None,
        _ => Some("python3 with the `mcp` package is missing (pip install mcp==2.3.0)".into()),
    }
}

/// The `tether` binary built beside this test (nextest builds the workspace's binaries).
pub fn tether_binary() -> Option<PathBuf> {
    tether_testkit::tether_binary().ok()
}

/// Where servers run: a temporary home (also the local working directory) and, optionally,
/// a simulator they are pointed at.
pub struct Env {
    pub home: tempfile::TempDir,
    pub sim: Option<Sim>,
}

impl Env {
    /// A local-only environment (no Vers API configured, no simulator started).
    pub fn local() -> Env {
        let home = tempfile::Builder::new()
            .prefix("tether-mcp-")
            .tempdir()
            .unwrap();
        Env { home, sim: None }
    }

    /// An environment with a fresh simulator; `None` (with the reason printed) when the
    /// `tether` binary is not built.
    pub async fn with_sim() -> Option<Env> {
        let Some(tether) = tether_binary() else {
            eprintln!("SKIPPED: the tether binary is not built (cargo build -p tether)");
            return None;
        };
        let mut env = Env::local();
        env.sim = Some(Sim::start(tether).await.expect("the simulator starts"));
        Some(env)
    }

    /// The home (and working) directory.
    pub fn root(&self) -> &Path {
        self.home.path()
    }

    /// A new VM, made through the API.
    pub async fn new_vm(&self) -> String {
        self.sim.as_ref().unwrap().api().new_vm().await.unwrap()
    }

    /// Starts a client and its server.
    pub async fn client(&self) -> Client {
        self.client_with_key(None).await
    }

    /// Starts a client and its server using API key `key` (default: the simulator's first).
    pub async fn client_with_key(&self, key: Option<&str>) -> Client {
        let mut command = Command::new("python3");
        command
            .arg(driver())
            .arg(SERVER)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.root())
            .env("XDG_STATE_HOME", self.root().join("state"))
            .env("XDG_DATA_HOME", self.root().join("data"))
            .env("TETHER_NO_AUTO_SIM", "1")
            .env("RUST_LOG", "warn")
            .current_dir(self.root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(sim) = &self.sim {
            let info = sim.info();
            command
                .env("VERS_URL", &info.vers_url)
                .env("VERS_API_KEY", key.unwrap_or(&info.api_key))
                .env("TETHER_SSH_GATEWAY", &info.ssh_gateway)
                .env("TETHER_VM_DOMAIN", &info.vm_domain)
                .env("TETHER_CA_CERT", &info.ca_cert);
        }
        let mut child = command.spawn().expect("python3 starts the driver");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Client {
            child,
            stdin,
            stdout,
        }
    }
}

/// One MCP session: the driver and the server it started.
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

/// A tool call's result as the client saw it.
#[derive(Debug)]
pub struct Reply {
    pub is_error: bool,
    /// The text parts, joined.
    pub text: String,
    pub raw: Value,
}

impl Reply {
    /// The text of a successful call (panics, showing the text, on an error result).
    pub fn ok(&self) -> &str {
        assert!(!self.is_error, "the call failed: {}", self.text);
        &self.text
    }

    /// The text of an error result (panics on success).
    pub fn err(&self) -> &str {
        assert!(self.is_error, "the call succeeded: {}", self.text);
        &self.text
    }

    /// The details the server attached.
    pub fn details(&self) -> &Value {
        &self.raw["_meta"]["tether/details"]
    }

    /// The progress messages received during the call.
    pub fn progress(&self) -> Vec<String> {
        let list = self.raw["progress"].as_array().cloned().unwrap_or_default();
        list.iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect()
    }
}

impl Client {
    /// Sends one command to the driver and returns its answer.
    pub async fn send(&mut self, command: Value) -> Value {
        let what = format!("the MCP client's answer to {command}");
        let stdin = self.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        let line = within(STEP_DEADLINE, &what, async {
            Ok(self.stdout.next_line().await?.expect("the driver answers"))
        })
        .await
        .unwrap();
        serde_json::from_str(&line).unwrap()
    }

    /// `tools/call`.
    pub async fn call(&mut self, tool: &str, args: Value) -> Reply {
        let raw = self
            .send(json!({"op": "call", "tool": tool, "args": args}))
            .await;
        let texts: Vec<&str> = raw["content"]
            .as_array()
            .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect())
            .unwrap_or_default();
        Reply {
            is_error: raw["isError"].as_bool().unwrap_or(false),
            text: texts.join("\n"),
            raw: raw.clone(),
        }
    }

    /// Ends the session: the server sees EOF and must exit by itself.
    pub async fn close(mut self) {
        drop(self.stdin.take());
        let status = within(STEP_DEADLINE, "the MCP client and server to exit", async {
            Ok(self.child.wait().await?)
        })
        .await
        .unwrap();
        assert!(status.success(), "the driver exited with {status}");
    }
}
