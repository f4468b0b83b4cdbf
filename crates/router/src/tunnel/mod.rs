//! Tunnels: local ports on 127.0.0.1 forwarded to a host and port as a VM sees them
//! ([`Forwarder`], used by `tether tunnel`), the tunnels a server process keeps for its agent
//! ([`Tunnels`]) and the `vm_tunnel` tool over them ([`vm_tunnel`]).

mod forward;
mod registry;
mod tool;

pub use forward::{
    DEFAULT_HOST, ForwardError, ForwardFailure, Forwarder, MAX_CONNECTIONS, OnFailure, Remote,
    listen_local,
};
pub use registry::{Opened, TunnelInfo, Tunnels};
pub use tool::{TunnelReply, VM_TUNNEL, VmTunnelArgs, vm_tunnel};
