//! Making VMs: new roots, branches of a VM, restores of a commit; booting and discarding them.
//!
//! A branch copies the parent's disk while the parent is paused (Vers: commit, then spawn
//! children from the commit). Only the disk is copied: running processes are not carried over
//! to the children, which boot fresh, the way the parent would after a reboot.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use futures::future::join_all;
use tether_wire::VmConfig;

use super::slot::{BOOT_TIMEOUT, Phase, VmSlot};
use super::{Registry, now};
use crate::backend::{Backend, BootSpec, VmHandle};
use crate::db::{Account, KeyPems, VmRecord, VmRow, VmRunState};
use crate::deadline::{DISK_TIMEOUT, SHUTDOWN_TIMEOUT, within};
use crate::error::ApiError;
use crate::keys::VmKeys;

/// Most VMs one branch or restore request may make.
pub(crate) const MAX_COUNT: u32 = 64;

/// What new VMs inherit from where they came from.
pub(super) struct Origin {
    pub keys: VmKeys,
    pub template: VmRecord,
    /// The exec log they start with (the source VM's or commit's).
    pub log_from: String,
    /// The account's variables, for `/etc/environment`.
    pub env: BTreeMap<String, String>,
}

impl Origin {
    fn record(&self, vm_id: String) -> VmRecord {
        VmRecord {
            vm_id,
            created_at: now(),
            ..self.template.clone()
        }
    }
}

impl Registry {
    /// `POST /vm/new_root`: a VM on an empty disk. Returns once booted if `wait_boot`
    /// (a VM that fails to boot then leaves no trace), else at once (state `booting`).
    pub async fn new_root(
        self: &Arc<Self>,
        caller: &Account,
        config: VmConfig,
        wait_boot: bool,
    ) -> Result<String, ApiError> {
        check_image(&config)?;
        let owner = caller.clone();
        let slot = self
            .run_op(|reg| async move { reg.create_root(&owner, config).await })
            .await?;
        if wait_boot && let Err(err) = slot.ready(false).await {
            let discarded = Arc::clone(&slot);
            let discard = |reg: Arc<Registry>| async move {
                reg.discard(&[discarded]).await;
                Ok(())
            };
            // During shutdown the VM is stopped with the rest; the boot error matters more.
            let _ = self.run_op(discard).await;
            return Err(err);
        }
        Ok(slot.id().to_owned())
    }

    async fn create_root(
        self: Arc<Self>,
        caller: &Account,
        config: VmConfig,
    ) -> Result<Arc<VmSlot>, ApiError> {
        let env = self.catalog.env_for_new_vm(&caller.org_id)?;
        let vm_id = new_id();
        let disk = self.layout.vm_disk(&vm_id);
        let created = self.backend.create_disk(&disk).await;
        created.map_err(|e| ApiError::from_sandbox("create the disk of", &vm_id, e))?;
        let record = VmRecord {
            vm_id,
            owner_id: caller.key_id.clone(),
            org_id: caller.org_id.clone(),
            created_at: now(),
            vcpu_count: config.vcpu_count,
            mem_size_mib: config.mem_size_mib,
            fs_size_mib: config.fs_size_mib,
            labels: config.labels.unwrap_or_default(),
            ..VmRecord::default()
        };
        let slot = VmSlot::new(record, VmKeys::generate());
        let slots = [Arc::clone(&slot)];
        if let Err(err) = self
            .insert_rows(&slots, None)
            .and_then(|()| self.adopt(&slots))
        {
            self.discard(&slots).await;
            return Err(err);
        }
        self.boot(Arc::clone(&slot), false, Some(env));
        Ok(slot)
    }

    /// `count` new VMs from copies of `source` (a paused VM's disk or a commit's), booted
    /// and running before this returns; all or nothing.
    pub(super) async fn spawn_children(
        &self,
        source: &Path,
        count: u32,
        origin: Origin,
    ) -> Result<Vec<String>, ApiError> {
        let ids = self.copy_disks(source, count).await?;
        self.adopt_children(ids, origin).await
    }

