//! Failed replies: reading the body in whatever shape Vers sent it, and mapping status,
//! body and request to the [`VersError`] that says what to do.
//!
//! Shapes met in the wild (vers-api/NOTES.md): `{"error", "success": false}`; the hybrid
//! `{"vms": [], "error"}` of branch routes; plain-text `403 Forbidden` from the auth layer;
//! text/plain 400/422 from the JSON extractor; `{"error": "Forbidden"}` with 403 for a VM that
//! is missing or belongs to someone else.

use reqwest::{Response, StatusCode};
use serde_json::Value;

use crate::client::Call;
use crate::{KeyOrigin, Named, VersError};

/// Longest error text kept from a reply body.
const MAX_MESSAGE_CHARS: usize = 500;

/// What a request is about, so a 404 or 409 can name the right thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The account as a whole (lists, creation).
    Account,
    /// One VM.
    Vm(String),
    /// One commit.
    Commit(String),
    /// An id that may be a VM or a commit (`POST /vm/{id}/branch`).
    Source(String),
    /// A file in a VM.
    File {
        /// The VM.
        vm_id: String,
        /// The path inside it.
        file: String,
    },
    /// A named thing of the account: a tag, repository, domain, variable, exec run, label.
    Named(Named),
    /// A tag being pointed at a commit (created or moved): a 404 may be about either.
    Tagging {
        /// The tag.
        tag: Named,
        /// The commit it is to point at.
        commit_id: String,
    },
}

impl Subject {
    fn vm_id(&self) -> Option<&str> {
        match self {
            Subject::Vm(vm_id) | Subject::File { vm_id, .. } => Some(vm_id),
            Subject::Source(id) => Some(id),
            Subject::Named(named) => named.vm_id(),
            Subject::Account | Subject::Commit(_) | Subject::Tagging { .. } => None,
        }
    }
}

/// The body of a failed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Whether the body was JSON.
    pub(crate) json: bool,
    /// The error text: the JSON `error` field, or the plain-text body.
    pub(crate) message: String,
}

impl Failure {
    /// Reads a failed reply's body (bounded by the request's deadline).
    pub(crate) async fn read(response: Response) -> Failure {
        let status = response.status();
        match response.bytes().await {
            Ok(bytes) => Failure::parse(status, &bytes),
            Err(e) => Failure {
                json: false,
                message: format!("(the error body could not be read: {e})"),
            },
        }
    }

    /// Interprets a body: JSON with `error` (or `message`), else text.
    pub(crate) fn parse(status: StatusCode, body: &[u8]) -> Failure {
        if let Ok(value) = serde_json::from_slice::<Value>(body)
            && value.is_object()
        {
            return Failure {
                json: true,
                message: json_message(&value),
            };
        }
        let text = String::from_utf8_lossy(body).trim().to_owned();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("no message").to_owned()
        } else {
            truncate(text)
        };
        Failure {
            json: false,
            message,
        }
    }

    fn lower(&self) -> String {
        self.message.to_lowercase()
    }

    /// The message names the API key or authentication.
    fn is_about_the_key(&self) -> bool {
        let lower = self.lower();
        [
            "api key",
            "apikey",
            "api_key",
            "bearer",
            "unauthorized",
            "authenticat",
        ]
        .iter()
        .any(|word| lower.contains(word))
    }
}

fn json_message(value: &Value) -> String {
    let text = ["error", "message"]
        .iter()
        .find_map(|field| value.get(field).and_then(Value::as_str));
    match text {
        Some(text) => truncate(text.trim().to_owned()),
        None => truncate(value.to_string()),
    }
}

