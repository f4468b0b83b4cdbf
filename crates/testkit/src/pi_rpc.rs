//! A real pi in RPC mode driven over its stdin and stdout, with a scripted model ([`crate::MockLlm`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use crate::PiInstall;

/// How long one pi event may take to arrive.
pub const EVENT_DEADLINE: Duration = Duration::from_secs(90);
/// How long pi may take to exit once its stdin is closed.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// A running pi.
pub struct Pi {
    child: Child,
    stdin: Option<ChildStdin>,
    events: mpsc::Receiver<Value>,
    /// Every event seen so far.
    pub seen: Vec<Value>,
}

/// How to start pi.
pub struct Launch<'a> {
    /// The pi to run.
    pub install: &'a PiInstall,
    /// pi's working directory.
    pub cwd: &'a Path,
    /// Variables set for pi (on top of the test's environment).
    pub env: Vec<(String, String)>,
    /// Variables of the test's environment pi must not see.
    pub remove: Vec<String>,
    /// Extensions loaded with `-e` (files or package directories).
    pub extensions: Vec<PathBuf>,
    /// Further arguments.
    pub args: Vec<String>,
    /// A session file to keep (and resume); none: `--no-session`.
    pub session: Option<PathBuf>,
}

impl Pi {
    /// Starts pi in RPC mode with the scripted model `mock/mock-1`.
    pub async fn start(launch: Launch<'_>) -> anyhow::Result<Pi> {
        let mut command = Command::new(&launch.install.node);
        command.arg(&launch.install.cli).args([
            "--mode",
            "rpc",
            "-ne",
            "-nc",
            "--provider",
            "mock",
            "--model",
            "mock-1",
        ]);
        match &launch.session {
            Some(file) => command.arg("--session").arg(file),
            None => command.arg("--no-session"),
        };
        for extension in &launch.extensions {
            command.arg("-e").arg(extension);
        }
        command.args(&launch.args);
        if !launch.install.version.starts_with("0.7") {
            command.arg("--approve");
        }
        command
            .current_dir(launch.cwd)
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for name in &launch.remove {
            command.env_remove(name);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("could not start pi with {}", launch.install.node.display())
            })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (tx, events) = mpsc::channel(1024);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).split(b'\n');
            while let Ok(Some(line)) = lines.next_segment().await {
                let Ok(event) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        });
        Ok(Pi {
            child,
            stdin,
            events,
            seen: Vec::new(),
        })
    }

    /// Sends one RPC command.
    pub async fn send(&mut self, command: Value) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("pi's stdin is closed")?;
        stdin.write_all(format!("{command}\n").as_bytes()).await?;
        Ok(stdin.flush().await?)
    }

    /// Sends a prompt (a slash command runs the command).
    pub async fn prompt(&mut self, message: &str) -> anyhow::Result<()> {
        self.send(json!({"type": "prompt", "message": message}))
            .await
    }

    /// Waits for the first new event matching `wanted`.
    pub async fn until(
        &mut self,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        loop {
            let event = tokio::time::timeout(EVENT_DEADLINE, self.events.recv())
                .await
                .with_context(|| format!("no {what} from pi within {EVENT_DEADLINE:?}"))?
                .with_context(|| format!("pi exited before {what}"))?;
            self.seen.push(event.clone());
            if event["type"] == "extension_error" {
                bail!("an extension failed: {event}");
            }
            if wanted(&event) {
                return Ok(event);
            }
        }
    }

    /// Waits until the agent has finished its run.
    pub async fn agent_end(&mut self) -> anyhow::Result<()> {
        self.until("agent_end", |e| e["type"] == "agent_end")
            .await
            .map(drop)
    }

    /// The finished tool calls seen so far, in completion order.
    pub fn tool_ends(&self) -> Vec<ToolEnd> {
        self.seen
            .iter()
            .filter(|e| e["type"] == "tool_execution_end")
            .map(|e| ToolEnd {
                name: e["toolName"].as_str().unwrap_or_default().to_owned(),
                is_error: e["isError"].as_bool().unwrap_or(false),
                result: e["result"].clone(),
            })
            .collect()
    }

    /// The names of the tool calls that failed so far, in completion order.
    pub fn failed_tools(&self) -> Vec<String> {
        self.tool_ends()
            .into_iter()
            .filter(|end| end.is_error)
            .map(|end| end.name)
            .collect()
    }

    /// The footer texts set under `key`, in order (`None` = cleared).
    pub fn statuses(&self, key: &str) -> Vec<Option<String>> {
        self.seen
            .iter()
            .filter(|e| e["type"] == "extension_ui_request" && e["method"] == "setStatus")
            .filter(|e| e["statusKey"] == key)
            .map(|e| e["statusText"].as_str().map(str::to_owned))
            .collect()
    }

    /// Closes stdin and waits for pi (and so its sidecar) to exit.
    pub async fn quit(mut self) -> anyhow::Result<()> {
        self.stdin.take();
        let status = tokio::time::timeout(EXIT_DEADLINE, self.child.wait())
            .await
            .with_context(|| {
                format!("pi did not exit within {EXIT_DEADLINE:?} after stdin closed")
            })??;
        if !status.success() {
            bail!("pi exited with {status}");
        }
        Ok(())
    }
}

/// One finished tool call.
#[derive(Clone, Debug)]
pub struct ToolEnd {
    /// The tool's name.
    pub name: String,
    /// Whether the call failed.
    pub is_error: bool,
    /// The result pi reported.
    pub result: Value,
}