    /// Boots VMs on disks copied for them (`ids`), as `origin` says; all or nothing.
    pub(super) async fn adopt_children(
        &self,
        ids: Vec<String>,
        origin: Origin,
    ) -> Result<Vec<String>, ApiError> {
        let slots: Vec<Arc<VmSlot>> = ids
            .iter()
            .map(|id| VmSlot::new(origin.record(id.clone()), origin.keys.clone()))
            .collect();
        if let Err(err) = self.insert_rows(&slots, Some(&origin.log_from)) {
            self.discard(&slots).await;
            return Err(err);
        }
        for slot in &slots {
            self.boot(Arc::clone(slot), false, Some(origin.env.clone()));
        }
        let booted = join_all(slots.iter().map(|slot| slot.ready(false))).await;
        let failed = booted.into_iter().find_map(Result::err);
        if let Some(err) = failed.map_or_else(|| self.adopt(&slots).err(), Some) {
            self.discard(&slots).await;
            return Err(err);
        }
        Ok(ids)
    }

    /// Copies `source` into `count` new VM disks concurrently; all or nothing.
    pub(super) async fn copy_disks(
        &self,
        source: &Path,
        count: u32,
    ) -> Result<Vec<String>, ApiError> {
        let ids: Vec<String> = (0..count).map(|_| new_id()).collect();
        let disks: Vec<_> = ids.iter().map(|id| self.layout.vm_disk(id)).collect();
        let copies = ids.iter().zip(&disks).map(|(id, disk)| {
            let copy = self.backend.copy_disk(source, disk);
            within("copy a disk for", id, DISK_TIMEOUT, copy)
        });
        let copies = join_all(copies).await;
        let Some(err) = copies.into_iter().find_map(Result::err) else {
            return Ok(ids);
        };
        for id in &ids {
            self.remove_disk(id).await;
        }
        Err(err)
    }

    /// Records new VMs, each starting with a copy of the exec log `log_from`.
    fn insert_rows(&self, slots: &[Arc<VmSlot>], log_from: Option<&str>) -> Result<(), ApiError> {
        for slot in slots {
            let keys: KeyPems = slot.keys.to_pems(slot.id())?;
            self.db.insert_vm(&VmRow {
                record: slot.record.clone(),
                state: VmRunState::Running,
                keys,
            })?;
            if let Some(from) = log_from {
                self.db.copy_log(from, slot.id())?;
            }
        }
        Ok(())
    }

    /// Boots `slot`'s sandbox in a tracked task; the slot's phase tells how it went. A new VM
    /// gets `env` (if any variable is set) as its `/etc/environment` before it is ready.
    pub(super) fn boot(
        &self,
        slot: Arc<VmSlot>,
        paused: bool,
        env: Option<BTreeMap<String, String>>,
    ) {
        let backend = Arc::clone(&self.backend);
        let spec = BootSpec {
            disk: self.layout.vm_disk(slot.id()),
            hostname: slot.id().to_owned(),
            paused,
        };
        let closing = self.closing.clone();
        self.tasks.spawn(async move {
            let phase = match tokio::time::timeout(BOOT_TIMEOUT, backend.boot(spec)).await {
                Err(_) => Phase::Failed(format!("it did not boot within {BOOT_TIMEOUT:?}")),
                Ok(Err(err)) => Phase::Failed(format!("it failed to boot: {err}")),
                Ok(Ok(vm)) if closing.is_cancelled() => {
                    shut_down(slot.id(), &*vm).await;
                    Phase::Failed("the simulator is shutting down".into())
                }
                Ok(Ok(vm)) => with_environment(slot.id(), vm, env).await,
            };
            if let Phase::Failed(reason) = &phase {
                tracing::warn!(vm_id = slot.id(), "VM boot failed: {reason}");
            }
            if let Some(Phase::Ready(vm)) = slot.finish_boot(phase) {
                // The VM was discarded while it booted.
                shut_down(slot.id(), &*vm).await;
            }
        });
    }

