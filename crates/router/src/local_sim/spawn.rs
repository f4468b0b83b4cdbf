//! Starting `tether sim` detached: its own session (so it outlives this process and the
//! terminal), stdout and stderr to files in the state directory, then waiting for its startup
//! line.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::SimRecord;
use crate::{RouterError, StateDir};

/// How long a starting simulator may take to print its startup line.
pub const SIM_START_DEADLINE: Duration = Duration::from_secs(60);
/// Pause between two looks at a starting simulator's output file. The simulator writes its
/// line to a file (it must outlive this process, so no pipe), which has no event to await.
const START_POLL: Duration = Duration::from_millis(20);
/// The simulator's stdout.
const OUT: &str = "sim.out";
/// The simulator's stderr.
const LOG: &str = "sim.log";

/// The startup line of `tether sim`.
#[derive(Deserialize)]
struct StartupLine {
    vers_url: String,
    api_key: String,
    ssh_gateway: String,
    vm_domain: String,
    ca_cert: PathBuf,
    data_dir: PathBuf,
    #[serde(default)]
    backend: Option<String>,
}

/// Starts `tether sim --data data_dir` and waits for its startup line.
pub(super) async fn start(
    state: &StateDir,
    tether: &Path,
    data_dir: &Path,
) -> Result<SimRecord, RouterError> {
    let out = state.root().join(OUT);
    let log = state.root().join(LOG);
    let mut child = spawn(state, tether, data_dir, &out, &log)?;
    tracing::info!(pid = child.id(), data_dir = %data_dir.display(), "started the local simulator");
    match wait_for_line(&mut child, &out, &log).await {
        Ok(line) => Ok(record(child.id(), line)),
        Err(err) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(err)
        }
    }
}

fn spawn(
    state: &StateDir,
    tether: &Path,
    data_dir: &Path,
    out: &Path,
    log: &Path,
) -> Result<Child, RouterError> {
    let open = |path: &Path, append: bool| {
        OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .mode(0o600)
            .open(path)
            .map_err(|e| state.io("open", path, e))
    };
    let stdout = open(out, false)?;
    let stderr = open(log, true)?;
    let mut command = Command::new(tether);
    command
        .arg("sim")
        .arg("--data")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    // SAFETY: the closure runs in the child between fork and exec and only calls setsid(2),
    // which is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    command.spawn().map_err(|e| RouterError::SimStart {
        reason: format!("{} could not be run: {e}", tether.display()),
        log: log.to_path_buf(),
    })
}

/// Polls the output file for the first complete line until [`SIM_START_DEADLINE`]; a simulator
/// that exits first is an error quoting its log.
async fn wait_for_line(
    child: &mut Child,
    out: &Path,
    log: &Path,
) -> Result<StartupLine, RouterError> {
    let deadline = Instant::now() + SIM_START_DEADLINE;
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if let Some((line, _)) = text.split_once('\n') {
            return serde_json::from_str(line).map_err(|e| RouterError::SimStart {
                reason: format!("its startup line is not the expected JSON ({e}): {line}"),
                log: log.to_path_buf(),
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(RouterError::SimStart {
                reason: format!("it exited ({status}): {}", last_line(log)),
                log: log.to_path_buf(),
            });
        }
        if Instant::now() >= deadline {
            return Err(RouterError::SimStartTimeout {
                after: SIM_START_DEADLINE,
                log: log.to_path_buf(),
            });
        }
        tokio::time::sleep(START_POLL).await;
    }
}

/// The last non-empty line of the log, without tether's `tether: ` prefix.
fn last_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    line.trim().trim_start_matches("tether: ").to_owned()
}

fn record(pid: u32, line: StartupLine) -> SimRecord {
    SimRecord {
        pid,
        vers_url: line.vers_url,
        api_key: line.api_key,
        ssh_gateway: line.ssh_gateway,
        vm_domain: line.vm_domain,
        ca_cert: line.ca_cert,
        data_dir: line.data_dir,
        vm_backend: line.backend,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn a_program_that_exits_at_once_is_reported_with_its_last_log_line() {
        let temp = tempfile::tempdir().unwrap();
        let state = StateDir::at(temp.path());
        let script = temp.path().join("fake-tether");
        std::fs::write(
            &script,
            "#!/bin/sh\necho 'tether: the data directory is locked' >&2\nexit 2\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let err = start(&state, &script, temp.path()).await.unwrap_err();
        let RouterError::SimStart { reason, .. } = err else {
            panic!("{err:?}")
        };
        assert!(reason.ends_with("the data directory is locked"), "{reason}");
        assert!(reason.contains("exit status: 2"), "{reason}");
    }

    #[tokio::test]
    async fn the_startup_line_becomes_the_record() {
        let temp = tempfile::tempdir().unwrap();
        let state = StateDir::at(temp.path());
        let script = temp.path().join("fake-tether");
        let line = r#"{"vers_url":"http://127.0.0.1:9","api_key":"k","ssh_gateway":"127.0.0.1:8","vm_domain":"vm.local","ca_cert":"/ca.pem","data_dir":"/d"}"#;
        std::fs::write(
            &script,
            format!("#!/bin/sh\necho '{line}'\nexec sleep 30\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let record = start(&state, &script, temp.path()).await.unwrap();
        // The fake simulator is this test's to stop.
        let pid = nix::unistd::Pid::from_raw(record.pid as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        nix::sys::wait::waitpid(pid, None).unwrap();
        assert_eq!(record.vers_url, "http://127.0.0.1:9");
        assert_eq!(record.api_key, "k");
        assert_eq!(record.data_dir, PathBuf::from("/d"));
    }
}
