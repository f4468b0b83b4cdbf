//! `tether-mcp-server` driven by a real MCP client (the official Python SDK) against this
//! machine and the simulator: the tool list, the tutorial, the edit fixtures on both, background
//! processes across a restart, swarms, tunnels, tags/labels/logs/attach, bad input, cancellation and disconnects.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod background;
mod bad_input;
mod catalog;
mod client;
mod fixtures;
mod swarm;
mod tunnel;
mod tutorial;
mod vers_tools;

/// Whether the MCP client can run; prints why not.
pub async fn client_ready() -> bool {
    match client::client_missing().await {
        None => true,
        Some(reason) => {
            eprintln!("SKIPPED: {reason}");
            false
        }
    }
}
