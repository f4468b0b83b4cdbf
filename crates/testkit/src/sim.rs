//! Starting and stopping a real `tether sim` process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Api, STEP_DEADLINE, Ssh, within};

/// How long a stopped simulator may take to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// The first line `tether sim` prints.
#[derive(Clone, Debug, Deserialize)]
pub struct SimInfo {
    /// Base URL of the HTTP API (without `/api/v1`).
    pub vers_url: String,
    /// Bearer key for the API.
    pub api_key: String,
    /// `host:port` of the SSH-over-TLS gateway.
    pub ssh_gateway: String,
    /// Domain under which VMs are named: `<vm_id>.<vm_domain>`.
    pub vm_domain: String,
    /// Path of the CA certificate that signs the gateway's certificate.
    pub ca_cert: PathBuf,
    /// What runs the VMs (`namespaces`).
    pub backend: String,
}

impl SimInfo {
    /// The environment a user sets to point tether at this simulator: `VERS_URL`,
    /// `VERS_API_KEY`, `TETHER_VM_DOMAIN`, `TETHER_SSH_GATEWAY`, `TETHER_CA_CERT`.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VERS_URL", self.vers_url.clone()),
            ("VERS_API_KEY", self.api_key.clone()),
            ("TETHER_VM_DOMAIN", self.vm_domain.clone()),
            ("TETHER_SSH_GATEWAY", self.ssh_gateway.clone()),
            ("TETHER_CA_CERT", self.ca_cert.display().to_string()),
        ]
    }
}

/// A running `tether sim` with its own data directory.
pub struct Sim {
    child: Option<Child>,
    info: SimInfo,
    binary: PathBuf,
    data: tempfile::TempDir,
    uid: Option<u32>,
}

impl Sim {
    /// Starts `binary sim --listen 127.0.0.1:0 --data <fresh temp dir>`.
    pub async fn start(binary: impl AsRef<Path>) -> anyhow::Result<Sim> {
        let data = tempfile::Builder::new().prefix("tether-sim-").tempdir()?;
        let binary = binary.as_ref().to_path_buf();
        let (child, info) = spawn(&binary, data.path(), None, None).await?;
        Ok(Sim {
            child: Some(child),
            info,
            binary,
            data,
            uid: None,
        })
    }

    /// Like [`Sim::start`], but the simulator runs as the unprivileged `uid` (through
    /// `setpriv`; the caller must be root), owning its data directory.
    pub async fn start_as(binary: impl AsRef<Path>, uid: u32) -> anyhow::Result<Sim> {
        let data = tempfile::Builder::new().prefix("tether-sim-").tempdir()?;
        nix::unistd::chown(data.path(), Some(uid.into()), Some(uid.into()))
            .context("chown of the data dir (are we root?)")?;
        let binary = binary.as_ref().to_path_buf();
        let (child, info) = spawn(&binary, data.path(), None, Some(uid)).await?;
        Ok(Sim {
            child: Some(child),
            info,
            binary,
            data,
            uid: Some(uid),
        })
    }

    /// What the simulator printed on start.
    pub fn info(&self) -> &SimInfo {
        &self.info
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// An HTTP client for the API with the right key.
    pub fn api(&self) -> Api {
        Api::new(&self.info.vers_url, &self.info.api_key)
    }

    /// Another API key for this simulator (`tether sim key add`), in an organisation of its
    /// own (a second owner) unless `org` is given. Returns the key.
    pub async fn add_key(&self, org: Option<&str>) -> anyhow::Result<String> {
        let mut command = Command::new(&self.binary);
        command
            .args(["sim", "key", "add", "--data"])
            .arg(self.data.path());
        if let Some(org) = org {
            command.args(["--org", org]);
        }
        let output = within(STEP_DEADLINE, "tether sim key add", async {
            Ok(command.output().await?)
        })
        .await?;
        if !output.status.success() {
            bail!(
                "tether sim key add failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let added: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("tether sim key add printed no JSON")?;
        added["api_key"]
            .as_str()
            .map(str::to_owned)
            .context("tether sim key add printed no api_key")
    }

    /// An OpenSSH client for `vm_id`, going through the TLS gateway like the tutorial does.
    pub fn ssh(&self, vm_id: &str) -> Ssh {
        Ssh::new(self.info.clone(), self.api(), vm_id)
    }

    /// Stops the simulator with SIGTERM and checks that it exits cleanly (status 0).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        terminate(&child)?;
        let status = within(STOP_GRACE, "tether sim to exit after SIGTERM", async {
            Ok(child.wait().await?)
        })
        .await;
        match status {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => bail!("tether sim exited with {status} after SIGTERM"),
            Err(err) => {
                let _ = child.kill().await;
                Err(err)
            }
        }
    }

    /// Stops the simulator and starts it again on the same data directory and the same
    /// addresses (API and gateway), as a user restarting it would.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        let api = self.info.vers_url.trim_start_matches("http://").to_owned();
        let addresses = (api, self.info.ssh_gateway.clone());
        let (child, info) =
            spawn(&self.binary, self.data.path(), Some(addresses), self.uid).await?;
        self.child = Some(child);
        self.info = info;
        Ok(())
    }
}

impl Drop for Sim {
    /// A dropped simulator is killed outright: Drop cannot await a graceful shutdown, and a
    /// blocked runtime thread could not answer the simulator's disconnects anyway. Its VMs end
    /// with it (each VM's init exits when its control socket closes). Tests that care about a
    /// clean shutdown call [`Sim::stop`].
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = child.start_kill();
        let deadline = std::time::Instant::now() + STOP_GRACE;
        while std::time::Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::park_timeout(Duration::from_millis(5)),
            }
        }
    }
}

fn terminate(child: &Child) -> anyhow::Result<()> {
    let pid = child.id().context("tether sim has already exited")?;
    let pid = Pid::from_raw(i32::try_from(pid)?);
    kill(pid, Signal::SIGTERM)
        .with_context(|| format!("could not send SIGTERM to tether sim (pid {pid})"))
}

async fn spawn(
    binary: &Path,
    data: &Path,
    addresses: Option<(String, String)>,
    uid: Option<u32>,
) -> anyhow::Result<(Child, SimInfo)> {
    let (api, gateway) = addresses.unwrap_or_else(|| ("127.0.0.1:0".into(), "127.0.0.1:0".into()));
    let mut command = match uid {
        None => Command::new(binary),
        Some(uid) => {
            let mut setpriv = Command::new("setpriv");
            let id = uid.to_string();
            setpriv.args(["--reuid", &id, "--regid", &id, "--clear-groups", "--"]);
            setpriv.arg(binary).env("HOME", data);
            setpriv
        }
    };
    let mut child = command
        .args([
            "sim",
            "--listen",
            &api,
            "--gateway-listen",
            &gateway,
            "--data",
        ])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = within(STEP_DEADLINE, "tether sim's startup line", async {
        lines
            .next_line()
            .await?
            .context("tether sim exited before printing its startup line")
    })
    .await?;
    let info: SimInfo = serde_json::from_str(&line)
        .with_context(|| format!("tether sim's startup line is not the expected JSON: {line}"))?;
    // Keep draining stdout so the simulator never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, info))
}
