//! [`ErrorKind`]: what kind of failure an error is, for exit codes and protocol error codes.

use tether_target::TargetError;
use tether_transport::TransportError;
use tether_vers::VersError;

use crate::RouterError;

/// What kind of failure an error is, whatever layer it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A VM, commit, file or directory does not exist.
    NotFound,
    /// The request itself is wrong (bad id prefix, no default VM, bad path, invalid argument).
    Usage,
    /// No API key, or the key was rejected.
    Auth,
    /// The API, the simulator or the VM could not be reached in time; retrying may help.
    Unavailable,
    /// Anything else.
    Internal,
}

impl ErrorKind {
    /// A short stable name: `not_found`, `usage`, `auth`, `unavailable`, `internal`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Usage => "usage",
            ErrorKind::Auth => "auth",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind of `err`: the first error in its source chain that tether knows decides.
    pub fn of(err: &(dyn std::error::Error + 'static)) -> ErrorKind {
        let mut next = Some(err);
        while let Some(err) = next {
            if let Some(kind) = known(err) {
                return kind;
            }
            next = err.source();
        }
        ErrorKind::Internal
    }
}

impl ErrorKind {
    /// Whether `err` is one of tether's own error types (whose messages say what to do).
    pub fn knows(err: &(dyn std::error::Error + 'static)) -> bool {
        err.is::<RouterError>()
            || err.is::<VersError>()
            || err.is::<TargetError>()
            || err.is::<TransportError>()
    }
}

fn known(err: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    if let Some(err) = err.downcast_ref::<RouterError>() {
        return router(err);
    }
    if let Some(err) = err.downcast_ref::<VersError>() {
        return Some(vers(err));
    }
    if let Some(err) = err.downcast_ref::<TargetError>() {
        return target(err);
    }
    err.downcast_ref::<TransportError>().map(transport)
}

fn router(err: &RouterError) -> Option<ErrorKind> {
    Some(match err {
        RouterError::NoMatch { .. } => ErrorKind::NotFound,
        RouterError::Ambiguous { .. }
        | RouterError::NoDefaultVm { .. }
        | RouterError::LocalPortInUse { .. }
        | RouterError::Listen { .. }
        | RouterError::BadTunnel { .. } => ErrorKind::Usage,
        RouterError::ToolFailed { kind, .. } => *kind,
        RouterError::SimStart { .. } | RouterError::SimStartTimeout { .. } => {
            ErrorKind::Unavailable
        }
        // Transparent variants hand `source()` past the inner error: look at it here.
        RouterError::Vers(err) => vers(err),
        RouterError::Transport(err) => transport(err),
        RouterError::Target(err) => return target(err),
        _ => ErrorKind::Internal,
    })
}

fn vers(err: &VersError) -> ErrorKind {
    use VersError::*;
    match err {
        _ if err.is_not_found() => ErrorKind::NotFound,
        NoApiKey { .. } | Versrc { .. } | KeyRejected { .. } => ErrorKind::Auth,
        Unreachable { .. }
        | Timeout { .. }
        | Server { .. }
        | NotRunningInTime { .. }
        | VmBooting { .. } => ErrorKind::Unavailable,
        BadUrl { .. }
        | BadGateway { .. }
        | CaCert { .. }
        | Invalid { .. }
        | VmPaused { .. }
        | VmStopped { .. }
        | VmDead { .. }
        | Conflict { .. }
        | Taken { .. }
        | ForeignTag { .. }
        | Refused { .. } => ErrorKind::Usage,
        _ => ErrorKind::Internal,
    }
}

fn target(err: &TargetError) -> Option<ErrorKind> {
    use TargetError::*;
    Some(match err {
        NotFound { .. } => ErrorKind::NotFound,
        IsADirectory { .. }
        | NotADirectory { .. }
        | PermissionDenied { .. }
        | ParentMissing { .. }
        | BadWorkingDirectory { .. }
        | InvalidPath { .. }
        | InvalidPattern { .. } => ErrorKind::Usage,
        Timeout { .. } => ErrorKind::Unavailable,
        Transport(err) => transport(err),
        Access { .. } => return None,
        _ => ErrorKind::Internal,
    })
}

fn transport(err: &TransportError) -> ErrorKind {
    use TransportError::*;
    match err {
        Connect { .. } | Tls { .. } | Timeout { .. } | Disconnected { .. } => {
            ErrorKind::Unavailable
        }
        AuthRejected { .. } | HostKeyChanged { .. } => ErrorKind::Auth,
        NothingListening { .. } => ErrorKind::NotFound,
        ForwardProhibited { .. } => ErrorKind::Usage,
        ForwardFailed { .. } => ErrorKind::Unavailable,
        _ => ErrorKind::Internal,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_innermost_known_error_decides_through_wrappers() {
        let not_found = RouterError::Target(TargetError::NotFound { path: "/x".into() });
        assert_eq!(ErrorKind::of(&not_found), ErrorKind::NotFound);
        let access = TargetError::Access {
            target: "VM v".into(),
            source: Box::new(RouterError::Vers(VersError::NoApiKey {
                versrc: "/h/.versrc".into(),
            })),
        };
        assert_eq!(ErrorKind::of(&access), ErrorKind::Auth);
        let ambiguous = RouterError::Ambiguous {
            kind: "VM",
            query: "4".into(),
            candidates: vec![],
        };
        assert_eq!(ErrorKind::of(&ambiguous), ErrorKind::Usage);
        let io = std::io::Error::other("x");
        assert_eq!(ErrorKind::of(&io), ErrorKind::Internal);
    }
}
