//! End-to-end tests of the `tether` command line: the real binary against a real simulator,
//! configured only through the environment, with a temporary HOME and state directory.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bad_input;
mod catalog;
mod defaults;
mod embedded;
mod exec;
mod files;
mod help;
mod lifecycle;
mod mcp;
mod reattach;
mod swarm;
mod tunnel;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tether_testkit::{STEP_DEADLINE, Sim, within};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// The binary under test.
pub const TETHER: &str = env!("CARGO_BIN_EXE_tether");

/// A simulator and a private home for the `tether` processes that talk to it.
pub struct Env {
    pub sim: Sim,
    pub home: tempfile::TempDir,
}

/// What one `tether` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout, trimmed.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "tether failed: {self:?}");
        self.stdout.trim()
    }

    /// Stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

impl Env {
    pub async fn start() -> Env {
        let sim = Sim::start(TETHER).await.expect("tether sim starts");
        let home = tempfile::Builder::new()
            .prefix("tether-cli-home-")
            .tempdir()
            .unwrap();
        Env { sim, home }
    }

    /// The state directory the `tether` processes use.
    pub fn state_dir(&self) -> PathBuf {
        self.home.path().join("state/tether")
    }

    /// `tether ARGS` with the simulator's settings and nothing else from this environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let info = self.sim.info();
        let mut command = bare_command(self.home.path(), args);
        command
            .envs(info.client_env())
            .env("TETHER_NO_AUTO_SIM", "1");
        command
    }

    /// Runs `tether ARGS` with no stdin.
    pub async fn run(&self, args: &[&str]) -> Run {
        run(self.command(args), None).await
    }

    /// Runs `tether ARGS` with `stdin` piped in.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        run(self.command(args), Some(stdin)).await
    }

    /// A new running VM, made with `tether vm new`.
    pub async fn new_vm(&self) -> String {
        self.run(&["vm", "new"]).await.ok().to_owned()
    }

    /// Runs `script` on `vm` and returns its stdout (asserting success).
    pub async fn sh(&self, vm: &str, script: &str) -> String {
        self.run(&["exec", vm, "--", script]).await.ok().to_owned()
    }
}

/// `tether ARGS` with only PATH and a home (and its XDG directories) under `home`.
pub fn bare_command(home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(TETHER);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_DATA_HOME", home.join("data"))
        .current_dir(home)
        .kill_on_drop(true);
    command
}

/// Runs `command` to the end (within [`STEP_DEADLINE`]), feeding it `stdin` if given.
pub async fn run(mut command: Command, stdin: Option<&[u8]>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("tether starts");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).await.unwrap();
        drop(pipe);
    }
    let output = within(STEP_DEADLINE, "tether to finish", async {
        Ok(child.wait_with_output().await?)
    })
    .await
    .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `text` with each id replaced by its name (`<vm>`), for snapshots.
pub fn redact(text: &str, names: &[(&str, &str)]) -> String {
    names
        .iter()
        .fold(text.to_owned(), |text, (id, name)| text.replace(id, name))
}
