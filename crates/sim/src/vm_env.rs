//! A VM's `/etc/environment`: the account's variables are written there once, when the VM is
//! made, and read back into every exec and SSH session (as Vers's agent and PAM read it). The
//! only place that touches the file, so another VM backend changes only this.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::{SandboxError, VmHandle};
use crate::catalog::{environment_file, parse_environment};

/// Where the variables live inside a VM.
const ENVIRONMENT: &str = "/etc/environment";
/// How long reading it may take before a session starts without it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Writes `vars` as the VM's `/etc/environment` (readable by all, as on Debian).
pub(crate) async fn write(
    vm: &dyn VmHandle,
    vars: &BTreeMap<String, String>,
) -> Result<(), SandboxError> {
    let content = environment_file(vars);
    vm.write_file(ENVIRONMENT, content.as_bytes(), Some(0o644), false)
        .await
}

/// The variables in the VM's `/etc/environment` (none if it has none or it cannot be read).
pub(crate) async fn read(vm: &dyn VmHandle) -> Vec<(String, String)> {
    match tokio::time::timeout(READ_TIMEOUT, vm.read_file(ENVIRONMENT)).await {
        Ok(Ok(content)) => parse_environment(&String::from_utf8_lossy(&content)),
        Ok(Err(SandboxError::NotFound { .. })) => Vec::new(),
        Ok(Err(err)) => {
            tracing::debug!("could not read {ENVIRONMENT}: {err}");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!("reading {ENVIRONMENT} took over {READ_TIMEOUT:?}; going on without it");
            Vec::new()
        }
    }
}
