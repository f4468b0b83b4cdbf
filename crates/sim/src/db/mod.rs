//! The simulator's durable state: one SQLite database (`sim.db`) in the data directory.
//!
//! Tables (see [`schema`]): `settings` (the first account's ids and key), `orgs` and
//! `api_keys` (accounts; keys stored as SHA-256 only), `vms` and `commits` (owner, lineage,
//! labels, SSH keys), `commit_tags`, `repositories` and `repo_tags`, `env_vars`, `exec_log` and
//! `exec_runs` (every API exec's output), `domains`. Deleted VMs and commits keep a row with
//! `deleted_at` set (a tombstone, so their ids get a clear "was deleted" error); their keys are
//! wiped. The file is private (0600): it holds the first account's key in clear, so the
//! simulator can print it again on every start.
//!
//! Other processes may open the same file while a simulator runs (`tether sim key add`):
//! WAL mode and a busy timeout let them write between the simulator's statements.

mod accounts;
mod commits;
mod domains;
mod env;
mod exec_log;
mod repos;
mod schema;
mod tags;
mod vms;

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

pub(crate) use accounts::{Account, Identity, NewKey};
pub(crate) use commits::{CommitRecord, CommitRow, CommitUpdate};
pub(crate) use domains::DomainRow;
pub(crate) use exec_log::{LogChunk, RunEnd};
pub(crate) use repos::RepoRow;
pub(crate) use tags::{TagMove, TagRow, TagTable};
pub(crate) use vms::{KeyPems, VmRecord, VmRow, VmRunState};

type Result<T> = rusqlite::Result<T>;

/// How long a statement waits for another process's write to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether an id names a live row, a tombstone, or nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found<T> {
    Live(T),
    Deleted,
    Missing,
}

/// The database, behind a mutex held only for single statements or short transactions.
pub(crate) struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (creating if needed) the database at `path`, private to this user, and brings
    /// its schema up to date.
    pub fn open(path: &Path) -> Result<Db> {
        make_private(path).map_err(|e| io_error(path, e))?;
        Db::init(Connection::open(path)?)
    }

    /// A database in memory (tests).
    #[cfg(test)]
    pub fn in_memory() -> Result<Db> {
        Db::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Db> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        schema::migrate(&mut conn)?;
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (statements are atomic and
        // transactions roll back when dropped).
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn setting(conn: &Connection, key: &str) -> Result<Option<String>> {
    let sql = "SELECT value FROM settings WHERE key = ?1";
    conn.query_row(sql, [key], |row| row.get(0)).optional()
}

fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    let sql = "INSERT INTO settings (key, value) VALUES (?1, ?2)
               ON CONFLICT(key) DO UPDATE SET value = excluded.value";
    conn.execute(sql, [key, value]).map(drop)
}

/// Creates the file 0600 if it is new, and makes it (and SQLite's side files, which take the
/// database's mode) 0600 if it is not.
fn make_private(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let side = Path::new(&side);
        if side.exists() {
            std::fs::set_permissions(side, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

fn io_error(path: &Path, source: std::io::Error) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
        Some(format!("{}: {source}", path.display())),
    )
}

/// A row count or page size as SQLite's integer.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Whether an insert failed on a UNIQUE constraint (a name or id taken).
pub(crate) fn is_conflict(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

#[cfg(test)]
mod tests;
