//! The seam between the SSH gateway and the VM registry.
//!
//! CONTRACT: the gateway (`gateway`, `ssh`) is written against [`VmDirectory`]; the
//! registry implements it. Tests may implement it with VMs booted directly.

use std::future::Future;
use std::sync::Arc;

use crate::backend::VmHandle;

/// A VM as the SSH server needs it.
#[derive(Clone)]
pub struct SshVm {
    /// The VM's id (its hostname inside, and the first label of its SNI name).
    pub vm_id: String,
    /// The running VM.
    pub vm: Arc<dyn VmHandle>,
    /// The only key allowed to log in (the public half of what `/ssh_key` serves).
    pub authorized_key: russh::keys::PublicKey,
    /// The VM's SSH host key.
    pub host_key: russh::keys::PrivateKey,
}

/// Why a VM cannot be reached over SSH.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    /// No VM with this id (never existed, or deleted).
    #[error("no VM {vm_id}")]
    UnknownVm {
        /// The id looked up.
        vm_id: String,
    },
    /// The VM is paused.
    #[error("VM {vm_id} is paused; resume it to connect")]
    Paused {
        /// The id looked up.
        vm_id: String,
    },
    /// The VM exists but is not running (booting, or its sandbox died).
    #[error("VM {vm_id} is not running")]
    NotRunning {
        /// The id looked up.
        vm_id: String,
    },
}

/// Finds VMs for the SSH gateway.
pub trait VmDirectory: Send + Sync + 'static {
    /// Resolves a VM id (taken from the TLS SNI name) to what the SSH server needs.
    fn lookup(&self, vm_id: &str) -> impl Future<Output = Result<SshVm, LookupError>> + Send;

    /// The VM a custom domain (an SNI name outside the VM domain) leads to, if any.
    fn domain_vm(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
}
