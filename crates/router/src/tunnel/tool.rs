//! The `vm_tunnel` tool, the same in every front end (MCP and pi): its description, its
//! arguments and what it does with a front end's [`Tunnels`].

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::forward::{DEFAULT_HOST, Remote};
use super::registry::{Opened, TunnelInfo, Tunnels};
use crate::{Router, RouterError};

/// `vm_tunnel`'s description.
pub const VM_TUNNEL: &str = "Forward a port of a VM to 127.0.0.1 on this machine, for a preview URL: start a server in the VM (e.g. with bg_start), then give the person the returned http://127.0.0.1:<port> to open in a browser here. Listens on 127.0.0.1 only; stays open until this session ends, vm_tunnel with close: true, or the VM is deleted. Opening the same VM, host and port again returns the existing tunnel.";

/// `vm_tunnel`'s arguments.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmTunnelArgs {
    /// The VM: its full id, or a unique prefix of it (default: the active VM).
    #[serde(default)]
    pub vm_id: Option<String>,
    /// The port the server listens on in the VM.
    pub port: i64,
    /// The host as the VM sees it (default localhost, the VM itself).
    #[serde(default)]
    pub host: Option<String>,
    /// The port on 127.0.0.1 here (default: a free one).
    #[serde(default)]
    pub local_port: Option<i64>,
    /// Close this tunnel instead of opening it.
    #[serde(default)]
    pub close: Option<bool>,
}

/// What `vm_tunnel` answers: text for the model, details for the front end.
#[derive(Clone, Debug, PartialEq)]
pub struct TunnelReply {
    /// What the model reads.
    pub text: String,
    /// `{vmId, host, port, localPort, url, tunnels}` (`closed` instead of the tunnel's fields
    /// when closing).
    pub details: Value,
}

/// Runs `vm_tunnel` with `args` on `tunnels`; `active` is the front end's active VM.
pub async fn vm_tunnel(
    tunnels: &Tunnels,
    router: &Router,
    args: VmTunnelArgs,
    active: Option<&str>,
) -> Result<TunnelReply, RouterError> {
    let remote = Remote {
        host: args.host.clone().unwrap_or_else(|| DEFAULT_HOST.to_owned()),
        port: port_arg(
            "port",
            args.port,
            "the port the server listens on in the VM",
        )?,
    };
    let vm_id = match (&args.vm_id, active) {
        (Some(query), _) => router.resolve_vm(query).await?,
        (None, Some(active)) => active.to_owned(),
        (None, None) => {
            return Err(bad(
                "no vmId given and no active VM; pass vmId, or vm_use a VM first",
            ));
        }
    };
    if args.close == Some(true) {
        return Ok(close(tunnels, &vm_id, &remote));
    }
    let local_port = match args.local_port {
        Some(port) => Some(port_arg("localPort", port, "leave it out for a free one")?),
        None => None,
    };
    let opened = tunnels
        .open(router, &vm_id, remote, local_port)
        .await
        .map_err(|err| match err {
            RouterError::LocalPortInUse { port } => bad(&format!(
                "port {port} is already in use on 127.0.0.1; pass another localPort, or leave localPort out for a free one"
            )),
            other => other,
        })?;
    Ok(opened_reply(tunnels, opened))
}

fn opened_reply(tunnels: &Tunnels, opened: Opened) -> TunnelReply {
    let (info, first) = match opened {
        Opened::New(info) => (info, "Forwarding"),
        Opened::Existing(info) => (info, "Already forwarding"),
    };
    let text = format!(
        "{first} {} (127.0.0.1 only, until this session ends or vm_tunnel close). Open it in a browser on this machine.\n{}",
        info.line(),
        listing(tunnels)
    );
    let mut details = json!(info);
    details["tunnels"] = json!(tunnels.list());
    TunnelReply { text, details }
}

fn close(tunnels: &Tunnels, vm_id: &str, remote: &Remote) -> TunnelReply {
    let closed = tunnels.close(vm_id, remote);
    let first = match &closed {
        Some(info) => format!("Closed {}.", info.line()),
        None => format!(
            "No tunnel to VM {vm_id}:{} was open; nothing to close.",
            remote.written()
        ),
    };
    let text = format!("{first}\n{}", listing(tunnels));
    let details = json!({ "closed": closed, "tunnels": tunnels.list() });
    TunnelReply { text, details }
}

/// `Tunnels open (N):` and one line each, or that none are.
fn listing(tunnels: &Tunnels) -> String {
    let open: Vec<TunnelInfo> = tunnels.list();
    if open.is_empty() {
        return "No tunnels open.".to_owned();
    }
    let mut lines = vec![format!("Tunnels open ({}):", open.len())];
    lines.extend(open.iter().map(|t| format!("- {}", t.line())));
    lines.join("\n")
}

/// `value` as a port number 1–65535.
fn port_arg(name: &str, value: i64, hint: &str) -> Result<u16, RouterError> {
    u16::try_from(value)
        .ok()
        .filter(|port| *port != 0)
        .ok_or_else(|| {
            bad(&format!(
                "{name} {value} is not a port; give 1–65535 ({hint})"
            ))
        })
}

fn bad(message: &str) -> RouterError {
    RouterError::BadTunnel {
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_1_to_65535_and_a_bad_one_says_what_to_give() {
        assert_eq!(port_arg("port", 3000, "h").ok(), Some(3000));
        assert_eq!(port_arg("port", 65535, "h").ok(), Some(65535));
        for bad in [0, -1, 65536] {
            let err = port_arg("localPort", bad, "leave it out for a free one");
            assert_eq!(
                err.map_err(|e| e.to_string()),
                Err(format!(
                    "localPort {bad} is not a port; give 1–65535 (leave it out for a free one)"
                ))
            );
        }
    }

    #[test]
    fn a_remote_is_written_as_tether_tunnel_takes_it() {
        let remote = |host: &str| Remote {
            host: host.into(),
            port: 80,
        };
        assert_eq!(remote("localhost").written(), "80");
        assert_eq!(remote("127.0.0.1").written(), "127.0.0.1:80");
        assert_eq!(remote("::1").written(), "[::1]:80");
    }
}
