//! Tags: names that point at a commit and can be moved. Account-wide tags live under
//! `/commit_tags`; a repository's under `/repositories/{repo}/tags`; another organisation's
//! public ones under `/public/repositories/{org}/{repo}/tags`. [`TagRef`] names any of them
//! the way people write it: `name`, `repo:tag` or `org/repo:tag`.

use std::fmt;
use std::str::FromStr;

use reqwest::Method;
use tether_wire::{
    CreateRepoTagResponse, CreateTagRequest, CreateTagResponse, RepoTagInfo, RepoTagList, TagInfo,
    TagList, UpdateTagRequest,
};

use crate::client::Call;
use crate::reply::Subject;
use crate::{Named, VersClient, VersError};

/// A tag as written by a person: `name` (account-wide), `repo:tag` (one of the account's
/// repositories) or `org/repo:tag` (a repository of `org`, which must be public unless it is
/// the caller's own organisation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TagRef {
    /// An account-wide tag.
    Tag(String),
    /// A tag of a repository.
    Repo {
        /// The owning organisation, when written (`org/repo:tag`).
        org: Option<String>,
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
    },
}

/// Why a text is not a [`TagRef`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a tag: {reason}; write `name`, `repo:tag` or `org/repo:tag`")]
pub struct BadTagRef {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl FromStr for TagRef {
    type Err = BadTagRef;

    fn from_str(text: &str) -> Result<TagRef, BadTagRef> {
        let bad = |reason| BadTagRef {
            text: text.to_owned(),
            reason,
        };
        let text = text.trim();
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        let Some((left, tag)) = text.rsplit_once(':') else {
            if text.contains('/') {
                return Err(bad("a repository needs a tag after `:`"));
            }
            return Ok(TagRef::Tag(text.to_owned()));
        };
        if tag.is_empty() || left.is_empty() {
            return Err(bad("both sides of `:` must be given"));
        }
        let (org, repo) = match left.split_once('/') {
            Some((org, repo)) if org.is_empty() || repo.is_empty() || repo.contains('/') => {
                return Err(bad("a repository is `repo` or `org/repo`"));
            }
            Some((org, repo)) => (Some(org.to_owned()), repo.to_owned()),
            None => (None, left.to_owned()),
        };
        Ok(TagRef::Repo {
            org,
            repo,
            tag: tag.to_owned(),
        })
    }
}

impl fmt::Display for TagRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagRef::Tag(name) => f.write_str(name),
            TagRef::Repo {
                org: Some(org),
                repo,
                tag,
            } => write!(f, "{org}/{repo}:{tag}"),
            TagRef::Repo {
                org: None,
                repo,
                tag,
            } => write!(f, "{repo}:{tag}"),
        }
    }
}

impl TagRef {
    /// The repository as the API's `by_ref` route and `ref` field take it (`repo` or
    /// `org/repo`), if this is a repository's tag.
    pub fn repo_path(&self) -> Option<String> {
        match self {
            TagRef::Tag(_) => None,
            TagRef::Repo {
                org: Some(org),
                repo,
                ..
            } => Some(format!("{org}/{repo}")),
            TagRef::Repo { repo, .. } => Some(repo.clone()),
        }
    }

    /// The tag's own name.
    pub fn tag_name(&self) -> &str {
        match self {
            TagRef::Tag(tag) | TagRef::Repo { tag, .. } => tag,
        }
    }

    /// What errors about this tag name.
    pub(crate) fn named(&self) -> Named {
        match self {
            TagRef::Tag(name) => Named::Tag(name.clone()),
            TagRef::Repo {
                org: Some(org),
                repo,
                tag,
            } => Named::PublicRepo {
                org: org.clone(),
                repo: repo.clone(),
                tag: Some(tag.clone()),
            },
            TagRef::Repo {
                org: None,
                repo,
                tag,
            } => Named::RepoTag {
                repo: repo.clone(),
                tag: tag.clone(),
            },
        }
    }
}

/// A tag as every listing returns it, whichever kind it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagEntry {
    /// How to name it: `name` or `repo:tag` (`org/repo:tag` for another organisation's).
    pub reference: String,
    /// The tag's id.
    pub tag_id: String,
    /// The commit it points at now.
    pub commit_id: String,
    /// When it was created.
    pub created_at: String,
    /// When it was last moved or edited.
    pub updated_at: String,
    /// Its description.
    pub description: Option<String>,
}

impl From<TagInfo> for TagEntry {
    fn from(tag: TagInfo) -> TagEntry {
        TagEntry {
            reference: tag.tag_name,
            tag_id: tag.tag_id,
            commit_id: tag.commit_id,
            created_at: tag.created_at,
            updated_at: tag.updated_at,
            description: tag.description,
        }
    }
}

