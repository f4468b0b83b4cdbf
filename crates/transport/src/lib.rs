//! SSH tunnelled in TLS: how tether reaches a Vers VM.
//!
//! A Vers VM is reached at `<vm_id>.vm.<domain>:443`: TLS whose SNI names the VM, and plain
//! SSH inside it. This crate owns that path: the TLS client (certificates always verified,
//! against public roots or a configured CA such as the simulator's), the SSH session over it
//! (host keys pinned on first use, public-key auth), commands run on channels with streamed
//! output, timeouts and cancellation that kill the remote process group, and a [`Pool`] that
//! keeps one connection per VM shared by all concurrent callers; TCP connections to ports
//! on the VM (`direct-tcpip`, as `ssh -L`) ride on that same connection.
//!
//! On each connection tether starts an [`Agent`], a small Perl program sent in the exec
//! request itself, that runs commands (one frame each way, one process started) and file
//! operations (one round trip, no process) for it; until it is up, or where it cannot run,
//! every command takes a channel of its own.
//!
//! ```no_run
//! # async fn demo(key: russh::keys::PrivateKey) -> Result<(), tether_transport::TransportError> {
//! use tether_transport::{Endpoint, ExecSpec, Pool, TransportConfig};
//! let pool = Pool::new(TransportConfig::new("/home/me/.local/state/tether/known_hosts"))?;
//! let endpoint = Endpoint::vers("4c1e…", "vm.vers.sh", None);
//! let session = pool.session(&endpoint, &std::sync::Arc::new(key)).await?;
//! let run = session.exec(ExecSpec::shell("uname -a"), &mut |_, bytes| print!("{}", String::from_utf8_lossy(bytes)), None).await?;
//! # Ok(()) }
//! ```

mod agent;
mod channel;
mod error;
mod exec;
mod forward;
mod hostkeys;
mod pool;
mod preamble;
mod session;
mod tls;

pub use agent::{AGENT_START_TIMEOUT, Agent, FileRun, status};
pub use error::TransportError;
pub use exec::{ExecOutcome, ExecRun, ExecSpec, Output, Stream};
pub use forward::ForwardStream;
pub use hostkeys::KnownHosts;
pub use pool::Pool;
pub use session::{Endpoint, NO_AGENT_VAR, Session, TransportConfig};
pub use tls::client_config;
