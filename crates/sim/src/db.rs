//! The simulator's durable state: one SQLite database (`sim.db`) in the data directory.
//!
//! Tables: `settings` (owner id, API key), `vms` and `commits` (lineage, labels, SSH keys).
//! Deleted VMs and commits keep a row with `deleted_at` set (a tombstone, so their ids get a
//! clear "was deleted" error); their keys are wiped.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params};

type Result<T> = rusqlite::Result<T>;

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vms (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    vm_id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    paused INTEGER NOT NULL DEFAULT 0,
    vcpu_count INTEGER,
    mem_size_mib INTEGER,
    fs_size_mib INTEGER,
    labels TEXT NOT NULL DEFAULT '{}',
    parent_commit_id TEXT,
    grandparent_vm_id TEXT,
    ssh_private_key TEXT NOT NULL,
    host_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    commit_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    deleted_at TEXT,
    parent_vm_id TEXT,
    grandparent_commit_id TEXT,
    ssh_private_key TEXT NOT NULL,
    host_key TEXT NOT NULL
);
";

/// What a VM was made with, and where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct VmRecord {
    pub vm_id: String,
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

/// A live VM's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VmRow {
    pub record: VmRecord,
    pub paused: bool,
    pub keys: KeyPems,
}

/// A commit: a disk snapshot with lineage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommitRecord {
    pub commit_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub parent_vm_id: Option<String>,
    pub grandparent_commit_id: Option<String>,
}

/// A live commit's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommitRow {
    pub record: CommitRecord,
    pub keys: KeyPems,
}

/// Whether an id names a live row, a tombstone, or nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found<T> {
    Live(T),
    Deleted,
    Missing,
}

