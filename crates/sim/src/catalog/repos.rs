//! Repositories (`/repositories`, `/public/repositories`): named groups of tags. A private
//! repository exists only for its organisation; a public one is listed for everyone, and its
//! tags can be restored, branched (as `org/repo:tag`) and forked by every account.

use tether_wire::{
    CreateRepoTagRequest, CreateRepoTagResponse, CreateRepositoryRequest, CreateRepositoryResponse,
    PublicRepositoryInfo, PublicRepositoryList, RepoTagInfo, RepoTagList, RepositoryInfo,
    RepositoryList, UpdateTagRequest,
};

use super::{Catalog, Use, names, new_id};
use crate::db::{Account, CommitRow, RepoRow, TagRow, TagTable, is_conflict};
use crate::error::{ApiError, RefError};
use crate::registry::now;

impl Catalog {
    /// `POST /repositories`.
    pub fn create_repo(
        &self,
        caller: &Account,
        request: CreateRepositoryRequest,
    ) -> Result<CreateRepositoryResponse, ApiError> {
        let row = self.new_repo(caller, &request.name, request.description)?;
        Ok(CreateRepositoryResponse {
            repo_id: row.repo_id,
            name: row.name,
        })
    }

    /// Makes a private repository in the caller's organisation.
    pub(crate) fn new_repo(
        &self,
        caller: &Account,
        name: &str,
        description: Option<String>,
    ) -> Result<RepoRow, ApiError> {
        names::repo(name)?;
        let row = RepoRow {
            repo_id: new_id(),
            org_id: caller.org_id.clone(),
            org_name: caller.org_name.clone(),
            owner_id: caller.key_id.clone(),
            name: name.to_owned(),
            description,
            is_public: false,
            created_at: now(),
        };
        match self.db.insert_repo(&row) {
            Err(err) if is_conflict(&err) => Err(RefError::RepoExists {
                repo: name.to_owned(),
            }
            .into()),
            other => other.map(|()| row).map_err(ApiError::from),
        }
    }

    /// `GET /repositories`.
    pub fn list_repos(&self, caller: &Account) -> Result<RepositoryList, ApiError> {
        let rows = self.db.list_repos(Some(&caller.org_id))?;
        Ok(RepositoryList {
            repositories: rows.into_iter().map(repo_info).collect(),
        })
    }

    /// `GET /repositories/{repo}`.
    pub fn get_repo(&self, caller: &Account, name: &str) -> Result<RepositoryInfo, ApiError> {
        Ok(repo_info(self.own_repo(caller, name)?))
    }

    /// `DELETE /repositories/{repo}`, with its tags (their commits stay).
    pub fn delete_repo(&self, caller: &Account, name: &str) -> Result<(), ApiError> {
        let repo = self.own_repo(caller, name)?;
        Ok(self.db.delete_repo(&repo.repo_id)?)
    }

    /// `PATCH /repositories/{repo}/visibility`.
    pub fn set_visibility(
        &self,
        caller: &Account,
        name: &str,
        public: bool,
    ) -> Result<(), ApiError> {
        let repo = self.own_repo(caller, name)?;
        Ok(self.db.set_repo_visibility(&repo.repo_id, public)?)
    }

    /// `POST /repositories/{repo}/tags`.
    pub fn create_repo_tag(
        &self,
        caller: &Account,
        repo: &str,
        request: CreateRepoTagRequest,
    ) -> Result<CreateRepoTagResponse, ApiError> {
        names::repo_tag(&request.tag_name)?;
        let repo = self.own_repo(caller, repo)?;
        self.commit(caller, &request.commit_id, Use::Write)?;
        let row = self.tag_repo(
            caller,
            &repo,
            &request.tag_name,
            &request.commit_id,
            request.description,
        )?;
        Ok(CreateRepoTagResponse {
            tag_id: row.tag_id,
            reference: format!("{}:{}", repo.name, row.tag_name),
            commit_id: row.commit_id,
        })
    }

    /// Puts a tag in `repo` (the commit is checked by the caller).
    pub(crate) fn tag_repo(
        &self,
        caller: &Account,
        repo: &RepoRow,
        tag_name: &str,
        commit_id: &str,
        description: Option<String>,
    ) -> Result<TagRow, ApiError> {
        let at = now();
        let row = TagRow {
            tag_id: new_id(),
            scope_id: repo.repo_id.clone(),
            owner_id: caller.key_id.clone(),
            tag_name: tag_name.to_owned(),
            commit_id: commit_id.to_owned(),
            description,
            created_at: at.clone(),
            updated_at: at,
        };
        self.insert_tag(TagTable::Repo, &row, tag_path(&repo.name, tag_name))?;
        Ok(row)
    }

