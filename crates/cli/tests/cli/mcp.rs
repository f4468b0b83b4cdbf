//! `tether mcp` is the MCP server: the binary's own entry point answers a real handshake.
//! (The tools themselves are tested with the official Python SDK in `crates/mcp`.)

use serde_json::{Value, json};
use tether_testkit::{STEP_DEADLINE, within};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::TETHER;

#[tokio::test]
async fn tether_mcp_answers_initialize_and_lists_the_tools() {
    let home = tempfile::tempdir().unwrap();
    let mut server = Command::new(TETHER)
        .arg("mcp")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("TETHER_NO_AUTO_SIM", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = server.stdin.take().unwrap();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "tether-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ];
    for message in messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let tools = within(STEP_DEADLINE, "tools/list from tether mcp", async {
        loop {
            let line = lines.next_line().await?.expect("tether mcp closed stdout");
            let reply: Value = serde_json::from_str(&line)?;
            if reply["id"] == 2 {
                return Ok(reply["result"]["tools"].clone());
            }
        }
    })
    .await
    .unwrap();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for wanted in [
        "create_vm",
        "vm_use",
        "vm_local",
        "vm_exec",
        "bash",
        "read",
        "edit",
        "write",
        "bg_start",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    // Closing stdin ends the server cleanly.
    drop(stdin);
    let status = within(STEP_DEADLINE, "tether mcp to exit", async {
        Ok(server.wait().await?)
    })
    .await
    .unwrap();
    assert!(status.success(), "{status}");
}
