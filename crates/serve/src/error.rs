//! [`ServeError`]: why a request (or the server) failed, and its JSON-RPC error object.

use serde_json::json;
use tether_router::{ErrorKind, RouterError};
use tether_swarm::SwarmError;
use tether_target::TargetError;
use tether_tools::ToolError;
use tether_vers::VersError;

use crate::protocol::{RpcError, code};

/// Why the server or one of its methods failed. Each message says what to do next; the
/// messages of method errors are what the model reads as a tool error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reading requests from stdin or writing responses to stdout failed.
    #[error("could not {action} the JSON-RPC stream: {source}; the client has probably exited")]
    Stdio {
        /// `read` or `write`.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line longer than the limit arrived.
    #[error("a message longer than {limit} bytes arrived; send files in smaller pieces")]
    MessageTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A method was called before `initialize`.
    #[error("the server is not initialized; send \"initialize\" first")]
    NotInitialized,
    /// No such method.
    #[error("there is no method {method:?}; see the wire spec (crates/serve/README.md)")]
    UnknownMethod {
        /// The method asked for.
        method: String,
    },
    /// The params do not fit the method.
    #[error("invalid params for {method}: {reason}")]
    InvalidParams {
        /// The method.
        method: String,
        /// What is wrong.
        reason: String,
    },
    /// An operation needs a VM but none is active and none was named.
    #[error("no VM is active; call vm_use with a VM id first (vm_list shows them), or name a VM")]
    NoActiveVm,
    /// No VM (or commit) id starts with what was given.
    #[error("no {kind} id starts with {query:?}; {}", known_ids(kind, candidates))]
    UnknownId {
        /// `VM` or `commit`.
        kind: &'static str,
        /// What was given.
        query: String,
        /// The ids that exist.
        candidates: Vec<String>,
    },
    /// The VM does not exist (any more).
    #[error(
        "VM {vm_id} does not exist (it may have been deleted); call vm_list to see the VMs, or create_vm to make one"
    )]
    VmGone {
        /// The VM.
        vm_id: String,
        /// What the API said.
        #[source]
        source: Box<RouterError>,
    },
    /// A `vm:<id>:<path>` place is malformed.
    #[error("{text:?} is not a valid place ({reason}); write a local path or vm:<vm_id>:<path>")]
    BadPlace {
        /// What was given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A copy between two local paths was asked for.
    #[error("both {from:?} and {to:?} are local; use bash (cp -r) for a local copy")]
    LocalCopy {
        /// The source.
        from: String,
        /// The destination.
        to: String,
    },
    /// The VM did not answer the check `vm/use` makes.
    #[error(
        "VM {vm_id} did not answer ({detail}); check it with vm_list, resume it with vm_state, or use another VM"
    )]
    VmUnresponsive {
        /// The VM.
        vm_id: String,
        /// What the check saw.
        detail: String,
    },
    /// Another running exec already uses this id.
    #[error("an exec with id {exec_id:?} is already running; use a fresh execId")]
    ExecIdInUse {
        /// The id.
        exec_id: String,
    },
    /// Another running swarm call already uses this id.
    #[error("a swarm call with id {call_id:?} is already running; use a fresh callId")]
    CallIdInUse {
        /// The id.
        call_id: String,
    },
    /// Base64 data in the params is not valid.
    #[error("the data of {method} is not valid base64 ({source}); send standard base64")]
    BadBase64 {
        /// The method.
        method: String,
        /// The decoder's complaint.
        #[source]
        source: base64::DecodeError,
    },
    /// A result could not be encoded as JSON (a bug).
    #[error("a result could not be encoded as JSON ({source}); report this bug")]
    Encode {
        /// The encoder's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// Finding or reaching a VM failed.
    #[error(transparent)]
    Router(Box<RouterError>),
    /// A Vers API call failed.
    #[error(transparent)]
    Vers(#[from] VersError),
    /// An operation on the VM (or this machine) failed.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A swarm tool failed.
    #[error(transparent)]
    Swarm(Box<SwarmError>),
    /// A background-process tool failed.
    #[error(transparent)]
    Tool(Box<ToolError>),
}

/// How many ids a message lists at most.
const SHOWN_IDS: usize = 10;

fn known_ids(kind: &str, ids: &[String]) -> String {
    if ids.is_empty() {
        let make = if kind == "VM" {
            "create_vm makes one"
        } else {
            "vm_commit makes one"
        };
        return format!("there are no {kind}s yet ({make})");
    }
    let mut shown = ids
        .iter()
        .take(SHOWN_IDS)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN_IDS {
        shown.push_str(&format!(" and {} more", ids.len() - SHOWN_IDS));
    }
    let list = if kind == "VM" {
        " (vm_list lists them)"
    } else {
        ""
    };
    format!("the {kind}s are: {shown}{list}; use one of them")
}

impl ServeError {
    /// `err`, met while looking for VM `vm_id`, in the words the model needs: an unknown id
    /// lists the known ones, a missing VM points at vm_list.
    pub(crate) fn about_vm(vm_id: &str, err: RouterError) -> ServeError {
        match err {
            RouterError::Vers(vers) if vers.is_not_found() => ServeError::VmGone {
                vm_id: vm_id.to_owned(),
                source: Box::new(RouterError::Vers(vers)),
            },
            err => ServeError::naming_ids(err),
        }
    }

    /// `err`, with an unknown id listing the known ones.
    pub(crate) fn naming_ids(err: RouterError) -> ServeError {
        match err {
            RouterError::NoMatch {
                kind,
                query,
                candidates,
            } => ServeError::UnknownId {
                kind,
                query,
                candidates,
            },
            err => err.into(),
        }
    }
}

impl From<RouterError> for ServeError {
    fn from(err: RouterError) -> ServeError {
        ServeError::Router(Box::new(err))
    }
}

impl From<ToolError> for ServeError {
    fn from(err: ToolError) -> ServeError {
        match err {
            ToolError::Target(err) => ServeError::Target(err),
            err => ServeError::Tool(Box::new(err)),
        }
    }
}

impl From<SwarmError> for ServeError {
    fn from(err: SwarmError) -> ServeError {
        ServeError::Swarm(Box::new(err))
    }
}

impl ServeError {
    /// The kind of failure, as [`ErrorKind`] sorts the stack's errors.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServeError::Router(err) => ErrorKind::of(err.as_ref()),
            ServeError::Vers(err) => ErrorKind::of(err),
            ServeError::Target(err) => ErrorKind::of(err),
            ServeError::Swarm(err) => err.kind(),
            ServeError::Tool(err) => match err.as_ref() {
                ToolError::NoSuchProcess { .. } => ErrorKind::NotFound,
                ToolError::BadArguments { .. } | ToolError::NameTaken { .. } => ErrorKind::Usage,
                err => ErrorKind::of(err),
            },
            ServeError::UnknownId { .. } | ServeError::VmGone { .. } => ErrorKind::NotFound,
            ServeError::NoActiveVm
            | ServeError::BadPlace { .. }
            | ServeError::LocalCopy { .. }
            | ServeError::ExecIdInUse { .. }
            | ServeError::CallIdInUse { .. }
            | ServeError::InvalidParams { .. }
            | ServeError::UnknownMethod { .. }
            | ServeError::BadBase64 { .. }
            | ServeError::NotInitialized => ErrorKind::Usage,
            ServeError::VmUnresponsive { .. } => ErrorKind::Unavailable,
            ServeError::Stdio { .. }
            | ServeError::MessageTooLong { .. }
            | ServeError::Encode { .. } => ErrorKind::Internal,
        }
    }

    /// The JSON-RPC error object for this failure.
    pub fn to_rpc(&self) -> RpcError {
        let kind = self.kind();
        let code = match self {
            ServeError::NotInitialized => code::NOT_INITIALIZED,
            ServeError::UnknownMethod { .. } => code::METHOD_NOT_FOUND,
            ServeError::InvalidParams { .. } | ServeError::BadBase64 { .. } => code::INVALID_PARAMS,
            _ => kind_code(kind),
        };
        let mut data = json!({ "kind": kind.name() });
        if let Some(errno) = self.errno() {
            data["errno"] = json!(errno);
        }
        RpcError {
            code,
            message: self.to_string(),
            data: Some(data),
        }
    }

    /// The POSIX error name of a file operation's failure, for a Node caller.
    fn errno(&self) -> Option<&'static str> {
        let target = match self {
            ServeError::Target(err) => err,
            ServeError::Router(err) => match err.as_ref() {
                RouterError::Target(err) => err,
                _ => return None,
            },
            _ => return None,
        };
        Some(match target {
            TargetError::NotFound { .. } | TargetError::ParentMissing { .. } => "ENOENT",
            TargetError::IsADirectory { .. } => "EISDIR",
            TargetError::NotADirectory { .. } | TargetError::BadWorkingDirectory { .. } => {
                "ENOTDIR"
            }
            TargetError::PermissionDenied { .. } => "EACCES",
            _ => return None,
        })
    }
}

