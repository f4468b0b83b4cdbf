//! `vers/call`: the VM tools that speak only to the Vers API ([`tether_router::vers_tools`]:
//! vm_list, vm_commit, vm_branch, vm_restore, vm_tag, vm_repo, vm_label, vm_logs, vm_attach,
//! vm_disk, vm_env, and vm_exec with `detach: true`), as `tether mcp` runs them, with this
//! server's active VM as the default VM.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tether_router::vers_tools;

use crate::ServeError;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CallParams {
    /// The tool's name.
    tool: String,
    /// The tool's arguments as the model sent them.
    #[serde(default)]
    args: Option<Map<String, Value>>,
}

/// Runs the tool: `{text, details}`.
pub(crate) async fn call(state: &State, params: CallParams) -> Result<Value, ServeError> {
    let router = state.router().await?;
    let active = state.active();
    let reply = vers_tools::call(&router, &params.tool, params.args, active.as_deref())
        .await
        .map_err(ServeError::naming_ids)?;
    Ok(json!({ "text": reply.text, "details": reply.details }))
}
