//! VM rows: who owns a VM, what it was made with, where it came from, its keys and state.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use super::{Db, Result};

/// What a VM was made with, and where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VmRecord {
    pub vm_id: String,
    /// The key that made it (`owner_id` on the wire).
    pub owner_id: String,
    /// The organisation that can see and use it.
    pub org_id: String,
    pub created_at: String,
    pub vcpu_count: Option<u32>,
    pub mem_size_mib: Option<u32>,
    pub fs_size_mib: Option<u32>,
    pub labels: BTreeMap<String, String>,
    pub parent_commit_id: Option<String>,
    pub grandparent_vm_id: Option<String>,
}

/// A VM's (or commit's) SSH keys, OpenSSH PEM: the client key `/ssh_key` serves, the host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyPems {
    pub client: String,
    pub host: String,
}

/// How a VM was left: running, paused or asleep (a restart brings it back the same way).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum VmRunState {
    #[default]
    Running,
    Paused,
    Asleep,
}

/// A live VM's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VmRow {
    pub record: VmRecord,
    pub state: VmRunState,
    pub keys: KeyPems,
}

const COLUMNS: &str = "vm_id, owner_id, org_id, created_at, paused, asleep, vcpu_count,
    mem_size_mib, fs_size_mib, labels, parent_commit_id, grandparent_vm_id, ssh_private_key,
    host_key";

impl Db {
    /// Records a new VM.
    pub fn insert_vm(&self, row: &VmRow) -> Result<()> {
        let r = &row.record;
        let (paused, asleep) = flags(row.state);
        let sql = format!(
            "INSERT INTO vms ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
             ?12, ?13, ?14)"
        );
        self.conn()
            .execute(
                &sql,
                params![
                    r.vm_id,
                    r.owner_id,
                    r.org_id,
                    r.created_at,
                    paused,
                    asleep,
                    r.vcpu_count,
                    r.mem_size_mib,
                    r.fs_size_mib,
                    labels_json(&r.labels),
                    r.parent_commit_id,
                    r.grandparent_vm_id,
                    row.keys.client,
                    row.keys.host
                ],
            )
            .map(drop)
    }

    /// Records whether a VM is running, paused or asleep.
    pub fn set_vm_state(&self, vm_id: &str, state: VmRunState) -> Result<()> {
        let (paused, asleep) = flags(state);
        let sql = "UPDATE vms SET paused = ?2, asleep = ?3 WHERE vm_id = ?1";
        self.conn()
            .execute(sql, params![vm_id, paused, asleep])
            .map(drop)
    }

    /// Replaces a VM's labels.
    pub fn set_vm_labels(&self, vm_id: &str, labels: &BTreeMap<String, String>) -> Result<()> {
        let sql = "UPDATE vms SET labels = ?2 WHERE vm_id = ?1";
        self.conn()
            .execute(sql, params![vm_id, labels_json(labels)])
            .map(drop)
    }

    /// Records a VM's new disk size.
    pub fn set_vm_disk(&self, vm_id: &str, fs_size_mib: u32) -> Result<()> {
        let sql = "UPDATE vms SET fs_size_mib = ?2 WHERE vm_id = ?1";
        self.conn()
            .execute(sql, params![vm_id, fs_size_mib])
            .map(drop)
    }

    /// Marks a VM deleted and wipes its keys, its exec log and its domains.
    pub fn tombstone_vm(&self, vm_id: &str, deleted_at: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE vms SET deleted_at = ?2, ssh_private_key = '', host_key = '' WHERE vm_id = ?1",
            [vm_id, deleted_at],
        )?;
        tx.execute("DELETE FROM exec_log WHERE log_id = ?1", [vm_id])?;
        tx.execute("DELETE FROM exec_runs WHERE vm_id = ?1", [vm_id])?;
        tx.execute("DELETE FROM domains WHERE vm_id = ?1", [vm_id])?;
        tx.commit()
    }

    /// Removes every trace of a VM that never came to life.
    pub fn forget_vm(&self, vm_id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM vms WHERE vm_id = ?1", [vm_id])?;
        tx.execute("DELETE FROM exec_log WHERE log_id = ?1", [vm_id])?;
        tx.commit()
    }

    /// Every VM not deleted, oldest first.
    pub fn live_vms(&self) -> Result<Vec<VmRow>> {
        let conn = self.conn();
        let sql = format!("SELECT {COLUMNS} FROM vms WHERE deleted_at IS NULL ORDER BY seq");
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([], vm_row)?;
        rows.collect()
    }

    /// The organisation of a deleted VM, if `vm_id` names one.
    pub fn deleted_vm_org(&self, vm_id: &str) -> Result<Option<String>> {
        let sql =
            "SELECT COALESCE(org_id, '') FROM vms WHERE vm_id = ?1 AND deleted_at IS NOT NULL";
        self.conn()
            .query_row(sql, [vm_id], |row| row.get(0))
            .optional()
    }
}

fn flags(state: VmRunState) -> (bool, bool) {
    match state {
        VmRunState::Running => (false, false),
        VmRunState::Paused => (true, false),
        VmRunState::Asleep => (true, true),
    }
}

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).unwrap_or_else(|_| "{}".into())
}

fn vm_row(row: &Row<'_>) -> Result<VmRow> {
    let labels: String = row.get(9)?;
    let (paused, asleep): (bool, bool) = (row.get(4)?, row.get(5)?);
    let state = match (paused, asleep) {
        (_, true) => VmRunState::Asleep,
        (true, false) => VmRunState::Paused,
        (false, false) => VmRunState::Running,
    };
    Ok(VmRow {
        record: VmRecord {
            vm_id: row.get(0)?,
            owner_id: row.get(1)?,
            org_id: row.get(2)?,
            created_at: row.get(3)?,
            vcpu_count: row.get(6)?,
            mem_size_mib: row.get(7)?,
            fs_size_mib: row.get(8)?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
            parent_commit_id: row.get(10)?,
            grandparent_vm_id: row.get(11)?,
        },
        state,
        keys: KeyPems {
            client: row.get(12)?,
            host: row.get(13)?,
        },
    })
}
