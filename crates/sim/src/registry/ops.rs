//! Operations on existing VMs and commits: branch, commit, restore, pause/resume, delete.

use std::future::Future;
use std::sync::Arc;

use tether_wire::{CommitInfo, CommitList, CommitRequest, RequestedState};

use super::lifecycle::{Origin, new_id, remove_tree};
use super::slot::VmSlot;
use super::{Registry, now};
use crate::db::{CommitRecord, CommitRow, Found, VmRecord};
use crate::deadline::{DISK_TIMEOUT, PAUSE_TIMEOUT, SHUTDOWN_TIMEOUT, within};
use crate::error::ApiError;
use crate::keys::VmKeys;

/// Default and largest page of `GET /commits`.
const COMMIT_PAGE: (u64, u64) = (50, 100);

/// How a VM is treated around a snapshot of its disk.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SnapshotOptions {
    /// Leave the VM paused afterwards.
    pub keep_paused: bool,
    /// Fail instead of waiting while the VM boots.
    pub skip_wait_boot: bool,
}

impl Registry {
    /// `POST /vm/{vm_or_commit_id}/branch`: a VM id branches the VM, a commit id restores it.
    pub async fn branch_any(
        self: &Arc<Self>,
        id: &str,
        count: u32,
        options: SnapshotOptions,
    ) -> Result<Vec<String>, ApiError> {
        match self.slot(id) {
            Err(ApiError::UnknownVm { .. }) if self.commit_known(id)? => {
                self.restore(id, count).await
            }
            Err(ApiError::UnknownVm { .. }) => Err(ApiError::UnknownSource { id: id.to_owned() }),
            Err(err) => Err(err),
            Ok(_) => self.branch_vm(id, count, options).await,
        }
    }

    /// Branches a VM: pauses it, copies its disk `count` times, resumes it (unless
    /// `keep_paused`), boots the copies.
    pub async fn branch_vm(
        self: &Arc<Self>,
        vm_id: &str,
        count: u32,
        options: SnapshotOptions,
    ) -> Result<Vec<String>, ApiError> {
        let parent = self.slot(vm_id)?;
        self.run_op(move |reg| async move {
            let origin = Origin {
                keys: parent.keys.clone(),
                template: VmRecord {
                    vcpu_count: parent.record.vcpu_count,
                    mem_size_mib: parent.record.mem_size_mib,
                    fs_size_mib: parent.record.fs_size_mib,
                    grandparent_vm_id: Some(parent.id().to_owned()),
                    ..VmRecord::default()
                },
            };
            let disk = reg.layout.vm_disk(parent.id());
            reg.while_paused(&parent, options, reg.spawn_children(&disk, count, origin))
                .await
        })
        .await
    }

    /// New VMs from copies of a commit's disk (`from_commit`, `branch/by_commit`).
    pub async fn restore(
        self: &Arc<Self>,
        commit_id: &str,
        count: u32,
    ) -> Result<Vec<String>, ApiError> {
        let commit_id = commit_id.to_owned();
        self.run_op(move |reg| async move {
            let _store = reg.commit_store.read().await;
            let row = reg.live_commit(&commit_id)?;
            let origin = Origin {
                keys: VmKeys::from_pems(&commit_id, &row.keys)?,
                template: VmRecord {
                    parent_commit_id: Some(commit_id.clone()),
                    grandparent_vm_id: row.record.parent_vm_id,
                    ..VmRecord::default()
                },
            };
            reg.spawn_children(&reg.layout.commit_disk(&commit_id), count, origin)
                .await
        })
        .await
    }

    /// `POST /vm/{id}/commit`: a durable copy of the VM's disk, taken while it is paused.
    pub async fn commit(
        self: &Arc<Self>,
        vm_id: &str,
        request: CommitRequest,
        options: SnapshotOptions,
    ) -> Result<String, ApiError> {
        let slot = self.slot(vm_id)?;
        let commit_id = match request.commit_id {
            Some(id) => parse_uuid("commit_id", &id)?,
            None => new_id(),
        };
        if self.commit_known(&commit_id)? {
            return Err(ApiError::CommitExists { commit_id });
        }
        self.run_op(move |reg| async move {
            let disk = reg.layout.commit_disk(&commit_id);
            let source = reg.layout.vm_disk(slot.id());
            let copy = within(
                "commit",
                slot.id(),
                DISK_TIMEOUT,
                tether_sandbox::copy_disk(&source, &disk),
            );
            reg.while_paused(&slot, options, copy).await?;
            let record = CommitRecord {
                commit_id: commit_id.clone(),
                name: request
                    .name
                    .unwrap_or_else(|| format!("commit of {}", slot.id())),
                description: request.description,
                created_at: now(),
                parent_vm_id: Some(slot.id().to_owned()),
                grandparent_commit_id: slot.record.parent_commit_id.clone(),
            };
            let stored = slot
                .keys
                .to_pems(slot.id())
                .and_then(|keys| Ok(reg.db.insert_commit(&CommitRow { record, keys })?));
            if let Err(err) = stored {
                remove_tree(&disk).await;
                return Err(err);
            }
            Ok(commit_id)
        })
        .await
    }

