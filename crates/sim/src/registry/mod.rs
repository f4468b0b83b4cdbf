//! The VM registry: every VM and commit of the simulator, their sandboxes and their state.
//!
//! The registry owns the lifecycle (see [`lifecycle`](self::lifecycle)); the HTTP API and the
//! SSH gateway ([`VmDirectory`]) look VMs up here. Lifecycle operations run as tracked tasks,
//! so a client that hangs up mid-branch cannot leave a parent paused, and shutdown waits for
//! them before stopping every VM. Every API operation names its caller: a VM of another
//! account is refused (403, as Vers answers); the SSH gateway authenticates by the VM's key.

mod commits;
mod lifecycle;
mod ops;
mod slot;
mod state;
mod views;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::join_all;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::{LookupError, SshVm, VmDirectory};
use crate::backend::Backend;
use crate::catalog::Catalog;
use crate::datadir::Layout;
use crate::db::{Account, Db};
use crate::deadline::{SHUTDOWN_TIMEOUT, within};
use crate::error::{ApiError, SimError};
use crate::exec::Runs;

pub(crate) use lifecycle::check_count;
pub(crate) use ops::{SnapshotOptions, parse_uuid};
pub(crate) use slot::VmSlot;
pub(crate) use state::LabelChange;
pub(crate) use views::DEFAULT_FS_MIB;

/// How long shutdown waits for running lifecycle operations before stopping VMs anyway.
const OPS_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Every VM and commit.
pub(crate) struct Registry {
    db: Arc<Db>,
    catalog: Catalog,
    layout: Layout,
    backend: Arc<dyn Backend>,
    vms: Mutex<HashMap<String, Arc<VmSlot>>>,
    /// Restores hold it shared while copying a commit; deleting a commit holds it exclusively.
    commit_store: tokio::sync::RwLock<()>,
    /// The API's exec runs, live and recorded.
    runs: Runs,
    tasks: TaskTracker,
    closing: CancellationToken,
}

impl Registry {
    /// A registry over `db` with no VM loaded yet (see [`Registry::restore_all`]).
    pub fn new(db: Arc<Db>, layout: Layout, backend: Arc<dyn Backend>) -> Arc<Registry> {
        Arc::new(Registry {
            catalog: Catalog::new(Arc::clone(&db)),
            runs: Runs::new(Arc::clone(&db)),
            db,
            layout,
            backend,
            vms: Mutex::new(HashMap::new()),
            commit_store: tokio::sync::RwLock::new(()),
            tasks: TaskTracker::new(),
            closing: CancellationToken::new(),
        })
    }

    /// Tags, repositories, variables and domains.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The API's exec runs.
    pub fn runs(&self) -> &Runs {
        &self.runs
    }

    fn map(&self) -> MutexGuard<'_, HashMap<String, Arc<VmSlot>>> {
        // Map operations cannot leave it half-changed, so a poisoned lock is still consistent.
        self.vms
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The VM `vm_id` (whoever owns it), or why there is none.
    fn slot(&self, vm_id: &str) -> Result<Arc<VmSlot>, ApiError> {
        if let Some(slot) = self.map().get(vm_id) {
            return Ok(Arc::clone(slot));
        }
        let vm_id = vm_id.to_owned();
        match self.db.deleted_vm_org(&vm_id)? {
            Some(_) => Err(ApiError::DeletedVm { vm_id }),
            None => Err(ApiError::UnknownVm { vm_id }),
        }
    }

    /// The caller's VM `vm_id`, or why it cannot have it.
    pub fn vm(&self, caller: &Account, vm_id: &str) -> Result<Arc<VmSlot>, ApiError> {
        let slot = self.slot(vm_id)?;
        if slot.record.org_id != caller.org_id {
            return Err(ApiError::ForeignVm {
                vm_id: vm_id.to_owned(),
            });
        }
        Ok(slot)
    }

    /// Runs a lifecycle operation as a tracked task, unless the simulator is shutting down.
    async fn run_op<T, F>(
        self: &Arc<Self>,
        op: impl FnOnce(Arc<Registry>) -> F,
    ) -> Result<T, ApiError>
    where
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
        T: Send + 'static,
    {
        let handle = {
            // Checked and spawned under the map lock, so shutdown either sees the task or the
            // task sees the shutdown.
            let _map = self.map();
            if self.closing.is_cancelled() {
                return Err(ApiError::ShuttingDown);
            }
            self.tasks.spawn(op(Arc::clone(self)))
        };
        handle.await.unwrap_or_else(|join| {
            Err(ApiError::TaskFailed {
                detail: join.to_string(),
            })
        })
    }

