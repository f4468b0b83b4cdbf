//! `bg/call`: the background-process tools (`bg_start`, `bg_list`, `bg_logs`, `bg_stop`) on
//! the active VM, or on this machine when none is active — tether's own implementation
//! (`tether_tools`), as the MCP server runs them.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tether_tools::{ToolOutput, Workspace, args};

use crate::ServeError;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CallParams {
    /// `bg_start`, `bg_list`, `bg_logs` or `bg_stop`.
    tool: String,
    /// The tool's arguments as the model sent them.
    #[serde(default)]
    args: Option<Map<String, Value>>,
    /// The VM to run on (default: the active one; none active: this machine).
    #[serde(default)]
    vm_id: Option<String>,
    /// The working directory relative paths start from: on the VM (default: the VM's working
    /// directory), or on this machine (default: the server's).
    #[serde(default)]
    cwd: Option<String>,
}

/// Runs a background-process tool: `{text, details}`.
pub(crate) async fn call(state: &State, params: CallParams) -> Result<Value, ServeError> {
    let CallParams {
        tool,
        args,
        vm_id,
        cwd,
    } = params;
    let ws = workspace(state, vm_id.or_else(|| state.active()), cwd).await?;
    let bad = |reason: String| ServeError::InvalidParams {
        method: "bg/call".into(),
        reason,
    };
    let output: ToolOutput = match tool.as_str() {
        "bg_start" => tether_tools::bg_start(&ws, args::parse(&tool, args)?).await?,
        "bg_list" => {
            args::parse::<args::BgListArgs>(&tool, args)?;
            tether_tools::bg_list(&ws).await?
        }
        "bg_logs" => tether_tools::bg_logs(&ws, args::parse(&tool, args)?).await?,
        "bg_stop" => tether_tools::bg_stop(&ws, args::parse(&tool, args)?).await?,
        other => {
            return Err(bad(format!(
                "there is no background-process tool {other:?}; use bg_start, bg_list, bg_logs or bg_stop"
            )));
        }
    };
    Ok(json!({
        "text": output.joined_text(),
        "details": output.details.unwrap_or(Value::Null),
    }))
}

/// The VM `vm_id` (a full id or a unique prefix) in its working directory, or this machine.
async fn workspace(
    state: &State,
    vm_id: Option<String>,
    cwd: Option<String>,
) -> Result<Workspace, ServeError> {
    let Some(query) = vm_id else {
        let local = Workspace::local()?;
        return Ok(match cwd {
            Some(cwd) => local.with_cwd(&cwd),
            None => local,
        });
    };
    let vm_id = state.vm(Some(&query)).await?;
    let target = state.target(&vm_id).await?;
    let place = state.place(&vm_id).await?;
    Ok(Workspace::new(target, cwd.unwrap_or(place.cwd), place.home))
}
