//! [`RefError`]: the named things of an account — tags, repositories, domains, environment
//! variables, exec runs, images — unknown, taken, misnamed or someone else's. Each message
//! starts with Vers's own words (`tag not found`, `repository already exists`, …) and says
//! what to do next.

use axum::http::StatusCode;

/// Why a request about a named thing failed.
#[derive(Debug, thiserror::Error)]
pub enum RefError {
    /// A name breaks the naming rules.
    #[error("invalid {what} name {name:?}: {rule}")]
    BadName {
        /// "tag", "repository", "domain", "variable".
        what: &'static str,
        /// The name given.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// No legacy tag of that name.
    #[error(
        "tag not found: no tag {tag:?} in this account; list tags with GET /api/v1/commit_tags"
    )]
    UnknownTag {
        /// The name asked for.
        tag: String,
    },
    /// A tag of that name exists already.
    #[error(
        "tag already exists: {tag:?} points at commit {commit_id}; move it with PATCH {path} \
         (`{{\"commit_id\": ...}}`) or pick another name"
    )]
    TagExists {
        /// The name.
        tag: String,
        /// Where it points.
        commit_id: String,
        /// The route that moves it.
        path: String,
    },
    /// The tag points at a commit that was deleted.
    #[error(
        "commit not found: tag {tag:?} points at commit {commit_id}, which was deleted; move the \
         tag to a live commit (PATCH {path} with `{{\"commit_id\": ...}}`) or delete it"
    )]
    TagOnDeletedCommit {
        /// The tag (or `repo:tag`).
        tag: String,
        /// The deleted commit.
        commit_id: String,
        /// The route that moves it.
        path: String,
    },
    /// A PATCH with nothing to change.
    #[error("no updates provided: give `commit_id` (to move the tag) and/or `description`")]
    NothingToUpdate,
    /// No repository of that name in the account.
    #[error(
        "repository not found: no repository {repo:?} in this account; list them with \
         GET /api/v1/repositories (another account's public repositories are under \
         /api/v1/public/repositories)"
    )]
    UnknownRepo {
        /// The name asked for.
        repo: String,
    },
    /// No tag of that name in the repository.
    #[error(
        "tag not found: repository {repo:?} has no tag {tag:?}; list its tags with \
         GET /api/v1/repositories/{repo}/tags"
    )]
    UnknownRepoTag {
        /// The repository.
        repo: String,
        /// The tag asked for.
        tag: String,
    },
    /// A repository of that name exists already.
    #[error(
        "repository already exists: this account has a repository {repo:?}; pick another name \
         (or `repo_name` when forking)"
    )]
    RepoExists {
        /// The name.
        repo: String,
    },
    /// No public repository (or tag) of that name: unknown, or private to its owner.
    #[error(
        "repository not found: {org}/{repo}{} is not a public repository (it does not exist, or \
         its owner keeps it private); list public repositories with GET /api/v1/public/repositories",
        tag.as_deref().map(|t| format!(":{t}")).unwrap_or_default()
    )]
    NotPublic {
        /// The owning organisation.
        org: String,
        /// The repository.
        repo: String,
        /// The tag, when one was asked for.
        tag: Option<String>,
    },
    /// A `repo:tag` reference without its colon.
    #[error("invalid ref format {reference:?}: expected 'repo_name:tag_name'")]
    BadReference {
        /// The reference given.
        reference: String,
    },
    /// An environment variable breaks the rules.
    #[error("invalid environment variable: {reason}")]
    BadEnvVar {
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// No such environment variable.
    #[error(
        "environment variable not found: {name:?} is not set; list them with GET /api/v1/env_vars"
    )]
    UnknownEnvVar {
        /// The name asked for.
        name: String,
    },
    /// No such domain in the account.
    #[error(
        "domain not found: no domain {domain_id} in this account; list them with GET /api/v1/domains"
    )]
    UnknownDomain {
        /// The id asked for.
        domain_id: String,
    },
    /// The domain belongs to another account.
    #[error(
        "forbidden: domain {domain_id} belongs to another account; list this account's with GET /api/v1/domains"
    )]
    ForeignDomain {
        /// The id asked for.
        domain_id: String,
    },
    /// The domain name is taken.
    #[error(
        "domain already exists: {domain} is mapped to a VM already; delete that mapping first (DELETE /api/v1/domains/{{domain_id}})"
    )]
    DomainExists {
        /// The name.
        domain: String,
    },
    /// No run with this id on the VM.
    #[error(
        "exec stream {exec_id} is not active: no exec with this id ran on VM {vm_id}; start one \
         with POST /api/v1/vm/{vm_id}/exec/stream (every line of its reply carries its exec_id)"
    )]
    UnknownExec {
        /// The VM.
        vm_id: String,
        /// The id asked for.
        exec_id: String,
    },
    /// The run id is taken on this VM.
    #[error(
        "exec id {exec_id} already ran on VM {vm_id}; leave `exec_id` out to get a fresh one, or \
         rejoin that run with POST /api/v1/vm/{vm_id}/exec/stream/attach"
    )]
    ExecIdInUse {
        /// The VM.
        vm_id: String,
        /// The id.
        exec_id: String,
    },
    /// The VM has no label of that name.
    #[error(
        "label not found: VM {vm_id} has no label {name:?}; see its labels with GET /api/v1/vm/{vm_id}/status"
    )]
    UnknownLabel {
        /// The VM.
        vm_id: String,
        /// The label asked for.
        name: String,
    },
    /// No such base image.
    #[error(
        "image not found: {image:?}; the simulator has one image, \"default\" (GET /api/v1/images)"
    )]
    UnknownImage {
        /// The name or id asked for.
        image: String,
    },
    /// The built-in image cannot be deleted.
    #[error("forbidden: the \"default\" image is the simulator's own and cannot be deleted")]
    BuiltinImage,
}

impl RefError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        use RefError::*;
        match self {
            BadName { .. } | NothingToUpdate | BadReference { .. } | BadEnvVar { .. } => {
                StatusCode::BAD_REQUEST
            }
            UnknownTag { .. }
            | TagOnDeletedCommit { .. }
            | UnknownRepo { .. }
            | UnknownRepoTag { .. }
            | NotPublic { .. }
            | UnknownEnvVar { .. }
            | UnknownDomain { .. }
            | UnknownExec { .. }
            | UnknownLabel { .. }
            | UnknownImage { .. } => StatusCode::NOT_FOUND,
            TagExists { .. } | RepoExists { .. } | DomainExists { .. } | ExecIdInUse { .. } => {
                StatusCode::CONFLICT
            }
            ForeignDomain { .. } | BuiltinImage => StatusCode::FORBIDDEN,
        }
    }
}
