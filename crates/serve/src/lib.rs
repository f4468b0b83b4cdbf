//! `tether serve`: JSON-RPC 2.0 over stdio for the pi package (`pi/` in this repository).
//!
//! The pi package keeps pi's own tool definitions and swaps only their *operations*; this
//! server performs those operations on the active Vers VM (or the local simulator when no
//! Vers key is configured) and owns the VM lifecycle:
//!
//! - `vm/…`: list, create (with progress), use (checks the VM answers), local, branch,
//!   commit, restore, delete, pause/resume, copy (`vm:<id>:path`, files and trees);
//! - `exec`: a command in the VM's working directory, in its own process group, its output
//!   streamed as `exec/output` notifications; `exec/cancel` and timeouts kill the group;
//!   no local environment variable is forwarded;
//! - `fs/…`: read/write (exact bytes, atomic), stat, mkdir, readDir, imageType, glob, grep;
//! - `swarm/…`: the seven swarm tools (`tether_swarm::tools`) with live `swarm/update`
//!   notifications while `swarm_wait` waits, cancel, and the status for pi's widget.
//!
//! One message per line on stdin and stdout; logs go to stderr only. The wire spec (handshake,
//! every method, error codes, a sample exchange) is `crates/serve/README.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_serve::ServeError> {
//! use std::sync::Arc;
//! tether_serve::serve_stdio(Arc::new(tether_router::RouterOptions::from_env)).await
//! # }
//! ```

mod error;
mod methods;
mod protocol;
mod server;
mod state;

pub use error::ServeError;
pub use protocol::{RpcError, code};
pub use server::{
    MAX_MESSAGE, PROTOCOL_VERSION, QUEUE_DEPTH, SHUTDOWN_GRACE, WRITE_DEPTH, serve, serve_stdio,
};
pub use state::{CHECK_TIMEOUT, Connect};
