//! Deadlines for every wait on a VM's sandbox, so a stuck sandbox turns into an error that
//! names what hung instead of a request (or a shutdown) that never ends.

use std::future::Future;
use std::time::Duration;

use crate::backend::SandboxError;
use crate::error::ApiError;

/// Freezing or thawing a VM.
pub(crate) const PAUSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Killing every process of a VM.
pub(crate) const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Starting a command in a VM.
pub(crate) const SPAWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Reading or writing one file in a VM (up to the 256 MiB body limit).
pub(crate) const FILE_TIMEOUT: Duration = Duration::from_secs(120);
/// Copying or removing a whole disk.
pub(crate) const DISK_TIMEOUT: Duration = Duration::from_secs(600);

/// Awaits a sandbox call for at most `timeout`; maps its error for the client.
pub(crate) async fn within<T>(
    action: &'static str,
    vm_id: &str,
    timeout: Duration,
    call: impl Future<Output = Result<T, SandboxError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(|err| ApiError::from_sandbox(action, vm_id, err)),
        Err(_) => Err(ApiError::SandboxTimeout {
            action,
            vm_id: vm_id.to_owned(),
            timeout,
        }),
    }
}