fn truncate(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_MESSAGE_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// The error for a failed `call` that got `status` and `failure`, sent with a key from `origin`.
pub(crate) fn classify(
    status: StatusCode,
    call: &Call,
    failure: &Failure,
    origin: &KeyOrigin,
) -> VersError {
    let (method, path, message) = (call.method.clone(), call.path(), failure.message.clone());
    match status.as_u16() {
        401 => key_rejected(status, call, origin),
        403 => forbidden(status, call, failure, origin),
        404 => not_found(status, call, failure),
        409 => conflict(status, call, failure),
        400 | 422 => VersError::Invalid {
            status,
            method,
            path,
            message,
        },
        500..=599 => VersError::Server {
            status,
            method,
            path,
            message,
        },
        _ => VersError::Api {
            status,
            method,
            path,
            message,
        },
    }
}

fn key_rejected(status: StatusCode, call: &Call, origin: &KeyOrigin) -> VersError {
    VersError::KeyRejected {
        origin: origin.clone(),
        status,
        method: call.method.clone(),
        path: call.path(),
    }
}

/// 403 means three things at Vers: a rejected key (plain text from the gateway), a VM that
/// is missing or someone else's (`{"error": "Forbidden"}`), or a refusal such as a limit.
fn forbidden(status: StatusCode, call: &Call, failure: &Failure, origin: &KeyOrigin) -> VersError {
    if !failure.json || failure.is_about_the_key() {
        return key_rejected(status, call, origin);
    }
    let lower = failure.lower();
    let missing = lower == "forbidden" || lower.contains("not found");
    match call.subject.vm_id() {
        Some(vm_id) if missing => VersError::VmNotFoundOrNotYours {
            vm_id: vm_id.to_owned(),
            status,
            method: call.method.clone(),
            path: call.path(),
        },
        _ => VersError::Refused {
            status,
            method: call.method.clone(),
            path: call.path(),
            message: failure.message.clone(),
        },
    }
}

fn not_found(status: StatusCode, call: &Call, failure: &Failure) -> VersError {
    let (method, path) = (call.method.clone(), call.path());
    match &call.subject {
        Subject::Vm(vm_id) => VersError::VmNotFound {
            vm_id: vm_id.clone(),
            status,
            method,
            path,
        },
        Subject::Commit(commit_id) => VersError::CommitNotFound {
            commit_id: commit_id.clone(),
            status,
            method,
            path,
        },
        Subject::Source(id) => VersError::SourceNotFound {
            id: id.clone(),
            status,
            method,
            path,
        },
        Subject::File { vm_id, file } if failure.lower().contains("file") => {
            VersError::FileNotFound {
                vm_id: vm_id.clone(),
                file: file.clone(),
            }
        }
        Subject::File { vm_id, .. } => VersError::VmNotFound {
            vm_id: vm_id.clone(),
            status,
            method,
            path,
        },
        // The commit is missing when the message names it (Vers: "commit not found").
        Subject::Tagging { commit_id, .. }
            if !failure.lower().starts_with("tag")
                && (failure.message.contains(commit_id.as_str())
                    || failure.lower().starts_with("commit not found")) =>
        {
            VersError::CommitNotFound {
                commit_id: commit_id.clone(),
                status,
                method,
                path,
            }
        }
        Subject::Tagging { tag, .. } => VersError::NotFound {
            what: Box::new(tag.clone()),
            status,
            method,
            path,
            message: failure.message.clone(),
        },
        Subject::Named(named) if named.is_missing(&failure.lower()) => VersError::NotFound {
            what: Box::new(named.clone()),
            status,
            method,
            path,
            message: failure.message.clone(),
        },
        Subject::Named(named) => match named.vm_id() {
            Some(vm_id) => VersError::VmNotFound {
                vm_id: vm_id.to_owned(),
                status,
                method,
                path,
            },
            None => VersError::Api {
                status,
                method,
                path,
                message: failure.message.clone(),
            },
        },
        Subject::Account => VersError::Api {
            status,
            method,
            path,
            message: failure.message.clone(),
        },
    }
}

/// 409: the simulator says so when a VM is paused, booting or dead; otherwise a plain conflict
/// (e.g. deleting a commit that still has VMs).
fn conflict(status: StatusCode, call: &Call, failure: &Failure) -> VersError {
    let lower = failure.lower();
    let (method, path) = (call.method.clone(), call.path());
    match call.subject.vm_id().map(str::to_owned) {
        Some(vm_id) if lower.contains("paused") => VersError::VmPaused {
            vm_id,
            status,
            method,
            path,
        },
        Some(vm_id) if lower.contains("booting") => VersError::VmBooting {
            vm_id,
            status,
            method,
            path,
        },
        Some(vm_id) if lower.contains("dead") => VersError::VmDead { vm_id },
        _ if lower.contains("exists") || lower.contains("already") => match &call.subject {
            Subject::Named(named) | Subject::Tagging { tag: named, .. } => VersError::Taken {
                what: Box::new(named.clone()),
                status,
                method,
                path,
                message: failure.message.clone(),
            },
            _ => VersError::Conflict {
                status,
                method,
                path,
                message: failure.message.clone(),
            },
        },
        _ => VersError::Conflict {
            status,
            method,
            path,
            message: failure.message.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn bodies_of_every_shape_give_their_message() {
        let parse = |body: &str| Failure::parse(StatusCode::FORBIDDEN, body.as_bytes());
        assert_eq!(
            parse(r#"{"error":"Forbidden","success":false}"#),
            Failure {
                json: true,
                message: "Forbidden".into()
            }
        );
        assert_eq!(
            parse(r#"{"vms":[],"error":"parent vm not found"}"#),
            Failure {
                json: true,
                message: "parent vm not found".into()
            }
        );
        assert_eq!(
            parse("403 Forbidden"),
            Failure {
                json: false,
                message: "403 Forbidden".into()
            }
        );
        assert_eq!(
            parse(""),
            Failure {
                json: false,
                message: "Forbidden".into()
            }
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(MAX_MESSAGE_CHARS * 2);
        let failure = Failure::parse(StatusCode::BAD_REQUEST, long.as_bytes());
        assert_eq!(failure.message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