    /// Fails unless `tag` is a free, valid tag name in `repo`.
    pub(crate) fn check_tag_free(&self, repo: &RepoRow, tag: &str) -> Result<(), ApiError> {
        names::repo_tag(tag)?;
        match self.db.find_tag(TagTable::Repo, &repo.repo_id, tag)? {
            Some(existing) => Err(RefError::TagExists {
                tag: tag.to_owned(),
                commit_id: existing.commit_id,
                path: tag_path(&repo.name, tag),
            }
            .into()),
            None => Ok(()),
        }
    }

    /// `GET /repositories/{repo}/tags`.
    pub fn list_repo_tags(&self, caller: &Account, repo: &str) -> Result<RepoTagList, ApiError> {
        let repo = self.own_repo(caller, repo)?;
        self.tag_list(&repo, repo.name.clone())
    }

    /// `GET /repositories/{repo}/tags/{tag}`.
    pub fn get_repo_tag(
        &self,
        caller: &Account,
        repo: &str,
        tag: &str,
    ) -> Result<RepoTagInfo, ApiError> {
        let repo = self.own_repo(caller, repo)?;
        let tag = self.repo_tag(&repo, tag, None)?;
        Ok(repo_tag_info(&repo.name, tag))
    }

    /// `PATCH /repositories/{repo}/tags/{tag}`.
    pub fn update_repo_tag(
        &self,
        caller: &Account,
        repo: &str,
        tag: &str,
        request: UpdateTagRequest,
    ) -> Result<(), ApiError> {
        if request.is_empty() {
            return Err(RefError::NothingToUpdate.into());
        }
        let repo = self.own_repo(caller, repo)?;
        let tag = self.repo_tag(&repo, tag, None)?;
        self.move_tag(caller, TagTable::Repo, &tag, request)
    }

    /// `DELETE /repositories/{repo}/tags/{tag}`.
    pub fn delete_repo_tag(&self, caller: &Account, repo: &str, tag: &str) -> Result<(), ApiError> {
        let repo = self.own_repo(caller, repo)?;
        let tag = self.repo_tag(&repo, tag, None)?;
        Ok(self.db.delete_tag(TagTable::Repo, &tag.tag_id)?)
    }

    /// The commit `repo:tag` points at now. `repo` may be `org/repo`: the caller's own
    /// organisation's repository, or another's public one (whose tags anyone may restore).
    pub fn resolve_repo_tag(
        &self,
        caller: &Account,
        repo: &str,
        tag: &str,
    ) -> Result<CommitRow, ApiError> {
        let shown = format!("{repo}:{tag}");
        let (repo, path) = match repo.split_once('/') {
            Some((org, name)) if org != caller.org_name => {
                let repo = self.public_repo(org, name, Some(tag))?;
                (
                    repo,
                    format!("/api/v1/public/repositories/{org}/{name}/tags/{tag}"),
                )
            }
            Some((_, name)) => (self.own_repo(caller, name)?, tag_path(name, tag)),
            None => (self.own_repo(caller, repo)?, tag_path(repo, tag)),
        };
        let org = (repo.org_id != caller.org_id).then(|| repo.org_name.clone());
        let row = self.repo_tag(&repo, tag, org.as_deref())?;
        match self.tagged_commit(caller, &shown, &row, path) {
            // Another organisation's commit behind its public repository: readable through it.
            Err(ApiError::ForeignCommit { .. }) => self.commit_of_public_tag(&row),
            other => other,
        }
    }

    /// The commit a `repo:tag` (or `org/repo:tag`) reference points at now.
    pub fn resolve_reference(
        &self,
        caller: &Account,
        reference: &str,
    ) -> Result<CommitRow, ApiError> {
        match reference.rsplit_once(':') {
            Some((repo, tag)) if !repo.is_empty() && !tag.is_empty() => {
                self.resolve_repo_tag(caller, repo, tag)
            }
            _ => Err(RefError::BadReference {
                reference: reference.to_owned(),
            }
            .into()),
        }
    }

    fn commit_of_public_tag(&self, tag: &TagRow) -> Result<CommitRow, ApiError> {
        match self.db.find_commit(&tag.commit_id)? {
            crate::db::Found::Live(row) => Ok(row),
            _ => Err(ApiError::DeletedCommit {
                commit_id: tag.commit_id.clone(),
            }),
        }
    }

