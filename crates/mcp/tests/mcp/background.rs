//! Background processes through MCP: they outlive the server, are found again by a new one,
//! their output reads in order, and bg_stop ends their whole process group.

use serde_json::json;
use tether_testkit::{STEP_DEADLINE, within};

use crate::client::{Client, Env};
use crate::client_ready;

/// Follows `id`'s output until it contains `wanted`; each call waits for new output.
async fn follow(client: &mut Client, id: &str, wanted: &str) -> String {
    let what = format!("output {wanted:?} of {id}");
    within(STEP_DEADLINE, &what, async {
        let (mut seen, mut offset) = (String::new(), 0);
        loop {
            let args = json!({"id": id, "offset": offset, "wait": 10});
            let reply = client.call("bg_logs", args).await;
            let next = reply.details()["nextOffset"].as_u64().unwrap();
            if next > offset {
                seen.push_str(reply.ok().split("\n\n[").next().unwrap());
            }
            offset = next;
            if seen.contains(wanted) {
                return Ok(seen);
            }
        }
    })
    .await
    .unwrap()
}

/// Whether the process whose pid is in `file` is gone (or a zombie), asked through bash.
async fn gone(client: &mut Client, file: &str) -> bool {
    let check = format!(
        "s=$(cat /proc/$(cat {file})/stat 2>/dev/null); case \"$s\" in ''|*') Z '*) echo gone;; *) echo alive;; esac"
    );
    client
        .call("bash", json!({"command": check}))
        .await
        .ok()
        .trim()
        == "gone"
}

/// Starts a process, restarts the server, finds it, reads it, stops its group.
async fn survive_restart(env: &Env, vm: Option<&str>) {
    let mut first = env.client().await;
    if let Some(vm) = vm {
        first.call("vm_use", json!({"vmId": vm})).await.ok();
    }
    let command = "sleep 300 & echo $! > child.pid; echo one; echo two >&2; echo three; wait";
    let started = first
        .call("bg_start", json!({"command": command, "name": "server"}))
        .await;
    let id = started.details()["id"].as_str().unwrap().to_owned();
    assert!(
        started
            .ok()
            .starts_with(&format!("Started background process {id} (pid "))
    );
    assert_eq!(follow(&mut first, &id, "three").await, "one\ntwo\nthree\n");
    first.close().await;

    let mut second = env.client().await;
    if let Some(vm) = vm {
        second.call("vm_use", json!({"vmId": vm})).await.ok();
    }
    let listed = second.call("bg_list", json!({})).await;
    assert!(
        listed.ok().starts_with(&format!("{id} running since ")),
        "{}",
        listed.text
    );
    assert!(listed.text.contains(" (server) in "), "{}", listed.text);
    let logs = second.call("bg_logs", json!({"id": id})).await;
    assert!(
        logs.ok().starts_with("one\ntwo\nthree\n\n\n["),
        "{}",
        logs.text
    );
    assert!(
        !gone(&mut second, "child.pid").await,
        "the child died early"
    );
    let stopped = second.call("bg_stop", json!({"id": id})).await;
    assert_eq!(stopped.ok(), format!("Stopped {id}: killed by SIGTERM."));
    assert!(
        gone(&mut second, "child.pid").await,
        "bg_stop left the child running"
    );
    let listed = second.call("bg_list", json!({})).await;
    assert!(
        listed
            .ok()
            .starts_with(&format!("{id} killed(TERM) since ")),
        "{}",
        listed.text
    );
    second.close().await;
}

#[tokio::test]
async fn a_local_process_outlives_the_server() {
    if !client_ready().await {
        return;
    }
    survive_restart(&Env::local(), None).await;
}

#[tokio::test]
async fn a_vm_process_outlives_the_server() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let vm = env.new_vm().await;
    survive_restart(&env, Some(&vm)).await;
}
