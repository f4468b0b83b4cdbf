//! [`Named`]: the things of an account that are found by name or id rather than as a VM or a
//! commit — tags, repositories, domains, variables, exec runs, labels — so an error about one
//! can say which it was and how to find the right one.

use std::fmt;

/// A named thing a request was about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Named {
    /// An account-wide commit tag (`/commit_tags/{name}`).
    Tag(String),
    /// A repository of the account.
    Repo(String),
    /// A tag inside one of the account's repositories.
    RepoTag {
        /// The repository.
        repo: String,
        /// The tag.
        tag: String,
    },
    /// A public repository of some organisation (or one of its tags).
    PublicRepo {
        /// The owning organisation.
        org: String,
        /// The repository.
        repo: String,
        /// The tag, if one was asked for.
        tag: Option<String>,
    },
    /// A custom domain, by id.
    Domain(String),
    /// An account environment variable.
    EnvVar(String),
    /// An exec run of a VM.
    Exec {
        /// The VM.
        vm_id: String,
        /// The run's id.
        exec_id: String,
    },
    /// A label of a VM.
    Label {
        /// The VM.
        vm_id: String,
        /// The label's name.
        name: String,
    },
    /// A base image.
    Image(String),
}

impl Named {
    /// The VM the thing belongs to, if it belongs to one.
    pub fn vm_id(&self) -> Option<&str> {
        match self {
            Named::Exec { vm_id, .. } | Named::Label { vm_id, .. } => Some(vm_id),
            _ => None,
        }
    }

    /// Whether a 404 whose message is `lower` (lower case) is about this thing rather than
    /// about the VM it belongs to.
    pub(crate) fn is_missing(&self, lower: &str) -> bool {
        match self {
            Named::Exec { .. } => lower.contains("exec"),
            Named::Label { .. } => lower.contains("label"),
            Named::Domain(_) => lower.contains("domain"),
            _ => true,
        }
    }

    /// What to do when it does not exist.
    pub fn find_hint(&self) -> String {
        match self {
            Named::Tag(name) => format!(
                "list tags with `tether tag ls` (a tag of a repository is named `repo:tag`); \
                 if the tag points at a deleted commit, move it (`tether tag move {name} \
                 COMMIT`) or remove it (`tether tag rm {name}`)"
            ),
            Named::Repo(_) => "list your repositories with `tether repo ls` (another \
                               account's public ones with `tether repo public`)"
                .to_owned(),
            Named::RepoTag { repo, tag } => format!(
                "list the repository's tags with `tether repo tags {repo}`; if the tag points \
                 at a deleted commit, move it (`tether tag move {repo}:{tag} COMMIT`) or \
                 remove it (`tether tag rm {repo}:{tag}`)"
            ),
            Named::PublicRepo { .. } => "it does not exist or its owner keeps it private; list \
                                         public repositories with `tether repo public`"
                .to_owned(),
            Named::Domain(_) => "list domains with `tether domain ls`".to_owned(),
            Named::EnvVar(_) => "list variables with `tether env ls`".to_owned(),
            Named::Exec { vm_id, .. } => {
                format!("the VM's exec runs are in `tether vm logs {vm_id}`")
            }
            Named::Label { vm_id, .. } => {
                format!("the VM's labels are shown by `tether vm info {vm_id}`")
            }
            Named::Image(_) => "the available images are listed by GET /api/v1/images".to_owned(),
        }
    }

    /// What to do when its name is taken.
    pub fn taken_hint(&self) -> String {
        match self {
            Named::Tag(name) => {
                format!("move it with `tether tag move {name} COMMIT`, or pick another name")
            }
            Named::RepoTag { repo, tag } => {
                format!("move it with `tether tag move {repo}:{tag} COMMIT`, or pick another name")
            }
            Named::Repo(_) | Named::PublicRepo { .. } => {
                "pick another name (`--as NAME` when forking)".to_owned()
            }
            Named::Domain(_) => {
                "remove the existing mapping first (`tether domain ls`, `tether domain rm ID`)"
                    .to_owned()
            }
            Named::Exec { .. } => "leave the exec id out to get a fresh one".to_owned(),
            Named::EnvVar(_) | Named::Label { .. } | Named::Image(_) => {
                "pick another name".to_owned()
            }
        }
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Named::Tag(name) => write!(f, "tag {name:?}"),
            Named::Repo(name) => write!(f, "repository {name:?}"),
            Named::RepoTag { repo, tag } => write!(f, "tag \"{repo}:{tag}\""),
            Named::PublicRepo {
                org,
                repo,
                tag: None,
            } => write!(f, "public repository {org}/{repo}"),
            Named::PublicRepo {
                org,
                repo,
                tag: Some(tag),
            } => write!(f, "public tag {org}/{repo}:{tag}"),
            Named::Domain(id) => write!(f, "domain {id}"),
            Named::EnvVar(name) => write!(f, "environment variable {name:?}"),
            Named::Exec { vm_id, exec_id } => write!(f, "exec {exec_id} of VM {vm_id}"),
            Named::Label { vm_id, name } => write!(f, "label {name:?} of VM {vm_id}"),
            Named::Image(name) => write!(f, "image {name:?}"),
        }
    }
}
