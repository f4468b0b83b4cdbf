//! Errors: [`SimError`] for starting and stopping the simulator, [`ApiError`] for one request
//! (with [`RefError`] for the named things: tags, repositories, domains, variables, runs).

mod api;
mod refs;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use api::ApiError;
pub use refs::RefError;

/// Why the simulator could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file or directory in the data directory could not be used.
    #[error("could not {action} {path}: {source}; check the data directory's permissions")]
    DataDir {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another simulator runs on the data directory.
    #[error(
        "the data directory {path} is in use by another simulator; stop that one or pick another directory"
    )]
    InUse {
        /// The data directory.
        path: PathBuf,
    },
    /// An organisation name that cannot be used.
    #[error("organisation name {name:?} is not usable: use 1-64 letters, digits, '-', '_' or '.'")]
    BadOrg {
        /// The name given.
        name: String,
    },
    /// The directory holds no simulator state.
    #[error(
        "{path} is not a simulator data directory (no sim.db); start `tether sim --data {path}` once to make it"
    )]
    NoDataDir {
        /// The directory.
        path: PathBuf,
    },
    /// The state database could not be opened or read.
    #[error("the state database {path} is unusable: {source}; move it aside to start afresh")]
    Database {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// Creating or loading the CA failed.
    #[error(transparent)]
    Ca(#[from] crate::ca::CaError),
    /// A listener could not be bound.
    #[error("could not listen on {addr} for the {what}: {source}; pick another address or port")]
    Bind {
        /// Which listener ("HTTP API", "SSH gateway").
        what: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A VM could not be restored or stopped.
    #[error("VM {vm_id}: {source}")]
    Vm {
        /// The VM.
        vm_id: String,
        /// What went wrong.
        #[source]
        source: Box<ApiError>,
    },
}
