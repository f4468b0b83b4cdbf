//! [`RouterError`]: why finding a VM, the simulator or tether's own state failed.

use std::path::PathBuf;
use std::time::Duration;

use tether_target::TargetError;
use tether_transport::TransportError;
use tether_vers::VersError;

/// Why a router operation failed. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// Neither `XDG_STATE_HOME` nor `HOME` is set.
    #[error(
        "cannot find tether's state directory: neither XDG_STATE_HOME nor HOME is set; set one"
    )]
    NoStateDir,
    /// A file in the state directory could not be read or written.
    #[error("could not {action} {}: {source}; check the permissions of tether's state directory", path.display())]
    StateIo {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file in the state directory holds something unreadable.
    #[error("{} is damaged ({reason}); delete it and retry", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The local simulator could not be started.
    #[error(
        "the local simulator could not start: {reason}; see {} (or set VERS_API_KEY to use Vers)",
        log.display()
    )]
    SimStart {
        /// What went wrong.
        reason: String,
        /// Its log file.
        log: PathBuf,
    },
    /// The local simulator did not say it was ready in time.
    #[error(
        "the local simulator did not start within {after:?}; see {} and retry",
        log.display()
    )]
    SimStartTimeout {
        /// The deadline.
        after: Duration,
        /// Its log file.
        log: PathBuf,
    },
    /// No VM (or commit) id starts with what was given.
    #[error(
        "no {kind} id starts with {query:?}; {}",
        candidates_hint(kind, candidates)
    )]
    NoMatch {
        /// `VM` or `commit`.
        kind: &'static str,
        /// What was given.
        query: String,
        /// The ids that exist (the message shows the first few).
        candidates: Vec<String>,
    },
    /// More than one VM (or commit) id starts with what was given.
    #[error("{query:?} matches {} {kind}s: {}; give more of the id", candidates.len(), candidates.join(", "))]
    Ambiguous {
        /// `VM` or `commit`.
        kind: &'static str,
        /// What was given.
        query: String,
        /// The ids it matches.
        candidates: Vec<String>,
    },
    /// No VM was named and there is no default VM.
    #[error(
        "no VM given and no default VM; pass a VM id, or choose a default with `tether use VM`{}",
        if *local { " (`tether local` cleared it)" } else { "" }
    )]
    NoDefaultVm {
        /// Whether `tether local` cleared the default explicitly.
        local: bool,
    },
    /// The VM's SSH key is not a usable OpenSSH private key.
    #[error(
        "the SSH key the Vers API gave for VM {vm_id} cannot be used ({reason}); retry, and report it if it persists"
    )]
    BadKey {
        /// The VM.
        vm_id: String,
        /// Why it cannot be parsed.
        reason: String,
    },
    /// A local port to forward from is taken.
    #[error(
        "local port {port} is already in use on 127.0.0.1; pick another LOCAL port, or 0 (or leave LOCAL out) for a free one"
    )]
    LocalPortInUse {
        /// The port.
        port: u16,
    },
    /// A local port to forward from could not be listened on.
    #[error(
        "could not listen on 127.0.0.1:{port}: {source}; pick another local port, or 0 for a free one"
    )]
    Listen {
        /// The port.
        port: u16,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A tunnel was asked for with arguments it cannot use.
    #[error("{message}")]
    BadTunnel {
        /// What is wrong and what to pass instead.
        message: String,
    },
    /// A VM tool (`vm_tag`, `vm_repo`, …) could not do what was asked; the message says what
    /// to pass or call instead.
    #[error("{message}")]
    ToolFailed {
        /// Not found or usage.
        kind: crate::ErrorKind,
        /// What failed and what to do.
        message: String,
    },
    /// The Vers API call failed.
    #[error(transparent)]
    Vers(#[from] VersError),
    /// Reaching the VM failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// An operation on a target failed.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// How many candidate ids a message lists at most.
const SHOWN: usize = 10;

fn candidates_hint(kind: &str, candidates: &[String]) -> String {
    let list = || {
        let mut shown = candidates
            .iter()
            .take(SHOWN)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if candidates.len() > SHOWN {
            shown.push_str(&format!(" and {} more", candidates.len() - SHOWN));
        }
        shown
    };
    match kind {
        _ if candidates.is_empty() => format!("there are no {kind}s yet"),
        "VM" => format!("the VMs are: {} (`tether vm ls`)", list()),
        _ => format!("the commits are: {} (`tether vm commits`)", list()),
    }
}
