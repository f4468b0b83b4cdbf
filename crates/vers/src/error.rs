//! [`VersError`]: every way a Vers API call can fail, each message saying what to do next.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tether_wire::VmState;

use crate::{KeyOrigin, Named};

/// Why a Vers API call failed.
#[derive(Debug, thiserror::Error)]
pub enum VersError {
    /// No API key is configured at all.
    #[error(
        "no Vers API key: set VERS_API_KEY, or put {{\"apiKey\": \"<key>\"}} in {} (`vers login` \
         writes it); without a key, tether can use its local simulator (`tether sim`)",
        versrc.display()
    )]
    NoApiKey {
        /// The `.versrc` file that was looked for.
        versrc: PathBuf,
    },
    /// `~/.versrc` exists but cannot be read or parsed.
    #[error(
        "cannot read the Vers API key from {}: {reason}; fix the file (it holds \
         {{\"apiKey\": \"<key>\"}}) or set VERS_API_KEY",
        path.display()
    )]
    Versrc {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `VERS_URL` is not a usable URL.
    #[error(
        "VERS_URL={value:?} is not usable: {reason}; set it like https://api.vers.sh or unset it"
    )]
    BadUrl {
        /// The value found.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// `TETHER_SSH_GATEWAY` is not `host:port`.
    #[error(
        "TETHER_SSH_GATEWAY={value:?} is not host:port; set it like 127.0.0.1:4443 or unset it"
    )]
    BadGateway {
        /// The value found.
        value: String,
    },
    /// The CA certificate named by `TETHER_CA_CERT` cannot be used.
    #[error(
        "cannot use TETHER_CA_CERT={}: {reason}; point it at a PEM CA certificate (`tether sim` \
         prints its path as ca_cert) or unset it",
        path.display()
    )]
    CaCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The API refused the key (401, or a 403 from the authentication layer).
    #[error(
        "the Vers API rejected the API key from {origin} ({status} on {method} {path}); {}",
        key_fix(origin)
    )]
    KeyRejected {
        /// Where the key was read from.
        origin: KeyOrigin,
        /// 401 or 403.
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// The VM does not exist (or was deleted).
    #[error(
        "VM {vm_id} does not exist or was deleted ({status} on {method} {path}); list VMs with `tether vm ls`"
    )]
    VmNotFound {
        /// The VM asked for.
        vm_id: String,
        /// The status (404).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// Vers answers a delete of a missing (or another account's) VM with 403, not 404.
    #[error(
        "VM {vm_id} was not found or is not yours ({status} on {method} {path}); check the id \
         with `tether vm ls` (if it is listed there, your API key belongs to another account)"
    )]
    VmNotFoundOrNotYours {
        /// The VM asked for.
        vm_id: String,
        /// The status (403).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// The commit does not exist (or was deleted).
    #[error(
        "commit {commit_id} does not exist or was deleted ({status} on {method} {path}); list commits with `tether vm commits`"
    )]
    CommitNotFound {
        /// The commit asked for.
        commit_id: String,
        /// The status (404).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// Neither a VM nor a commit has this id (`POST /vm/{id}/branch`).
    #[error(
        "no VM or commit {id} ({status} on {method} {path}); check the id with `tether vm ls` or the commit list"
    )]
    SourceNotFound {
        /// The id asked for.
        id: String,
        /// The status (404).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// A tag, repository, domain, variable, exec run or label does not exist (404), or is
    /// another account's private one.
    #[error(
        "{what} was not found ({status} on {method} {path}: {message}); {}",
        what.find_hint()
    )]
    NotFound {
        /// What was asked for.
        what: Box<Named>,
        /// The status (404).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// The name of a tag, repository, domain or exec run is taken (409).
    #[error(
        "{what} exists already ({status} on {method} {path}: {message}); {}",
        what.taken_hint()
    )]
    Taken {
        /// What was to be created.
        what: Box<Named>,
        /// The status (409).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// A tag of another organisation's repository cannot be created, moved or deleted.
    #[error(
        "tag {reference} belongs to another organisation's repository and cannot be changed \
         here; fork it into your account (`tether repo fork {reference}`) and change the copy"
    )]
    ForeignTag {
        /// The tag as given.
        reference: String,
    },
    /// The file does not exist in the VM.
    #[error("no file {file} in VM {vm_id}; check the path (absolute, inside the VM)")]
    FileNotFound {
        /// The VM.
        vm_id: String,
        /// The path inside the VM.
        file: String,
    },
    /// The VM is paused and the operation needs it running.
    #[error(
        "VM {vm_id} is paused ({status} on {method} {path}); resume it (`tether vm resume {vm_id}`) and retry"
    )]
    VmPaused {
        /// The VM.
        vm_id: String,
        /// The status (409).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// The VM is still booting and the server would not wait.
    #[error(
        "VM {vm_id} is still booting ({status} on {method} {path}); wait until it is running and retry"
    )]
    VmBooting {
        /// The VM.
        vm_id: String,
        /// The status (409).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
    },
    /// The VM is dead and cannot be used again.
    #[error("VM {vm_id} is dead; delete it (`tether vm rm {vm_id}`) and create or branch another")]
    VmDead {
        /// The VM.
        vm_id: String,
    },
    /// The VM is paused or asleep, so waiting will not make it run.
    #[error("VM {vm_id} is {} and will not run by itself; resume it (`tether vm resume {vm_id}`) and retry", state_name(*state))]
    VmStopped {
        /// The VM.
        vm_id: String,
        /// Its state.
        state: VmState,
    },
    /// The VM did not reach `running` in time.
    #[error("VM {vm_id} was still {} after {waited:?}; check it with `tether vm info {vm_id}` and retry, or delete it and create another", state_name(*state))]
    NotRunningInTime {
        /// The VM.
        vm_id: String,
        /// Its last state seen.
        state: VmState,
        /// How long was waited.
        waited: Duration,
    },
    /// The request was malformed in the API's eyes (400, 422).
    #[error(
        "the Vers API rejected {method} {path} as invalid ({status}): {message}; correct the request and retry"
    )]
    Invalid {
        /// 400 or 422.
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// The API refused the request for a reason other than the key (403: e.g. a resource limit).
    #[error(
        "the Vers API refused {method} {path} ({status}): {message}; the account may be at a resource limit (delete unused VMs) or lack access to this resource"
    )]
    Refused {
        /// The status (403).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// The request conflicts with the resource's state (409).
    #[error(
        "{method} {path} conflicts with the current state ({status}): {message}; resolve that and retry"
    )]
    Conflict {
        /// The status (409).
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// The API failed on its side (5xx).
    #[error("the Vers API failed on {method} {path} ({status}): {message}; retry in a moment")]
    Server {
        /// The 5xx status.
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// Any other unsuccessful status.
    #[error(
        "{method} {path} failed ({status}): {message}; check that VERS_URL points at the Vers API"
    )]
    Api {
        /// The status.
        status: StatusCode,
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What the API said.
        message: String,
    },
    /// Nothing answered at the API's address.
    #[error(
        "could not connect to the Vers API at {url} ({cause}); check VERS_URL and your network (for the local simulator: is `tether sim` running?)"
    )]
    Unreachable {
        /// The URL requested.
        url: String,
        /// The innermost cause, as text (e.g. "Connection refused").
        cause: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The API's TLS certificate was not accepted.
    #[error(
        "the TLS certificate of {url} was not accepted ({cause}); for the local simulator set \
         TETHER_CA_CERT to the ca_cert `tether sim` printed, otherwise check VERS_URL"
    )]
    TlsRejected {
        /// The URL requested.
        url: String,
        /// What the TLS layer said.
        cause: String,
        /// The error.
        #[source]
        source: reqwest::Error,
    },
    /// No reply within the deadline.
    #[error(
        "{method} {path} got no complete reply within {after:?}; the Vers API is slow or unreachable; retry"
    )]
    Timeout {
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The HTTP exchange failed after connecting (TLS, reset, truncated body).
    #[error("{method} {path} failed ({cause}); retry")]
    Http {
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// The innermost cause, as text (e.g. a TLS certificate error).
        cause: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A successful reply did not have the expected shape.
    #[error(
        "unexpected reply to {method} {path}: {reason}; the Vers API may have changed (update tether)"
    )]
    BadReply {
        /// The request's method.
        method: Method,
        /// The request's path under `/api/v1`.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The server reported a failure inside an exec stream.
    #[error("running the command in VM {vm_id} failed on the server ({code}): {message}; retry")]
    ExecFailed {
        /// The VM.
        vm_id: String,
        /// The server's error code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// An exec stream ended before the command's exit status arrived.
    #[error(
        "the output stream of VM {vm_id} ended before the command's exit status ({reason}); the command may still be running in the VM (check with `ps`)"
    )]
    StreamEnded {
        /// The VM.
        vm_id: String,
        /// What ended it.
        reason: String,
    },
}

