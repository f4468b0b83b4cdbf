//! Tags: names that point at a commit and can be moved — the legacy account-wide ones
//! (`/commit_tags`) and the ones inside a repository (`/repositories/{repo}/tags`).

use serde::{Deserialize, Deserializer, Serialize};

/// `POST /commit_tags` body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTagRequest {
    /// The tag's name: 1–64 letters, digits, `-`, `_` or `.`.
    pub tag_name: String,
    /// The commit it points at.
    pub commit_id: String,
    /// What the tagged state is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `POST /commit_tags` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTagResponse {
    /// The new tag's id.
    pub tag_id: String,
    /// Its name.
    pub tag_name: String,
    /// The commit it points at.
    pub commit_id: String,
}

/// A legacy tag as `GET /commit_tags[/{name}]` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagInfo {
    /// The tag's id.
    pub tag_id: String,
    /// Its name.
    pub tag_name: String,
    /// The commit it points at now.
    pub commit_id: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last moved or described (RFC 3339).
    pub updated_at: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET /commit_tags` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagList {
    /// Every tag of the account.
    pub tags: Vec<TagInfo>,
}

/// `PATCH /commit_tags/{name}` and `PATCH /repositories/{repo}/tags/{name}` body: move the tag
/// and/or change its description. Absent fields stay; `"description": null` clears it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateTagRequest {
    /// The commit to point at from now on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_id: Option<String>,
    /// `None`: keep; `Some(None)`: clear; `Some(Some(text))`: set.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
}

impl UpdateTagRequest {
    /// Whether the request changes anything.
    pub fn is_empty(&self) -> bool {
        self.commit_id.is_none() && self.description.is_none()
    }
}

/// A field that is present (maybe `null`) becomes `Some(..)`; an absent one stays `None`
/// through `#[serde(default)]`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `POST /repositories/{repo}/tags` body.
pub type CreateRepoTagRequest = CreateTagRequest;

/// `POST /repositories/{repo}/tags` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRepoTagResponse {
    /// The new tag's id.
    pub tag_id: String,
    /// `repo_name:tag_name`.
    pub reference: String,
    /// The commit it points at.
    pub commit_id: String,
}

/// A tag inside a repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoTagInfo {
    /// The tag's id.
    pub tag_id: String,
    /// Its name.
    pub tag_name: String,
    /// `repo_name:tag_name`.
    pub reference: String,
    /// The commit it points at now.
    pub commit_id: String,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it was last moved or described (RFC 3339).
    pub updated_at: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
}

/// `GET /repositories/{repo}/tags` (and the public form) reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoTagList {
    /// The repository (`name`, or `org/name` for a public one).
    pub repository: String,
    /// Its tags.
    pub tags: Vec<RepoTagInfo>,
}
