//! A typed async client for the Vers REST API (`<VERS_URL>/api/v1`), configured like vers-cli.
//!
//! [`VersClient`] covers every operation of the Vers API: VMs (list, `new_root`,
//! `from_commit` by commit, tag or `repo:tag`, the five branch routes with `count`, status,
//! metadata, SSH key, pause/resume, labels, disk resize, delete), commits (create with name
//! and description, list, public list, rename/publish, lineage, delete), tags (account-wide
//! and per repository, named by a [`TagRef`]), repositories (private and public, visibility,
//! fork), commands (`exec`, `exec/stream` decoded incrementally as [`ExecEvents`], rejoining
//! a run with `exec/stream/attach`, the exec log), whole files, environment variables,
//! domains, images, and the account (`whoami`, key validation, the API's version).
//!
//! Configuration ([`Settings`]) is read again for every request from a [`ConfigSource`]:
//! `VERS_API_KEY` or `~/.versrc`, `VERS_URL`, and tether's `TETHER_VM_DOMAIN`,
//! `TETHER_SSH_GATEWAY`, `TETHER_CA_CERT` (so the local simulator needs only environment
//! variables). Replies in any of the shapes Vers is known to use are normalised to the
//! [`tether_wire`] types, and failures become a [`VersError`] whose message says what to do.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tether_vers::VersError> {
//! use tether_vers::{BranchSource, VersClient};
//! use tether_wire::{BranchQuery, VmConfig};
//!
//! let vers = VersClient::new();
//! let vm = vers.new_root(VmConfig::default(), true).await?;
//! let query = BranchQuery { count: Some(3), ..BranchQuery::default() };
//! let children = vers.branch(&BranchSource::Vm(vm.clone()), query).await?;
//! assert_eq!(children.len(), 3);
//! vers.ensure_running(&vm).await?;
//! # Ok(()) }
//! ```

mod account;
mod client;
mod commits;
mod config;
mod error;
mod exec;
mod files;
mod lifecycle;
mod named;
mod reply;
mod repos;
mod shapes;
mod tags;
mod tls;
mod vms;

pub use client::{
    CONNECT_TIMEOUT, LIFECYCLE_TIMEOUT, REQUEST_TIMEOUT, TRANSFER_TIMEOUT, VersClient,
};
pub use config::{
    ApiKey, ConfigSource, DEFAULT_VERS_URL, KeyOrigin, ProcessEnv, Settings, StaticEnv, VERSRC,
};
pub use error::VersError;
pub use exec::{EXEC_GRACE, ExecEvent, ExecEvents, ExecPosition, MAX_EVENT_LINE};
pub use files::PutOptions;
pub use lifecycle::{BOOT_DEADLINE, FIRST_POLL, MAX_POLL};
pub use named::Named;
pub use tags::{BadTagRef, TagEntry, TagRef};
pub use tls::client_config as tls_client_config;
pub use vms::BranchSource;
