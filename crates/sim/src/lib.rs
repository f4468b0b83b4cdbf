//! `tether sim`: a local, Vers-compatible simulator.
//!
//! It serves Vers's REST API (paths, JSON shapes, status codes) over plain HTTP on loopback,
//! and Vers's VM access: one TLS listener where the SNI name `<vm_id>.vm.tether.localhost`
//! picks the VM, with an SSH server behind it that logs in with the VM's own key (from
//! `/ssh_key`). VMs are Linux-namespace sandboxes (`tether_sandbox`); state (VMs, commits,
//! lineage, keys, labels, the API key) lives in SQLite in the data directory, beside the VMs'
//! disks, the commits' snapshots and the CA. After a restart every VM boots again from its
//! disk (processes are gone, as after a reboot; paused VMs come back paused).
//!
//! Differences from Vers: a branch copies the disk, not memory, so running processes are not
//! carried over to children; branching a VM makes no commit (children name the parent in
//! `grandparent_vm_id`); the API is HTTP, not HTTPS (everything is local, and VM access is
//! TLS as on Vers); tags and repositories are not supported.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_sim::SimError> {
//! let sandbox = tether_sandbox::SandboxConfig {
//!     init_program: std::env::current_exe().unwrap_or_default(),
//!     init_args: vec!["__vm-init".into()],
//! };
//! let sim = tether_sim::start(tether_sim::SimConfig::new("/tmp/sim-data", sandbox)).await?;
//! println!("{}", serde_json::to_string(sim.info()).unwrap_or_default());
//! sim.shutdown().await
//! # }
//! ```

pub mod access;
mod api;
pub mod ca;
mod datadir;
mod db;
mod deadline;
mod error;
mod exec;
pub mod gateway;
mod keys;
mod registry;
mod server;
mod ssh;

pub use error::{ApiError, SimError};
pub use server::{RunningSim, SimConfig, SimInfo, VM_DOMAIN, start};
