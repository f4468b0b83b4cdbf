//! Commit rows: disk snapshots with lineage, owner and visibility.

use rusqlite::{OptionalExtension, Row, params};

use super::{Db, Found, KeyPems, Result, clamp};

/// A commit: a disk snapshot with lineage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommitRecord {
    pub commit_id: String,
    /// The key that made it.
    pub owner_id: String,
    /// The organisation it belongs to.
    pub org_id: String,
    pub name: String,
    pub description: Option<String>,
    pub created_at: String,
    pub is_public: bool,
    pub parent_vm_id: Option<String>,
    pub grandparent_commit_id: Option<String>,
    /// The resources of the VM it was taken of (restored VMs get them).
    pub vcpu_count: Option<u32>,
    pub mem_size_mib: Option<u32>,
    pub fs_size_mib: Option<u32>,
}

/// A live commit's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CommitRow {
    pub record: CommitRecord,
    pub keys: KeyPems,
}

/// What `PATCH /commits/{id}` changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommitUpdate {
    pub is_public: bool,
    pub name: Option<String>,
    pub description: Option<String>,
}

const COLUMNS: &str = "commit_id, owner_id, org_id, name, description, created_at, is_public,
    parent_vm_id, grandparent_commit_id, vcpu_count, mem_size_mib, fs_size_mib";

impl Db {
    /// Records a new commit.
    pub fn insert_commit(&self, row: &CommitRow) -> Result<()> {
        let r = &row.record;
        let sql = format!(
            "INSERT INTO commits ({COLUMNS}, ssh_private_key, host_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        );
        self.conn()
            .execute(
                &sql,
                params![
                    r.commit_id,
                    r.owner_id,
                    r.org_id,
                    r.name,
                    r.description,
                    r.created_at,
                    r.is_public,
                    r.parent_vm_id,
                    r.grandparent_commit_id,
                    r.vcpu_count,
                    r.mem_size_mib,
                    r.fs_size_mib,
                    row.keys.client,
                    row.keys.host
                ],
            )
            .map(drop)
    }

    /// A commit by id.
    pub fn find_commit(&self, commit_id: &str) -> Result<Found<CommitRow>> {
        let sql = format!(
            "SELECT {COLUMNS}, ssh_private_key, host_key, deleted_at IS NOT NULL
             FROM commits WHERE commit_id = ?1"
        );
        let found = self
            .conn()
            .query_row(&sql, [commit_id], commit_row_or_tombstone)
            .optional()?;
        Ok(match found {
            Some(Some(row)) => Found::Live(row),
            Some(None) => Found::Deleted,
            None => Found::Missing,
        })
    }

    /// One page of an organisation's live commits (or, with `None`, of every public commit),
    /// newest first, and how many there are in all.
    pub fn list_commits(
        &self,
        org_id: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<CommitRecord>, u64)> {
        let filter = match org_id {
            Some(_) => "deleted_at IS NULL AND org_id = ?1",
            None => "deleted_at IS NULL AND is_public AND ?1 IS NULL",
        };
        let conn = self.conn();
        let total: i64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM commits WHERE {filter}"),
            [org_id],
            |row| row.get(0),
        )?;
        let sql = format!(
            "SELECT {COLUMNS} FROM commits WHERE {filter} ORDER BY seq DESC LIMIT ?2 OFFSET ?3"
        );
        let mut statement = conn.prepare(&sql)?;
        let page = statement.query_map(params![org_id, clamp(limit), clamp(offset)], |row| {
            commit_record(row)
        })?;
        Ok((
            page.collect::<Result<_>>()?,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// Publishes or hides a commit, renaming it if asked.
    pub fn update_commit(&self, commit_id: &str, update: &CommitUpdate) -> Result<()> {
        let sql = "UPDATE commits SET is_public = ?2, name = COALESCE(?3, name),
                   description = COALESCE(?4, description) WHERE commit_id = ?1";
        let args = params![commit_id, update.is_public, update.name, update.description];
        self.conn().execute(sql, args).map(drop)
    }

    /// Marks a commit deleted and wipes its keys and exec log.
    pub fn tombstone_commit(&self, commit_id: &str, deleted_at: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE commits SET deleted_at = ?2, ssh_private_key = '', host_key = ''
             WHERE commit_id = ?1",
            [commit_id, deleted_at],
        )?;
        tx.execute("DELETE FROM exec_log WHERE log_id = ?1", [commit_id])?;
        tx.commit()
    }

    /// Removes every trace of a commit that was never handed out.
    pub fn forget_commit(&self, commit_id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM commits WHERE commit_id = ?1", [commit_id])?;
        tx.execute("DELETE FROM exec_log WHERE log_id = ?1", [commit_id])?;
        tx.commit()
    }
}

pub(super) fn commit_record(row: &Row<'_>) -> Result<CommitRecord> {
    Ok(CommitRecord {
        commit_id: row.get(0)?,
        owner_id: row.get(1)?,
        org_id: row.get(2)?,
        name: row.get(3)?,
        description: row.get(4)?,
        created_at: row.get(5)?,
        is_public: row.get(6)?,
        parent_vm_id: row.get(7)?,
        grandparent_commit_id: row.get(8)?,
        vcpu_count: row.get(9)?,
        mem_size_mib: row.get(10)?,
        fs_size_mib: row.get(11)?,
    })
}

fn commit_row_or_tombstone(row: &Row<'_>) -> Result<Option<CommitRow>> {
    if row.get::<_, bool>(14)? {
        return Ok(None);
    }
    let keys = KeyPems {
        client: row.get(12)?,
        host: row.get(13)?,
    };
    Ok(Some(CommitRow {
        record: commit_record(row)?,
        keys,
    }))
}
