//! What the API shows of VMs: listings, status, metadata, the SSH key.

use tether_wire::{Vm, VmMetadata};

use super::{Registry, VmSlot};
use crate::db::Account;
use crate::error::ApiError;

/// IP address reported in VM metadata: VMs share the host's network namespace.
const VM_IP: &str = "::1";
/// vCPUs and RAM reported for a VM made without them (and disk size assumed).
pub(crate) const DEFAULT_VCPUS: u32 = 1;
pub(crate) const DEFAULT_MEM_MIB: u32 = 512;
pub(crate) const DEFAULT_FS_MIB: u32 = 1024;

impl Registry {
    /// The caller's VMs, oldest first (`GET /vms` and `GET /vm`).
    pub fn list(&self, caller: &Account) -> Vec<Vm> {
        let mut slots: Vec<_> = self
            .map()
            .values()
            .filter(|slot| slot.record.org_id == caller.org_id)
            .cloned()
            .collect();
        slots.sort_by(|a, b| (&a.record.created_at, a.id()).cmp(&(&b.record.created_at, b.id())));
        slots.iter().map(|slot| describe(slot)).collect()
    }

    /// How many VMs run (for `/health`).
    pub fn count(&self) -> usize {
        self.map().len()
    }

    /// `GET /vm/{id}/status`.
    pub fn status(&self, caller: &Account, vm_id: &str) -> Result<Vm, ApiError> {
        Ok(describe(&*self.vm(caller, vm_id)?))
    }

    /// `GET /vm/{id}/metadata`.
    pub fn metadata(&self, caller: &Account, vm_id: &str) -> Result<VmMetadata, ApiError> {
        let slot = self.vm(caller, vm_id)?;
        Ok(VmMetadata {
            vm_id: slot.id().to_owned(),
            owner_id: slot.record.owner_id.clone(),
            created_at: slot.record.created_at.clone(),
            deleted_at: None,
            state: slot.state(),
            ip: VM_IP.to_owned(),
            parent_commit_id: slot.record.parent_commit_id.clone(),
            grandparent_vm_id: slot.record.grandparent_vm_id.clone(),
            vcpu_count: Some(slot.record.vcpu_count.unwrap_or(DEFAULT_VCPUS)),
            mem_size_mib: Some(slot.record.mem_size_mib.unwrap_or(DEFAULT_MEM_MIB)),
            labels: slot.live().labels.clone(),
        })
    }

    /// The VM's private key, OpenSSH PEM.
    pub fn ssh_private_key(&self, caller: &Account, vm_id: &str) -> Result<String, ApiError> {
        let slot = self.vm(caller, vm_id)?;
        crate::keys::openssh(vm_id, &slot.keys.client)
    }
}

fn describe(slot: &VmSlot) -> Vm {
    Vm {
        vm_id: slot.id().to_owned(),
        owner_id: slot.record.owner_id.clone(),
        created_at: slot.record.created_at.clone(),
        state: slot.state(),
        labels: slot.live().labels.clone(),
    }
}
