//! The schema and its migrations, versioned with SQLite's `user_version`.
//!
//! Version 1 is what the first simulator wrote (it never set `user_version`, so it reads 0):
//! `settings`, `vms`, `commits`. Version 2 adds accounts (`orgs`, `api_keys`), owners and
//! visibility on VMs and commits, tags, repositories, environment variables, the exec log and
//! domains. Existing rows get their owner when the first account is ensured
//! ([`super::Db::ensure_identity`]). A database from a newer simulator is refused.

use rusqlite::{Connection, TransactionBehavior};

type Result<T> = rusqlite::Result<T>;

/// The schema version this code writes.
pub(super) const VERSION: i64 = 2;

/// Version 1, exactly as the first simulator made it.
const V1: &str = "
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

/// Version 2: accounts, owners, visibility, tags, repositories, env vars, exec log, domains.
const V2: &str = "
ALTER TABLE vms ADD COLUMN owner_id TEXT;
ALTER TABLE vms ADD COLUMN org_id TEXT;
ALTER TABLE vms ADD COLUMN asleep INTEGER NOT NULL DEFAULT 0;
ALTER TABLE commits ADD COLUMN owner_id TEXT;
ALTER TABLE commits ADD COLUMN org_id TEXT;
ALTER TABLE commits ADD COLUMN is_public INTEGER NOT NULL DEFAULT 0;
ALTER TABLE commits ADD COLUMN vcpu_count INTEGER;
ALTER TABLE commits ADD COLUMN mem_size_mib INTEGER;
ALTER TABLE commits ADD COLUMN fs_size_mib INTEGER;
CREATE TABLE orgs (
    org_id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE commit_tags (
    tag_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    tag_name TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, tag_name)
);
CREATE TABLE repositories (
    repo_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    is_public INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE TABLE repo_tags (
    tag_id TEXT PRIMARY KEY,
    repo_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    tag_name TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (repo_id, tag_name)
);
CREATE TABLE env_vars (
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (org_id, name)
);
CREATE TABLE exec_log (
    log_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    len INTEGER NOT NULL,
    exec_id TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    timestamp TEXT NOT NULL,
    stream TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (log_id, start)
);
CREATE INDEX exec_log_runs ON exec_log (log_id, exec_id, cursor);
CREATE TABLE exec_runs (
    vm_id TEXT NOT NULL,
    exec_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    exit_cursor INTEGER,
    exit_code INTEGER,
    error TEXT,
    PRIMARY KEY (vm_id, exec_id)
);
CREATE TABLE domains (
    domain_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    vm_id TEXT NOT NULL,
    domain TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
";

/// Brings the schema to [`VERSION`], one transaction per step.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let mut version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > VERSION {
        return Err(newer(version));
    }
    while version < VERSION {
        let step = match version {
            0 => V1,
            _ => V2,
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the write lock.
        let now: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if now == version {
            tx.execute_batch(step)?;
            tx.pragma_update(None, "user_version", version + 1)?;
        }
        tx.commit()?;
        version = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    }
    Ok(())
}

fn newer(version: i64) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
        Some(format!(
            "schema version {version} was written by a newer tether (this one knows {VERSION}); \
             run that tether, or start this one on another data directory"
        )),
    )
}

/// The first simulator's schema, for tests that open a database it wrote.
#[cfg(test)]
pub(super) fn create_v1(conn: &Connection) -> Result<()> {
    conn.execute_batch(V1)
}