    /// Removes every trace of VMs whose creation failed (the client never got their ids).
    pub(super) async fn discard(&self, slots: &[Arc<VmSlot>]) {
        for slot in slots {
            self.map().remove(slot.id());
            if let Some(vm) = slot.vm() {
                shut_down(slot.id(), &*vm).await;
            }
            slot.set_phase(Phase::Gone);
            self.remove_disk(slot.id()).await;
            if let Err(err) = self.db.forget_vm(slot.id()) {
                tracing::error!(vm_id = slot.id(), "could not forget a discarded VM: {err}");
            }
        }
    }

    /// Removes a VM's disk; a failure is logged (the VM is gone either way).
    pub(super) async fn remove_disk(&self, vm_id: &str) {
        remove_tree(&*self.backend, &self.layout.vm_disk(vm_id)).await;
    }

    /// Removes a commit's disk; a failure is logged (the commit is gone either way).
    pub(super) async fn remove_commit_disk(&self, commit_id: &str) {
        remove_tree(&*self.backend, &self.layout.commit_disk(commit_id)).await;
    }
}

/// The booted VM, once its `/etc/environment` holds `env` (when there is any).
async fn with_environment(
    vm_id: &str,
    vm: Arc<dyn VmHandle>,
    env: Option<BTreeMap<String, String>>,
) -> Phase {
    let Some(env) = env.filter(|env| !env.is_empty()) else {
        return Phase::Ready(vm);
    };
    match tokio::time::timeout(BOOT_TIMEOUT, crate::vm_env::write(&*vm, &env)).await {
        Ok(Ok(())) => Phase::Ready(vm),
        failed => {
            shut_down(vm_id, &*vm).await;
            let why = match failed {
                Ok(Err(err)) => err.to_string(),
                _ => format!("it took over {BOOT_TIMEOUT:?}"),
            };
            Phase::Failed(format!("its /etc/environment could not be written: {why}"))
        }
    }
}

/// Removes a disk (a VM's or a commit's); a failure is logged (its owner is gone either way).
async fn remove_tree(backend: &dyn Backend, disk: &Path) {
    if !disk.exists() {
        return;
    }
    match tokio::time::timeout(DISK_TIMEOUT, backend.remove_disk(disk)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::error!(
            "could not remove {}: {err}; remove it by hand",
            disk.display()
        ),
        Err(_) => tracing::error!(
            "removing {} took over {DISK_TIMEOUT:?}; remove it by hand",
            disk.display()
        ),
    }
}

/// Shuts a sandbox down, logging a failure.
pub(super) async fn shut_down(vm_id: &str, vm: &dyn VmHandle) {
    if let Err(err) = within("shut down", vm_id, SHUTDOWN_TIMEOUT, vm.shutdown()).await {
        tracing::error!(vm_id, "{err}");
    }
}

/// A fresh VM or commit id.
pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Checks `count` (default 1) against 1..=[`MAX_COUNT`].
pub(crate) fn check_count(count: Option<u32>) -> Result<u32, ApiError> {
    let count = count.unwrap_or(1);
    if (1..=MAX_COUNT).contains(&count) {
        return Ok(count);
    }
    Err(ApiError::BadField {
        field: "count",
        reason: format!("{count} is out of range; ask for 1 to {MAX_COUNT} VMs"),
    })
}

fn check_image(config: &VmConfig) -> Result<(), ApiError> {
    if let Some(image) = config
        .image_name
        .as_deref()
        .filter(|name| *name != "default")
    {
        let reason =
            format!("{image:?} is not available; the only image is \"default\" (or leave it out)");
        return Err(ApiError::BadField {
            field: "vm_config.image_name",
            reason,
        });
    }
    if let Some(kernel) = config
        .kernel_name
        .as_deref()
        .filter(|name| *name != "default.bin")
    {
        let reason = format!(
            "{kernel:?} is not available; the only kernel is \"default.bin\" (or leave it out)"
        );
        return Err(ApiError::BadField {
            field: "vm_config.kernel_name",
            reason,
        });
    }
    Ok(())
}
