//! `tether serve`: the JSON-RPC sidecar of the pi package, on stdio.

use std::sync::Arc;

use anyhow::Context;

/// Serves the sidecar protocol on stdin/stdout until pi closes stdin. Nothing else writes to
/// stdout.
pub(crate) fn run() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    let connect = Arc::new(tether_router::RouterOptions::from_env);
    let served = runtime.block_on(tether_serve::serve_stdio(connect));
    // A read of stdin may still be pending: do not wait for it.
    runtime.shutdown_background();
    Ok(served?)
}
