//! Tag rows: legacy account-wide tags (`commit_tags`) and repository tags (`repo_tags`), both
//! a name pointing at a commit that can be moved.

use rusqlite::{OptionalExtension, Row, params};

use super::{Db, Result};

/// A tag (either kind).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TagRow {
    pub tag_id: String,
    /// The organisation (legacy tags) or repository (repository tags) it lives in.
    pub scope_id: String,
    pub owner_id: String,
    pub tag_name: String,
    pub commit_id: String,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a tag update changes: `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TagMove {
    pub commit_id: Option<String>,
    pub description: Option<Option<String>>,
    pub updated_at: String,
}

/// Which of the two tag tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TagTable {
    /// `commit_tags`, scoped by organisation.
    Legacy,
    /// `repo_tags`, scoped by repository.
    Repo,
}

impl TagTable {
    fn name(self) -> &'static str {
        match self {
            TagTable::Legacy => "commit_tags",
            TagTable::Repo => "repo_tags",
        }
    }

    fn scope(self) -> &'static str {
        match self {
            TagTable::Legacy => "org_id",
            TagTable::Repo => "repo_id",
        }
    }

    fn select(self) -> String {
        format!(
            "SELECT tag_id, {}, owner_id, tag_name, commit_id, description, created_at, updated_at
             FROM {}",
            self.scope(),
            self.name()
        )
    }
}

impl Db {
    /// Adds a tag; a name taken in its scope is a UNIQUE violation ([`super::is_conflict`]).
    pub fn insert_tag(&self, table: TagTable, tag: &TagRow) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (tag_id, {}, owner_id, tag_name, commit_id, description, created_at,
             updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            table.name(),
            table.scope()
        );
        let args = params![
            tag.tag_id,
            tag.scope_id,
            tag.owner_id,
            tag.tag_name,
            tag.commit_id,
            tag.description,
            tag.created_at,
            tag.updated_at
        ];
        self.conn().execute(&sql, args).map(drop)
    }

    /// A tag by scope and name.
    pub fn find_tag(&self, table: TagTable, scope_id: &str, name: &str) -> Result<Option<TagRow>> {
        let sql = format!(
            "{} WHERE {} = ?1 AND tag_name = ?2",
            table.select(),
            table.scope()
        );
        self.conn()
            .query_row(&sql, [scope_id, name], tag_row)
            .optional()
    }

    /// Every tag of a scope, by name.
    pub fn list_tags(&self, table: TagTable, scope_id: &str) -> Result<Vec<TagRow>> {
        let sql = format!(
            "{} WHERE {} = ?1 ORDER BY tag_name",
            table.select(),
            table.scope()
        );
        let conn = self.conn();
        let mut statement = conn.prepare(&sql)?;
        let rows = statement.query_map([scope_id], tag_row)?;
        rows.collect()
    }

    /// Moves a tag and/or changes its description.
    pub fn update_tag(&self, table: TagTable, tag_id: &str, change: &TagMove) -> Result<()> {
        let (set_description, description) = match &change.description {
            None => (false, None),
            Some(description) => (true, description.clone()),
        };
        let sql = format!(
            "UPDATE {} SET commit_id = COALESCE(?2, commit_id),
             description = CASE WHEN ?3 THEN ?4 ELSE description END, updated_at = ?5
             WHERE tag_id = ?1",
            table.name()
        );
        let args = params![
            tag_id,
            change.commit_id,
            set_description,
            description,
            change.updated_at
        ];
        self.conn().execute(&sql, args).map(drop)
    }

    /// Deletes a tag.
    pub fn delete_tag(&self, table: TagTable, tag_id: &str) -> Result<()> {
        let sql = format!("DELETE FROM {} WHERE tag_id = ?1", table.name());
        self.conn().execute(&sql, [tag_id]).map(drop)
    }
}

fn tag_row(row: &Row<'_>) -> Result<TagRow> {
    Ok(TagRow {
        tag_id: row.get(0)?,
        scope_id: row.get(1)?,
        owner_id: row.get(2)?,
        tag_name: row.get(3)?,
        commit_id: row.get(4)?,
        description: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
    })
}
