//! The swarm tools — `swarm_start`, `swarm_status`, `swarm_wait`, `swarm_read`, `swarm_send`,
//! `swarm_keep`, `swarm_stop` ([`tether_swarm::tools`]) — on this server: one [`tether_swarm::Swarms`] per
//! session, the active VM as the default source, `swarm_wait`'s progress as notifications, and
//! worker VMs a swarm deletes forgotten here too.

use serde_json::{Map, Value};
use tether_swarm::tools::{
    self as swarm, KeepArgs, ReadArgs, SendArgs, StartArgs, StatusArgs, StopArgs,
};
use tether_swarm::{Counts, SwarmStatus};
use tether_tools::{Content, ToolOutput, args};
use tokio_util::sync::CancellationToken;

use crate::McpError;
use crate::progress::Reporter;
use crate::routing::Routing;

/// Whether `name` is a swarm tool.
pub(crate) fn is_swarm_tool(name: &str) -> bool {
    swarm::NAMES.contains(&name)
}

/// Runs the swarm tool `name`; `reporter` hears each change `swarm_wait` sees.
pub(crate) async fn call(
    r: &Routing,
    name: &str,
    arguments: Option<Map<String, Value>>,
    cancel: CancellationToken,
    reporter: &Reporter,
) -> Result<ToolOutput, McpError> {
    check_arguments(name, &arguments)?;
    let swarms = r.swarms().await?;
    let active = r.active_vm();
    // A look that only saw more output says nothing new: report changed counts only.
    let mut last = None;
    let mut on_update = |status: &SwarmStatus| {
        let message = progress_message(&status.counts, status.workers.len());
        if last.as_ref() != Some(&message) {
            reporter.report(message.clone());
            last = Some(message);
        }
    };
    let mut out = swarm::call(
        &swarms,
        name,
        arguments,
        active.as_deref(),
        &mut on_update,
        Some(cancel),
    )
    .await?;
    if matches!(name, "swarm_keep" | "swarm_stop") {
        forget_deleted(r, &mut out).await;
    }
    Ok(out)
}

/// Bad arguments as every other tool of this server words them (before anything is done).
fn check_arguments(name: &str, arguments: &Option<Map<String, Value>>) -> Result<(), McpError> {
    let arguments = arguments.clone();
    match name {
        "swarm_start" => args::parse::<StartArgs>(name, arguments).map(drop),
        "swarm_status" => args::parse::<StatusArgs>(name, arguments).map(drop),
        "swarm_wait" => args::parse::<swarm::WaitArgs>(name, arguments).map(drop),
        "swarm_read" => args::parse::<ReadArgs>(name, arguments).map(drop),
        "swarm_send" => args::parse::<SendArgs>(name, arguments).map(drop),
        "swarm_keep" => args::parse::<KeepArgs>(name, arguments).map(drop),
        "swarm_stop" => args::parse::<StopArgs>(name, arguments).map(drop),
        _ => Ok(()),
    }
    .map_err(McpError::from)
}

/// `3/8 done, 1 failed, 4 running`.
fn progress_message(counts: &Counts, total: usize) -> String {
    let mut parts = vec![format!("{}/{total} done", counts.done)];
    parts.extend(
        [
            (counts.failed, "failed"),
            (counts.timed_out, "timed out"),
            (counts.stopped, "stopped"),
            (counts.deleted, "deleted"),
            (counts.running, "running"),
            (counts.starting, "starting"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}")),
    );
    parts.join(", ")
}

/// Forgets the worker VMs `out` says were deleted; if the active VM was one of them, the tools
/// run locally again and the text says so.
async fn forget_deleted(r: &Routing, out: &mut ToolOutput) {
    let deleted: Vec<String> = out
        .details
        .as_ref()
        .and_then(|d| d.get("deleted"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|w| w.get("vmId").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut was_active = None;
    for vm_id in deleted {
        if r.forget(&vm_id).await {
            was_active = Some(vm_id);
        }
    }
    if let (Some(vm_id), Some(Content::Text { text })) = (was_active, out.content.first_mut()) {
        text.push_str(&format!(
            "\nVM {vm_id} was the active VM: the tools run on this machine again."
        ));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn progress_says_how_many_of_all_are_done_then_the_rest() {
        let counts = Counts {
            done: 3,
            failed: 1,
            running: 4,
            ..Counts::default()
        };
        assert_eq!(
            progress_message(&counts, 8),
            "3/8 done, 1 failed, 4 running"
        );
        let start = Counts {
            starting: 2,
            ..Counts::default()
        };
        assert_eq!(progress_message(&start, 2), "0/2 done, 2 starting");
        let end = Counts {
            done: 1,
            timed_out: 1,
            stopped: 1,
            deleted: 1,
            ..Counts::default()
        };
        assert_eq!(
            progress_message(&end, 4),
            "1/4 done, 1 timed out, 1 stopped, 1 deleted"
        );
    }
}
