//! Getting a VM to `running`: the transport's "a paused VM is resumed, a booting VM is waited
//! for" rule. The API has no event to await, so this is the one place that polls, with a
//! capped backoff and a named deadline.

use std::time::Duration;

use tether_wire::{RequestedState, Vm, VmState};
use tokio::time::Instant;

use crate::{VersClient, VersError};

/// How long [`VersClient::ensure_running`] waits for a VM to boot or resume (vers-cli's
/// `connect` waits as long).
pub const BOOT_DEADLINE: Duration = Duration::from_secs(60);
/// First pause between two status polls.
pub const FIRST_POLL: Duration = Duration::from_millis(50);
/// Longest pause between two status polls.
pub const MAX_POLL: Duration = Duration::from_secs(2);

impl VersClient {
    /// Polls the VM's status until it is `running`, for at most `deadline`. A VM that is
    /// paused, asleep or dead will not get there by itself: that is an error at once.
    pub async fn wait_until_running(
        &self,
        vm_id: &str,
        deadline: Duration,
    ) -> Result<Vm, VersError> {
        let start = Instant::now();
        let mut pause = FIRST_POLL;
        loop {
            let vm = self.status(vm_id).await?;
            match vm.state {
                VmState::Running => return Ok(vm),
                VmState::Booting => {}
                VmState::Dead => return Err(dead(vm_id)),
                VmState::Paused | VmState::Sleeping => {
                    return Err(VersError::VmStopped {
                        vm_id: vm_id.to_owned(),
                        state: vm.state,
                    });
                }
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(stuck(vm_id, vm.state, start));
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Makes sure the VM is running: resumes it if paused (or asleep), waits for it if
    /// booting, each within [`BOOT_DEADLINE`]. Returns its status once running.
    pub async fn ensure_running(&self, vm_id: &str) -> Result<Vm, VersError> {
        let vm = self.status(vm_id).await?;
        match vm.state {
            VmState::Running => Ok(vm),
            VmState::Dead => Err(dead(vm_id)),
            VmState::Booting => self.wait_until_running(vm_id, BOOT_DEADLINE).await,
            VmState::Paused | VmState::Sleeping => {
                tracing::info!(vm_id, state = ?vm.state, "resuming the VM before use");
                self.set_state(vm_id, RequestedState::Running).await?;
                self.wait_until_running(vm_id, BOOT_DEADLINE).await
            }
        }
    }
}

fn dead(vm_id: &str) -> VersError {
    VersError::VmDead {
        vm_id: vm_id.to_owned(),
    }
}

fn stuck(vm_id: &str, state: VmState, start: Instant) -> VersError {
    VersError::NotRunningInTime {
        vm_id: vm_id.to_owned(),
        state,
        waited: start.elapsed(),
    }
}
