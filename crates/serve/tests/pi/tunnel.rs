//! `vm_tunnel` through a real pi: advertised as `tether mcp` advertises it, a VM's HTTP server
//! fetched through the returned URL, the same tunnel again from the active VM, close, errors
//! the model can act on, and a deleted VM's tunnel closed.

use std::time::Duration;

use serde_json::json;
use tether_router::{VM_TUNNEL, VmTunnelArgs};
use tether_testkit::{VmHttpServer, http_get, until_refused, within};

use crate::harness::{Rig, advertised_like};
use crate::rig;

/// The whole of the test (each model request and pi event also has its own deadline).
const TEST_DEADLINE: Duration = Duration::from_secs(180);

/// The URL in a `vm_tunnel` result ("Forwarding http://127.0.0.1:P -> …").
fn url_in(text: &str) -> String {
    text.split_whitespace()
        .find(|word| word.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {text}"))
        .to_owned()
}

#[tokio::test]
async fn vm_tunnel_forwards_a_vm_server_to_a_local_url() {
    let rig = rig!();
    within(TEST_DEADLINE, "vm_tunnel through pi", run(rig))
        .await
        .unwrap();
}

async fn run(mut rig: Rig) -> anyhow::Result<()> {
    let api = rig.sim.api();
    let vm = api.new_vm().await?;
    api.sh(&vm, "mkdir -p /srv && echo preview > /srv/index.txt")
        .await?;
    let server = VmHttpServer::start(&api, &vm, "/srv").await?;
    let port = server.port;
    let mut pi = rig.pi().await?;
    pi.prompt("start a preview of the VM's server").await?;

    let turn = rig.llm.next().await?;
    let schema = schemars::schema_for!(VmTunnelArgs);
    advertised_like(&turn, &[("vm_tunnel", VM_TUNNEL, schema)]);
    turn.tool("vm_tunnel", json!({ "vmId": &vm[..8], "port": port }));

    let turn = rig.llm.next().await?;
    let opened = turn.tool_result()?;
    let url = url_in(&opened);
    let line = format!("{url} -> VM {vm}:{port}");
    assert_eq!(
        opened,
        format!(
            "Forwarding {line} (127.0.0.1 only, until this session ends or vm_tunnel close). \
             Open it in a browser on this machine.\nTunnels open (1):\n- {line}"
        )
    );
    assert_eq!(http_get(&format!("{url}/index.txt")).await?, b"preview\n");
    turn.tool("vm_use", json!({ "vmId": vm }));

    let turn = rig.llm.next().await?;
    turn.tool("vm_tunnel", json!({ "port": port }));

    let turn = rig.llm.next().await?;
    let again = turn.tool_result()?;
    assert!(
        again.starts_with(&format!("Already forwarding {line} ")),
        "{again}"
    );
    turn.tool("vm_tunnel", json!({ "port": port, "close": true }));

    let turn = rig.llm.next().await?;
    assert_eq!(
        turn.tool_result()?,
        format!("Closed {line}.\nNo tunnels open.")
    );
    until_refused(&url).await?;
    turn.tool("vm_tunnel", json!({ "vmId": "nope", "port": port }));

    let turn = rig.llm.next().await?;
    let unknown = turn.tool_result()?;
    assert!(
        unknown.contains("no VM id starts with \"nope\""),
        "{unknown}"
    );
    turn.tool("vm_tunnel", json!({ "port": 0 }));

    let turn = rig.llm.next().await?;
    let bad = turn.tool_result()?;
    assert!(
        bad.contains(
            "port 0 is not a port; give 1–65535 (the port the server listens on in the VM)"
        ),
        "{bad}"
    );
    turn.tool("vm_tunnel", json!({ "port": port }));

    // Deleting the VM closes its tunnel.
    let turn = rig.llm.next().await?;
    let url = url_in(&turn.tool_result()?);
    assert_eq!(http_get(&format!("{url}/index.txt")).await?, b"preview\n");
    server.stop(&api).await?;
    turn.tool("vm_delete", json!({ "vmId": vm }));

    let turn = rig.llm.next().await?;
    until_refused(&url).await?;
    turn.text("done");
    pi.agent_end().await?;
    assert_eq!(
        pi.failed_tools(),
        ["vm_tunnel", "vm_tunnel"],
        "the unknown VM and port 0"
    );
    pi.quit().await?;
    Ok(())
}
