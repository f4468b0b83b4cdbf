//! Commits as an account sees them: listings, publishing, deletion, restore by tag or
//! `repo:tag` (resolved to what the tag points at now), and forks of public repositories.

use std::sync::Arc;

use tether_wire::{
    CommitInfo, CommitList, CommitRequest, ForkRequest, ForkResponse, UpdateCommitRequest,
};

use super::{Registry, SnapshotOptions, now};
use crate::catalog::{Use, commit_info};
use crate::db::{Account, CommitUpdate};
use crate::error::{ApiError, RefError};

/// Default and largest page of `GET /commits`.
const COMMIT_PAGE: (u64, u64) = (50, 100);

impl Registry {
    /// `GET /commits` (the caller's) or, with `public`, `GET /commits/public` (everyone's
    /// public ones).
    pub fn list_commits(
        &self,
        caller: &Account,
        public: bool,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<CommitList, ApiError> {
        let limit = limit.unwrap_or(COMMIT_PAGE.0).min(COMMIT_PAGE.1);
        let offset = offset.unwrap_or(0);
        let org = (!public).then_some(caller.org_id.as_str());
        let (page, total) = self.db.list_commits(org, limit, offset)?;
        Ok(CommitList {
            commits: page.into_iter().map(commit_info).collect(),
            total,
            limit,
            offset,
        })
    }

    /// `PATCH /commits/{id}`: publish or hide, rename, describe.
    pub fn update_commit(
        &self,
        caller: &Account,
        commit_id: &str,
        request: UpdateCommitRequest,
    ) -> Result<CommitInfo, ApiError> {
        self.catalog.commit(caller, commit_id, Use::Write)?;
        let update = CommitUpdate {
            is_public: request.is_public,
            name: request.name.filter(|name| !name.trim().is_empty()),
            description: request.description,
        };
        self.db.update_commit(commit_id, &update)?;
        let row = self.catalog.commit(caller, commit_id, Use::Write)?;
        Ok(commit_info(row.record))
    }

    /// `DELETE /commits/{id}`: VMs restored from it keep their own copies; tags pointing at it
    /// stay and say so when used.
    pub async fn delete_commit(
        self: &Arc<Self>,
        caller: &Account,
        commit_id: &str,
    ) -> Result<(), ApiError> {
        self.catalog.commit(caller, commit_id, Use::Write)?;
        let commit_id = commit_id.to_owned();
        let caller = caller.clone();
        self.run_op(move |reg| async move {
            let _store = reg.commit_store.write().await;
            reg.catalog.commit(&caller, &commit_id, Use::Write)?;
            let count = reg
                .map()
                .values()
                .filter(|slot| slot.record.parent_commit_id.as_deref() == Some(commit_id.as_str()))
                .count();
            if count > 0 {
                return Err(ApiError::CommitInUse { commit_id, count });
            }
            reg.db.tombstone_commit(&commit_id, &now())?;
            reg.remove_commit_disk(&commit_id).await;
            Ok(())
        })
        .await
    }

    /// Restores (or branches) what a legacy tag points at now.
    pub async fn restore_tag(
        self: &Arc<Self>,
        caller: &Account,
        tag: &str,
        count: u32,
    ) -> Result<Vec<String>, ApiError> {
        let row = self.catalog.resolve_tag(caller, tag)?;
        self.restore(caller, row, count).await
    }

    /// Restores (or branches) what `repo:tag` points at now (`repo` may be `org/repo`).
    pub async fn restore_repo_tag(
        self: &Arc<Self>,
        caller: &Account,
        repo: &str,
        tag: &str,
        count: u32,
    ) -> Result<Vec<String>, ApiError> {
        let row = self.catalog.resolve_repo_tag(caller, repo, tag)?;
        self.restore(caller, row, count).await
    }

    /// Restores (or branches) a commit by id.
    pub async fn restore_commit(
        self: &Arc<Self>,
        caller: &Account,
        commit_id: &str,
        count: u32,
    ) -> Result<Vec<String>, ApiError> {
        let row = self.catalog.commit(caller, commit_id, Use::Read)?;
        self.restore(caller, row, count).await
    }

    /// `POST /repositories/fork`: restores a public repository's tag into a VM of the caller,
    /// commits that VM (a commit of the caller's), and tags the commit in the caller's
    /// repository (made if missing). The VM stays running.
    pub async fn fork(
        self: &Arc<Self>,
        caller: &Account,
        request: ForkRequest,
    ) -> Result<ForkResponse, ApiError> {
        let source = format!(
            "{}/{}:{}",
            request.source_org, request.source_repo, request.source_tag
        );
        let (_, tag) = self.catalog.public_tag(
            &request.source_org,
            &request.source_repo,
            &request.source_tag,
        )?;
        let repo_name = request
            .repo_name
            .unwrap_or_else(|| request.source_repo.clone());
        let tag_name = request
            .tag_name
            .unwrap_or_else(|| request.source_tag.clone());
        let repo = match self.catalog.own_repo(caller, &repo_name) {
            Ok(repo) => repo,
            Err(ApiError::Ref(RefError::UnknownRepo { .. })) => {
                let from = format!("Forked from {}/{}", request.source_org, request.source_repo);
                self.catalog.new_repo(caller, &repo_name, Some(from))?
            }
            Err(err) => return Err(err),
        };
        self.catalog.check_tag_free(&repo, &tag_name)?;
        let row = self.catalog.resolve_repo_tag(
            caller,
            &format!("{}/{}", request.source_org, request.source_repo),
            &tag.tag_name,
        )?;
        let mut vms = self.restore(caller, row, 1).await?;
        let vm_id = vms.pop().ok_or_else(|| ApiError::TaskFailed {
            detail: "a fork made no VM".into(),
        })?;
        let name = Some(format!("fork: {source}"));
        let request = CommitRequest {
            name,
            ..CommitRequest::default()
        };
        let commit_id = self
            .commit(caller, &vm_id, request, SnapshotOptions::default())
            .await?;
        let description = Some(format!("Forked from {source}"));
        self.catalog
            .tag_repo(caller, &repo, &tag_name, &commit_id, description)?;
        Ok(ForkResponse {
            reference: format!("{repo_name}:{tag_name}"),
            repo_name,
            tag_name,
            commit_id,
            vm_id,
        })
    }
}
