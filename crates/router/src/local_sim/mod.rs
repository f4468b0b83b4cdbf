//! The embedded default: with no Vers key configured, tether uses a local simulator, started on
//! demand and shared by every tether process of the user.
//!
//! ```text
//! STATE/sim.json   the running simulator: its startup line + pid (0600: it holds the key)
//! STATE/sim.lock   flock held while a process checks for (or starts) the simulator
//! STATE/sim.out    the simulator's stdout (its startup line)
//! STATE/sim.log    the simulator's stderr
//! ```

mod source;
mod spawn;

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use source::SimSource;
pub use spawn::SIM_START_DEADLINE;

use crate::{Progress, RouterError, StateDir};

/// Deadline for a recorded simulator to answer `GET /health`.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// The record of the running simulator, in the state directory.
const RECORD: &str = "sim.json";
/// The lock file serialising checks and starts.
const LOCK: &str = "sim.lock";

/// A running local simulator: what `tether sim` printed on start, and its pid.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimRecord {
    /// Its process id.
    pub pid: u32,
    /// Base URL of its API (`VERS_URL`).
    pub vers_url: String,
    /// Its API key.
    pub api_key: String,
    /// `host:port` of its SSH-over-TLS gateway.
    pub ssh_gateway: String,
    /// Domain its VMs are named under.
    pub vm_domain: String,
    /// The CA certificate that verifies its gateway.
    pub ca_cert: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// What its VMs run on (`namespaces`), as its startup line said; `None` for a simulator
    /// that did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_backend: Option<String>,
}

impl std::fmt::Debug for SimRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRecord")
            .field("pid", &self.pid)
            .field("vers_url", &self.vers_url)
            .field("ssh_gateway", &self.ssh_gateway)
            .field("data_dir", &self.data_dir)
            .field("vm_backend", &self.vm_backend)
            .finish_non_exhaustive()
    }
}

/// The simulator in use, and whether this process started it.
#[derive(Clone, Debug)]
pub struct LocalSim {
    /// How to reach it.
    pub record: SimRecord,
    /// Whether this process started it (else it was already running).
    pub started: bool,
}

/// The simulator's default data directory, the one `tether sim` uses without `--data`:
/// `$XDG_DATA_HOME/tether/sim`, else `~/.local/share/tether/sim`.
pub fn default_sim_data_dir() -> Option<PathBuf> {
    sim_data_dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

fn sim_data_dir_from(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let base = match xdg_data_home.filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(home.filter(|dir| !dir.is_empty())?).join(".local/share"),
    };
    Some(base.join("tether/sim"))
}

/// Finds the running simulator recorded in `state`, or starts `tether sim --data data_dir`
/// (with the `tether` executable) detached and records it. Concurrent callers share one
/// simulator: the check and the start happen under an exclusive lock.
pub async fn ensure_local_sim(
    state: &StateDir,
    tether: &Path,
    data_dir: &Path,
    progress: &dyn Progress,
) -> Result<LocalSim, RouterError> {
    state.ensure()?;
    let _lock = lock(state).await?;
    if let Some(record) = read_record(state)?
        && is_alive(&record).await
    {
        return Ok(LocalSim {
            record,
            started: false,
        });
    }
    let _wait = progress.begin("starting the local simulator…");
    let record = spawn::start(state, tether, data_dir).await?;
    let json = serde_json::to_vec_pretty(&record).map_err(|e| RouterError::StateFile {
        path: state.root().join(RECORD),
        reason: e.to_string(),
    })?;
    state.write_private(RECORD, &json)?;
    Ok(LocalSim {
        record,
        started: true,
    })
}

/// The recorded simulator, if there is a record (whether or not it still runs).
pub fn read_record(state: &StateDir) -> Result<Option<SimRecord>, RouterError> {
    let Some(bytes) = state.read(RECORD)? else {
        return Ok(None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(record) => Ok(Some(record)),
        Err(e) => {
            tracing::warn!(error = %e, "ignoring a damaged simulator record");
            Ok(None)
        }
    }
}

/// Takes the exclusive lock on `STATE/sim.lock` (waiting for another process to release it).
async fn lock(state: &StateDir) -> Result<File, RouterError> {
    let path = state.root().join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| state.io("open", &path, e))?;
    let locking = tokio::task::spawn_blocking(move || file.lock().map(|()| file));
    match locking.await {
        Ok(Ok(file)) => Ok(file),
        Ok(Err(e)) => Err(state.io("lock", &path, e)),
        Err(e) => Err(state.io("lock", &path, std::io::Error::other(e))),
    }
}

/// Whether the recorded simulator's process exists and its API answers.
async fn is_alive(record: &SimRecord) -> bool {
    let Ok(pid) = i32::try_from(record.pid) else {
        return false;
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    match nix::sys::signal::kill(pid, None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => {}
        Err(_) => return false,
    }
    health(&record.vers_url).await
}

/// Whether `GET <vers_url>/health` answers 200 within [`HEALTH_TIMEOUT`].
async fn health(vers_url: &str) -> bool {
    let Ok(client) = reqwest::Client::builder().timeout(HEALTH_TIMEOUT).build() else {
        return false;
    };
    let url = format!("{}/health", vers_url.trim_end_matches('/'));
    match client.get(&url).send().await {
        Ok(reply) => reply.status().is_success(),
        Err(e) => {
            tracing::debug!(%url, error = %e, "the recorded simulator does not answer");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_default_data_dir_matches_tether_sim() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            sim_data_dir_from(xdg.map(Into::into), home.map(Into::into))
        };
        assert_eq!(dir(Some("/x"), None), Some(PathBuf::from("/x/tether/sim")));
        assert_eq!(
            dir(None, Some("/h")),
            Some(PathBuf::from("/h/.local/share/tether/sim"))
        );
        assert_eq!(dir(None, None), None);
    }

    #[test]
    fn a_record_never_shows_its_key_in_debug() {
        let record = SimRecord {
            pid: 1,
            vers_url: "http://127.0.0.1:1".into(),
            api_key: "SECRET".into(),
            ssh_gateway: "127.0.0.1:2".into(),
            vm_domain: "vm.local".into(),
            ca_cert: "/ca.pem".into(),
            data_dir: "/d".into(),
            vm_backend: None,
        };
        assert!(!format!("{record:?}").contains("SECRET"));
    }

    #[tokio::test]
    async fn a_dead_pid_or_a_silent_url_is_not_alive() {
        let record = SimRecord {
            pid: u32::MAX,
            vers_url: "http://127.0.0.1:1".into(),
            api_key: String::new(),
            ssh_gateway: String::new(),
            vm_domain: String::new(),
            ca_cert: PathBuf::new(),
            data_dir: PathBuf::new(),
            vm_backend: None,
        };
        assert!(!is_alive(&record).await);
        let mine = SimRecord {
            pid: std::process::id(),
            ..record
        };
        assert!(!is_alive(&mine).await, "nothing answers on port 1");
    }
}
