//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;
use tether_guest_proto::{ErrorKind, FrameError};

/// What went wrong starting a VM or talking to its agent.
#[derive(Debug, thiserror::Error)]
pub enum KvmError {
    /// KVM or QEMU cannot run guests here; `reason` says what is missing and how to fix it.
    #[error("KVM guests cannot run on this machine: {reason}")]
    Unavailable {
        /// What is missing.
        reason: String,
    },
    /// The guest image script failed.
    #[error("building the guest image with {script} failed ({status}): {stderr}")]
    Image {
        /// The script run.
        script: PathBuf,
        /// Its exit status.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// Starting QEMU, or a file it needs, failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A wait ran past its deadline.
    #[error("timed out after {timeout:?} waiting for {what}{hint}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// The deadline.
        timeout: Duration,
        /// Where to look (the guest console's tail, if there is one).
        hint: String,
    },
    /// QEMU exited while we waited for it.
    #[error("QEMU exited ({status}) before {what}; guest console tail:\n{console}")]
    QemuExited {
        /// What we waited for.
        what: &'static str,
        /// QEMU's exit status.
        status: String,
        /// The last lines of the guest's serial console and QEMU's stderr.
        console: String,
    },
    /// The agent channel broke (the guest died, or the stream is corrupt).
    #[error("the guest agent's channel closed: {reason}; the VM must be restarted")]
    Disconnected {
        /// Why, as far as known.
        reason: String,
    },
    /// The agent's connection closed before the guest said hello (QEMU dropped its end of
    /// the socket; with `reconnect-ms` it connects again).
    #[error("the guest agent's connection closed before its hello; QEMU reconnects it")]
    ClosedBeforeHello,
    /// A frame could not be encoded or decoded.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The guest speaks another protocol version.
    #[error("the guest agent speaks protocol {guest}, this host {host}: rebuild the guest image")]
    Version {
        /// The guest's version.
        guest: u32,
        /// Ours.
        host: u32,
    },
    /// The guest refused or failed the request.
    #[error("guest: {message}")]
    Guest {
        /// Its classification.
        kind: ErrorKind,
        /// Its message.
        message: String,
    },
}

impl KvmError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
