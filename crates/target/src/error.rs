//! Errors of every target, the same for the local machine and a remote one.
//!
//! A message names the path and says what to do next. Messages never name the target, so one
//! failure reads the same wherever it happened (the caller knows where it ran the operation).

use std::time::Duration;

use tether_transport::TransportError;

/// Why an operation on a target failed.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The path does not exist.
    #[error("{path} does not exist; check the path, or list its directory to see what is there")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// A file was expected but the path is a directory.
    #[error("{path} is a directory, not a file; list it to see its files, or give a file's path")]
    IsADirectory {
        /// The path asked for.
        path: String,
    },
    /// A directory was expected but the path (or one of its parents) is not one.
    #[error("{path} is not a directory (or one of its parents is a file); give a directory's path")]
    NotADirectory {
        /// The path asked for.
        path: String,
    },
    /// The operation is not allowed on the path.
    #[error(
        "permission denied for {path}; choose a path the user may access, or change its permissions"
    )]
    PermissionDenied {
        /// The path asked for.
        path: String,
    },
    /// A file cannot be written because its directory does not exist.
    #[error(
        "cannot write {path}: its directory {parent} does not exist; create it first (mkdir -p), then retry"
    )]
    ParentMissing {
        /// The file to be written.
        path: String,
        /// Its missing directory.
        parent: String,
    },
    /// A command's working directory does not exist or is not a directory; nothing ran.
    #[error(
        "the working directory {path} does not exist or is not a directory; nothing ran; use an existing directory"
    )]
    BadWorkingDirectory {
        /// The working directory asked for.
        path: String,
    },
    /// A path cannot be used at all (it contains a NUL byte, or is empty).
    #[error("{path:?} is not a usable path ({reason}); give a non-empty path without NUL bytes")]
    InvalidPath {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A glob or grep pattern is malformed.
    #[error(
        "invalid pattern {pattern:?}: {reason}; fix the pattern (or search for a literal string)"
    )]
    InvalidPattern {
        /// The pattern given.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Fewer bytes arrived than were announced (the source ended early or the connection
    /// dropped); nothing was written.
    #[error(
        "{path} was not written: expected {expected} bytes, got {got}; the source ended early; retry"
    )]
    Truncated {
        /// The file that was to be written.
        path: String,
        /// The announced length.
        expected: u64,
        /// The bytes that arrived.
        got: u64,
    },
    /// A tool the operation needs is not installed where it runs.
    #[error(
        "`{tool}` is not installed where this runs; install it (e.g. apt-get install {package}) and retry"
    )]
    MissingTool {
        /// The program.
        tool: &'static str,
        /// The Debian package that provides it.
        package: &'static str,
    },
    /// A helper program (tar, grep, find, …) failed.
    #[error("{what} failed ({status}): {stderr}; {hint}")]
    Tool {
        /// What was being done.
        what: &'static str,
        /// How the program ended, e.g. `exit code 2`.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// An operation took longer than its deadline and was stopped.
    #[error(
        "{what} took longer than {after:?} and was stopped; narrow it down (a smaller directory or a more specific pattern) and retry"
    )]
    Timeout {
        /// What was being done.
        what: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The endpoint or key of a remote target could not be obtained (e.g. the VM's key could not
    /// be fetched, or a paused VM could not be resumed).
    #[error("cannot get access to {target}: {source}")]
    Access {
        /// The target, as its provider describes it.
        target: String,
        /// The provider's error, which says what to do.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Reaching the remote target failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A local file or process operation failed.
    #[error("{context}: {source}; check the path, its permissions and free disk space, then retry")]
    Io {
        /// What was being done, with its path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl TargetError {
    /// An [`TargetError::Io`] for `context`.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> TargetError {
        TargetError::Io {
            context: context.into(),
            source,
        }
    }
}
