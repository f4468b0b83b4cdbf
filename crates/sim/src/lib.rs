//! `tether sim`: a local, Vers-compatible simulator.
//!
//! It serves Vers's REST API (paths, JSON shapes, status codes) over plain HTTP on loopback,
//! and Vers's VM access: one TLS listener where the SNI name `<vm_id>.vm.tether.localhost`
//! picks the VM, with an SSH server behind it that logs in with the VM's own key (from
//! `/ssh_key`). VMs run on a [`backend::Backend`]: today Linux-namespace sandboxes
//! (`tether_sandbox`, [`backend::NamespaceBackend`]); state lives in SQLite
//! in the data directory, beside the VMs' disks, the commits' snapshots and the CA: accounts
//! and their keys, VMs (owner, lineage, labels, disk size), commits (visibility), tags,
//! repositories, environment variables, every API exec's output, domains. After a restart
//! every VM boots again from its disk (processes are gone, as after a reboot; paused VMs come
//! back paused) and all of that is still there.
//!
//! Every operation of Vers's API and SDK is served (see the README's table); more accounts are
//! made with [`add_key`]. Differences from Vers: a branch copies the disk, not memory, so
//! running processes are not carried over to children; the API is HTTP, not HTTPS (everything
//! is local, and VM access is TLS as on Vers); building images and deploying are refused.
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
mod account;
mod api;
pub mod backend;
pub mod ca;
mod catalog;
mod certs;
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
mod vm_env;

pub use account::{AddedKey, add_key};
pub use backend::{BackendChoice, BackendKind};
pub use error::{ApiError, RefError, SimError};
pub use server::{RunningSim, SimConfig, SimInfo, VM_DOMAIN, start};