    /// `GET /public/repositories`.
    pub fn list_public_repos(&self) -> Result<PublicRepositoryList, ApiError> {
        let rows = self.db.list_repos(None)?;
        Ok(PublicRepositoryList {
            repositories: rows.into_iter().map(public_info).collect(),
        })
    }

    /// `GET /public/repositories/{org}/{repo}`.
    pub fn get_public_repo(&self, org: &str, repo: &str) -> Result<PublicRepositoryInfo, ApiError> {
        Ok(public_info(self.public_repo(org, repo, None)?))
    }

    /// `GET /public/repositories/{org}/{repo}/tags`.
    pub fn list_public_repo_tags(&self, org: &str, repo: &str) -> Result<RepoTagList, ApiError> {
        let repo = self.public_repo(org, repo, None)?;
        self.tag_list(&repo, format!("{org}/{}", repo.name))
    }

    /// `GET /public/repositories/{org}/{repo}/tags/{tag}`.
    pub fn get_public_repo_tag(
        &self,
        org: &str,
        repo: &str,
        tag: &str,
    ) -> Result<RepoTagInfo, ApiError> {
        let (repo, tag) = self.public_tag(org, repo, tag)?;
        Ok(repo_tag_info(&repo.name, tag))
    }

    /// A public repository and one of its tags (what a fork copies).
    pub fn public_tag(
        &self,
        org: &str,
        repo: &str,
        tag: &str,
    ) -> Result<(RepoRow, TagRow), ApiError> {
        let repo = self.public_repo(org, repo, Some(tag))?;
        let tag = self.repo_tag(&repo, tag, Some(org))?;
        Ok((repo, tag))
    }

    fn tag_list(&self, repo: &RepoRow, shown: String) -> Result<RepoTagList, ApiError> {
        let rows = self.db.list_tags(TagTable::Repo, &repo.repo_id)?;
        Ok(RepoTagList {
            repository: shown,
            tags: rows
                .into_iter()
                .map(|t| repo_tag_info(&repo.name, t))
                .collect(),
        })
    }

    pub(crate) fn own_repo(&self, caller: &Account, name: &str) -> Result<RepoRow, ApiError> {
        self.db.find_repo(&caller.org_id, name)?.ok_or_else(|| {
            RefError::UnknownRepo {
                repo: name.to_owned(),
            }
            .into()
        })
    }

    fn public_repo(&self, org: &str, name: &str, tag: Option<&str>) -> Result<RepoRow, ApiError> {
        self.db.find_public_repo(org, name)?.ok_or_else(|| {
            RefError::NotPublic {
                org: org.to_owned(),
                repo: name.to_owned(),
                tag: tag.map(str::to_owned),
            }
            .into()
        })
    }

    /// A tag of `repo`; `org` names the public repository's owner when it is not the caller's.
    fn repo_tag(&self, repo: &RepoRow, tag: &str, org: Option<&str>) -> Result<TagRow, ApiError> {
        let found = self.db.find_tag(TagTable::Repo, &repo.repo_id, tag)?;
        found.ok_or_else(|| match org {
            Some(org) => RefError::NotPublic {
                org: org.to_owned(),
                repo: repo.name.clone(),
                tag: Some(tag.to_owned()),
            }
            .into(),
            None => RefError::UnknownRepoTag {
                repo: repo.name.clone(),
                tag: tag.to_owned(),
            }
            .into(),
        })
    }
}

fn tag_path(repo: &str, tag: &str) -> String {
    format!("/api/v1/repositories/{repo}/tags/{tag}")
}

fn repo_info(row: RepoRow) -> RepositoryInfo {
    RepositoryInfo {
        repo_id: row.repo_id,
        name: row.name,
        is_public: row.is_public,
        created_at: row.created_at,
        description: row.description,
    }
}

fn public_info(row: RepoRow) -> PublicRepositoryInfo {
    PublicRepositoryInfo {
        full_name: format!("{}/{}", row.org_name, row.name),
        repo_id: row.repo_id,
        org_name: row.org_name,
        name: row.name,
        created_at: row.created_at,
        description: row.description,
    }
}

fn repo_tag_info(repo: &str, row: TagRow) -> RepoTagInfo {
    RepoTagInfo {
        reference: format!("{repo}:{}", row.tag_name),
        tag_id: row.tag_id,
        tag_name: row.tag_name,
        commit_id: row.commit_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
        description: row.description,
    }
}
