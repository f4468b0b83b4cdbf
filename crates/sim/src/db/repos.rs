//! Repository rows: named groups of tags, private to an organisation or public.

use rusqlite::{OptionalExtension, Row, params};

use super::{Db, Result};

/// A repository, with the name of the organisation that owns it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RepoRow {
    pub repo_id: String,
    pub org_id: String,
    pub org_name: String,
    pub owner_id: String,
    pub name: String,
    pub description: Option<String>,
    pub is_public: bool,
    pub created_at: String,
}

const SELECT: &str = "SELECT r.repo_id, r.org_id, o.name, r.owner_id, r.name, r.description,
    r.is_public, r.created_at FROM repositories r JOIN orgs o ON o.org_id = r.org_id";

impl Db {
    /// Adds a repository; a name taken in the organisation is a UNIQUE violation.
    pub fn insert_repo(&self, repo: &RepoRow) -> Result<()> {
        let sql = "INSERT INTO repositories (repo_id, org_id, owner_id, name, description,
                   is_public, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
        let args = params![
            repo.repo_id,
            repo.org_id,
            repo.owner_id,
            repo.name,
            repo.description,
            repo.is_public,
            repo.created_at
        ];
        self.conn().execute(sql, args).map(drop)
    }

    /// An organisation's repository by name.
    pub fn find_repo(&self, org_id: &str, name: &str) -> Result<Option<RepoRow>> {
        let sql = format!("{SELECT} WHERE r.org_id = ?1 AND r.name = ?2");
        self.conn()
            .query_row(&sql, [org_id, name], repo_row)
            .optional()
    }

    /// A public repository by its organisation's name and its own.
    pub fn find_public_repo(&self, org_name: &str, name: &str) -> Result<Option<RepoRow>> {
        let sql = format!("{SELECT} WHERE o.name = ?1 AND r.name = ?2 AND r.is_public");
        self.conn()
            .query_row(&sql, [org_name, name], repo_row)
            .optional()
    }

    /// An organisation's repositories (with `None`: every public one), by name.
    pub fn list_repos(&self, org_id: Option<&str>) -> Result<Vec<RepoRow>> {
        let filter = match org_id {
            Some(_) => "r.org_id = ?1",
            None => "r.is_public AND ?1 IS NULL",
        };
        let sql = format!("{SELECT} WHERE {filter} ORDER BY o.name, r.name");
        let conn = self.conn();
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([org_id], repo_row)?;
        rows.collect()
    }

    /// Makes a repository public or private.
    pub fn set_repo_visibility(&self, repo_id: &str, is_public: bool) -> Result<()> {
        let sql = "UPDATE repositories SET is_public = ?2 WHERE repo_id = ?1";
        self.conn()
            .execute(sql, params![repo_id, is_public])
            .map(drop)
    }

    /// Deletes a repository and its tags.
    pub fn delete_repo(&self, repo_id: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM repo_tags WHERE repo_id = ?1", [repo_id])?;
        tx.execute("DELETE FROM repositories WHERE repo_id = ?1", [repo_id])?;
        tx.commit()
    }
}

fn repo_row(row: &Row<'_>) -> Result<RepoRow> {
    Ok(RepoRow {
        repo_id: row.get(0)?,
        org_id: row.get(1)?,
        org_name: row.get(2)?,
        owner_id: row.get(3)?,
        name: row.get(4)?,
        description: row.get(5)?,
        is_public: row.get(6)?,
        created_at: row.get(7)?,
    })
}
