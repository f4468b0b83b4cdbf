//! Bad input through pi: each is a tool error whose text tells the model what to do.

use serde_json::json;

use crate::rig;

#[tokio::test]
async fn bad_input_gives_tool_errors_the_model_can_act_on() {
    let mut rig = rig!();
    let mut pi = rig.pi().await.unwrap();
    pi.prompt("make mistakes").await.unwrap();

    let turn = rig.llm.next().await.unwrap();
    turn.tool("vm_use", json!({ "vmId": "0badc0de" }));
    let turn = rig.llm.next().await.unwrap();
    let unknown = turn.tool_result().unwrap();
    assert!(
        unknown.starts_with("no VM id starts with \"0badc0de\""),
        "{unknown}"
    );

    turn.tool("create_vm", json!({}));
    let turn = rig.llm.next().await.unwrap();
    let vm = turn.tool_result().unwrap().replace("VM created: ", "");
    turn.tool("vm_delete", json!({ "vmId": vm }));
    let turn = rig.llm.next().await.unwrap();
    assert_eq!(turn.tool_result().unwrap(), format!("VM {vm} deleted."));
    turn.tool("vm_use", json!({ "vmId": vm }));
    let turn = rig.llm.next().await.unwrap();
    let deleted = turn.tool_result().unwrap();
    assert!(
        deleted.contains(&vm) && deleted.contains("vm_list"),
        "{deleted}"
    );

    turn.tool("create_vm", json!({}));
    let turn = rig.llm.next().await.unwrap();
    let vm = turn.tool_result().unwrap().replace("VM created: ", "");
    turn.tool("vm_use", json!({ "vmId": vm }));
    let turn = rig.llm.next().await.unwrap();
    turn.tool("read", json!({ "path": "missing.txt" }));
    let turn = rig.llm.next().await.unwrap();
    assert_eq!(
        turn.tool_result().unwrap(),
        "/root/missing.txt does not exist; check the path, or list its directory to see what is there"
    );
    turn.tool(
        "write",
        json!({ "path": "notes.txt", "content": "one\ntwo\n" }),
    );
    let turn = rig.llm.next().await.unwrap();
    turn.tool(
        "edit",
        json!({ "path": "notes.txt", "edits": [{"oldText": "three", "newText": "3"}] }),
    );
    let turn = rig.llm.next().await.unwrap();
    let edit = turn.tool_result().unwrap();
    assert!(
        edit.starts_with("Could not find the exact text in notes.txt."),
        "{edit}"
    );
    turn.text("done");
    pi.agent_end().await.unwrap();

    let errors: Vec<bool> = pi.tool_ends().iter().map(|e| e.is_error).collect();
    assert_eq!(
        errors,
        [true, false, false, true, false, false, true, false, true],
        "{:?}",
        pi.tool_ends()
    );
    pi.quit().await.unwrap();
}