    /// Runs `work` with the VM paused (and no other lifecycle operation on it), then resumes
    /// it unless it was paused before or `keep_paused`.
    async fn while_paused<T>(
        &self,
        slot: &VmSlot,
        options: SnapshotOptions,
        work: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let _ops = slot.ops.lock().await;
        let vm = slot.ready(options.skip_wait_boot).await?;
        let was_paused = vm.is_paused();
        if !was_paused {
            within("pause", slot.id(), PAUSE_TIMEOUT, vm.pause()).await?;
        }
        let result = work.await;
        if !was_paused && options.keep_paused {
            self.db.set_vm_paused(slot.id(), true)?;
        } else if !was_paused
            && let Err(err) = within("resume", slot.id(), PAUSE_TIMEOUT, vm.resume()).await
        {
            tracing::error!(
                vm_id = slot.id(),
                "could not resume the VM after a snapshot: {err}; it stays paused"
            );
            self.db.set_vm_paused(slot.id(), true)?;
        }
        result
    }

    /// `PATCH /vm/{id}/state`.
    pub async fn set_state(
        self: &Arc<Self>,
        vm_id: &str,
        state: RequestedState,
        skip_wait_boot: bool,
    ) -> Result<(), ApiError> {
        let slot = self.slot(vm_id)?;
        self.run_op(move |reg| async move {
            let _ops = slot.ops.lock().await;
            let vm = slot.ready(skip_wait_boot).await?;
            let pause = state == RequestedState::Paused;
            match (pause, vm.is_paused()) {
                (true, false) => within("pause", slot.id(), PAUSE_TIMEOUT, vm.pause()).await?,
                (false, true) => within("resume", slot.id(), PAUSE_TIMEOUT, vm.resume()).await?,
                _ => {}
            }
            Ok(reg.db.set_vm_paused(slot.id(), pause)?)
        })
        .await
    }

    /// `DELETE /vm/{id}`: kills everything in the VM, frees its disk, keeps a tombstone.
    pub async fn delete(
        self: &Arc<Self>,
        vm_id: &str,
        skip_wait_boot: bool,
    ) -> Result<(), ApiError> {
        let slot = self.slot(vm_id)?;
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
            slot.set_phase(super::slot::Phase::Gone);
            reg.db.tombstone_vm(slot.id(), &now())?;
            reg.remove_disk(slot.id()).await;
            Ok(())
        })
        .await
    }

    /// `GET /commits`.
    pub fn list_commits(
        &self,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<CommitList, ApiError> {
        let limit = limit.unwrap_or(COMMIT_PAGE.0).min(COMMIT_PAGE.1);
        let offset = offset.unwrap_or(0);
        let (page, total) = self.db.list_commits(limit, offset)?;
        let commits = page
            .into_iter()
            .map(|record| self.commit_info(record))
            .collect();
        Ok(CommitList {
            commits,
            total,
            limit,
            offset,
        })
    }

    fn commit_info(&self, record: CommitRecord) -> CommitInfo {
        CommitInfo {
            commit_id: record.commit_id,
            name: record.name,
            owner_id: self.owner_id.clone(),
            is_public: false,
            created_at: record.created_at,
            description: record.description,
            parent_vm_id: record.parent_vm_id,
            grandparent_commit_id: record.grandparent_commit_id,
        }
    }

    /// `DELETE /commits/{id}`: VMs restored from it keep their own copies.
    pub async fn delete_commit(self: &Arc<Self>, commit_id: &str) -> Result<(), ApiError> {
        let commit_id = commit_id.to_owned();
        self.run_op(move |reg| async move {
            let _store = reg.commit_store.write().await;
            reg.live_commit(&commit_id)?;
            reg.db.tombstone_commit(&commit_id, &now())?;
            remove_tree(&reg.layout.commit_disk(&commit_id)).await;
            Ok(())
        })
        .await
    }

    fn live_commit(&self, commit_id: &str) -> Result<CommitRow, ApiError> {
        let commit_id = commit_id.to_owned();
        match self.db.find_commit(&commit_id)? {
            Found::Live(row) => Ok(row),
            Found::Deleted => Err(ApiError::DeletedCommit { commit_id }),
            Found::Missing => Err(ApiError::UnknownCommit { commit_id }),
        }
    }
}

fn parse_uuid(field: &'static str, value: &str) -> Result<String, ApiError> {
    match uuid::Uuid::parse_str(value) {
        Ok(id) => Ok(id.to_string()),
        Err(err) => Err(ApiError::BadField {
            field,
            reason: format!("{value:?} is not a UUID ({err})"),
        }),
    }
}
