//! [`ApiError`]: why one API request failed, and the HTTP status it is answered with.

use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;

/// Why one API request failed; each variant knows its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong bearer key (401, as Vers answers).
    #[error(
        "{problem}: send `Authorization: Bearer <key>` with the `api_key` that `tether sim` \
         printed on its first stdout line (restarted on the same data directory, it prints the \
         same key again), or a key made with `tether sim key add`"
    )]
    Unauthorized {
        /// "missing API key" or "wrong API key".
        problem: &'static str,
    },
    /// No such VM.
    #[error("no VM {vm_id}; list VMs with GET /api/v1/vms")]
    UnknownVm {
        /// The id asked for.
        vm_id: String,
    },
    /// The VM was deleted.
    #[error(
        "VM {vm_id} was deleted; create a VM with POST /api/v1/vm/new_root or restore a commit"
    )]
    DeletedVm {
        /// The id asked for.
        vm_id: String,
    },
    /// The VM belongs to another account (403, as Vers answers).
    #[error(
        "forbidden: VM {vm_id} belongs to another account; list this account's VMs with \
         GET /api/v1/vms"
    )]
    ForeignVm {
        /// The id asked for.
        vm_id: String,
    },
    /// The commit belongs to another account (and, for reads, is not public).
    #[error(
        "forbidden: commit {commit_id} belongs to another account{}; list this account's \
         commits with GET /api/v1/commits and the public ones with GET /api/v1/commits/public",
        if *public { " (it is public: restore or branch it, but only its owner may change it)" } else { " and is not public" }
    )]
    ForeignCommit {
        /// The id asked for.
        commit_id: String,
        /// Whether it is public (readable, not writable).
        public: bool,
    },
    /// No such commit.
    #[error("no commit {commit_id}; list commits with GET /api/v1/commits")]
    UnknownCommit {
        /// The id asked for.
        commit_id: String,
    },
    /// The commit was deleted.
    #[error("commit {commit_id} was deleted; list commits with GET /api/v1/commits")]
    DeletedCommit {
        /// The id asked for.
        commit_id: String,
    },
    /// Neither a VM nor a commit has this id.
    #[error("no VM or commit {id}; list them with GET /api/v1/vms and GET /api/v1/commits")]
    UnknownSource {
        /// The id asked for.
        id: String,
    },
    /// A commit with the requested id exists already.
    #[error("commit {commit_id} exists already; leave `commit_id` out to get a fresh id")]
    CommitExists {
        /// The id asked for.
        commit_id: String,
    },
    /// VMs started from the commit still exist.
    #[error(
        "commit {commit_id} still has {count} active VM(s); delete them first (list them with \
         GET /api/v1/vms and GET /api/v1/vm/{{id}}/metadata shows each one's parent_commit_id)"
    )]
    CommitInUse {
        /// The commit.
        commit_id: String,
        /// How many VMs were started from it.
        count: usize,
    },
    /// The VM is paused and the operation needs it running.
    #[error(
        "VM {vm_id} is paused; PATCH its state to Running \
         (PATCH /api/v1/vm/{vm_id}/state with {{\"state\": \"Running\"}}) and retry"
    )]
    Paused {
        /// The VM.
        vm_id: String,
    },
    /// The VM is still booting and the caller asked not to wait.
    #[error("VM {vm_id} is still booting; retry without skip_wait_boot to wait for it")]
    Booting {
        /// The VM.
        vm_id: String,
    },
    /// The VM did not finish booting in time.
    #[error("VM {vm_id} did not boot within {timeout:?}; delete it and create another")]
    BootTimeout {
        /// The VM.
        vm_id: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The VM's sandbox is gone (failed to boot, or crashed).
    #[error(
        "VM {vm_id} is dead ({reason}); delete it with DELETE /api/v1/vm/{vm_id} and create another"
    )]
    Dead {
        /// The VM.
        vm_id: String,
        /// Why.
        reason: String,
    },
    /// The request body is not JSON.
    #[error("the request body is not valid JSON ({detail}); send a JSON object")]
    MalformedJson {
        /// What the parser said.
        detail: String,
    },
    /// The request body is JSON of the wrong shape (422, as Vers answers).
    #[error(
        "the request body does not fit this call: {detail}; see the Vers API reference for its fields"
    )]
    WrongShape {
        /// What the parser said.
        detail: String,
    },
    /// The request body is missing.
    #[error("this call needs a JSON body; send one with `Content-Type: application/json`")]
    EmptyBody,
    /// The request body could not be read (too large, cut off).
    #[error("could not read the request body: {detail}")]
    UnreadableBody {
        /// What axum said.
        detail: String,
        /// 413 for a body over the limit, else 400.
        status: StatusCode,
    },
    /// The query string is not valid.
    #[error("bad query string: {detail}")]
    BadQuery {
        /// What the parser said.
        detail: String,
    },
    /// The requested state is not one that can be set.
    #[error(
        "cannot set state {given:?}: the state must be \"Paused\", \"Sleeping\" or \"Running\""
    )]
    BadState {
        /// The value sent.
        given: String,
    },
    /// A request field has a value the simulator refuses.
    #[error("bad {field}: {reason}")]
    BadField {
        /// The field.
        field: &'static str,
        /// Why, and what is allowed.
        reason: String,
    },
    /// A path given for file access is unusable.
    #[error("bad path {path:?}: {reason}; give an absolute path inside the VM")]
    BadPath {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file does not exist in the VM.
    #[error("no such file in VM {vm_id}: {path}")]
    FileNotFound {
        /// The VM.
        vm_id: String,
        /// The path.
        path: String,
    },
    /// The path names a directory.
    #[error("{path} is a directory in VM {vm_id}; the files API reads and writes whole files only")]
    IsDirectory {
        /// The VM.
        vm_id: String,
        /// The path.
        path: String,
    },
    /// A disk can only grow.
    #[error(
        "cannot resize the disk of VM {vm_id} to {asked} MiB: it has {current} MiB and disks only \
         grow; ask for more than {current} MiB"
    )]
    DiskShrink {
        /// The VM.
        vm_id: String,
        /// Its disk size now.
        current: u32,
        /// The size asked for.
        asked: u32,
    },
    /// Something the simulator cannot do (it answers 4xx, never 5xx, so clients do not retry).
    #[error("{what} is not available in tether sim: {instead}")]
    NotAvailable {
        /// The operation.
        what: &'static str,
        /// What to do instead.
        instead: &'static str,
    },
    /// A tag, repository, domain, variable or run is unknown, taken or misnamed.
    #[error(transparent)]
    Ref(#[from] super::RefError),
    /// No route matches.
    #[error("no route {method} {path}; the API lives under /api/v1 (see the Vers API reference)")]
    NoRoute {
        /// The method used.
        method: String,
        /// The path asked for.
        path: String,
    },
    /// The simulator is shutting down.
    #[error("the simulator is shutting down; start it again and retry")]
    ShuttingDown,
    /// The sandbox failed at something.
    #[error("could not {action} VM {vm_id}: {source}")]
    Sandbox {
        /// What was being done.
        action: &'static str,
        /// The VM.
        vm_id: String,
        /// What the sandbox said.
        #[source]
        source: crate::backend::SandboxError,
    },
    /// The state database failed.
    #[error(
        "the simulator's state database failed: {source}; check the data directory and its free space"
    )]
    Database {
        /// What SQLite said.
        #[from]
        source: rusqlite::Error,
    },
    /// A stored or generated SSH key is unusable.
    #[error("SSH key of {owner} is unusable: {source}")]
    Key {
        /// The VM or commit.
        owner: String,
        /// What ssh-key said.
        #[source]
        source: russh::keys::ssh_key::Error,
    },
    /// The sandbox did not answer in time.
    #[error(
        "could not {action} VM {vm_id} within {timeout:?}; retry, or delete the VM if it keeps failing"
    )]
    SandboxTimeout {
        /// What was being done.
        action: &'static str,
        /// The VM.
        vm_id: String,
        /// The deadline.
        timeout: Duration,
    },
    /// An operation's task panicked or was cancelled.
    #[error("an internal task failed ({detail}); see the simulator's log on stderr")]
    TaskFailed {
        /// What the runtime said.
        detail: String,
    },
    /// A filesystem step outside the sandbox failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ForeignVm { .. } | ForeignCommit { .. } => StatusCode::FORBIDDEN,
            Ref(err) => err.status(),
            DiskShrink { .. } | NotAvailable { .. } => StatusCode::BAD_REQUEST,
            UnknownVm { .. } | DeletedVm { .. } | UnknownCommit { .. } | DeletedCommit { .. } => {
                StatusCode::NOT_FOUND
            }
            UnknownSource { .. } | FileNotFound { .. } | NoRoute { .. } => StatusCode::NOT_FOUND,
            CommitExists { .. }
            | CommitInUse { .. }
            | Paused { .. }
            | Booting { .. }
            | Dead { .. } => StatusCode::CONFLICT,
            UnreadableBody { status, .. } => *status,
            WrongShape { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            MalformedJson { .. }
            | EmptyBody
            | BadQuery { .. }
            | BadState { .. }
            | BadField { .. }
            | BadPath { .. } => StatusCode::BAD_REQUEST,
            IsDirectory { .. } => StatusCode::BAD_REQUEST,
            BootTimeout { .. } | SandboxTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Sandbox { .. } | Database { .. } | Key { .. } | Io { .. } | TaskFailed { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Maps a sandbox error met while acting on `vm_id` to the error the client should see.
    pub fn from_sandbox(
        action: &'static str,
        vm_id: &str,
        source: crate::backend::SandboxError,
    ) -> ApiError {
        use crate::backend::SandboxError as S;
        let vm_id = vm_id.to_owned();
        match source {
            S::Paused => ApiError::Paused { vm_id },
            S::NotRunning => ApiError::Dead {
                vm_id,
                reason: "its init exited".into(),
            },
            S::BadPath { path, reason } => ApiError::BadPath { path, reason },
            S::NotFound { path } => ApiError::FileNotFound { vm_id, path },
            S::IsDirectory { path } => ApiError::IsDirectory { vm_id, path },
            source => ApiError::Sandbox {
                action,
                vm_id,
                source,
            },
        }
    }
}