impl From<RepoTagInfo> for TagEntry {
    fn from(tag: RepoTagInfo) -> TagEntry {
        TagEntry {
            reference: tag.reference,
            tag_id: tag.tag_id,
            commit_id: tag.commit_id,
            created_at: tag.created_at,
            updated_at: tag.updated_at,
            description: tag.description,
        }
    }
}

impl VersClient {
    /// `GET /commit_tags`: the account-wide tags.
    pub async fn list_tags(&self) -> Result<Vec<TagInfo>, VersError> {
        let call = Call::new(Method::GET, &["commit_tags"], Subject::Account);
        Ok(self.json::<TagList>(call).await?.tags)
    }

    /// `POST /commit_tags`: names `request.commit_id` as `request.tag_name` (409 if taken).
    pub async fn create_tag(
        &self,
        request: &CreateTagRequest,
    ) -> Result<CreateTagResponse, VersError> {
        let subject = tagging(Named::Tag(request.tag_name.clone()), &request.commit_id);
        let call = Call::new(Method::POST, &["commit_tags"], subject).body(request)?;
        self.json(call).await
    }

    /// `GET /commit_tags/{name}`.
    pub async fn get_tag(&self, name: &str) -> Result<TagInfo, VersError> {
        self.json(tag_call(Method::GET, name)).await
    }

    /// `PATCH /commit_tags/{name}`: moves the tag and/or changes its description.
    pub async fn update_tag(&self, name: &str, update: &UpdateTagRequest) -> Result<(), VersError> {
        let mut call = tag_call(Method::PATCH, name).body(update)?;
        if let Some(commit_id) = &update.commit_id {
            call.subject = tagging(Named::Tag(name.to_owned()), commit_id);
        }
        self.value(call).await.map(drop)
    }

    /// `DELETE /commit_tags/{name}` (the commit stays).
    pub async fn delete_tag(&self, name: &str) -> Result<(), VersError> {
        self.value(tag_call(Method::DELETE, name)).await.map(drop)
    }

    /// `GET /repositories/{repo}/tags`.
    pub async fn list_repo_tags(&self, repo: &str) -> Result<RepoTagList, VersError> {
        let subject = Subject::Named(Named::Repo(repo.to_owned()));
        let call = Call::new(Method::GET, &["repositories", repo, "tags"], subject);
        self.json(call).await
    }

    /// `POST /repositories/{repo}/tags`: a tag in `repo` (409 if taken).
    pub async fn create_repo_tag(
        &self,
        repo: &str,
        request: &CreateTagRequest,
    ) -> Result<CreateRepoTagResponse, VersError> {
        let tag = Named::RepoTag {
            repo: repo.to_owned(),
            tag: request.tag_name.clone(),
        };
        let subject = tagging(tag, &request.commit_id);
        let call =
            Call::new(Method::POST, &["repositories", repo, "tags"], subject).body(request)?;
        self.json(call).await
    }

    /// `GET /repositories/{repo}/tags/{tag}`.
    pub async fn get_repo_tag(&self, repo: &str, tag: &str) -> Result<RepoTagInfo, VersError> {
        self.json(repo_tag_call(Method::GET, repo, tag)).await
    }

    /// `PATCH /repositories/{repo}/tags/{tag}`: moves the tag and/or changes its description.
    pub async fn update_repo_tag(
        &self,
        repo: &str,
        tag: &str,
        update: &UpdateTagRequest,
    ) -> Result<(), VersError> {
        let mut call = repo_tag_call(Method::PATCH, repo, tag).body(update)?;
        if let Some(commit_id) = &update.commit_id {
            let tag = Named::RepoTag {
                repo: repo.to_owned(),
                tag: tag.to_owned(),
            };
            call.subject = tagging(tag, commit_id);
        }
        self.value(call).await.map(drop)
    }

    /// `DELETE /repositories/{repo}/tags/{tag}`.
    pub async fn delete_repo_tag(&self, repo: &str, tag: &str) -> Result<(), VersError> {
        self.value(repo_tag_call(Method::DELETE, repo, tag))
            .await
            .map(drop)
    }

    /// `GET /public/repositories/{org}/{repo}/tags`: the tags of a public repository.
    pub async fn list_public_repo_tags(
        &self,
        org: &str,
        repo: &str,
    ) -> Result<RepoTagList, VersError> {
        let subject = Subject::Named(Named::PublicRepo {
            org: org.to_owned(),
            repo: repo.to_owned(),
            tag: None,
        });
        let segments = ["public", "repositories", org, repo, "tags"];
        self.json(Call::new(Method::GET, &segments, subject)).await
    }

