//! `tether mcp`: the MCP server on stdio (for Claude Code, Codex, Cursor, …).

use anyhow::Context;

/// Serves MCP on stdin/stdout until the client goes away. Nothing else writes to stdout.
pub(crate) fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    let served = runtime.block_on(async {
        let options = tether_mcp::McpOptions::from_env()?;
        tether_mcp::serve_stdio(options).await
    });
    // A read of stdin may still be pending: do not wait for it.
    runtime.shutdown_background();
    Ok(served?)
}
