//! Session behaviour: the tools pi advertises, abort, parallel calls, `/reload`.

use serde_json::json;

use crate::harness::{Pi, Rig};
use crate::rig;

/// Creates a VM and makes it active; returns its id and the next turn.
async fn use_new_vm(rig: &mut Rig) -> (String, crate::harness::Turn) {
    let turn = rig.llm.next().await.unwrap();
    turn.tool("create_vm", json!({}));
    let turn = rig.llm.next().await.unwrap();
    let vm = turn.tool_result().unwrap().replace("VM created: ", "");
    turn.tool("vm_use", json!({ "vmId": vm }));
    let turn = rig.llm.next().await.unwrap();
    assert!(turn.tool_result().unwrap().starts_with("Routing to "));
    (vm, turn)
}

/// The processes running on `vm`, by command line.
async fn processes(rig: &Rig, vm: &str) -> String {
    let out = rig.sim.ssh(vm).run("ps -eo args").await.unwrap();
    out.stdout_str().to_owned()
}

#[tokio::test]
async fn pi_advertises_the_vm_tools_with_their_descriptions() {
    let mut rig = rig!();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("hello").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    let advertised = turn.advertised();
    let description = |name: &str| {
        advertised
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| panic!("{name} is not advertised: {advertised:?}"))
    };
    assert_eq!(
        description("create_vm"),
        "Create a new Vers VM and wait for it to boot. Returns its full VM id; call vm_use with it to run bash, read, edit and write there."
    );
    assert_eq!(
        description("vm_use"),
        "Route bash, read, edit, write, ls, find and grep to this VM (checks that it answers). Use vm_local to switch back."
    );
    assert!(
        description("bash").starts_with("Execute a bash command in the current working directory.")
    );
    for tool in [
        "vm_exec",
        "vm_local",
        "vm_list",
        "vm_branch",
        "vm_commit",
        "vm_restore",
        "vm_delete",
        "vm_state",
        "vm_copy",
    ] {
        assert!(!description(tool).is_empty(), "{tool} has a description");
    }
    let prompt = turn.system_prompt();
    assert!(
        prompt.contains("create_vm"),
        "the VM tools are in the prompt's tool list"
    );
    turn.text("hi");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn aborting_a_remote_bash_leaves_no_process_on_the_vm() {
    let mut rig = rig!();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("run something long").await.unwrap();
    let (vm, turn) = use_new_vm(&mut rig).await;
    turn.tool(
        "bash",
        json!({ "command": "sleep 1235 & echo started; sleep 1234" }),
    );
    pi.until("bash output", |e| {
        e["type"] == "tool_execution_update"
            && e["partialResult"]["content"][0]["text"]
                .as_str()
                .is_some_and(|t| t.contains("started"))
    })
    .await
    .unwrap();
    assert!(processes(&rig, &vm).await.contains("sleep 1234"));
    pi.send(json!({ "type": "abort" })).await.unwrap();
    let end = pi
        .until("the aborted bash", |e| e["type"] == "tool_execution_end")
        .await
        .unwrap();
    assert_eq!(end["isError"], true);
    assert_eq!(
        end["result"]["content"][0]["text"],
        "started\n\n\nCommand aborted"
    );
    pi.agent_end().await.unwrap();
    let left = processes(&rig, &vm).await;
    assert!(
        !left.contains("sleep 123"),
        "nothing of the command is left: {left}"
    );
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn two_parallel_tool_calls_on_the_vm_both_succeed() {
    let mut rig = rig!();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("two at once").await.unwrap();
    let (vm, turn) = use_new_vm(&mut rig).await;
    turn.tools(&[
        (
            "bash",
            json!({ "command": "sleep 1; echo first; hostname" }),
        ),
        (
            "bash",
            json!({ "command": "echo second > second.txt; cat second.txt" }),
        ),
    ]);
    let turn = rig.llm.next().await.unwrap();
    let results = turn.tool_results().unwrap();
    assert_eq!(
        results,
        vec![format!("first\n{vm}\n"), "second\n".to_owned()]
    );
    turn.text("done");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();
}

/// Waits until the footer shows `text` for the `nth` time (from 1).
async fn status_shown(pi: &mut Pi, text: &str, nth: usize) {
    while pi
        .statuses("vers")
        .iter()
        .filter(|s| s.as_deref() == Some(text))
        .count()
        < nth
    {
        pi.until(text, |e| e["method"] == "setStatus")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn reload_keeps_the_active_vm() {
    let mut rig = rig!();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("use a VM").await.unwrap();
    let (vm, turn) = use_new_vm(&mut rig).await;
    turn.text("using it");
    pi.agent_end().await.unwrap();
    let footer = format!("vers: {}", &vm[..12]);
    status_shown(&mut pi, &footer, 1).await;

    pi.prompt("/test-reload").await.unwrap();
    status_shown(&mut pi, &footer, 2).await;

    pi.prompt("where are we").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    assert!(
        turn.system_prompt()
            .contains("Current working directory: /root")
    );
    turn.tool("bash", json!({ "command": "hostname; pwd" }));
    let turn = rig.llm.next().await.unwrap();
    assert_eq!(turn.tool_result().unwrap(), format!("{vm}\n/root\n"));
    turn.text("on the VM");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn a_resumed_session_keeps_the_active_vm() {
    let mut rig = rig!();
    let file = rig.scratch("session.jsonl");
    let mut pi = rig.pi_session(&file).await.unwrap();
    pi.prompt("use a VM").await.unwrap();
    let (vm, turn) = use_new_vm(&mut rig).await;
    turn.text("using it");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();

    let mut pi = rig.pi_session(&file).await.unwrap();
    status_shown(&mut pi, &format!("vers: {}", &vm[..12]), 1).await;
    pi.prompt("where are we").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    turn.tool("bash", json!({ "command": "hostname" }));
    let turn = rig.llm.next().await.unwrap();
    assert_eq!(turn.tool_result().unwrap(), format!("{vm}\n"));
    turn.text("still on the VM");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn a_vm_switch_in_a_batch_takes_effect_before_the_next_call() {
    let mut rig = rig!();
    let vm = rig.sim.api().new_vm().await.unwrap();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("switch and run").await.unwrap();
    let turn = rig.llm.next().await.unwrap();
    turn.tools(&[
        ("vm_use", json!({ "vmId": vm, "cwd": "/tmp" })),
        ("bash", json!({ "command": "hostname; pwd" })),
        ("vm_local", json!({})),
        ("bash", json!({ "command": "hostname" })),
    ]);
    let turn = rig.llm.next().await.unwrap();
    let results = turn.tool_results().unwrap();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(results[1], format!("{vm}\n/tmp\n"));
    assert_eq!(results[3], format!("{host}\n"));
    turn.text("done");
    pi.agent_end().await.unwrap();
    pi.quit().await.unwrap();
}
