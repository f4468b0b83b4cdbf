//! The embedded default: with no key, tether starts one local simulator and shares it.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tether_testkit::within;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::{bare_command, run};

/// How long the stopped simulator may take to shut its VMs down and exit.
const SIM_EXIT_DEADLINE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn two_concurrent_commands_start_exactly_one_simulator() {
    let home = tempfile::Builder::new()
        .prefix("tether-embedded-")
        .tempdir()
        .unwrap();
    let record_path = home.path().join("state/tether/sim.json");
    let mut guard = KillOnDrop(Some(record_path.clone()));
    let (first, second) = tokio::join!(
        run(bare_command(home.path(), &["vm", "ls", "--json"]), None),
        run(bare_command(home.path(), &["vm", "ls", "--json"]), None),
    );
    let record: Value = serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    let pid = record["pid"].as_u64().unwrap() as i32;
    let data_dir = home.path().join("data/tether/sim");
    let running = simulators_on(&data_dir);
    let status = run(bare_command(home.path(), &["status", "--json"]), None).await;
    let status: Value = serde_json::from_str(status.ok()).unwrap();
    stop(pid).await;
    guard.0 = None;
    // `tether status` names what the simulator's VMs run on, as its startup line said.
    assert_eq!(record["vm_backend"], "namespaces");
    assert_eq!(status["simulator"]["vm_backend"], "namespaces");

    assert_eq!(running, vec![pid], "exactly the recorded simulator runs");
    assert_eq!((first.ok(), second.ok()), ("[]", "[]"));
    let mut notices = [first.stderr, second.stderr];
    notices.sort();
    let data = data_dir.display();
    // Only the process that started the simulator announces it.
    assert_eq!(
        notices,
        [
            String::new(),
            format!(
                "tether: no Vers API key configured: started the local simulator (pid {pid}, data in {data}); it keeps running for the next commands; set VERS_API_KEY to use Vers, or TETHER_NO_AUTO_SIM=1 to turn this off\n"
            ),
        ]
    );
    assert_eq!(
        record["data_dir"],
        Value::String(data_dir.display().to_string())
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&record_path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "the record holds the simulator's key");
}

#[tokio::test]
async fn no_auto_sim_leaves_the_missing_key_error() {
    let home = tempfile::Builder::new()
        .prefix("tether-embedded-")
        .tempdir()
        .unwrap();
    let mut command = bare_command(home.path(), &["vm", "ls"]);
    command.env("TETHER_NO_AUTO_SIM", "1");
    let run = run(command, None).await;
    assert_eq!(run.code, 3, "{run:?}");
    let versrc = home.path().join(".versrc");
    assert_eq!(
        run.stderr,
        format!(
            "tether: no Vers API key: set VERS_API_KEY, or put {{\"apiKey\": \"<key>\"}} in {} (`vers login` writes it); without a key, tether can use its local simulator (`tether sim`)\n",
            versrc.display()
        )
    );
    assert!(!home.path().join("state/tether/sim.json").exists());
}

/// Pids of `tether sim` processes whose command line names `data_dir`.
fn simulators_on(data_dir: &Path) -> Vec<i32> {
    let needle = data_dir.as_os_str().as_encoded_bytes();
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|pid: &i32| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.get(1) == Some(&b"sim".as_slice()) && args.contains(&needle)
        })
        .collect();
    pids.sort();
    pids
}

/// Stops the simulator with SIGTERM and waits (through a pidfd) until it has exited.
async fn stop(pid: i32) {
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
    within(SIM_EXIT_DEADLINE, "the simulator to exit", async {
        exited.readable().await?.retain_ready();
        Ok(())
    })
    .await
    .unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    assert!(cmdline.is_empty(), "the simulator is still running");
}

/// Kills the simulator recorded in a `sim.json` if a test fails before stopping it.
struct KillOnDrop(Option<std::path::PathBuf>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let record: Option<Value> = self
            .0
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        if let Some(pid) = record.and_then(|r| r["pid"].as_i64()) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
