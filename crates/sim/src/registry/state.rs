//! Changing a VM in place: pause, sleep and resume, labels, disk size, delete.

use std::collections::BTreeMap;
use std::sync::Arc;

use tether_wire::RequestedState;

use super::slot::Phase;
use super::views::DEFAULT_FS_MIB;
use super::{Registry, now};
use crate::db::{Account, VmRunState};
use crate::deadline::{PAUSE_TIMEOUT, SHUTDOWN_TIMEOUT, within};
use crate::error::ApiError;

/// How labels change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LabelChange {
    /// `PATCH /vm/{id}/label`: add or overwrite these.
    Upsert(BTreeMap<String, String>),
    /// `PUT /vm/{id}/labels`: exactly these.
    Replace(BTreeMap<String, String>),
    /// `DELETE /vm/{id}/label/{name}`.
    Remove(String),
}

impl Registry {
    /// `PATCH /vm/{id}/state`: `Paused` and `Sleeping` freeze every process (a sleeping VM
    /// reads `sleeping`), `Running` thaws them.
    pub async fn set_state(
        self: &Arc<Self>,
        caller: &Account,
        vm_id: &str,
        state: RequestedState,
        skip_wait_boot: bool,
    ) -> Result<(), ApiError> {
        let slot = self.vm(caller, vm_id)?;
        self.run_op(move |reg| async move {
            let _ops = slot.ops.lock().await;
            let vm = slot.ready(skip_wait_boot).await?;
            let frozen = state != RequestedState::Running;
            match (frozen, vm.is_paused()) {
                (true, false) => within("pause", slot.id(), PAUSE_TIMEOUT, vm.pause()).await?,
                (false, true) => within("resume", slot.id(), PAUSE_TIMEOUT, vm.resume()).await?,
                _ => {}
            }
            let recorded = match state {
                RequestedState::Paused => VmRunState::Paused,
                RequestedState::Sleeping => VmRunState::Asleep,
                RequestedState::Running => VmRunState::Running,
            };
            slot.live().asleep = recorded == VmRunState::Asleep;
            Ok(reg.db.set_vm_state(slot.id(), recorded)?)
        })
        .await
    }

    /// Labels: upserted, replaced or one removed; shown in listings and status.
    pub fn set_labels(
        &self,
        caller: &Account,
        vm_id: &str,
        change: LabelChange,
    ) -> Result<(), ApiError> {
        let slot = self.vm(caller, vm_id)?;
        let mut live = slot.live();
        let mut labels = live.labels.clone();
        match change {
            LabelChange::Upsert(more) => labels.extend(more),
            LabelChange::Replace(all) => labels = all,
            LabelChange::Remove(name) => {
                if labels.remove(&name).is_none() {
                    let vm_id = vm_id.to_owned();
                    return Err(crate::error::RefError::UnknownLabel { vm_id, name }.into());
                }
            }
        }
        if let Some(key) = labels.keys().find(|key| key.is_empty()) {
            return Err(ApiError::BadField {
                field: "labels",
                reason: format!("a label needs a name (got {key:?})"),
            });
        }
        self.db.set_vm_labels(vm_id, &labels)?;
        live.labels = labels;
        Ok(())
    }

    /// `PATCH /vm/{id}/disk`: grows the VM's disk limit (recorded; the simulator does not
    /// enforce disk sizes). A size not larger than the current one is refused.
    pub async fn resize_disk(
        &self,
        caller: &Account,
        vm_id: &str,
        fs_size_mib: u32,
        skip_wait_boot: bool,
    ) -> Result<(), ApiError> {
        let slot = self.vm(caller, vm_id)?;
        let _ops = slot.ops.lock().await;
        slot.ready(skip_wait_boot).await?;
        let current = slot.live().fs_size_mib.unwrap_or(DEFAULT_FS_MIB);
        if fs_size_mib <= current {
            return Err(ApiError::DiskShrink {
                vm_id: vm_id.to_owned(),
                current,
                asked: fs_size_mib,
            });
        }
        self.db.set_vm_disk(vm_id, fs_size_mib)?;
        slot.live().fs_size_mib = Some(fs_size_mib);
        Ok(())
    }

    /// `DELETE /vm/{id}`: kills everything in the VM, frees its disk, keeps a tombstone.
    pub async fn delete(
        self: &Arc<Self>,
        caller: &Account,
        vm_id: &str,
        skip_wait_boot: bool,
    ) -> Result<(), ApiError> {
        let slot = self.vm(caller, vm_id)?;
        if skip_wait_boot && slot.state() == tether_wire::VmState::Booting {
            return Err(ApiError::Booting {
                vm_id: vm_id.to_owned(),
            });
        }
        self.run_op(move |reg| async move {
            let _ops = slot.ops.lock().await;
            // Let a boot settle first; whether it worked does not matter here.
            let _ = slot.ready(false).await;
            if reg.map().remove(slot.id()).is_none() {
                return Err(ApiError::DeletedVm {
                    vm_id: slot.id().to_owned(),
                });
            }
            if let Some(vm) = slot.vm()
                && let Err(err) =
                    within("shut down", slot.id(), SHUTDOWN_TIMEOUT, vm.shutdown()).await
            {
                reg.map().insert(slot.id().to_owned(), Arc::clone(&slot));
                return Err(err);
            }
            slot.set_phase(Phase::Gone);
            reg.db.tombstone_vm(slot.id(), &now())?;
            reg.remove_disk(slot.id()).await;
            Ok(())
        })
        .await
    }
}
