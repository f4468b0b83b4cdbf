//! Repositories: named groups of tags, private to an account or public to every account.

use serde::{Deserialize, Serialize};

/// `POST /repositories` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRepositoryRequest {
    /// 1–64 letters, digits, `-`, `_` or `.`.
    pub name: String,
    /// What it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /repositories` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRepositoryResponse {
    /// The new repository's id.
    pub repo_id: String,
    /// Its name.
    pub name: String,
}

/// A repository of the caller's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryInfo {
    /// Its id.
    pub repo_id: String,
    /// Its name.
    pub name: String,
    /// Whether every account can see it and branch from its tags.
    pub is_public: bool,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET /repositories` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryList {
    /// Every repository of the account.
    pub repositories: Vec<RepositoryInfo>,
}

/// `PATCH /repositories/{repo}/visibility` body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibilityRequest {
    /// Public (every account sees it) or private.
    pub is_public: bool,
}

/// A public repository, named by its owner's organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRepositoryInfo {
    /// Its id.
    pub repo_id: String,
    /// The owning organisation's name.
    pub org_name: String,
    /// Its name.
    pub name: String,
    /// `org_name/name`.
    pub full_name: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET /public/repositories` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRepositoryList {
    /// Every public repository of every account.
    pub repositories: Vec<PublicRepositoryInfo>,
}

/// `POST /repositories/fork` body: copy a public repository's tag into your account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkRequest {
    /// The organisation that owns the public repository.
    pub source_org: String,
    /// Its name.
    pub source_repo: String,
    /// The tag to copy.
    pub source_tag: String,
    /// The repository to put it in (default: `source_repo`; made if missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_name: Option<String>,
    /// The tag's name there (default: `source_tag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_name: Option<String>,
}

/// `POST /repositories/fork` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkResponse {
    /// The repository in your account.
    pub repo_name: String,
    /// The tag in it.
    pub tag_name: String,
    /// `repo_name:tag_name`.
    pub reference: String,
    /// The new commit (yours) the tag points at.
    pub commit_id: String,
    /// The VM restored from the source and committed (left running).
    pub vm_id: String,
}
