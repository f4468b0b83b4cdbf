//! The agent's error type.

use std::io;

/// Why the agent could not boot the guest or serve the host.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// A system call on a path failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The action, e.g. "mount".
        what: &'static str,
        /// The path it was done to.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The agent's port did not appear in time.
    #[error(
        "no virtio-serial port named {name} after {waited_ms} ms: start QEMU with -device virtserialport,name={name}"
    )]
    NoPort {
        /// The port name looked for.
        name: &'static str,
        /// How long it waited.
        waited_ms: u64,
    },
    /// The host's channel broke.
    #[error(transparent)]
    Frame(#[from] tether_guest_proto::FrameError),
}

impl GuestError {
    /// An [`GuestError::Io`] from a nix errno.
    pub(crate) fn sys(what: &'static str, path: impl Into<String>, errno: nix::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source: io::Error::from(errno),
        }
    }

    /// An [`GuestError::Io`].
    pub(crate) fn io(what: &'static str, path: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what,
            path: path.into(),
            source,
        }
    }
}
