//! `vm_tunnel` through MCP: a VM's HTTP server reached through the returned URL, the same
//! tunnel again, close, errors the model can act on, and a deleted VM's tunnel closed.

use serde_json::json;
use tether_testkit::{STEP_DEADLINE, VmHttpServer, http_get, until_refused, within};

use crate::client::Env;
use crate::client_ready;

#[tokio::test]
async fn vm_tunnel_forwards_a_vm_server_to_a_local_url_until_closed_or_deleted() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    within(4 * STEP_DEADLINE, "the vm_tunnel scenario", scenario(&env))
        .await
        .unwrap();
}

async fn scenario(env: &Env) -> anyhow::Result<()> {
    let api = env.sim.as_ref().unwrap().api();
    let vm = env.new_vm().await;
    api.sh(&vm, "mkdir -p /srv && echo preview > /srv/index.txt")
        .await?;
    let server = VmHttpServer::start(&api, &vm, "/srv").await?;
    let port = server.port;
    let mut client = env.client().await;

    let opened = client
        .call("vm_tunnel", json!({"vmId": &vm[..8], "port": port}))
        .await;
    let url = opened.details()["url"].as_str().unwrap().to_owned();
    let local_port: u16 = url.rsplit(':').next().unwrap().parse()?;
    let line = format!("{url} -> VM {vm}:{port}");
    assert_eq!(
        opened.ok(),
        format!(
            "Forwarding {line} (127.0.0.1 only, until this session ends or vm_tunnel close). \
             Open it in a browser on this machine.\nTunnels open (1):\n- {line}"
        )
    );
    let tunnel = json!({"vmId": vm, "host": "localhost", "port": port,
                        "localPort": local_port, "url": url});
    let mut details = tunnel.clone();
    details["tunnels"] = json!([tunnel]);
    assert_eq!(opened.details(), &details);
    assert_eq!(http_get(&format!("{url}/index.txt")).await?, b"preview\n");

    // The active VM is the default; the same VM, host and port is the same tunnel.
    client.call("vm_use", json!({"vmId": vm})).await.ok();
    let again = client.call("vm_tunnel", json!({"port": port})).await;
    assert!(
        again
            .ok()
            .starts_with(&format!("Already forwarding {line} ")),
        "{}",
        again.text
    );
    assert_eq!(again.details()["url"], json!(url));

    let closed = client
        .call("vm_tunnel", json!({"port": port, "close": true}))
        .await;
    assert_eq!(closed.ok(), format!("Closed {line}.\nNo tunnels open."));
    until_refused(&url).await?;
    let none = client
        .call("vm_tunnel", json!({"port": port, "close": true}))
        .await;
    assert_eq!(
        none.ok(),
        format!("No tunnel to VM {vm}:{port} was open; nothing to close.\nNo tunnels open.")
    );

    // Errors say what to do.
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let taken_port = taken.local_addr()?.port();
    for (args, says) in [
        (
            json!({"vmId": "nope", "port": port}),
            "no VM id starts with \"nope\"; 1 VM(s) exist; vm_list shows their ids".to_owned(),
        ),
        (
            json!({"port": 0}),
            "port 0 is not a port; give 1–65535 (the port the server listens on in the VM)"
                .to_owned(),
        ),
        (
            json!({"port": 70000}),
            "port 70000 is not a port; give 1–65535 (the port the server listens on in the VM)"
                .to_owned(),
        ),
        (
            json!({"port": port, "localPort": taken_port}),
            format!(
                "port {taken_port} is already in use on 127.0.0.1; pass another localPort, or leave localPort out for a free one"
            ),
        ),
    ] {
        assert_eq!(client.call("vm_tunnel", args).await.err(), says);
    }

    // Deleting the VM closes its tunnel.
    let reopened = client.call("vm_tunnel", json!({"port": port})).await;
    let url = reopened.details()["url"].as_str().unwrap().to_owned();
    assert_eq!(http_get(&format!("{url}/index.txt")).await?, b"preview\n");
    server.stop(&api).await?;
    client.call("vm_delete", json!({"vmId": vm})).await.ok();
    until_refused(&url).await?;
    client.close().await;
    Ok(())
}
