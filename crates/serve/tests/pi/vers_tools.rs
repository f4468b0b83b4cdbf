//! The VM tools over the Vers API through a real pi: advertised as `tether mcp` advertises
//! them, a commit tagged, branched by the tag and read back, labels set and filtered by
//! vm_list, a detached vm_exec rejoined with vm_attach, and an unknown tag's error.

use std::time::Duration;

use serde_json::json;
use tether_router::vers_tools::{args, descriptions};
use tether_testkit::within;

use crate::harness::{Rig, Turn, advertised_like};
use crate::rig;

/// The whole of the test (each model request and pi event also has its own deadline).
const TEST_DEADLINE: Duration = Duration::from_secs(180);

fn advertised_like_mcp(turn: &Turn) {
    use schemars::schema_for;
    advertised_like(
        turn,
        &[
            (
                "vm_list",
                descriptions::VM_LIST,
                schema_for!(args::VmListArgs),
            ),
            (
                "vm_commit",
                descriptions::VM_COMMIT,
                schema_for!(args::VmCommitArgs),
            ),
            (
                "vm_branch",
                descriptions::VM_BRANCH,
                schema_for!(args::VmBranchArgs),
            ),
            (
                "vm_restore",
                descriptions::VM_RESTORE,
                schema_for!(args::VmRestoreArgs),
            ),
            ("vm_tag", descriptions::VM_TAG, schema_for!(args::VmTagArgs)),
            (
                "vm_repo",
                descriptions::VM_REPO,
                schema_for!(args::VmRepoArgs),
            ),
            (
                "vm_label",
                descriptions::VM_LABEL,
                schema_for!(args::VmLabelArgs),
            ),
            (
                "vm_logs",
                descriptions::VM_LOGS,
                schema_for!(args::VmLogsArgs),
            ),
            (
                "vm_attach",
                descriptions::VM_ATTACH,
                schema_for!(args::VmAttachArgs),
            ),
            (
                "vm_disk",
                descriptions::VM_DISK,
                schema_for!(args::VmDiskArgs),
            ),
            ("vm_env", descriptions::VM_ENV, schema_for!(args::VmEnvArgs)),
        ],
    );
}

#[tokio::test]
async fn tags_labels_and_attach_through_pi() {
    let rig = rig!();
    within(TEST_DEADLINE, "the VM tools through pi", run(rig))
        .await
        .unwrap();
}

async fn run(mut rig: Rig) -> anyhow::Result<()> {
    let api = rig.sim.api();
    let vm = api.new_vm().await?;
    api.sh(&vm, "echo tagged > /root/marker.txt").await?;
    let mut pi = rig.pi().await?;
    pi.prompt("tag the VM, branch it by tag, label the copy")
        .await?;

    let turn = rig.llm.next().await?;
    advertised_like_mcp(&turn);
    turn.tool("vm_use", json!({ "vmId": vm }));

    let turn = rig.llm.next().await?;
    turn.tool("vm_commit", json!({ "tag": "base" }));

    let turn = rig.llm.next().await?;
    let committed = turn.tool_result()?;
    assert!(
        committed.starts_with(&format!("VM {vm} committed: "))
            && committed.contains("\nTagged it base (a new tag)."),
        "{committed}"
    );
    turn.tool("vm_branch", json!({ "tag": "base" }));

    let turn = rig.llm.next().await?;
    let branched = turn.tool_result()?;
    let child = branched
        .strip_prefix("Branched tag base into 1 new VM(s):\n")
        .unwrap_or_else(|| panic!("{branched}"))
        .to_owned();
    assert_eq!(child.len(), 36, "{branched}");
    turn.tool(
        "vm_exec",
        json!({ "vmId": child, "command": "cat /root/marker.txt" }),
    );

    let turn = rig.llm.next().await?;
    assert_eq!(turn.tool_result()?, "tagged\n");
    turn.tool(
        "vm_label",
        json!({ "action": "set", "vmId": child, "labels": { "role": "copy" } }),
    );

    let turn = rig.llm.next().await?;
    assert_eq!(
        turn.tool_result()?,
        format!("VM {child} labels now: role=copy")
    );
    turn.tool("vm_list", json!({ "labels": { "role": "copy" } }));

    let turn = rig.llm.next().await?;
    let listed = turn.tool_result()?;
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(
        lines[0],
        format!("1 of 2 VM(s) with labels role=copy (active: {vm}):")
    );
    assert!(
        lines[1].starts_with(&format!("{child} [running] created "))
            && lines[1].ends_with(" labels role=copy"),
        "{listed}"
    );
    turn.tool(
        "vm_exec",
        json!({ "vmId": child, "command": "echo out; exit 7", "detach": true }),
    );

    let turn = rig.llm.next().await?;
    let started = turn.tool_result()?;
    let exec = started
        .strip_prefix(&format!("Started on VM {child} as exec "))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    turn.tool(
        "vm_attach",
        json!({ "vmId": child, "execId": exec, "wait": 60 }),
    );

    let turn = rig.llm.next().await?;
    assert_eq!(
        turn.tool_result()?,
        format!("out\n[exec {exec} exited with code 7]")
    );
    turn.tool("vm_restore", json!({ "tag": "nope" }));

    let turn = rig.llm.next().await?;
    let unknown = turn.tool_result()?;
    assert!(
        unknown.contains("tag \"nope\" was not found")
            && unknown.contains("vm_tag action list shows the tags"),
        "{unknown}"
    );
    turn.text("done");
    pi.agent_end().await?;
    assert_eq!(pi.failed_tools(), ["vm_restore"], "the unknown tag");
    pi.quit().await?;
    Ok(())
}