/// A state as the API spells it.
fn state_name(state: VmState) -> &'static str {
    match state {
        VmState::Booting => "booting",
        VmState::Running => "running",
        VmState::Paused => "paused",
        VmState::Sleeping => "sleeping",
        VmState::Dead => "dead",
    }
}

fn key_fix(origin: &KeyOrigin) -> String {
    match origin {
        KeyOrigin::Env => {
            "set VERS_API_KEY to a valid key, or unset it to use the key in ~/.versrc \
             (for the local simulator, use the api_key `tether sim` printed)"
                .to_owned()
        }
        KeyOrigin::Versrc(path) => format!(
            "replace apiKey in {} with a valid key (`vers login` rewrites it) or set VERS_API_KEY \
             (for the local simulator, use the api_key `tether sim` printed)",
            path.display()
        ),
    }
}

impl VersError {
    /// Whether the error means the VM (or commit, or file) asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            VersError::VmNotFound { .. }
                | VersError::VmNotFoundOrNotYours { .. }
                | VersError::CommitNotFound { .. }
                | VersError::SourceNotFound { .. }
                | VersError::FileNotFound { .. }
                | VersError::NotFound { .. }
        )
    }

    /// The HTTP status the API answered with, if the error came from one.
    pub fn status(&self) -> Option<StatusCode> {
        use VersError::*;
        match self {
            KeyRejected { status, .. }
            | VmNotFound { status, .. }
            | VmNotFoundOrNotYours { status, .. }
            | CommitNotFound { status, .. }
            | SourceNotFound { status, .. }
            | NotFound { status, .. }
            | Taken { status, .. }
            | VmPaused { status, .. }
            | VmBooting { status, .. }
            | Invalid { status, .. }
            | Refused { status, .. }
            | Conflict { status, .. }
            | Server { status, .. }
            | Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}
