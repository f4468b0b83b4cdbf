//! The background-process tools through a real pi: advertised as `tether mcp` advertises them,
//! and bg_start → bg_list → bg_logs → bg_stop on this machine and on a VM, each following the
//! active target like bash.

use std::time::Duration;

use serde_json::json;
use tether_testkit::within;
use tether_tools::{args, descriptions};

use crate::harness::{Rig, Turn, advertised_like};
use crate::rig;

/// The whole of one test (each model request and pi event also has its own deadline).
const TEST_DEADLINE: Duration = Duration::from_secs(180);

/// What one run's processes sleep: numbers no other test (or run) uses, to find them among the
/// host's processes (the simulator's VMs are host processes too).
#[derive(Clone, Copy)]
struct Sleeps {
    local: &'static str,
    vm: &'static str,
}

const ON_PI_0_73: Sleeps = Sleeps {
    local: "3517.25",
    vm: "3517.5",
};
const ON_PI_0_87: Sleeps = Sleeps {
    local: "3518.25",
    vm: "3518.5",
};

/// Host processes whose command line contains `needle`: (pid, command line).
fn host_processes(needle: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push((pid, cmdline));
            }
        }
    }
    found
}

fn host_processes_with(needle: &str) -> Vec<String> {
    host_processes(needle).into_iter().map(|(_, c)| c).collect()
}

/// Kills what a failed run left of its local process (it is detached, so nothing else would).
struct KillLocalOnDrop(Sleeps);

impl Drop for KillLocalOnDrop {
    fn drop(&mut self) {
        for (pid, _) in host_processes(self.0.local) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The process id in a `bg_start` result ("Started background process bg-… (pid …").
fn started_id(text: &str) -> String {
    text.strip_prefix("Started background process ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("not a bg_start result: {text}"))
        .to_owned()
}

fn advertised_like_tether_tools(turn: &Turn) {
    advertised_like(
        turn,
        &[
            (
                "bg_start",
                descriptions::BG_START,
                schemars::schema_for!(args::BgStartArgs),
            ),
            (
                "bg_list",
                descriptions::BG_LIST,
                schemars::schema_for!(args::BgListArgs),
            ),
            (
                "bg_logs",
                descriptions::BG_LOGS,
                schemars::schema_for!(args::BgLogsArgs),
            ),
            (
                "bg_stop",
                descriptions::BG_STOP,
                schemars::schema_for!(args::BgStopArgs),
            ),
        ],
    );
}

#[tokio::test]
async fn background_processes_follow_the_active_target() {
    let rig = rig!();
    let _cleanup = KillLocalOnDrop(ON_PI_0_73);
    within(
        TEST_DEADLINE,
        "background processes through pi",
        run(rig, ON_PI_0_73),
    )
    .await
    .unwrap();
    assert_eq!(host_processes_with(ON_PI_0_73.local), Vec::<String>::new());
}

#[tokio::test]
async fn background_processes_follow_the_active_target_on_pi_0_87() {
    let rig = rig!("0.87.1");
    let _cleanup = KillLocalOnDrop(ON_PI_0_87);
    within(
        TEST_DEADLINE,
        "background processes through pi 0.87",
        run(rig, ON_PI_0_87),
    )
    .await
    .unwrap();
    assert_eq!(host_processes_with(ON_PI_0_87.local), Vec::<String>::new());
}

async fn run(mut rig: Rig, sleeps: Sleeps) -> anyhow::Result<()> {
    let vm = rig.sim.api().new_vm().await?;
    let mut pi = rig.pi().await?;
    pi.prompt("run a server here and one on the VM").await?;

    // Locally (no VM active): in pi's working directory, with nothing of the VM.
    let turn = rig.llm.next().await?;
    advertised_like_tether_tools(&turn);
    let local = format!(
        "pwd > where.txt; echo local up; exec sleep {}",
        sleeps.local
    );
    turn.tool("bg_start", json!({ "command": local, "name": "local" }));

    let turn = rig.llm.next().await?;
    let local_id = started_id(&turn.tool_result()?);
    turn.tool(
        "bg_logs",
        json!({ "id": local_id, "offset": 0, "wait": 30 }),
    );

    let turn = rig.llm.next().await?;
    let logs = turn.tool_result()?;
    assert!(logs.starts_with("local up\n"), "{logs}");
    let work = rig.work().display().to_string();
    assert_eq!(
        std::fs::read_to_string(rig.work().join("where.txt"))?.trim(),
        work,
        "a local process runs in pi's working directory"
    );
    assert_eq!(host_processes_with(sleeps.local).len(), 1);
    turn.tool("vm_use", json!({ "vmId": vm }));

    // On the VM: its own processes only, and its output read back in order.
    let turn = rig.llm.next().await?;
    assert!(
        turn.tool_result()?.contains("bg_*"),
        "vm_use says bg_* follows"
    );
    let remote = format!(
        "printf 'on %s in %s\\nline 1\\nline 2\\nline 3\\n' \"$(hostname)\" \"$PWD\"; exec sleep {}",
        sleeps.vm
    );
    turn.tool("bg_start", json!({ "command": remote, "name": "srv" }));

    let turn = rig.llm.next().await?;
    let vm_id = started_id(&turn.tool_result()?);
    turn.tool("bg_list", json!({}));

    let turn = rig.llm.next().await?;
    let listed = turn.tool_result()?;
    assert!(
        listed.contains(&vm_id) && listed.contains("srv") && listed.contains("running"),
        "{listed}"
    );
    assert!(
        !listed.contains(&local_id),
        "the VM lists only its own: {listed}"
    );
    turn.tool("bg_logs", json!({ "id": vm_id, "offset": 0, "wait": 30 }));

    let turn = rig.llm.next().await?;
    let logs = turn.tool_result()?;
    assert!(
        logs.starts_with(&format!("on {vm} in /root\nline 1\nline 2\nline 3\n")),
        "{logs}"
    );
    turn.tool("bg_stop", json!({ "id": vm_id }));

    let turn = rig.llm.next().await?;
    let stopped = turn.tool_result()?;
    assert!(
        stopped.starts_with(&format!("Stopped {vm_id}")),
        "{stopped}"
    );
    assert_eq!(host_processes_with(sleeps.vm), Vec::<String>::new());
    // An id from another machine is not found here, with the way out in the message.
    turn.tool("bg_logs", json!({ "id": local_id }));

    let turn = rig.llm.next().await?;
    let unknown = turn.tool_result()?;
    assert!(
        unknown.contains(&format!("no background process {local_id}"))
            && unknown.contains("bg_list"),
        "{unknown}"
    );
    turn.tool("vm_local", json!({}));

    // Back on this machine: the local process is still there, and stops.
    let turn = rig.llm.next().await?;
    turn.tool("bg_list", json!({}));

    let turn = rig.llm.next().await?;
    let listed = turn.tool_result()?;
    assert!(
        listed.contains(&local_id) && listed.contains("running") && !listed.contains(&vm_id),
        "{listed}"
    );
    turn.tool("bg_stop", json!({ "id": local_id }));

    let turn = rig.llm.next().await?;
    let stopped = turn.tool_result()?;
    assert!(
        stopped.starts_with(&format!("Stopped {local_id}")),
        "{stopped}"
    );
    turn.text("done");
    pi.agent_end().await?;

    let errors: Vec<_> = pi
        .tool_ends()
        .into_iter()
        .filter(|end| end.is_error)
        .map(|end| end.name)
        .collect();
    assert_eq!(errors, ["bg_logs"], "only the unknown id fails");
    pi.quit().await?;
    Ok(())
}
