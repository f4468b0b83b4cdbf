//! The tutorial's walk-through: create_vm → vm_use → bash on the VM → install something and
//! use it → vm_local → bash runs locally again.

use serde_json::json;

use crate::harness::{Rig, SECRET_VAR};
use crate::rig;

/// Runs the walk-through on pi `version`.
pub async fn walkthrough(rig: Rig) {
    let mut rig = rig;
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("set up a VM and work on it").await.unwrap();

    let turn = rig.llm.next().await.unwrap();
    let advertised = turn.advertised();
    let names: Vec<&str> = advertised.iter().map(|(n, _)| n.as_str()).collect();
    for tool in [
        "read",
        "bash",
        "edit",
        "write",
        "create_vm",
        "vm_exec",
        "vm_use",
        "vm_local",
    ] {
        assert!(names.contains(&tool), "{tool} is not advertised: {names:?}");
    }
    turn.tool("create_vm", json!({}));

    let turn = rig.llm.next().await.unwrap();
    let created = turn.tool_result().unwrap();
    let vm = created
        .strip_prefix("VM created: ")
        .expect(&created)
        .trim()
        .to_owned();
    turn.tool("vm_use", json!({ "vmId": vm }));

    let turn = rig.llm.next().await.unwrap();
    assert!(
        turn.tool_result()
            .unwrap()
            .starts_with(&format!("Routing to {vm}"))
    );
    turn.tool("bash", json!({ "command": "uname -a" }));

    let turn = rig.llm.next().await.unwrap();
    let uname = turn.tool_result().unwrap();
    assert!(
        uname.contains(&vm),
        "uname -a on the VM shows its id: {uname}"
    );
    let script = "#!/bin/sh\necho \"hello from $(hostname) in $(pwd)\"\n";
    turn.tool(
        "write",
        json!({ "path": "/usr/local/bin/tether-hello", "content": script }),
    );

    let turn = rig.llm.next().await.unwrap();
    turn.tool(
        "bash",
        json!({ "command": format!("chmod +x /usr/local/bin/tether-hello && tether-hello && echo ${{{SECRET_VAR}:-unset}}") }),
    );

    let turn = rig.llm.next().await.unwrap();
    assert_eq!(
        turn.tool_result().unwrap(),
        format!("hello from {vm} in /root\nunset\n"),
        "the installed program runs on the VM, in its home, without local variables"
    );
    assert!(!std::path::Path::new("/usr/local/bin/tether-hello").exists());
    turn.tool("vm_local", json!({}));

    let turn = rig.llm.next().await.unwrap();
    assert_eq!(
        turn.tool_result().unwrap(),
        format!("Back to local (was routing to {vm})")
    );
    turn.tool("bash", json!({ "command": "uname -n; pwd" }));

    let turn = rig.llm.next().await.unwrap();
    let local = turn.tool_result().unwrap();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    assert_eq!(local, format!("{host}\n{}\n", rig.work().display()));
    turn.text("done");
    pi.agent_end().await.unwrap();

    let progress: Vec<&str> = pi
        .seen
        .iter()
        .filter(|e| e["type"] == "tool_execution_update" && e["toolName"] == "create_vm")
        .filter_map(|e| e["partialResult"]["content"][0]["text"].as_str())
        .collect();
    assert_eq!(
        progress.last(),
        Some(&format!("VM {vm} is running").as_str()),
        "{progress:?}"
    );
    let statuses = pi.statuses("vers");
    assert!(
        statuses.contains(&Some(format!("vers: {}", &vm[..12]))),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.first(),
        Some(&Some("vers: 0 VM(s)".into())),
        "{statuses:?}"
    );
    assert!(
        pi.tool_ends().iter().all(|end| !end.is_error),
        "{:?}",
        pi.tool_ends()
    );
    pi.quit().await.unwrap();
}

#[tokio::test]
async fn the_tutorial_walkthrough_runs_on_the_vm_and_back_locally() {
    walkthrough(rig!()).await;
}

#[tokio::test]
async fn the_walkthrough_also_runs_on_pi_0_87() {
    walkthrough(rig!("0.87.1")).await;
}
