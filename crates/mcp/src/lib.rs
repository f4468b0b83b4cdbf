//! `tether mcp`: an MCP server on stdio that gives any MCP client (Claude Code, Codex, Cursor,
//! Zed, …) tether's tools.
//!
//! - **VM tools**: `create_vm`, `vm_list`, `vm_use`, `vm_local`, `vm_exec`, `vm_branch`,
//!   `vm_commit`, `vm_restore`, `vm_delete`, `vm_state`, `vm_copy`, `vm_tunnel` (a VM port on
//!   127.0.0.1 here while the server runs), through the Vers API (or the
//!   local simulator when no key is configured), connected on first use.
//! - **Agent tools**: `bash`, `read`, `edit`, `write`, `ls`, `find`, `grep` with pi's semantics
//!   ([`tether_tools`]), run on the *active target*: this machine until `vm_use`, then that VM
//!   until `vm_local`.
//! - **Background processes**: `bg_start`, `bg_list`, `bg_logs`, `bg_stop` on the active target;
//!   they outlive the call and this server.
//! - **Swarms**: `swarm_start`, `swarm_status`, `swarm_wait`, `swarm_read`, `swarm_send`,
//!   `swarm_keep`, `swarm_stop` ([`tether_swarm::tools`]): branch a VM (the active one by default) into N
//!   workers, run a command or a pi agent on each, gather, keep the best; `swarm_wait` reports
//!   how many workers are done as progress.
//!
//! A failing call is a result with `isError: true` whose text says what to do; bad arguments
//! (unknown or missing fields) are such results too. Long calls send progress notifications
//! when the client asks for them. A client that cancels a call or goes away kills what the
//! call was running.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_mcp::McpError> {
//! tether_mcp::serve_stdio(tether_mcp::McpOptions::from_env()?).await
//! # }
//! ```

mod catalog;
mod error;
mod progress;
mod routing;
mod server;
mod swarm_tools;
mod vm_args;
mod vm_tools;

pub use error::McpError;
pub use progress::HEARTBEAT_INTERVAL;
pub use routing::McpOptions;
pub use server::{SHUTDOWN_GRACE, serve_stdio};
