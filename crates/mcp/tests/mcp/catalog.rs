//! `tools/list`: every tool, described, with a valid JSON schema.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::client::Env;
use crate::client_ready;

#[tokio::test]
async fn every_tool_is_listed_with_a_valid_schema() {
    if !client_ready().await {
        return;
    }
    let env = Env::local();
    let mut client = env.client().await;
    let listed = client.send(json!({"op": "list"})).await;
    client.close().await;
    assert_eq!(listed["schemaErrors"], json!({}), "invalid schemas");
    let tools = listed["tools"].as_array().unwrap();
    let mut required: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for tool in tools {
        let name = tool["name"].as_str().unwrap().to_owned();
        let description = tool["description"].as_str().unwrap_or_default();
        assert!(description.len() > 30, "{name} has no real description");
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}");
        assert_eq!(
            schema["additionalProperties"], false,
            "{name} accepts anything"
        );
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (field, spec) in &properties {
            assert!(
                spec.get("description").is_some(),
                "{name}.{field} is not described"
            );
        }
        let fields = schema["required"].as_array().cloned().unwrap_or_default();
        let fields = fields
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect();
        required.insert(name, fields);
    }
    let expected: BTreeMap<String, Vec<String>> = [
        ("bash", vec!["command"]),
        ("bg_list", vec![]),
        ("bg_logs", vec!["id"]),
        ("bg_start", vec!["command"]),
        ("bg_stop", vec!["id"]),
        ("create_vm", vec![]),
        ("edit", vec!["edits", "path"]),
        ("find", vec!["pattern"]),
        ("grep", vec!["pattern"]),
        ("ls", vec![]),
        ("read", vec!["path"]),
        ("swarm_keep", vec!["workers"]),
        ("swarm_read", vec!["worker"]),
        ("swarm_send", vec!["message"]),
        ("swarm_start", vec!["count"]),
        ("swarm_status", vec![]),
        ("swarm_stop", vec![]),
        ("swarm_wait", vec![]),
        ("vm_attach", vec!["execId"]),
        ("vm_branch", vec![]),
        ("vm_commit", vec![]),
        ("vm_copy", vec!["dst", "src"]),
        ("vm_delete", vec!["vmId"]),
        ("vm_disk", vec!["sizeMib"]),
        ("vm_env", vec!["action"]),
        ("vm_exec", vec!["command", "vmId"]),
        ("vm_label", vec!["action"]),
        ("vm_list", vec![]),
        ("vm_local", vec![]),
        ("vm_logs", vec![]),
        ("vm_repo", vec!["action"]),
        ("vm_restore", vec![]),
        ("vm_state", vec!["state", "vmId"]),
        ("vm_tag", vec!["action"]),
        ("vm_tunnel", vec!["port"]),
        ("vm_use", vec!["vmId"]),
        ("write", vec!["content", "path"]),
    ]
    .into_iter()
    .map(|(name, fields)| {
        let mut fields: Vec<String> = fields.into_iter().map(String::from).collect();
        fields.sort();
        (name.to_owned(), fields)
    })
    .collect();
    let mut got = required;
    for fields in got.values_mut() {
        fields.sort();
    }
    assert_eq!(got, expected);
    let hints = |name: &str| {
        let tool = tools.iter().find(|t| t["name"] == name).unwrap();
        let hints = &tool["annotations"];
        (
            hints["readOnlyHint"].as_bool().unwrap_or(false),
            hints["destructiveHint"].as_bool().unwrap_or(true),
        )
    };
    for name in ["swarm_status", "swarm_wait", "swarm_read"] {
        assert_eq!(hints(name), (true, false), "{name} only reads");
    }
    assert_eq!(hints("swarm_start"), (false, false));
    assert_eq!(hints("swarm_send"), (false, false));
    for name in ["swarm_keep", "swarm_stop"] {
        assert_eq!(hints(name), (false, true), "{name} deletes VMs");
    }
    let start = tools.iter().find(|t| t["name"] == "swarm_start").unwrap();
    assert_eq!(start["title"], "Start swarm");
    assert!(
        start["description"]
            .as_str()
            .unwrap()
            .starts_with("Branch a VM (or a commit) into `count` workers"),
        "{}",
        start["description"]
    );
    let state = tools.iter().find(|t| t["name"] == "vm_state").unwrap();
    let state_schema: &Value = &state["inputSchema"];
    let text = state_schema.to_string();
    assert!(
        text.contains("\"paused\"") && text.contains("\"running\""),
        "{text}"
    );
}
