//! The agent as an ordinary process (`tether-guest --stdio`), driven by the host library's
//! client: the same scenarios the QEMU guest runs, without a VM.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../../kvm/tests/common/scenarios.rs"]
#[allow(dead_code)]
mod scenarios;

use std::process::Stdio;
use std::time::Duration;
use tether_kvm::AgentClient;
use tokio::process::{Child, Command};

const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

async fn agent() -> (AgentClient, Child) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether-guest"))
        .arg("--stdio")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let reader = child.stdout.take().unwrap();
    let writer = child.stdin.take().unwrap();
    let (client, _hello) = AgentClient::connect(reader, writer, HELLO_TIMEOUT)
        .await
        .unwrap();
    (client, child)
}

macro_rules! scenario {
    ($name:ident) => {
        #[tokio::test]
        async fn $name() {
            let (client, _child) = agent().await;
            tokio::time::timeout(scenarios::SCENARIO_TIMEOUT, scenarios::$name(&client))
                .await
                .expect(concat!(stringify!($name), " ran past its deadline"));
        }
    };
}

scenario!(echo_hi);
scenario!(exit_code_and_stderr);
scenario!(sigkill_is_128_plus_9);
scenario!(signal_kills_the_process_group);
scenario!(stdin_to_cat);
scenario!(twenty_concurrent_execs);
scenario!(env_and_cwd);
scenario!(pty_with_resize);
scenario!(missing_program_is_not_found);
scenario!(file_round_trip);

/// Closing the stream ends the agent, and it kills what it was running first.
#[tokio::test]
async fn agent_exits_and_kills_its_commands_when_the_host_goes() {
    let (client, mut child) = agent().await;
    let exec = client
        .exec(tether_kvm::ExecRequest::new(["sleep", "600"]))
        .await
        .unwrap();
    let pid = exec.pid();
    drop(child.stdin.take());
    drop((exec, client));
    let status = tokio::time::timeout(HELLO_TIMEOUT, child.wait())
        .await
        .expect("agent exit")
        .unwrap();
    assert!(status.success(), "{status}");
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ");
    assert!(!alive, "sleep {pid} outlived the agent");
}
