//! Legacy tags (`/commit_tags`): account-wide names pointing at commits, moved at will.

use tether_wire::{CreateTagRequest, CreateTagResponse, TagInfo, TagList, UpdateTagRequest};

use super::{Catalog, Use, names, new_id};
use crate::db::{Account, CommitRow, Found, TagMove, TagRow, TagTable, is_conflict};
use crate::error::{ApiError, RefError};
use crate::registry::now;

impl Catalog {
    /// `POST /commit_tags`: a new tag on one of the account's commits.
    pub fn create_tag(
        &self,
        caller: &Account,
        request: CreateTagRequest,
    ) -> Result<CreateTagResponse, ApiError> {
        names::tag(&request.tag_name)?;
        self.commit(caller, &request.commit_id, Use::Write)?;
        let at = now();
        let row = TagRow {
            tag_id: new_id(),
            scope_id: caller.org_id.clone(),
            owner_id: caller.key_id.clone(),
            tag_name: request.tag_name,
            commit_id: request.commit_id,
            description: request.description,
            created_at: at.clone(),
            updated_at: at,
        };
        self.insert_tag(TagTable::Legacy, &row, legacy_path(&row.tag_name))?;
        Ok(CreateTagResponse {
            tag_id: row.tag_id,
            tag_name: row.tag_name,
            commit_id: row.commit_id,
        })
    }

    /// Inserts a tag, or says where the tag of that name points.
    pub(super) fn insert_tag(
        &self,
        table: TagTable,
        row: &TagRow,
        path: String,
    ) -> Result<(), ApiError> {
        let taken = |commit_id: String| RefError::TagExists {
            tag: row.tag_name.clone(),
            commit_id,
            path: path.clone(),
        };
        if let Some(existing) = self.db.find_tag(table, &row.scope_id, &row.tag_name)? {
            return Err(taken(existing.commit_id).into());
        }
        match self.db.insert_tag(table, row) {
            Err(err) if is_conflict(&err) => Err(taken("(just tagged)".into()).into()),
            other => Ok(other?),
        }
    }

    /// `GET /commit_tags`.
    pub fn list_tags(&self, caller: &Account) -> Result<TagList, ApiError> {
        let rows = self.db.list_tags(TagTable::Legacy, &caller.org_id)?;
        Ok(TagList {
            tags: rows.into_iter().map(tag_info).collect(),
        })
    }

    /// `GET /commit_tags/{name}`.
    pub fn get_tag(&self, caller: &Account, name: &str) -> Result<TagInfo, ApiError> {
        Ok(tag_info(self.legacy_tag(caller, name)?))
    }

    /// `PATCH /commit_tags/{name}`: move the tag and/or change its description.
    pub fn update_tag(
        &self,
        caller: &Account,
        name: &str,
        request: UpdateTagRequest,
    ) -> Result<(), ApiError> {
        if request.is_empty() {
            return Err(RefError::NothingToUpdate.into());
        }
        let tag = self.legacy_tag(caller, name)?;
        self.move_tag(caller, TagTable::Legacy, &tag, request)
    }

    /// Moves `tag` as `request` says, checking the new commit is the caller's and alive.
    pub(super) fn move_tag(
        &self,
        caller: &Account,
        table: TagTable,
        tag: &TagRow,
        request: UpdateTagRequest,
    ) -> Result<(), ApiError> {
        if let Some(commit_id) = &request.commit_id {
            self.commit(caller, commit_id, Use::Write)?;
        }
        let change = TagMove {
            commit_id: request.commit_id,
            description: request.description,
            updated_at: now(),
        };
        Ok(self.db.update_tag(table, &tag.tag_id, &change)?)
    }

    /// `DELETE /commit_tags/{name}` (the commit stays).
    pub fn delete_tag(&self, caller: &Account, name: &str) -> Result<(), ApiError> {
        let tag = self.legacy_tag(caller, name)?;
        Ok(self.db.delete_tag(TagTable::Legacy, &tag.tag_id)?)
    }

    /// The commit a legacy tag points at now (restore and branch by tag).
    pub fn resolve_tag(&self, caller: &Account, name: &str) -> Result<CommitRow, ApiError> {
        let tag = self.legacy_tag(caller, name)?;
        self.tagged_commit(caller, name, &tag, legacy_path(name))
    }

    /// The live commit `tag` points at, or why there is none.
    pub(super) fn tagged_commit(
        &self,
        caller: &Account,
        shown: &str,
        tag: &TagRow,
        path: String,
    ) -> Result<CommitRow, ApiError> {
        match self.db.find_commit(&tag.commit_id)? {
            Found::Live(_) => self.commit(caller, &tag.commit_id, Use::Read),
            Found::Deleted | Found::Missing => Err(RefError::TagOnDeletedCommit {
                tag: shown.to_owned(),
                commit_id: tag.commit_id.clone(),
                path,
            }
            .into()),
        }
    }

    fn legacy_tag(&self, caller: &Account, name: &str) -> Result<TagRow, ApiError> {
        self.db
            .find_tag(TagTable::Legacy, &caller.org_id, name)?
            .ok_or_else(|| {
                RefError::UnknownTag {
                    tag: name.to_owned(),
                }
                .into()
            })
    }
}

fn legacy_path(name: &str) -> String {
    format!("/api/v1/commit_tags/{name}")
}

fn tag_info(row: TagRow) -> TagInfo {
    TagInfo {
        tag_id: row.tag_id,
        tag_name: row.tag_name,
        commit_id: row.commit_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
        description: row.description,
    }
}
