//! The VM tools that speak to the Vers API only — listing, snapshots, tags, repositories,
//! labels, exec logs and attach, disks, environment variables — the same in every front end
//! (`tether mcp` and the pi sidecar): their descriptions ([`descriptions`]), their arguments
//! ([`args`], with JSON schemas) and what they do ([`call`]).
//!
//! A front end passes the tool's name, the model's arguments and its active VM (the default
//! for `vmId`); the answer is text for the model and details for the front end. Failures are
//! [`RouterError`]s whose messages name the tool call that finds or fixes the problem.
//!
//! ```no_run
//! # async fn demo(router: &tether_router::Router) -> Result<(), tether_router::RouterError> {
//! use serde_json::json;
//! let args = json!({ "action": "list" }).as_object().cloned();
//! let reply = tether_router::vers_tools::call(router, "vm_tag", args, None).await?;
//! println!("{}", reply.text);
//! # Ok(()) }
//! ```

pub mod args;
pub mod descriptions;
mod errors;
mod exec;
mod listing;
mod repos;
mod snapshots;
mod tags;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{Router, RouterError};

/// The tools [`call`] runs (and `vm_exec` with `detach: true`).
pub const TOOLS: [&str; 11] = [
    "vm_list",
    "vm_commit",
    "vm_branch",
    "vm_restore",
    "vm_tag",
    "vm_repo",
    "vm_label",
    "vm_logs",
    "vm_attach",
    "vm_disk",
    "vm_env",
];

/// What a tool answers: text for the model, details for the front end.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolReply {
    /// What the model reads.
    pub text: String,
    /// Structured results (ids, listings) for the front end.
    pub details: Value,
}

impl ToolReply {
    fn new(text: impl Into<String>, details: Value) -> ToolReply {
        ToolReply {
            text: text.into(),
            details,
        }
    }
}

/// Whether [`call`] runs the tool `name`.
pub fn is_vers_tool(name: &str) -> bool {
    TOOLS.contains(&name)
}

/// Runs the tool `tool` with the model's `args`; `active` is the front end's active VM, the
/// default where a tool takes a `vmId`. `vm_exec` is run only with `detach: true` (the front
/// ends run attached commands over SSH themselves).
pub async fn call(
    router: &Router,
    tool: &str,
    args: Option<Map<String, Value>>,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    match tool {
        "vm_list" => listing::vm_list(router, parse(tool, args)?, active).await,
        "vm_commit" => snapshots::vm_commit(router, parse(tool, args)?, active).await,
        "vm_branch" => snapshots::vm_branch(router, parse(tool, args)?, active).await,
        "vm_restore" => snapshots::vm_restore(router, parse(tool, args)?).await,
        "vm_tag" => tags::vm_tag(router, parse(tool, args)?).await,
        "vm_repo" => repos::vm_repo(router, parse(tool, args)?).await,
        "vm_label" => listing::vm_label(router, parse(tool, args)?, active).await,
        "vm_disk" => listing::vm_disk(router, parse(tool, args)?, active).await,
        "vm_env" => listing::vm_env(router, parse(tool, args)?).await,
        "vm_logs" => exec::vm_logs(router, parse(tool, args)?, active).await,
        "vm_attach" => exec::vm_attach(router, parse(tool, args)?, active).await,
        "vm_exec" => exec::vm_exec_detached(router, parse(tool, args)?).await,
        other => Err(errors::usage(format!(
            "there is no VM tool {other:?}; the tools are {}",
            TOOLS.join(", ")
        ))),
    }
}

/// `args` as the arguments of `tool`.
fn parse<T: DeserializeOwned>(
    tool: &str,
    args: Option<Map<String, Value>>,
) -> Result<T, RouterError> {
    serde_json::from_value(Value::Object(args.unwrap_or_default())).map_err(|e| {
        errors::usage(format!(
            "invalid arguments for {tool}: {e}; fix them and call {tool} again"
        ))
    })
}

/// The VM `query` names, or the active one.
async fn vm_or_active(
    router: &Router,
    query: Option<&str>,
    active: Option<&str>,
) -> Result<String, RouterError> {
    match (query, active) {
        (Some(query), _) => router.resolve_vm(query).await,
        (None, Some(active)) => Ok(active.to_owned()),
        (None, None) => Err(errors::usage(
            "no vmId given and no VM is active; pass vmId (vm_list shows the VMs), or vm_use a VM first",
        )),
    }
}

/// A required argument of one action.
fn needed<'a, T>(
    value: &'a Option<T>,
    tool: &str,
    action: &str,
    what: &str,
) -> Result<&'a T, RouterError> {
    value.as_ref().ok_or_else(|| {
        errors::usage(format!(
            "{tool} action {action} needs {what}; add it and call {tool} again"
        ))
    })
}

/// `text` as a tag reference.
fn tag_ref(text: &str) -> Result<tether_vers::TagRef, RouterError> {
    text.parse()
        .map_err(|e: tether_vers::BadTagRef| errors::usage(e.to_string()))
}
