//! Every tool of the package through pi: ls/find/grep searched on the VM, `~` as the VM's
//! home, the bash full-output file read locally, vm_exec, the lifecycle tools, vm_copy, and
//! the `/vers` command.

use serde_json::{Value, json};

use crate::harness::{Rig, Turn};
use crate::rig;

/// Answers `turn` with one call and returns the tool's result text (and the next turn).
async fn call(rig: &mut Rig, turn: Turn, name: &str, args: Value) -> (String, Turn) {
    turn.tool(name, args);
    let next = rig.llm.next().await.unwrap();
    (next.tool_result().unwrap(), next)
}

#[tokio::test]
async fn search_tools_and_paths_work_on_the_vm() {
    search(rig!()).await;
}

#[tokio::test]
async fn search_tools_and_paths_work_on_the_vm_on_pi_0_87() {
    search(rig!("0.87.1")).await;
}

async fn search(rig: Rig) {
    let mut rig = rig;
    let mut pi = rig.pi_all_tools().await.unwrap();
    pi.prompt("search").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    let (created, turn) = call(&mut rig, turn, "create_vm", json!({})).await;
    let vm = created.replace("VM created: ", "");
    let (_, turn) = call(&mut rig, turn, "vm_use", json!({"vmId": vm})).await;
    let main = "fn main() {\n    println!(\"needle\");\n}\n";
    let (_, turn) = call(
        &mut rig,
        turn,
        "write",
        json!({"path": "~/proj/src/main.rs", "content": main}),
    )
    .await;
    let (_, turn) = call(
        &mut rig,
        turn,
        "write",
        json!({"path": "proj/notes.md", "content": "a needle here\n"}),
    )
    .await;
    let (ls, turn) = call(&mut rig, turn, "ls", json!({"path": "proj"})).await;
    assert_eq!(ls, "notes.md\nsrc/");
    let (find, turn) = call(
        &mut rig,
        turn,
        "find",
        json!({"pattern": "*.rs", "path": "~/proj"}),
    )
    .await;
    assert_eq!(find, "src/main.rs");
    let (grep, turn) = call(
        &mut rig,
        turn,
        "grep",
        json!({"pattern": "needle", "path": "proj"}),
    )
    .await;
    assert_eq!(
        grep,
        "notes.md:1: a needle here\nsrc/main.rs:2:     println!(\"needle\");"
    );
    let (context, turn) = call(
        &mut rig,
        turn,
        "grep",
        json!({"pattern": "need", "path": "proj/src/main.rs", "context": 1}),
    )
    .await;
    assert_eq!(
        context,
        "main.rs-1- fn main() {\nmain.rs:2:     println!(\"needle\");\nmain.rs-3- }"
    );
    let (read, turn) = call(&mut rig, turn, "read", json!({"path": "~/proj/notes.md"})).await;
    assert_eq!(read, "a needle here\n");
    let (long, turn) = call(&mut rig, turn, "bash", json!({"command": "seq 1 3000"})).await;
    let log = long
        .rsplit("Full output: ")
        .next()
        .unwrap()
        .trim_end_matches(']')
        .to_owned();
    assert!(
        log.starts_with("/tmp/pi-bash-") && std::path::Path::new(&log).exists(),
        "{long}"
    );
    let (tail, turn) = call(&mut rig, turn, "read", json!({"path": log, "offset": 2999})).await;
    assert_eq!(
        tail, "2999\n3000\n",
        "pi's local full-output file is read locally"
    );
    turn.text("done");
    pi.agent_end().await.unwrap();
    assert!(
        pi.tool_ends().iter().all(|e| !e.is_error),
        "{:?}",
        pi.tool_ends()
    );
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn lifecycle_tools_report_full_ids() {
    let mut rig = rig!();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("manage VMs").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    let (created, turn) = call(
        &mut rig,
        turn,
        "create_vm",
        json!({"vcpu_count": 1, "mem_size_mib": 512}),
    )
    .await;
    let vm = created.replace("VM created: ", "");
    let (_, turn) = call(&mut rig, turn, "vm_use", json!({"vmId": &vm[..8]})).await;
    let (_, turn) = call(
        &mut rig,
        turn,
        "write",
        json!({"path": "proj/a.txt", "content": "from the VM\n"}),
    )
    .await;
    let (host, turn) = call(
        &mut rig,
        turn,
        "vm_exec",
        json!({"vmId": vm, "command": "hostname; pwd"}),
    )
    .await;
    assert_eq!(host, format!("{vm}\n/root\n"));
    let (_, turn) = call(&mut rig, turn, "vm_local", json!({})).await;
    let (cat, turn) = call(
        &mut rig,
        turn,
        "vm_exec",
        json!({"vmId": vm, "command": "cat proj/a.txt"}),
    )
    .await;
    assert_eq!(
        cat, "from the VM\n",
        "vm_exec runs on the named VM while tools are local"
    );
    let (listed, turn) = call(&mut rig, turn, "vm_list", json!({})).await;
    assert!(
        listed.starts_with("1 VM(s) (active: this machine):\n")
            && listed.contains(&format!("{vm} [running] created ")),
        "{listed}"
    );
    let (branched, turn) = call(&mut rig, turn, "vm_branch", json!({"vmId": vm, "count": 2})).await;
    let children: Vec<String> = branched
        .strip_prefix(&format!("Branched VM {vm} into 2 new VM(s):\n"))
        .unwrap_or_else(|| panic!("{branched}"))
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|id| id.len() == 36), "{children:?}");
    let (committed, turn) = call(
        &mut rig,
        turn,
        "vm_commit",
        json!({"vmId": vm, "name": "snap"}),
    )
    .await;
    let commit = committed
        .strip_prefix(&format!("VM {vm} committed: "))
        .and_then(|rest| rest.lines().next())
        .unwrap()
        .to_owned();
    let (restored, turn) = call(&mut rig, turn, "vm_restore", json!({"commitId": commit})).await;
    let restored_vm = restored
        .strip_prefix(&format!("Restored commit {commit} into new VM "))
        .unwrap()
        .to_owned();
    let (paused, turn) = call(
        &mut rig,
        turn,
        "vm_state",
        json!({"vmId": restored_vm, "state": "paused"}),
    )
    .await;
    assert_eq!(paused, format!("VM {restored_vm} state set to paused."));
    let (copied, turn) = call(
        &mut rig,
        turn,
        "vm_copy",
        json!({"src": format!("vm:{restored_vm}:proj"), "dst": "copy"}),
    )
    .await;
    assert_eq!(
        copied,
        format!(
            "Copied vm:{restored_vm}:/root/proj -> {}/copy (1 file(s))",
            rig.work().display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(rig.work().join("copy/a.txt")).unwrap(),
        "from the VM\n"
    );
    let (deleted, turn) = call(&mut rig, turn, "vm_delete", json!({"vmId": children[0]})).await;
    assert_eq!(deleted, format!("VM {} deleted.", children[0]));
    turn.text("done");
    pi.agent_end().await.unwrap();
    assert!(
        pi.tool_ends().iter().all(|e| !e.is_error),
        "{:?}",
        pi.tool_ends()
    );
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn the_vers_command_switches_the_active_vm() {
    let mut rig = rig!();
    let vm = rig.sim.api().new_vm().await.unwrap();
    let mut pi = rig.pi().await.unwrap();
    pi.until("the VM count in the footer", |e| {
        e["statusText"] == "vers: 1 VM(s)"
    })
    .await
    .unwrap();
    pi.prompt(&format!("/vers use {}", &vm[..6])).await.unwrap();
    let note = pi
        .until("a notice", |e| e["method"] == "notify")
        .await
        .unwrap();
    assert_eq!(note["message"], format!("Routing to {vm}"));
    pi.prompt("where").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    let (host, turn) = call(&mut rig, turn, "bash", json!({"command": "hostname"})).await;
    assert_eq!(host, format!("{vm}\n"));
    turn.text("on the VM");
    pi.agent_end().await.unwrap();
    pi.prompt("/vers local").await.unwrap();
    let note = pi
        .until("a notice", |e| e["method"] == "notify")
        .await
        .unwrap();
    assert_eq!(note["message"], "Back to local");
    pi.prompt("/vers teleport").await.unwrap();
    let note = pi
        .until("a notice", |e| e["method"] == "notify")
        .await
        .unwrap();
    assert_eq!(note["notifyType"], "error");
    pi.quit().await.unwrap();
}