fn kind_code(kind: ErrorKind) -> i64 {
    match kind {
        ErrorKind::NotFound => code::NOT_FOUND,
        ErrorKind::Usage => code::USAGE,
        ErrorKind::Auth => code::AUTH,
        ErrorKind::Unavailable => code::UNAVAILABLE,
        ErrorKind::Internal => code::INTERNAL,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_missing_file_is_not_found_with_enoent() {
        let err = ServeError::Target(TargetError::NotFound {
            path: "/root/x".into(),
        });
        let rpc = err.to_rpc();
        assert_eq!(rpc.code, code::NOT_FOUND);
        assert_eq!(
            rpc.data,
            Some(json!({"kind": "not_found", "errno": "ENOENT"}))
        );
        assert!(rpc.message.starts_with("/root/x does not exist"), "{rpc:?}");
    }

    #[test]
    fn protocol_mistakes_get_the_standard_codes() {
        let unknown = ServeError::UnknownMethod { method: "x".into() };
        assert_eq!(unknown.to_rpc().code, code::METHOD_NOT_FOUND);
        let params = ServeError::InvalidParams {
            method: "exec".into(),
            reason: "missing field `command`".into(),
        };
        assert_eq!(params.to_rpc().code, code::INVALID_PARAMS);
        assert_eq!(
            ServeError::NoActiveVm.to_rpc().data,
            Some(json!({"kind": "usage"}))
        );
    }

    #[test]
    fn swarm_errors_keep_their_words_and_kind() {
        let count = ServeError::from(SwarmError::BadCount { count: 0, max: 64 }).to_rpc();
        assert_eq!(count.code, code::USAGE);
        assert_eq!(count.message, "count must be from 1 to 64, not 0");
        let missing = ServeError::from(SwarmError::NoSwarms).to_rpc();
        assert_eq!(
            (missing.code, missing.data),
            (code::NOT_FOUND, Some(json!({"kind": "not_found"})))
        );
    }
}
