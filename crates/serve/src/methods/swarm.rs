//! `swarm/call` (the seven swarm tools, with `swarm/update` notifications while `swarm_wait`
//! waits), `swarm/cancel` and `swarm/status` (for pi's widget).

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tether_swarm::{SwarmStatus, tools};
use tokio::sync::watch;

use crate::ServeError;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CallParams {
    /// `swarm_start`, `swarm_status`, `swarm_wait`, `swarm_read`, `swarm_send`, `swarm_keep` or
    /// `swarm_stop`.
    tool: String,
    /// The tool's arguments as the model sent them.
    #[serde(default)]
    args: Option<Map<String, Value>>,
    /// The client's name for this call (for `swarm/cancel` and `swarm/update`).
    #[serde(default)]
    call_id: Option<String>,
}

/// Runs a swarm tool: `{text, details}`. The active VM is the source `swarm_start` branches
/// when none is given; VMs the tool deletes are forgotten (and stop being active).
pub(crate) async fn call(state: &State, params: CallParams) -> Result<Value, ServeError> {
    let CallParams {
        tool,
        args,
        call_id,
    } = params;
    let swarms = state.swarms().await?;
    let cancel = match &call_id {
        Some(id) => Some(state.start_swarm_call(id)?),
        None => None,
    };
    let (updates, mut seen) = watch::channel(None::<Value>);
    let update_id = call_id.clone();
    let run = async {
        let mut on_update = move |status: &SwarmStatus| {
            let params = json!({ "callId": update_id, "text": status.text(), "status": status });
            updates.send_replace(Some(params));
        };
        let active = state.active();
        tools::call(
            &swarms,
            &tool,
            args,
            active.as_deref(),
            &mut on_update,
            cancel,
        )
        .await
        // `on_update` (and so the sender) is dropped here: the forwarder ends.
    };
    // Sends the newest status at its own pace (a slow client sees fewer, never stale, updates)
    // and only ends once the last one is out, so every update precedes the response.
    let forward = async {
        while seen.changed().await.is_ok() {
            let update = seen.borrow_and_update().clone();
            if let Some(update) = update {
                state.notifier.send("swarm/update", update).await;
            }
        }
    };
    let (output, ()) = tokio::join!(run, forward);
    if let Some(id) = &call_id {
        state.end_swarm_call(id);
    }
    let output = output?;
    if let Some(deleted) = output.details.as_ref().and_then(|d| d.get("deleted")) {
        for vm_id in deleted
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["vmId"].as_str())
        {
            state.forget(vm_id);
        }
    }
    Ok(json!({
        "text": output.joined_text(),
        "details": output.details.unwrap_or(Value::Null),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CancelParams {
    call_id: String,
}

pub(crate) fn cancel(state: &State, params: CancelParams) -> Result<Value, ServeError> {
    Ok(json!({ "cancelled": state.cancel_swarm_call(&params.call_id) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct StatusParams {
    /// The swarm id (a unique prefix works); default the newest.
    #[serde(default)]
    swarm: Option<String>,
}

pub(crate) async fn status(state: &State, params: StatusParams) -> Result<SwarmStatus, ServeError> {
    let swarms = state.swarms().await?;
    Ok(swarms.status(params.swarm.as_deref()).await?)
}