    /// Puts booted (or booting) VMs into the map; refused (and the caller must stop them)
    /// once shutdown has begun.
    fn adopt(&self, slots: &[Arc<VmSlot>]) -> Result<(), ApiError> {
        let mut map = self.map();
        if self.closing.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        for slot in slots {
            map.insert(slot.id().to_owned(), Arc::clone(slot));
        }
        Ok(())
    }

    /// Boots every VM recorded in the database (after a restart: processes are gone, disks
    /// are intact; paused VMs come back paused). Waits until each has booted or failed.
    pub async fn restore_all(self: &Arc<Self>) -> Result<(), SimError> {
        let rows = self.db.live_vms().map_err(|source| SimError::Database {
            path: self.layout.db(),
            source,
        })?;
        let mut slots = Vec::with_capacity(rows.len());
        for row in rows {
            let keys =
                crate::keys::VmKeys::from_pems(&row.record.vm_id, &row.keys).map_err(|e| {
                    SimError::Vm {
                        vm_id: row.record.vm_id.clone(),
                        source: Box::new(e),
                    }
                })?;
            let slot = VmSlot::new(row.record, keys);
            slot.live().asleep = row.state == crate::db::VmRunState::Asleep;
            let paused = row.state != crate::db::VmRunState::Running;
            self.boot(Arc::clone(&slot), paused, None);
            slots.push(slot);
        }
        self.adopt(&slots).map_err(|e| SimError::Vm {
            vm_id: String::new(),
            source: Box::new(e),
        })?;
        for (slot, result) in slots
            .iter()
            .zip(join_all(slots.iter().map(|s| s.ready(false))).await)
        {
            if let Err(err) = result {
                tracing::warn!(
                    vm_id = slot.id(),
                    "VM did not come back after the restart: {err}"
                );
            }
        }
        Ok(())
    }

    /// Stops accepting operations, waits for running ones, and shuts down every VM (their
    /// records stay: the next start boots them again).
    pub async fn shutdown_all(&self) -> Result<(), SimError> {
        {
            let _map = self.map();
            self.closing.cancel();
        }
        self.tasks.close();
        if tokio::time::timeout(OPS_DRAIN_TIMEOUT, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "lifecycle operations still running after {OPS_DRAIN_TIMEOUT:?}; stopping VMs anyway"
            );
        }
        let slots: Vec<Arc<VmSlot>> = self.map().drain().map(|(_, slot)| slot).collect();
        let results = join_all(slots.iter().map(|slot| stop_slot(slot))).await;
        results
            .into_iter()
            .find_map(Result::err)
            .map_or(Ok(()), Err)
    }
}

/// Now, as the API writes times: RFC 3339, UTC, milliseconds (fixed width, so they sort).
pub(crate) fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

async fn stop_slot(slot: &VmSlot) -> Result<(), SimError> {
    let result = match slot.vm() {
        Some(vm) => within("shut down", slot.id(), SHUTDOWN_TIMEOUT, vm.shutdown()).await,
        None => Ok(()),
    };
    slot.set_phase(slot::Phase::Gone);
    result.map_err(|err| SimError::Vm {
        vm_id: slot.id().to_owned(),
        source: Box::new(err),
    })
}

impl VmDirectory for Registry {
    async fn lookup(&self, vm_id: &str) -> Result<SshVm, LookupError> {
        let unknown = || LookupError::UnknownVm {
            vm_id: vm_id.to_owned(),
        };
        let slot = self.slot(vm_id).map_err(|_| unknown())?;
        let vm = match slot.ready(false).await {
            Ok(vm) => vm,
            Err(ApiError::DeletedVm { .. }) => return Err(unknown()),
            Err(_) => {
                return Err(LookupError::NotRunning {
                    vm_id: vm_id.to_owned(),
                });
            }
        };
        if vm.is_paused() {
            return Err(LookupError::Paused {
                vm_id: vm_id.to_owned(),
            });
        }
        Ok(SshVm {
            vm_id: vm_id.to_owned(),
            vm,
            authorized_key: slot.keys.authorized_key(),
            host_key: slot.keys.host.clone(),
        })
    }

    fn domain_vm(&self, name: &str) -> Option<String> {
        self.catalog.domain_vm(name)
    }
}
