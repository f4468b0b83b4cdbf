//! The tutorial's walk-through through MCP: create a VM, route bash to it, come back.

use serde_json::json;

use crate::client::Env;
use crate::client_ready;

#[tokio::test]
async fn create_use_bash_and_back_to_local() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let mut client = env.client().await;
    let created = client.call("create_vm", json!({})).await;
    let vm = created.details()["vmId"].as_str().unwrap().to_owned();
    assert!(
        created.ok().starts_with(&format!("VM created: {vm}\n")),
        "{}",
        created.text
    );
    assert_eq!(vm.len(), 36, "a full VM id: {vm}");
    assert_eq!(
        created.progress().first().map(String::as_str),
        Some("creating VM…")
    );

    let listed = client.call("vm_list", json!({})).await;
    assert!(
        listed.ok().contains(&format!("{vm} [running]")),
        "{}",
        listed.text
    );

    let prefix = &vm[..8];
    let used = client.call("vm_use", json!({"vmId": prefix})).await;
    assert!(
        used.ok().starts_with(&format!("Routing to {vm}: ")),
        "{}",
        used.text
    );
    let listed = client.call("vm_list", json!({})).await;
    assert!(
        listed.ok().contains(&format!("(active: {vm})")),
        "{}",
        listed.text
    );

    let uname = client.call("bash", json!({"command": "uname -a"})).await;
    assert!(
        uname.ok().starts_with(&format!("Linux {vm} ")),
        "{}",
        uname.text
    );
    let pwd = client.call("bash", json!({"command": "pwd"})).await;
    assert_eq!(pwd.ok(), "/root\n");

    let exec = client
        .call(
            "vm_exec",
            json!({"vmId": vm, "command": "hostname; exit 4"}),
        )
        .await;
    assert_eq!(exec.err(), format!("{vm}\n\n\nCommand exited with code 4"));

    let local = client.call("vm_local", json!({})).await;
    assert!(
        local
            .ok()
            .starts_with(&format!("Switched from VM {vm} back to local execution"))
    );
    let here = client
        .call("bash", json!({"command": "uname -n; pwd"}))
        .await;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let root = env.root().canonicalize().unwrap();
    assert_eq!(here.ok(), format!("{}\n{}\n", host.trim(), root.display()));
    client.close().await;
}

#[tokio::test]
async fn branch_commit_restore_state_copy_and_delete() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let vm = env.new_vm().await;
    let mut client = env.client().await;
    client.call("vm_use", json!({"vmId": vm})).await.ok();
    client
        .call(
            "write",
            json!({"path": "marker.txt", "content": "from the parent\n"}),
        )
        .await
        .ok();

    let branched = client
        .call("vm_branch", json!({"vmId": vm, "count": 2}))
        .await;
    let children: Vec<String> = branched.details()["vmIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 2);
    assert!(branched.ok().ends_with(&children.join("\n")));
    let child = &children[0];
    let read = client
        .call(
            "vm_exec",
            json!({"vmId": child, "command": "cat marker.txt"}),
        )
        .await;
    assert_eq!(read.ok(), "from the parent\n");

    let committed = client.call("vm_commit", json!({"vmId": vm})).await;
    let commit = committed.details()["commitId"].as_str().unwrap().to_owned();
    assert!(
        committed
            .ok()
            .starts_with(&format!("VM {vm} committed: {commit}"))
    );
    let restored = client.call("vm_restore", json!({"commitId": commit})).await;
    let copy = restored.details()["vmId"].as_str().unwrap().to_owned();
    let read = client
        .call(
            "vm_exec",
            json!({"vmId": copy, "command": "cat marker.txt"}),
        )
        .await;
    assert_eq!(read.ok(), "from the parent\n");

    let paused = client
        .call("vm_state", json!({"vmId": child, "state": "paused"}))
        .await;
    assert_eq!(paused.ok(), format!("VM {child} is now paused."));
    let resumed = client
        .call("vm_exec", json!({"vmId": child, "command": "echo awake"}))
        .await;
    assert_eq!(resumed.ok(), "awake\n", "a paused VM resumes when used");

    let root = env.root().canonicalize().unwrap();
    std::fs::write(root.join("local.txt"), "local bytes\n").unwrap();
    let up = client
        .call(
            "vm_copy",
            json!({"src": "local.txt", "dst": format!("vm:{child}:/tmp")}),
        )
        .await;
    let expected = format!(
        "Copied {}/local.txt to vm:{child}:/tmp/local.txt (12 bytes)",
        root.display()
    );
    assert_eq!(up.ok(), expected);
    let across = client
        .call(
            "vm_copy",
            json!({"src": format!("vm:{child}:/tmp/local.txt"), "dst": "vm::/root/copied.txt"}),
        )
        .await;
    assert!(across.ok().starts_with("Copied "), "{}", across.text);
    let read = client.call("read", json!({"path": "copied.txt"})).await;
    assert_eq!(read.ok(), "local bytes\n");

    let deleted = client.call("vm_delete", json!({"vmId": vm})).await;
    assert!(
        deleted.ok().starts_with(&format!("VM {vm} deleted.")),
        "{}",
        deleted.text
    );
    assert!(
        deleted
            .text
            .ends_with("It was the active VM: the tools run on this machine again.")
    );
    let here = client.call("bash", json!({"command": "pwd"})).await;
    assert_eq!(here.ok(), format!("{}\n", root.display()));
    client.close().await;
}
