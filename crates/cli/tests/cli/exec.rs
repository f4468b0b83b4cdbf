//! `tether exec`: exit codes, streams, stdin, timeout, cwd, env, and no local environment.

use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use tether_testkit::{STEP_DEADLINE, within};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{Env, run};

#[tokio::test]
async fn exit_codes_streams_stdin_cwd_and_env() {
    let env = Env::start().await;
    let vm = env.new_vm().await;

    let run1 = env
        .run(&["exec", &vm, "--", "echo out; echo err >&2; exit 3"])
        .await;
    assert_eq!(
        (run1.code, run1.stdout.as_str(), run1.stderr.as_str()),
        (3, "out\n", "err\n")
    );

    let killed = env.run(&["exec", &vm, "--", "kill -KILL $$"]).await;
    assert_eq!(killed.code, 128 + 9, "{killed:?}");

    let echoed = env
        .run_with_stdin(&["exec", &vm, "--", "cat"], b"line one\nline two")
        .await;
    assert_eq!(echoed.ok(), "line one\nline two");

    let argv = env
        .run(&["exec", &vm, "--", "printf", "[%s]", "a b", "$HOME"])
        .await;
    assert_eq!(argv.ok(), "[a b][$HOME]");

    let cwd = env
        .run(&[
            "exec",
            &vm,
            "--cwd",
            "/tmp",
            "-e",
            "GREETING=hi there",
            "--",
            "pwd; echo \"$GREETING\"",
        ])
        .await;
    assert_eq!(cwd.ok(), "/tmp\nhi there");

    let json = env
        .run(&["exec", &vm, "--json", "--", "echo x; echo y >&2; exit 5"])
        .await;
    assert_eq!(json.code, 5);
    assert_eq!(
        json.json(),
        json!({"vm_id": vm, "outcome": "exited", "exit_code": 5, "signal": null,
               "stdout": "x\n", "stderr": "y\n"})
    );
}

#[tokio::test]
async fn a_timeout_keeps_the_output_so_far_exits_124_and_leaves_nothing_running() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let started = std::time::Instant::now();
    let run = env
        .run(&[
            "exec",
            &vm,
            "--timeout",
            "1",
            "--",
            "echo before; sleep 300; echo after",
        ])
        .await;
    assert_eq!(run.code, 124, "{run:?}");
    assert_eq!(run.stdout, "before\n");
    assert!(
        run.stderr.contains("ran longer than 1s and was killed"),
        "{run:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    let processes = env.sh(&vm, "ps -eo args").await;
    assert!(
        !processes.contains("sleep 300"),
        "left running:\n{processes}"
    );
}

#[tokio::test]
async fn the_local_environment_does_not_reach_the_vm() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let mut command = env.command(&["exec", &vm, "--", "env"]);
    command.env("TETHER_TEST_SECRET", "must-not-leak");
    let run = run(command, None).await;
    let vars = run.ok();
    assert!(!vars.contains("must-not-leak"), "leaked:\n{vars}");
    assert!(!vars.contains("VERS_API_KEY"), "leaked:\n{vars}");
    assert!(vars.lines().any(|l| l == "HOME=/root"), "{vars}");

    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let state = env.state_dir();
    assert_eq!(mode(&state), 0o700, "{}", state.display());
    let pins = std::fs::read_to_string(state.join("known_hosts")).unwrap();
    assert!(
        pins.lines().any(|l| l.starts_with(&format!("[{vm}."))),
        "the VM's host key is pinned: {pins}"
    );
    assert_eq!(mode(&state.join("known_hosts")), 0o600);
}

#[tokio::test]
async fn ctrl_c_kills_the_remote_process_group_and_exits_130() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let mut command = env.command(&["exec", &vm, "--", "echo started; sleep 300"]);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(STEP_DEADLINE, "the remote command to start", async {
        Ok(stdout.next_line().await?)
    })
    .await
    .unwrap();
    assert_eq!(line.as_deref(), Some("started"));
    let pid = Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    kill(pid, Signal::SIGINT).unwrap();
    let output = within(STEP_DEADLINE, "tether to exit after Ctrl-C", async {
        Ok(child.wait_with_output().await?)
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cancelled; the command's processes in the VM were killed"),
        "{stderr}"
    );
    let processes = env.sh(&vm, "ps -eo args").await;
    assert!(
        !processes.contains("sleep 300"),
        "left running:\n{processes}"
    );
}
