//! Snapshots of VMs: branch (commit, then children from it, as Vers does), restore, commit.

use std::future::Future;
use std::sync::Arc;

use tether_wire::CommitRequest;

use super::lifecycle::{Origin, new_id};
use super::slot::VmSlot;
use super::views::DEFAULT_FS_MIB;
use super::{Registry, now};
use crate::catalog::Use;
use crate::db::{Account, CommitRecord, CommitRow, VmRecord, VmRunState};
use crate::deadline::{DISK_TIMEOUT, PAUSE_TIMEOUT, within};
use crate::error::ApiError;
use crate::keys::VmKeys;

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
        caller: &Account,
        id: &str,
        count: u32,
        options: SnapshotOptions,
    ) -> Result<Vec<String>, ApiError> {
        match self.vm(caller, id) {
            Err(ApiError::UnknownVm { .. }) => match self.catalog.commit(caller, id, Use::Read) {
                Ok(row) => self.restore(caller, row, count).await,
                Err(ApiError::UnknownCommit { .. }) => {
                    Err(ApiError::UnknownSource { id: id.to_owned() })
                }
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
            Ok(_) => self.branch_vm(caller, id, count, options).await,
        }
    }

    /// Branches a VM as Vers does: pauses it, commits it, makes `count` VMs from that commit,
    /// resumes it (unless `keep_paused`). The commit and the children's disks are copied from
    /// the paused VM at once; the children name the commit and the VM in their metadata.
    pub async fn branch_vm(
        self: &Arc<Self>,
        caller: &Account,
        vm_id: &str,
        count: u32,
        options: SnapshotOptions,
    ) -> Result<Vec<String>, ApiError> {
        let parent = self.vm(caller, vm_id)?;
        let caller = caller.clone();
        self.run_op(move |reg| async move {
            let commit_id = new_id();
            let origin = Origin {
                keys: parent.keys.clone(),
                template: VmRecord {
                    parent_commit_id: Some(commit_id.clone()),
                    grandparent_vm_id: Some(parent.id().to_owned()),
                    ..inherited(&caller, &parent)
                },
                log_from: commit_id.clone(),
                env: reg.catalog.env_for_new_vm(&caller.org_id)?,
            };
            let name = format!("branch of {}", parent.id());
            let copies = async {
                let commit = reg.snapshot(
                    &caller,
                    &parent,
                    &commit_id,
                    CommitRequest {
                        name: Some(name),
                        ..CommitRequest::default()
                    },
                );
                let disk = reg.layout.vm_disk(parent.id());
                let (commit, children) = futures::join!(commit, reg.copy_disks(&disk, count));
                match (commit, children) {
                    (Ok(()), Ok(ids)) => Ok(ids),
                    (commit, children) => {
                        reg.undo_snapshot(&commit_id).await;
                        for id in children.as_deref().unwrap_or_default() {
                            reg.remove_disk(id).await;
                        }
                        Err(commit
                            .err()
                            .or(children.err())
                            .unwrap_or(ApiError::TaskFailed {
                                detail: "a branch failed without a reason".into(),
                            }))
                    }
                }
            };
            let ids = reg.while_paused(&parent, options, copies).await?;
            reg.adopt_children(ids, origin).await
        })
        .await
    }

    /// New VMs from copies of a commit the caller may read (`from_commit`, `branch/by_commit`,
    /// by tag, by `repo:tag`).
    pub async fn restore(
        self: &Arc<Self>,
        caller: &Account,
        row: CommitRow,
        count: u32,
    ) -> Result<Vec<String>, ApiError> {
        let caller = caller.clone();
        self.run_op(move |reg| async move {
            let _store = reg.commit_store.read().await;
            let commit_id = row.record.commit_id.clone();
            // Deleted while the request waited for the store?
            let row = match reg.db.find_commit(&commit_id)? {
                crate::db::Found::Live(live) => CommitRow {
                    keys: live.keys,
                    ..row
                },
                _ => return Err(ApiError::DeletedCommit { commit_id }),
            };
            let c = &row.record;
            let origin = Origin {
                keys: VmKeys::from_pems(&commit_id, &row.keys)?,
                template: VmRecord {
                    owner_id: caller.key_id.clone(),
                    org_id: caller.org_id.clone(),
                    vcpu_count: c.vcpu_count,
                    mem_size_mib: c.mem_size_mib,
                    fs_size_mib: c.fs_size_mib,
                    parent_commit_id: Some(commit_id.clone()),
                    grandparent_vm_id: c.parent_vm_id.clone(),
                    ..VmRecord::default()
                },
                log_from: commit_id.clone(),
                env: reg.catalog.env_for_new_vm(&caller.org_id)?,
            };
            reg.spawn_children(&reg.layout.commit_disk(&commit_id), count, origin)
                .await
        })
        .await
    }

    /// `POST /vm/{id}/commit`: a durable copy of the VM's disk, taken while it is paused.
    pub async fn commit(
        self: &Arc<Self>,
        caller: &Account,
        vm_id: &str,
        request: CommitRequest,
        options: SnapshotOptions,
    ) -> Result<String, ApiError> {
        let slot = self.vm(caller, vm_id)?;
        let commit_id = match &request.commit_id {
            Some(id) => parse_uuid("commit_id", id)?,
            None => new_id(),
        };
        if self.db.find_commit(&commit_id)? != crate::db::Found::Missing {
            return Err(ApiError::CommitExists { commit_id });
        }
        let caller = caller.clone();
        self.run_op(move |reg| async move {
            let snapshot = reg.snapshot(&caller, &slot, &commit_id, request);
            reg.while_paused(&slot, options, snapshot).await?;
            Ok(commit_id)
        })
        .await
    }

    /// Copies a paused VM's disk and exec log into a new commit and records it.
    async fn snapshot(
        &self,
        caller: &Account,
        slot: &VmSlot,
        commit_id: &str,
        request: CommitRequest,
    ) -> Result<(), ApiError> {
        let disk = self.layout.commit_disk(commit_id);
        let source = self.layout.vm_disk(slot.id());
        let copy = self.backend.copy_disk(&source, &disk);
        within("commit", slot.id(), DISK_TIMEOUT, copy).await?;
        let vm = inherited(caller, slot);
        let record = CommitRecord {
            commit_id: commit_id.to_owned(),
            owner_id: caller.key_id.clone(),
            org_id: caller.org_id.clone(),
            name: request
                .name
                .filter(|name| !name.trim().is_empty())
                .unwrap_or_else(|| format!("commit of {}", slot.id())),
            description: request.description.filter(|d| !d.trim().is_empty()),
            created_at: now(),
            is_public: false,
            parent_vm_id: Some(slot.id().to_owned()),
            grandparent_commit_id: slot.record.parent_commit_id.clone(),
            vcpu_count: vm.vcpu_count,
            mem_size_mib: vm.mem_size_mib,
            fs_size_mib: vm.fs_size_mib,
        };
        let stored = slot.keys.to_pems(slot.id()).and_then(|keys| {
            self.db.insert_commit(&CommitRow { record, keys })?;
            Ok(self.db.copy_log(slot.id(), commit_id)?)
        });
        if let Err(err) = stored {
            self.undo_snapshot(commit_id).await;
            return Err(err);
        }
        Ok(())
    }

    /// Removes every trace of a snapshot that will not be handed out.
    async fn undo_snapshot(&self, commit_id: &str) {
        self.remove_commit_disk(commit_id).await;
        if let Err(err) = self.db.forget_commit(commit_id) {
            tracing::error!(commit_id, "could not forget a failed commit: {err}");
        }
    }

    /// Runs `work` with the VM paused (and no other lifecycle operation on it), then resumes
    /// it unless it was paused before or `keep_paused`.
    pub(super) async fn while_paused<T>(
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
            self.db.set_vm_state(slot.id(), VmRunState::Paused)?;
        } else if !was_paused
            && let Err(err) = within("resume", slot.id(), PAUSE_TIMEOUT, vm.resume()).await
        {
            tracing::error!(
                vm_id = slot.id(),
                "could not resume the VM after a snapshot: {err}; it stays paused"
            );
            self.db.set_vm_state(slot.id(), VmRunState::Paused)?;
        }
        result
    }
}

/// What a VM made from `parent` by `caller` inherits: owner, resources, disk size.
fn inherited(caller: &Account, parent: &VmSlot) -> VmRecord {
    VmRecord {
        owner_id: caller.key_id.clone(),
        org_id: caller.org_id.clone(),
        vcpu_count: parent.record.vcpu_count,
        mem_size_mib: parent.record.mem_size_mib,
        fs_size_mib: Some(parent.live().fs_size_mib.unwrap_or(DEFAULT_FS_MIB)),
        ..VmRecord::default()
    }
}

pub(crate) fn parse_uuid(field: &'static str, value: &str) -> Result<String, ApiError> {
    match uuid::Uuid::parse_str(value) {
        Ok(id) => Ok(id.to_string()),
        Err(err) => Err(ApiError::BadField {
            field,
            reason: format!("{value:?} is not a UUID ({err})"),
        }),
    }
}
