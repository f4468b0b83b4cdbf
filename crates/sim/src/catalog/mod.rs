//! The catalog: what an account names and shares, over the database — commits (who may read
//! or change them, their lineage), tags, repositories (private or public), environment
//! variables and domains. No VM is touched here; the registry uses the catalog to resolve a
//! tag or `repo:tag` to the commit it points at *now*.
//!
//! Access follows Vers: everything belongs to an organisation; a key sees its organisation's
//! things; another organisation's commit is readable (restore, branch) only if public, and
//! never writable; another organisation's repository exists for a caller only if public.

mod domains;
mod env;
mod names;
mod repos;
mod tags;

use std::sync::Arc;

use tether_wire::{CommitEntity, CommitInfo};

use crate::db::{Account, CommitRecord, CommitRow, Db, Found};
use crate::error::ApiError;

pub(crate) use env::{environment_file, parse_environment};

/// The catalog over the simulator's database.
#[derive(Clone)]
pub(crate) struct Catalog {
    db: Arc<Db>,
}

/// How a caller may use a commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// Restore or branch it: own, or public.
    Read,
    /// Tag, publish, rename or delete it: own only.
    Write,
}

impl Catalog {
    /// A catalog over `db`.
    pub fn new(db: Arc<Db>) -> Catalog {
        Catalog { db }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// A live commit the caller may use as `how` says.
    pub fn commit(
        &self,
        caller: &Account,
        commit_id: &str,
        how: Use,
    ) -> Result<CommitRow, ApiError> {
        let commit_id = commit_id.to_owned();
        let row = match self.db.find_commit(&commit_id)? {
            Found::Live(row) => row,
            Found::Deleted => return Err(ApiError::DeletedCommit { commit_id }),
            Found::Missing => return Err(ApiError::UnknownCommit { commit_id }),
        };
        let own = row.record.org_id == caller.org_id;
        if own || (how == Use::Read && row.record.is_public) {
            return Ok(row);
        }
        Err(ApiError::ForeignCommit {
            commit_id,
            public: row.record.is_public,
        })
    }

    /// `GET /vm/commits/{id}/parents`: the commit, then the commit its VM was started from,
    /// and so on to the root; every one must be readable by the caller.
    pub fn parents(
        &self,
        caller: &Account,
        commit_id: &str,
    ) -> Result<Vec<CommitEntity>, ApiError> {
        let mut chain = vec![self.commit(caller, commit_id, Use::Read)?.record];
        while let Some(next) = chain.last().and_then(|c| c.grandparent_commit_id.clone()) {
            if chain.iter().any(|c| c.commit_id == next) {
                break;
            }
            match self.commit(caller, &next, Use::Read) {
                Ok(row) => chain.push(row.record),
                // The lineage ends where a commit was deleted.
                Err(ApiError::DeletedCommit { .. } | ApiError::UnknownCommit { .. }) => break,
                Err(err) => return Err(err),
            }
        }
        Ok(chain.into_iter().map(entity).collect())
    }
}

/// A commit as `GET /commits` shows it.
pub(crate) fn commit_info(record: CommitRecord) -> CommitInfo {
    CommitInfo {
        commit_id: record.commit_id,
        name: record.name,
        owner_id: record.owner_id,
        is_public: record.is_public,
        created_at: record.created_at,
        description: record.description,
        parent_vm_id: record.parent_vm_id,
        grandparent_commit_id: record.grandparent_commit_id,
    }
}

fn entity(record: CommitRecord) -> CommitEntity {
    CommitEntity {
        id: record.commit_id,
        owner_id: record.owner_id,
        name: record.name,
        created_at: record.created_at,
        is_public: record.is_public,
        description: record.description,
        parent_vm_id: record.parent_vm_id,
        grandparent_commit_id: record.grandparent_commit_id,
    }
}

/// A fresh id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
