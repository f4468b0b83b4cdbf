//! Bad input, cancelled calls and vanishing clients: clear error results, a server that keeps
//! working, and nothing left running.

use std::process::Stdio;

use serde_json::{Value, json};
use tether_testkit::{STEP_DEADLINE, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::client::{Client, Env, SERVER};
use crate::client_ready;

#[tokio::test]
async fn bad_arguments_and_unknown_vms_are_error_results() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let mut client = env.client().await;
    let unknown = client.call("read", json!({"path": "x", "lines": 3})).await;
    assert_eq!(
        unknown.err(),
        "invalid arguments for read: unknown field `lines`, expected one of `path`, `offset`, `limit`; fix them and call read again"
    );
    let missing = client.call("bash", json!({})).await;
    assert_eq!(
        missing.err(),
        "invalid arguments for bash: missing field `command`; fix them and call bash again"
    );
    let wrong = client.call("bash", json!({"command": 5})).await;
    assert!(
        wrong.err().starts_with(
            "invalid arguments for bash: invalid type: integer `5`, expected a string"
        ),
        "{}",
        wrong.text
    );
    let state = client
        .call("vm_state", json!({"vmId": "x", "state": "asleep"}))
        .await;
    assert!(
        state
            .err()
            .contains("unknown state `asleep`, expected `paused` or `running`"),
        "{}",
        state.text
    );
    let no_vm = client.call("vm_use", json!({"vmId": "nope"})).await;
    assert_eq!(
        no_vm.err(),
        "no VM id starts with \"nope\"; there are no VMs yet"
    );
    let vm = env.new_vm().await;
    let no_vm = client
        .call("vm_exec", json!({"vmId": "nope", "command": "true"}))
        .await;
    assert_eq!(
        no_vm.err(),
        "no VM id starts with \"nope\"; 1 VM(s) exist; vm_list shows their ids"
    );
    let full_but_gone = "00000000-0000-4000-8000-000000000000";
    let gone_vm = client
        .call("vm_delete", json!({"vmId": full_but_gone}))
        .await;
    assert!(gone_vm.err().contains(full_but_gone), "{}", gone_vm.text);
    let no_commit = client.call("vm_restore", json!({"commitId": "nope"})).await;
    assert!(
        no_commit
            .err()
            .starts_with("no commit id starts with \"nope\""),
        "{}",
        no_commit.text
    );
    let active = client
        .call("vm_copy", json!({"src": "vm::/etc/hostname", "dst": "x"}))
        .await;
    assert!(
        active.err().contains("call vm_use first"),
        "{}",
        active.text
    );
    let tool = client
        .send(json!({"op": "call", "tool": "rm_rf", "args": {}}))
        .await;
    let protocol = tool["protocolError"].as_str().unwrap();
    assert!(
        protocol.starts_with("unknown tool \"rm_rf\"; the tools are: create_vm,"),
        "{protocol}"
    );
    // Still serving.
    let alive = client
        .call("vm_exec", json!({"vmId": vm, "command": "echo alive"}))
        .await;
    assert_eq!(alive.ok(), "alive\n");
    client.close().await;
}

/// A cancelled bash call kills its command; the server goes on.
async fn cancel_kills(client: &mut Client) {
    let command = "rm -f cancelled.pid; echo $$ > cancelled.pid; exec sleep 300";
    let cancelled = client
        .send(json!({"op": "cancel", "tool": "bash", "args": {"command": command}, "afterProgress": 1}))
        .await;
    assert_eq!(cancelled["cancelled"], true);
    let check = "p=$(cat cancelled.pid) || exit 1; \
                 for i in $(seq 1 100); do s=$(cat /proc/$p/stat 2>/dev/null); \
                 case \"$s\" in ''|*') Z '*) echo gone; exit 0;; esac; sleep 0.1; done; echo alive";
    let after = client.call("bash", json!({"command": check})).await;
    assert_eq!(after.ok(), "gone\n", "the cancelled command still runs");
}

#[tokio::test]
async fn a_cancelled_call_kills_its_command_locally_and_on_a_vm() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let vm = env.new_vm().await;
    let mut client = env.client().await;
    cancel_kills(&mut client).await;
    client.call("vm_use", json!({"vmId": vm})).await.ok();
    cancel_kills(&mut client).await;
    client.close().await;
}

/// One JSON-RPC message to the server.
async fn send(stdin: &mut tokio::process::ChildStdin, message: Value) {
    stdin
        .write_all(format!("{message}\n").as_bytes())
        .await
        .unwrap();
    stdin.flush().await.unwrap();
}

#[tokio::test]
async fn a_client_that_vanishes_mid_call_leaves_nothing_running() {
    let env = Env::local();
    let root = env.root().canonicalize().unwrap();
    let mut server = Command::new(SERVER)
        .current_dir(&root)
        .env("HOME", &root)
        .env("TETHER_NO_AUTO_SIM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"}}});
    send(&mut stdin, init).await;
    let reply = within(STEP_DEADLINE, "the initialize reply", async {
        Ok(lines.next_line().await?.unwrap())
    })
    .await
    .unwrap();
    assert!(reply.contains("\"serverInfo\""), "{reply}");
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "bash", "arguments": {"command": "echo $$ > vanished.pid; exec sleep 300"},
        "_meta": {"progressToken": "p1"}}});
    send(&mut stdin, call).await;
    let progress = within(
        STEP_DEADLINE,
        "a progress notification of the running call",
        async {
            loop {
                let line = lines.next_line().await?.unwrap();
                if line.contains("notifications/progress") {
                    return Ok(line);
                }
            }
        },
    )
    .await
    .unwrap();
    assert!(progress.contains("bash running"), "{progress}");
    let pid: i32 = std::fs::read_to_string(root.join("vanished.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    drop(stdin);
    let status = within(
        STEP_DEADLINE,
        "the server to exit after its client left",
        async { Ok(server.wait().await?) },
    )
    .await
    .unwrap();
    assert!(status.success(), "the server exited with {status}");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the command survived: {stat}"
    );
}
