//! Repositories: named groups of tags, private to the account or public to every account;
//! public ones of any organisation are listed, read and forked.

use reqwest::Method;
use tether_wire::{
    CreateRepositoryRequest, CreateRepositoryResponse, ForkRequest, ForkResponse,
    PublicRepositoryInfo, PublicRepositoryList, RepositoryInfo, RepositoryList, VisibilityRequest,
};

use crate::client::{Call, LIFECYCLE_TIMEOUT};
use crate::reply::Subject;
use crate::{Named, VersClient, VersError};

impl VersClient {
    /// `GET /repositories`: the account's repositories.
    pub async fn list_repos(&self) -> Result<Vec<RepositoryInfo>, VersError> {
        let call = Call::new(Method::GET, &["repositories"], Subject::Account);
        Ok(self.json::<RepositoryList>(call).await?.repositories)
    }

    /// `POST /repositories`: a new, private repository (409 if the name is taken).
    pub async fn create_repo(
        &self,
        request: &CreateRepositoryRequest,
    ) -> Result<CreateRepositoryResponse, VersError> {
        let subject = Subject::Named(Named::Repo(request.name.clone()));
        let call = Call::new(Method::POST, &["repositories"], subject).body(request)?;
        self.json(call).await
    }

    /// `GET /repositories/{repo}`.
    pub async fn get_repo(&self, repo: &str) -> Result<RepositoryInfo, VersError> {
        self.json(repo_call(Method::GET, repo, None)).await
    }

    /// `DELETE /repositories/{repo}`, with its tags (their commits stay).
    pub async fn delete_repo(&self, repo: &str) -> Result<(), VersError> {
        self.value(repo_call(Method::DELETE, repo, None))
            .await
            .map(drop)
    }

    /// `PATCH /repositories/{repo}/visibility`: public (listed and branchable by every
    /// account) or private.
    pub async fn set_repo_visibility(&self, repo: &str, is_public: bool) -> Result<(), VersError> {
        let call = repo_call(Method::PATCH, repo, Some("visibility"))
            .body(&VisibilityRequest { is_public })?;
        self.value(call).await.map(drop)
    }

    /// `POST /repositories/fork`: copies a public repository's tag into the account (a new
    /// repository and tag, and a VM restored from the commit).
    pub async fn fork_repo(&self, request: &ForkRequest) -> Result<ForkResponse, VersError> {
        let subject = Subject::Named(Named::PublicRepo {
            org: request.source_org.clone(),
            repo: request.source_repo.clone(),
            tag: Some(request.source_tag.clone()),
        });
        let call = Call::new(Method::POST, &["repositories", "fork"], subject)
            .body(request)?
            .timeout(Some(LIFECYCLE_TIMEOUT));
        self.json(call).await
    }

    /// `GET /public/repositories`: every organisation's public repositories.
    pub async fn list_public_repos(&self) -> Result<Vec<PublicRepositoryInfo>, VersError> {
        let call = Call::new(Method::GET, &["public", "repositories"], Subject::Account);
        Ok(self.json::<PublicRepositoryList>(call).await?.repositories)
    }

    /// `GET /public/repositories/{org}/{repo}`.
    pub async fn get_public_repo(
        &self,
        org: &str,
        repo: &str,
    ) -> Result<PublicRepositoryInfo, VersError> {
        let subject = Subject::Named(Named::PublicRepo {
            org: org.to_owned(),
            repo: repo.to_owned(),
            tag: None,
        });
        let call = Call::new(Method::GET, &["public", "repositories", org, repo], subject);
        self.json(call).await
    }
}

fn repo_call(method: Method, repo: &str, action: Option<&str>) -> Call {
    let subject = Subject::Named(Named::Repo(repo.to_owned()));
    match action {
        Some(action) => Call::new(method, &["repositories", repo, action], subject),
        None => Call::new(method, &["repositories", repo], subject),
    }
}
