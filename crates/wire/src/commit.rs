//! Commits: durable disk snapshots of a VM, with lineage.

use serde::{Deserialize, Serialize};

/// `POST /vm/{id}/commit` optional body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRequest {
    /// Id for the new commit (a UUID); default: a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    /// Human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free-form description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /vm/{id}/commit` query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitQuery {
    /// Leave the VM paused after the snapshot (default: resume it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_paused: Option<bool>,
    /// Fail instead of waiting while the VM is booting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_wait_boot: Option<bool>,
}

/// `POST /vm/{id}/commit` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitResponse {
    /// The new commit's id.
    pub commit_id: String,
}

/// A commit as `GET /commits` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitInfo {
    /// The commit's id.
    pub commit_id: String,
    /// Its name.
    pub name: String,
    /// The owning account's id.
    pub owner_id: String,
    /// Whether anyone may restore it.
    pub is_public: bool,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// The VM it is a snapshot of.
    #[serde(default)]
    pub parent_vm_id: Option<String>,
    /// The commit that VM was started from, if any.
    #[serde(default)]
    pub grandparent_commit_id: Option<String>,
}

/// `GET /commits` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitList {
    /// One page of commits, newest first.
    pub commits: Vec<CommitInfo>,
    /// How many commits exist in all.
    pub total: u64,
    /// The page size used.
    pub limit: u64,
    /// How many were skipped.
    pub offset: u64,
}

/// `GET /commits` query (the spec calls these path parameters; they are query parameters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCommitsQuery {
    /// Page size: default 50, at most 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// How many to skip (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// `PATCH /commits/{id}` body: publish or unpublish a commit, and rename it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateCommitRequest {
    /// Whether anyone may restore it (required).
    pub is_public: bool,
    /// A new name (absent: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new description (absent: unchanged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A commit as `GET /vm/commits/{id}/parents` lists it (`VmCommitEntity`: `id`, not
/// `commit_id`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitEntity {
    /// The commit's id.
    pub id: String,
    /// The key (owner) that made it.
    pub owner_id: String,
    /// Its name.
    pub name: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Whether anyone may restore it.
    pub is_public: bool,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// The VM it is a snapshot of.
    #[serde(default)]
    pub parent_vm_id: Option<String>,
    /// The commit that VM was started from, if any.
    #[serde(default)]
    pub grandparent_commit_id: Option<String>,
}
