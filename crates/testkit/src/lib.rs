//! Test support: starts the real `tether sim` process and talks to it over real sockets; a
//! scripted model ([`MockLlm`]) and the pi installs ([`PiInstall`]) for tests that run pi.
//!
//! Everything here is for tests and benchmarks. A [`Sim`] is a `tether sim` child process on
//! `127.0.0.1:0` with its own temporary data directory; it is stopped (SIGTERM, then SIGKILL
//! after a grace period) when dropped, so no process is left behind.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sim = tether_testkit::Sim::start(env!("CARGO_BIN_EXE_tether")).await?;
//! let vm = sim.api().new_vm().await?;
//! let out = sim.ssh(&vm).run("uname -n").await?;
//! assert_eq!(out.stdout_str().trim(), vm);
//! # Ok(()) }
//! ```

mod api;
mod binary;
mod llm;
mod pi;
mod pi_rpc;
mod relay;
mod sim;
mod ssh;
mod vm_http;

pub use api::{Api, Reply};
pub use binary::tether_binary;
pub use llm::{MockLlm, Turn};
pub use pi::{PiInstall, repo};
pub use pi_rpc::{EVENT_DEADLINE, EXIT_DEADLINE, Launch, Pi, ToolEnd};
pub use relay::Relay;
pub use sim::{Sim, SimInfo};
pub use ssh::{Ssh, SshOutput, run_argv};
pub use vm_http::{VmHttpServer, http_get, until_refused};

use std::time::Duration;

/// How long any single step of a test may wait before it fails with a named timeout.
pub const STEP_DEADLINE: Duration = Duration::from_secs(60);

/// Awaits `future` for at most `deadline`, failing with an error that names `what`.
pub async fn within<T>(
    deadline: Duration,
    what: &str,
    future: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(deadline, future).await {
        Ok(result) => result,
        Err(_) => anyhow::bail!("timed out after {deadline:?} waiting for {what}"),
    }
}
