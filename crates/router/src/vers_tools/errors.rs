//! API errors in the words of the tools: what was not found, taken or refused, and which
//! tool call finds or fixes it (the client's own messages name `tether` commands).

use tether_vers::{Named, VersError};

use crate::{ErrorKind, RouterError};

/// A tool error with `message`, of `kind`.
pub(crate) fn failed(kind: ErrorKind, message: impl Into<String>) -> RouterError {
    RouterError::ToolFailed {
        kind,
        message: message.into(),
    }
}

/// A usage error: the arguments cannot be used; `message` says what to pass instead.
pub(crate) fn usage(message: impl Into<String>) -> RouterError {
    failed(ErrorKind::Usage, message)
}

/// `err` as the tools say it.
pub(crate) fn for_tools(err: VersError) -> RouterError {
    match err {
        VersError::NotFound { what, message, .. } => failed(
            ErrorKind::NotFound,
            format!("{what} was not found ({message}); {}", find_hint(&what)),
        ),
        VersError::Taken { what, message, .. } => failed(
            ErrorKind::Usage,
            format!("{what} exists already ({message}); {}", taken_hint(&what)),
        ),
        VersError::ForeignTag { reference } => failed(
            ErrorKind::Usage,
            format!(
                "tag {reference} belongs to another organisation's repository and cannot be \
                 changed here; copy it into your account with vm_repo action fork (name \
                 {reference}) and change the copy"
            ),
        ),
        VersError::Invalid {
            method,
            path,
            message,
            ..
        } => failed(
            ErrorKind::Usage,
            format!(
                "the Vers API refused {method} {path}: {message}; correct the arguments and \
                 call the tool again"
            ),
        ),
        other => RouterError::Vers(other),
    }
}

fn find_hint(what: &Named) -> String {
    match what {
        Named::Tag(_) => "vm_tag action list shows the tags (a repository's tag is written \
                          repo:tag)"
            .to_owned(),
        Named::Repo(_) => "vm_repo action list shows your repositories (action public: other \
                           accounts' public ones)"
            .to_owned(),
        Named::RepoTag { repo, .. } => {
            format!("vm_repo action tags with name {repo} lists its tags")
        }
        Named::PublicRepo { .. } => "it does not exist or its owner keeps it private; vm_repo \
                                     action public lists the public repositories"
            .to_owned(),
        Named::EnvVar(_) => "vm_env action list shows the variables".to_owned(),
        Named::Exec { vm_id, .. } => format!(
            "vm_logs with vmId {vm_id} shows that VM's exec runs and their ids (start one with \
             vm_exec detach: true)"
        ),
        Named::Label { .. } => "vm_list shows each VM's labels".to_owned(),
        other => other.find_hint(),
    }
}

fn taken_hint(what: &Named) -> String {
    match what {
        Named::Tag(name) => {
            format!("move it with vm_tag action move (tag {name}), or pick another name")
        }
        Named::RepoTag { repo, tag } => {
            format!("move it with vm_tag action move (tag {repo}:{tag}), or pick another name")
        }
        Named::Repo(_) | Named::PublicRepo { .. } => {
            "pick another name (repoName when forking)".to_owned()
        }
        other => other.taken_hint(),
    }
}
