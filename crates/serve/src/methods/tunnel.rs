//! `vm/tunnel`: the `vm_tunnel` tool ([`tether_router::vm_tunnel`]) on this server's tunnels,
//! which live as long as the server.

use serde_json::{Value, json};
use tether_router::VmTunnelArgs;

use crate::ServeError;
use crate::state::State;

pub(crate) async fn tunnel(state: &State, params: VmTunnelArgs) -> Result<Value, ServeError> {
    let router = state.router().await?;
    let active = state.active();
    let query = params.vm_id.clone().or_else(|| active.clone());
    let query = query.unwrap_or_default();
    let reply = tether_router::vm_tunnel(state.tunnels(), &router, params, active.as_deref())
        .await
        .map_err(|err| ServeError::about_vm(&query, err))?;
    Ok(json!({ "text": reply.text, "details": reply.details }))
}
