//! With no Vers key configured, the sidecar starts the local simulator (shared, detached)
//! and says so; the walk-through works on it.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::rig;

/// How long the stopped simulator may take to exit.
const SIM_EXIT_DEADLINE: Duration = Duration::from_secs(30);

/// Kills the simulator a `sim.json` records, whatever happens to the test.
struct StopSim(PathBuf);

impl StopSim {
    fn pid(&self) -> Option<i32> {
        let bytes = std::fs::read(&self.0).ok()?;
        let record: Value = serde_json::from_slice(&bytes).ok()?;
        record["pid"].as_i64().map(|pid| pid as i32)
    }

    /// SIGTERM, then waits (through a pidfd) until it has exited.
    async fn stop(self) {
        let pid = self.pid().expect("a recorded simulator");
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(
            fd >= 0,
            "pidfd_open({pid}): {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `fd` was just returned by pidfd_open and is owned by nothing else.
        let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
        // SAFETY: the descriptor is owned by the AsyncFd and closed only when it is dropped.
        let exited = unsafe { AsyncFd::register_with_interest(pidfd, Interest::READABLE) }.unwrap();
        let waited = tokio::time::timeout(SIM_EXIT_DEADLINE, exited.readable()).await;
        waited
            .expect("the simulator exits after SIGTERM")
            .unwrap()
            .retain_ready();
        std::mem::forget(self);
    }
}

impl Drop for StopSim {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[tokio::test]
async fn without_a_key_the_local_simulator_is_started_and_announced() {
    let mut rig = rig!();
    let sim = StopSim(rig.scratch("state/tether/sim.json"));
    let mut pi = rig.pi_embedded().await.unwrap();
    let status = pi
        .until("the footer", |e| e["method"] == "setStatus")
        .await
        .unwrap();
    assert_eq!(status["statusText"], "vers: 0 VM(s) (local simulator)");
    let note = pi
        .until("the notice", |e| e["method"] == "notify")
        .await
        .unwrap();
    let notice = note["message"].as_str().unwrap();
    assert!(
        notice.starts_with("tether: no Vers API key configured: started the local simulator"),
        "{notice}"
    );
    pi.prompt("work on a VM").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    turn.tool("create_vm", json!({}));
    let turn = rig.llm.next().await.unwrap();
    let vm = turn.tool_result().unwrap().replace("VM created: ", "");
    turn.tool("vm_use", json!({ "vmId": vm }));
    let turn = rig.llm.next().await.unwrap();
    turn.tool("bash", json!({ "command": "hostname" }));
    let turn = rig.llm.next().await.unwrap();
    assert_eq!(turn.tool_result().unwrap(), format!("{vm}\n"));
    turn.text("done");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();
    sim.stop().await;
}