    /// `GET /public/repositories/{org}/{repo}/tags/{tag}`.
    pub async fn get_public_repo_tag(
        &self,
        org: &str,
        repo: &str,
        tag: &str,
    ) -> Result<RepoTagInfo, VersError> {
        let subject = Subject::Named(Named::PublicRepo {
            org: org.to_owned(),
            repo: repo.to_owned(),
            tag: Some(tag.to_owned()),
        });
        let segments = ["public", "repositories", org, repo, "tags", tag];
        self.json(Call::new(Method::GET, &segments, subject)).await
    }

    /// The tag `reference` names, whichever kind it is.
    pub async fn resolve_tag(&self, reference: &TagRef) -> Result<TagEntry, VersError> {
        match reference {
            TagRef::Tag(name) => self.get_tag(name).await.map(TagEntry::from),
            TagRef::Repo {
                org: Some(org),
                repo,
                tag,
            } => self
                .get_public_repo_tag(org, repo, tag)
                .await
                .map(TagEntry::from),
            TagRef::Repo {
                org: None,
                repo,
                tag,
            } => self.get_repo_tag(repo, tag).await.map(TagEntry::from),
        }
    }

    /// Creates the tag `reference` names, pointing at `commit_id` (another organisation's
    /// repository cannot be tagged).
    pub async fn create_tag_ref(
        &self,
        reference: &TagRef,
        commit_id: &str,
        description: Option<String>,
    ) -> Result<TagEntry, VersError> {
        let request = CreateTagRequest {
            tag_name: reference.tag_name().to_owned(),
            commit_id: commit_id.to_owned(),
            description,
        };
        let created = match reference {
            TagRef::Tag(_) => self.create_tag(&request).await.map(drop),
            TagRef::Repo {
                org: None, repo, ..
            } => self.create_repo_tag(repo, &request).await.map(drop),
            TagRef::Repo { org: Some(_), .. } => return Err(foreign_tag(reference)),
        };
        created?;
        self.resolve_tag(reference).await
    }

    /// Moves (and/or re-describes) the tag `reference` names.
    pub async fn update_tag_ref(
        &self,
        reference: &TagRef,
        update: &UpdateTagRequest,
    ) -> Result<(), VersError> {
        match reference {
            TagRef::Tag(name) => self.update_tag(name, update).await,
            TagRef::Repo {
                org: None,
                repo,
                tag,
            } => self.update_repo_tag(repo, tag, update).await,
            TagRef::Repo { org: Some(_), .. } => Err(foreign_tag(reference)),
        }
    }

    /// Deletes the tag `reference` names.
    pub async fn delete_tag_ref(&self, reference: &TagRef) -> Result<(), VersError> {
        match reference {
            TagRef::Tag(name) => self.delete_tag(name).await,
            TagRef::Repo {
                org: None,
                repo,
                tag,
            } => self.delete_repo_tag(repo, tag).await,
            TagRef::Repo { org: Some(_), .. } => Err(foreign_tag(reference)),
        }
    }
}

/// The error for changing a tag written with an organisation: only the account's own
/// repositories (named without one) can be changed.
fn foreign_tag(reference: &TagRef) -> VersError {
    VersError::ForeignTag {
        reference: reference.to_string(),
    }
}

/// The subject of a request that points `tag` at `commit_id`.
fn tagging(tag: Named, commit_id: &str) -> Subject {
    Subject::Tagging {
        tag,
        commit_id: commit_id.to_owned(),
    }
}

fn tag_call(method: Method, name: &str) -> Call {
    let subject = Subject::Named(Named::Tag(name.to_owned()));
    Call::new(method, &["commit_tags", name], subject)
}

fn repo_tag_call(method: Method, repo: &str, tag: &str) -> Call {
    let subject = Subject::Named(Named::RepoTag {
        repo: repo.to_owned(),
        tag: tag.to_owned(),
    });
    Call::new(method, &["repositories", repo, "tags", tag], subject)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn references_of_every_form() {
        assert_eq!("base".parse(), Ok(TagRef::Tag("base".into())));
        let repo: TagRef = "app:v1".parse().unwrap();
        assert_eq!(repo.repo_path().as_deref(), Some("app"));
        assert_eq!(repo.tag_name(), "v1");
        let public: TagRef = "acme/app:v1".parse().unwrap();
        assert_eq!(public.repo_path().as_deref(), Some("acme/app"));
        assert_eq!(public.to_string(), "acme/app:v1");
        for bad in ["", ":v1", "app:", "a/b", "/app:v1", "a/b/c:v1"] {
            assert!(bad.parse::<TagRef>().is_err(), "{bad:?} parsed");
        }
    }
}