/// The database, behind a mutex held only for single statements.
pub(crate) struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Db> {
        Db::init(Connection::open(path)?)
    }

    /// A database in memory (tests).
    #[cfg(test)]
    pub fn in_memory() -> Result<Db> {
        Db::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Db> {
        conn.execute_batch(SCHEMA)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each call is one statement).
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A setting's value.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        let sql = "SELECT value FROM settings WHERE key = ?1";
        self.conn()
            .query_row(sql, [key], |row| row.get(0))
            .optional()
    }

    /// Stores a setting.
    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        let sql = "INSERT INTO settings (key, value) VALUES (?1, ?2)
                   ON CONFLICT(key) DO UPDATE SET value = excluded.value";
        self.conn().execute(sql, [key, value]).map(drop)
    }

    /// Records a new VM.
    pub fn insert_vm(&self, row: &VmRow) -> Result<()> {
        let r = &row.record;
        let labels = serde_json::to_string(&r.labels).unwrap_or_else(|_| "{}".into());
        self.conn()
            .execute(
                "INSERT INTO vms (vm_id, created_at, paused, vcpu_count, mem_size_mib, fs_size_mib,
                     labels, parent_commit_id, grandparent_vm_id, ssh_private_key, host_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    r.vm_id,
                    r.created_at,
                    row.paused,
                    r.vcpu_count,
                    r.mem_size_mib,
                    r.fs_size_mib,
                    labels,
                    r.parent_commit_id,
                    r.grandparent_vm_id,
                    row.keys.client,
                    row.keys.host
                ],
            )
            .map(drop)
    }

    /// Records whether a VM is paused (so a restart brings it back the same way).
    pub fn set_vm_paused(&self, vm_id: &str, paused: bool) -> Result<()> {
        let sql = "UPDATE vms SET paused = ?2 WHERE vm_id = ?1";
        self.conn().execute(sql, params![vm_id, paused]).map(drop)
    }

    /// Marks a VM deleted and wipes its keys.
    pub fn tombstone_vm(&self, vm_id: &str, deleted_at: &str) -> Result<()> {
        let sql =
            "UPDATE vms SET deleted_at = ?2, ssh_private_key = '', host_key = '' WHERE vm_id = ?1";
        self.conn().execute(sql, [vm_id, deleted_at]).map(drop)
    }

    /// Removes every trace of a VM that never came to life.
    pub fn forget_vm(&self, vm_id: &str) -> Result<()> {
        self.conn()
            .execute("DELETE FROM vms WHERE vm_id = ?1", [vm_id])
            .map(drop)
    }

    /// Every VM not deleted, oldest first.
    pub fn live_vms(&self) -> Result<Vec<VmRow>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT vm_id, created_at, paused, vcpu_count, mem_size_mib, fs_size_mib, labels,
                    parent_commit_id, grandparent_vm_id, ssh_private_key, host_key
             FROM vms WHERE deleted_at IS NULL ORDER BY seq",
        )?;
        let rows = statement.query_map([], vm_row)?;
        rows.collect()
    }

    /// Whether `vm_id` names a deleted VM.
    pub fn vm_deleted(&self, vm_id: &str) -> Result<bool> {
        let sql = "SELECT deleted_at IS NOT NULL FROM vms WHERE vm_id = ?1";
        let deleted = self
            .conn()
            .query_row(sql, [vm_id], |row| row.get(0))
            .optional()?;
        Ok(deleted.unwrap_or(false))
    }

    /// Records a new commit.
    pub fn insert_commit(&self, row: &CommitRow) -> Result<()> {
        let r = &row.record;
        self.conn()
            .execute(
                "INSERT INTO commits (commit_id, name, description, created_at, parent_vm_id,
                     grandparent_commit_id, ssh_private_key, host_key)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.commit_id,
                    r.name,
                    r.description,
                    r.created_at,
                    r.parent_vm_id,
                    r.grandparent_commit_id,
                    row.keys.client,
                    row.keys.host
                ],
            )
            .map(drop)
    }

    /// A commit by id.
    pub fn find_commit(&self, commit_id: &str) -> Result<Found<CommitRow>> {
        let sql = "SELECT commit_id, name, description, created_at, parent_vm_id,
                          grandparent_commit_id, ssh_private_key, host_key, deleted_at IS NOT NULL
                   FROM commits WHERE commit_id = ?1";
        let found = self
            .conn()
            .query_row(sql, [commit_id], commit_row_or_tombstone)
            .optional()?;
        Ok(match found {
            Some(Some(row)) => Found::Live(row),
            Some(None) => Found::Deleted,
            None => Found::Missing,
        })
    }

    /// One page of live commits, newest first, and how many there are in all.
    pub fn list_commits(&self, limit: u64, offset: u64) -> Result<(Vec<CommitRecord>, u64)> {
        let conn = self.conn();
        let total = conn.query_row(
            "SELECT COUNT(*) FROM commits WHERE deleted_at IS NULL",
            [],
            |row| row.get::<_, i64>(0),
        )?;
        let mut statement = conn.prepare(
            "SELECT commit_id, name, description, created_at, parent_vm_id, grandparent_commit_id
             FROM commits WHERE deleted_at IS NULL ORDER BY seq DESC LIMIT ?1 OFFSET ?2",
        )?;
        let page = statement.query_map([clamp(limit), clamp(offset)], commit_record)?;
        Ok((
            page.collect::<Result<_>>()?,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// Marks a commit deleted and wipes its keys.
    pub fn tombstone_commit(&self, commit_id: &str, deleted_at: &str) -> Result<()> {
        let sql = "UPDATE commits SET deleted_at = ?2, ssh_private_key = '', host_key = ''
                   WHERE commit_id = ?1";
        self.conn().execute(sql, [commit_id, deleted_at]).map(drop)
    }
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn vm_row(row: &Row<'_>) -> Result<VmRow> {
    let labels: String = row.get(6)?;
    Ok(VmRow {
        record: VmRecord {
            vm_id: row.get(0)?,
            created_at: row.get(1)?,
            vcpu_count: row.get(3)?,
            mem_size_mib: row.get(4)?,
            fs_size_mib: row.get(5)?,
            labels: serde_json::from_str(&labels).unwrap_or_default(),
            parent_commit_id: row.get(7)?,
            grandparent_vm_id: row.get(8)?,
        },
        paused: row.get(2)?,
        keys: KeyPems {
            client: row.get(9)?,
            host: row.get(10)?,
        },
    })
}

fn commit_record(row: &Row<'_>) -> Result<CommitRecord> {
    Ok(CommitRecord {
        commit_id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        created_at: row.get(3)?,
        parent_vm_id: row.get(4)?,
        grandparent_commit_id: row.get(5)?,
    })
}

fn commit_row_or_tombstone(row: &Row<'_>) -> Result<Option<CommitRow>> {
    if row.get::<_, bool>(8)? {
        return Ok(None);
    }
    let keys = KeyPems {
        client: row.get(6)?,
        host: row.get(7)?,
    };
    Ok(Some(CommitRow {
        record: commit_record(row)?,
        keys,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn vm(id: &str) -> VmRow {
        let mut labels = BTreeMap::new();
        labels.insert("team".to_owned(), "blue".to_owned());
        VmRow {
            record: VmRecord {
                vm_id: id.into(),
                created_at: "2026-01-01T00:00:00.000Z".into(),
                mem_size_mib: Some(512),
                labels,
                parent_commit_id: Some("c0".into()),
                ..VmRecord::default()
            },
            paused: false,
            keys: KeyPems {
                client: "client-pem".into(),
                host: "host-pem".into(),
            },
        }
    }

    fn commit(id: &str) -> CommitRow {
        CommitRow {
            record: CommitRecord {
                commit_id: id.into(),
                name: format!("n-{id}"),
                ..CommitRecord::default()
            },
            keys: KeyPems {
                client: "c".into(),
                host: "h".into(),
            },
        }
    }

    #[test]
    fn vms_round_trip_and_tombstones_hide_them() {
        let db = Db::in_memory().unwrap();
        db.insert_vm(&vm("a")).unwrap();
        db.insert_vm(&vm("b")).unwrap();
        db.set_vm_paused("b", true).unwrap();
        db.tombstone_vm("a", "later").unwrap();
        let mut expected = vm("b");
        expected.paused = true;
        assert_eq!(db.live_vms().unwrap(), vec![expected]);
        assert!(db.vm_deleted("a").unwrap());
        assert!(!db.vm_deleted("b").unwrap());
        assert!(!db.vm_deleted("nope").unwrap());
        db.forget_vm("b").unwrap();
        assert_eq!(db.live_vms().unwrap(), vec![]);
    }

    #[test]
    fn commits_page_newest_first_and_tombstones_are_found_as_deleted() {
        let db = Db::in_memory().unwrap();
        for id in ["c1", "c2", "c3"] {
            db.insert_commit(&commit(id)).unwrap();
        }
        db.tombstone_commit("c2", "later").unwrap();
        let (page, total) = db.list_commits(1, 0).unwrap();
        assert_eq!((page, total), (vec![commit("c3").record], 2));
        let (page, _) = db.list_commits(10, 1).unwrap();
        assert_eq!(page, vec![commit("c1").record]);
        assert_eq!(db.find_commit("c1").unwrap(), Found::Live(commit("c1")));
        assert_eq!(db.find_commit("c2").unwrap(), Found::Deleted);
        assert_eq!(db.find_commit("zz").unwrap(), Found::Missing);
        assert!(
            db.insert_commit(&commit("c1")).is_err(),
            "commit ids are unique"
        );
    }

    #[test]
    fn settings_overwrite() {
        let db = Db::in_memory().unwrap();
        assert_eq!(db.setting("k").unwrap(), None);
        db.set_setting("k", "1").unwrap();
        db.set_setting("k", "2").unwrap();
        assert_eq!(db.setting("k").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn state_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sim.db");
        Db::open(&path).unwrap().insert_vm(&vm("a")).unwrap();
        assert_eq!(Db::open(&path).unwrap().live_vms().unwrap(), vec![vm("a")]);
    }
}
