//! [`McpError`]: why the server could not run, or why one tool call failed.
//!
//! A failed tool call is not a protocol error: it becomes a result with `isError: true` whose
//! text is [`McpError::for_model`], worded so the model can act on it.

use tether_router::RouterError;
use tether_swarm::SwarmError;
use tether_target::TargetError;
use tether_tools::ToolError;
use tether_vers::VersError;

/// Why serving failed, or why a tool call failed.
#[derive(Debug, thiserror::Error)]
pub enum McpError {
    /// The MCP handshake with the client failed (it closed stdin, or sent no `initialize`).
    #[error(
        "the MCP client did not complete the handshake: {reason}; start tether mcp from an MCP client (see the README)"
    )]
    Handshake {
        /// What went wrong.
        reason: String,
    },
    /// The server's main loop stopped abnormally.
    #[error("the MCP server stopped unexpectedly: {reason}; restart it")]
    Stopped {
        /// What went wrong.
        reason: String,
    },
    /// A tool was called with arguments it cannot use.
    #[error("{message}")]
    Usage {
        /// What is wrong and how to call it instead.
        message: String,
    },
    /// A tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// Reaching the Vers API, the simulator or a VM failed.
    #[error(transparent)]
    Router(Box<RouterError>),
    /// A Vers API call failed.
    #[error(transparent)]
    Vers(Box<VersError>),
    /// A file operation on a target failed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A swarm tool failed.
    #[error(transparent)]
    Swarm(Box<SwarmError>),
}

impl From<SwarmError> for McpError {
    fn from(err: SwarmError) -> McpError {
        McpError::Swarm(Box::new(err))
    }
}

impl From<RouterError> for McpError {
    fn from(err: RouterError) -> McpError {
        McpError::Router(Box::new(err))
    }
}

impl From<VersError> for McpError {
    fn from(err: VersError) -> McpError {
        McpError::Vers(Box::new(err))
    }
}

impl McpError {
    /// A usage error with `message`.
    pub(crate) fn usage(message: impl Into<String>) -> McpError {
        McpError::Usage {
            message: message.into(),
        }
    }

    /// The text a model reads: the message, with the CLI's hints replaced by this server's
    /// tools where they differ.
    pub fn for_model(&self) -> String {
        match self {
            McpError::Router(err) => router_for_model(err),
            McpError::Swarm(err) => match err.as_ref() {
                SwarmError::Router(err) => router_for_model(err),
                other => cli_hints_to_tools(&other.to_string()),
            },
            other => cli_hints_to_tools(&other.to_string()),
        }
    }
}

fn router_for_model(err: &RouterError) -> String {
    match err {
        RouterError::NoMatch {
            kind,
            query,
            candidates,
        } => no_match(kind, query, candidates.len()),
        RouterError::Ambiguous {
            kind,
            query,
            candidates,
        } => format!(
            "{query:?} matches {} {kind}s: {}; pass the full id",
            candidates.len(),
            candidates.join(", ")
        ),
        other => cli_hints_to_tools(&other.to_string()),
    }
}

fn no_match(kind: &str, query: &str, known: usize) -> String {
    let hint = match (kind, known) {
        (_, 0) => format!("there are no {kind}s yet"),
        ("VM", n) => format!("{n} VM(s) exist; vm_list shows their ids"),
        (_, n) => format!("{n} {kind}(s) exist; pass an id that vm_commit returned"),
    };
    format!("no {kind} id starts with {query:?}; {hint}")
}

/// A message with the CLI's hints replaced by this server's tools.
fn cli_hints_to_tools(message: &str) -> String {
    let message = message
        .replace(
            "list them with vm_list / `tether vm ls` and `tether vm commits`",
            "vm_list shows the VMs; a commit id is what vm_commit returned",
        )
        .replace(" / `tether swarm start`", "")
        .replace(
            "list VMs with `tether vm ls`",
            "call vm_list to see the VMs",
        )
        .replace("`tether vm ls`", "vm_list")
        .replace("`tether vm commits`", "the commit ids vm_commit returned");
    let message = with_tool(message, "tether vm resume", |id| {
        format!("vm_state with vmId {id} and state running")
    });
    let message = with_tool(message, "tether vm rm", |id| {
        format!("vm_delete with vmId {id}")
    });
    with_tool(message, "tether vm info", |_| "vm_list".to_owned())
}

/// `message` with each `` `COMMAND ARG` `` replaced by `tool(ARG)`.
fn with_tool(message: String, command: &str, tool: impl Fn(&str) -> String) -> String {
    let opening = format!("`{command} ");
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(at) = rest.find(&opening) {
        let after = &rest[at + opening.len()..];
        let Some(end) = after.find('`') else { break };
        out.push_str(&rest[..at]);
        out.push_str(&tool(&after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_commands_in_messages_become_tool_calls() {
        let paused = "VM abc is paused (409 on POST /vm/abc/exec); resume it \
                      (`tether vm resume abc`) and retry";
        assert_eq!(
            cli_hints_to_tools(paused),
            "VM abc is paused (409 on POST /vm/abc/exec); resume it \
             (vm_state with vmId abc and state running) and retry"
        );
        let dead = "VM x is dead; delete it (`tether vm rm x`) and create another; \
                    see `tether vm info x`";
        assert_eq!(
            cli_hints_to_tools(dead),
            "VM x is dead; delete it (vm_delete with vmId x) and create another; see vm_list"
        );
        assert_eq!(cli_hints_to_tools("no `tether vm rm"), "no `tether vm rm");
    }
}
