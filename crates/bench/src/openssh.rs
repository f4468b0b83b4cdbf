//! The OpenSSH baselines: the tutorial's per-call `ssh`, a ControlMaster, and `scp`, all through
//! the tutorial's TLS ProxyCommand (`openssl s_client` with the VM's name as SNI).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use tether_testkit::{Api, STEP_DEADLINE, SshOutput, run_argv, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::lab::write_private;

/// Options that keep OpenSSH quiet and non-interactive without changing what it does.
const QUIET: [&str; 2] = ["LogLevel=ERROR", "BatchMode=yes"];

/// The tutorial's ProxyCommand, dialling `gateway`.
fn proxy(gateway: &str) -> String {
    format!("ProxyCommand=openssl s_client -connect {gateway} -servername %h -quiet")
}

/// `-i key` and the tutorial's `-o` options: no host key check, the TLS ProxyCommand.
fn tunnel_options(key: &Path, gateway: &str) -> Vec<String> {
    let mut args = vec!["-i".to_owned(), key.display().to_string()];
    for option in [
        "StrictHostKeyChecking=no",
        "UserKnownHostsFile=/dev/null",
        &proxy(gateway),
    ] {
        args.extend(["-o".to_owned(), option.to_owned()]);
    }
    args
}

fn quiet() -> Vec<String> {
    QUIET
        .iter()
        .flat_map(|o| ["-o".to_owned(), (*o).to_owned()])
        .collect()
}

/// The tutorial's command, unchanged but for the gateway address.
pub fn tutorial_argv(key: &Path, gateway: &str, host: &str, remote: &str) -> Vec<String> {
    let mut argv = vec!["ssh".to_owned()];
    argv.extend(tunnel_options(key, gateway));
    argv.extend([format!("root@{host}"), remote.to_owned()]);
    argv
}

/// One call of the tutorial's design: fetch the key over the API, write it 0600, run `ssh`.
pub async fn tutorial_call(
    api: &Api,
    vm: &str,
    host: &str,
    gateway: &str,
    remote: &str,
) -> anyhow::Result<SshOutput> {
    let pem = api.ssh_key(vm).await?;
    let dir = tempfile::Builder::new().prefix("tether-key-").tempdir()?;
    let key = dir.path().join("id");
    write_private(&key, pem.as_bytes())?;
    succeeded(run_argv(&tutorial_argv(&key, gateway, host, remote), &[]).await?)
}

/// `scp` through the tunnel, from `from` to `to` (either may be `root@host:path`).
pub async fn scp(key: &Path, gateway: &str, from: &str, to: &str) -> anyhow::Result<()> {
    let mut argv = vec!["scp".to_owned(), "-q".to_owned()];
    argv.extend(tunnel_options(key, gateway));
    argv.extend(quiet());
    argv.extend([from.to_owned(), to.to_owned()]);
    succeeded(run_argv(&argv, &[]).await?).map(drop)
}

/// An OpenSSH ControlMaster: one connection through the tunnel, opened once; each call is a
/// new `ssh` process that runs its command over the master's connection.
pub struct ControlMaster {
    child: Child,
    socket: PathBuf,
    host: String,
    _dir: tempfile::TempDir,
}

impl ControlMaster {
    /// Starts the master and waits until its connection is up.
    pub async fn start(key: &Path, gateway: &str, host: &str) -> anyhow::Result<ControlMaster> {
        let dir = tempfile::Builder::new().prefix("tether-cm-").tempdir()?;
        let socket = dir.path().join("s");
        let log = dir.path().join("stderr");
        let mut child = Command::new("ssh")
            .args(tunnel_options(key, gateway))
            .args(quiet())
            .arg("-o")
            .arg(format!("ControlPath={}", socket.display()))
            .args(["-o", "ControlMaster=yes", "-o", "ControlPersist=no"])
            .args([&format!("root@{host}"), "echo ready; exec cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .context("could not start the ssh ControlMaster")?;
        if let Err(e) = wait_ready(&mut child).await {
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(e.context(format!("ssh said: {}", stderr.trim())));
        }
        Ok(ControlMaster {
            child,
            socket,
            host: host.to_owned(),
            _dir: dir,
        })
    }

    /// Runs `remote` through the master. The call gets no key and no ProxyCommand, so it can
    /// only succeed over the master's connection.
    pub async fn run(&self, remote: &str) -> anyhow::Result<SshOutput> {
        let mut argv = vec!["ssh".to_owned()];
        argv.extend(quiet());
        argv.extend([
            "-o".to_owned(),
            format!("ControlPath={}", self.socket.display()),
            "-o".to_owned(),
            "ControlMaster=no".to_owned(),
            format!("root@{}", self.host),
            remote.to_owned(),
        ]);
        succeeded(run_argv(&argv, &[]).await?)
    }

    /// Ends the master and waits for it to exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        within(STEP_DEADLINE, "the ssh ControlMaster to exit", async {
            Ok(self.child.wait().await?)
        })
        .await
        .map(drop)
    }
}

/// Waits for the master's command to print `ready`: by then its connection and control
/// socket are up (OpenSSH listens on the socket before it opens the session).
async fn wait_ready(child: &mut Child) -> anyhow::Result<()> {
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = within(STEP_DEADLINE, "the ssh ControlMaster to connect", async {
        Ok(lines.next_line().await?)
    })
    .await?;
    if line.as_deref() != Some("ready") {
        bail!("the ssh ControlMaster did not start: it printed {line:?}");
    }
    Ok(())
}

/// `output` if ssh exited 0, else an error showing its stderr.
fn succeeded(output: SshOutput) -> anyhow::Result<SshOutput> {
    if output.code != Some(0) {
        bail!(
            "OpenSSH exited with {:?}: {}",
            output.code,
            output.stderr_str().trim()
        );
    }
    Ok(output)
}
