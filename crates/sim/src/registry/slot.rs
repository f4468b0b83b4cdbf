//! One VM as the registry holds it: its record, keys, and where its sandbox is in its life.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tether_wire::VmState;
use tokio::sync::watch;

use crate::backend::VmHandle;
use crate::db::VmRecord;
use crate::error::ApiError;
use crate::keys::VmKeys;

/// How long a request waits for a VM to finish booting.
pub(crate) const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a VM's sandbox is in its life.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    /// Its init is starting.
    Booting,
    /// Its init is up.
    Ready(Arc<dyn VmHandle>),
    /// It failed to boot, or its sandbox went away.
    Failed(String),
    /// It was deleted (seen by requests that found it just before).
    Gone,
}

/// What changes about a VM after it is made (its record holds what it was made with).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Live {
    pub labels: BTreeMap<String, String>,
    pub fs_size_mib: Option<u32>,
    /// Put to sleep (frozen like a paused VM, reported as `sleeping`).
    pub asleep: bool,
}

/// One VM.
pub(crate) struct VmSlot {
    pub record: VmRecord,
    pub keys: VmKeys,
    phase: watch::Sender<Phase>,
    live: Mutex<Live>,
    /// Serialises lifecycle operations (pause, resume, commit, branch, delete) on this VM.
    pub ops: tokio::sync::Mutex<()>,
}

impl VmSlot {
    /// A VM whose sandbox is booting.
    pub fn new(record: VmRecord, keys: VmKeys) -> Arc<VmSlot> {
        let (phase, _) = watch::channel(Phase::Booting);
        let live = Live {
            labels: record.labels.clone(),
            fs_size_mib: record.fs_size_mib,
            asleep: false,
        };
        Arc::new(VmSlot {
            record,
            keys,
            phase,
            live: Mutex::new(live),
            ops: tokio::sync::Mutex::new(()),
        })
    }

    /// The VM's id.
    pub fn id(&self) -> &str {
        &self.record.vm_id
    }

    /// What changed since it was made (labels, disk size, sleep).
    pub fn live(&self) -> MutexGuard<'_, Live> {
        // Plain field updates cannot leave it half-changed.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the VM to `phase`, waking everyone waiting for its boot.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.send_replace(phase);
    }

    /// Ends the boot with `phase`, unless the VM was discarded meanwhile: then `phase` is
    /// handed back (and a booted sandbox must be shut down by the caller).
    pub fn finish_boot(&self, phase: Phase) -> Option<Phase> {
        let mut unused = Some(phase);
        self.phase.send_if_modified(|current| {
            if !matches!(current, Phase::Booting) {
                return false;
            }
            if let Some(phase) = unused.take() {
                *current = phase;
            }
            true
        });
        unused
    }

    /// The sandbox, if the VM is up (paused or not).
    pub fn vm(&self) -> Option<Arc<dyn VmHandle>> {
        match &*self.phase.borrow() {
            Phase::Ready(vm) => Some(Arc::clone(vm)),
            _ => None,
        }
    }

    /// The state as the API reports it.
    pub fn state(&self) -> VmState {
        match &*self.phase.borrow() {
            Phase::Booting => VmState::Booting,
            Phase::Ready(vm) if vm.is_paused() && self.live().asleep => VmState::Sleeping,
            Phase::Ready(vm) if vm.is_paused() => VmState::Paused,
            Phase::Ready(_) => VmState::Running,
            Phase::Failed(_) | Phase::Gone => VmState::Dead,
        }
    }

    /// The sandbox once booted: waits up to [`BOOT_TIMEOUT`] unless `skip_wait_boot`.
    pub async fn ready(&self, skip_wait_boot: bool) -> Result<Arc<dyn VmHandle>, ApiError> {
        let mut phase = self.phase.subscribe();
        let booted = |p: &Phase| !matches!(p, Phase::Booting);
        if skip_wait_boot && !booted(&phase.borrow()) {
            return Err(ApiError::Booting {
                vm_id: self.id().to_owned(),
            });
        }
        let waited = tokio::time::timeout(BOOT_TIMEOUT, phase.wait_for(booted)).await;
        let vm_id = self.id().to_owned();
        let phase = match waited {
            Err(_) => {
                return Err(ApiError::BootTimeout {
                    vm_id,
                    timeout: BOOT_TIMEOUT,
                });
            }
            // The sender lives in `self`, so it cannot be dropped while we wait.
            Ok(Err(_)) => return Err(ApiError::DeletedVm { vm_id }),
            Ok(Ok(phase)) => phase.clone(),
        };
        match phase {
            Phase::Ready(vm) => Ok(vm),
            Phase::Failed(reason) => Err(ApiError::Dead { vm_id, reason }),
            Phase::Gone => Err(ApiError::DeletedVm { vm_id }),
            Phase::Booting => Err(ApiError::BootTimeout {
                vm_id,
                timeout: BOOT_TIMEOUT,
            }),
        }
    }

    /// The sandbox, refusing a paused VM.
    pub async fn running(&self) -> Result<Arc<dyn VmHandle>, ApiError> {
        let vm = self.ready(false).await?;
        if vm.is_paused() {
            return Err(ApiError::Paused {
                vm_id: self.id().to_owned(),
            });
        }
        Ok(vm)
    }
}
