//! What every tether front end shares — the CLI now, `tether serve` (pi) and `tether mcp`
//! later: getting from "this VM id" to a running VM, a connection and a
//! [`tether_target::Target`].
//!
//! - [`Router`] holds the Vers client, one [`tether_transport::Pool`] and a [`VmAccess`] per
//!   VM: its endpoint, its key (fetched once, held in memory) and getting it running first (a
//!   paused VM is resumed, a booting one waited for, with a deadline). Host keys are pinned in
//!   tether's [`StateDir`].
//! - The **embedded default**: with no Vers key configured, [`Router::connect`] finds the local
//!   simulator recorded in the state directory or starts `tether sim` detached, shared by every
//!   tether process ([`ensure_local_sim`]), and points the client at it through a
//!   [`SimSource`] — the process environment is never changed. `TETHER_NO_AUTO_SIM=1` turns
//!   this off.
//! - The **default VM** ([`Defaults`], [`ActiveVm`]): `tether use` / `tether local`, kept per
//!   API in the state directory, else vers-cli's `.vers/HEAD`. **Id resolution**: a unique
//!   prefix of a listed id resolves to it; ambiguous or unknown prefixes are errors naming
//!   the candidates.
//! - [`ErrorKind`] sorts any error of the stack into not found / usage / auth / unavailable /
//!   internal, for exit codes and protocol error codes.
//! - **Tunnels**: [`Forwarder`] bridges connections accepted on 127.0.0.1 to a port in a VM
//!   (`tether tunnel`); [`Tunnels`] and [`vm_tunnel`] are the `vm_tunnel` tool of the MCP
//!   server and the pi sidecar.
//! - **VM tools** ([`vers_tools`]): `vm_list`, `vm_commit`, `vm_branch`, `vm_restore`,
//!   `vm_tag`, `vm_repo`, `vm_label`, `vm_logs`, `vm_attach`, `vm_disk`, `vm_env` and
//!   `vm_exec` with `detach: true`, through the Vers API, the same in both front ends.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_router::RouterError> {
//! use std::sync::Arc;
//! use tether_router::{Router, RouterOptions, Silent};
//! use tether_target::ExecSpec;
//!
//! let router = Router::connect(RouterOptions::from_env(Arc::new(Silent))?).await?;
//! if let Some(notice) = router.notice() {
//!     eprintln!("tether: {notice}");
//! }
//! let vm = router.resolve_vm("4c1e").await?;
//! let target = router.target(&vm).await?;
//! target.exec(ExecSpec::shell("uname -a"), &mut |_, out| print!("{}", String::from_utf8_lossy(out)), None).await?;
//! # Ok(()) }
//! ```

mod access;
mod defaults;
mod error;
mod kind;
mod local_sim;
mod progress;
mod resolve;
mod router;
mod state;
mod tunnel;
pub mod vers_tools;

pub use access::VmAccess;
pub use defaults::{ActiveVm, Defaults, VERS_HEAD, find_vers_head};
pub use error::RouterError;
pub use kind::ErrorKind;
pub use local_sim::{
    HEALTH_TIMEOUT, LocalSim, SIM_START_DEADLINE, SimRecord, SimSource, default_sim_data_dir,
    ensure_local_sim, read_record,
};
pub use progress::{Progress, Silent, WaitGuard};
pub use resolve::{is_full_id, match_prefix};
pub use router::{Backend, NO_AUTO_SIM, Router, RouterOptions};
pub use state::StateDir;
pub use tunnel::{
    DEFAULT_HOST, ForwardError, ForwardFailure, Forwarder, MAX_CONNECTIONS, OnFailure, Opened,
    Remote, TunnelInfo, TunnelReply, Tunnels, VM_TUNNEL, VmTunnelArgs, listen_local, vm_tunnel,
};
