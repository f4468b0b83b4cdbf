//! Where tools run: one [`Target`] trait for the local machine, a Vers VM and a plain SSH host.
//!
//! An agent's tools (bash, read, write, edit, ls, find, grep) and tether's CLI do their work
//! through a [`Target`] and do not care where it is. [`LocalTarget`] is this machine;
//! [`RemoteTarget`] is a host reached over SSH through [`tether_transport::Pool`] — a Vers VM
//! (SSH inside TLS, [`Endpoint::vers`]) or a plain SSH host ([`Endpoint::plain`]), with the
//! endpoint and key handed over by a [`RemoteAccess`] provider. Every target gives the same
//! results for the same operation: exit codes, output, bytes, listings, errors. Copies between
//! any two targets ([`copy_file`], [`copy_tree`], [`upload_file`], …) are streamed.
//!
//! ```no_run
//! # async fn demo(pool: std::sync::Arc<tether_target::Pool>, key: std::sync::Arc<russh::keys::PrivateKey>) -> Result<(), tether_target::TargetError> {
//! use std::sync::Arc;
//! use tether_target::{Endpoint, ExecSpec, LocalTarget, RemoteTarget, StaticAccess, Target};
//! let vm: Arc<dyn Target> = Arc::new(RemoteTarget::new(
//!     pool,
//!     Arc::new(StaticAccess::new(Endpoint::vers("4c1e…", "vm.vers.sh", None), key)),
//! ));
//! vm.write_file("/root/hello.txt", b"hi\n").await?;
//! let spec = ExecSpec { cwd: Some("/root".into()), ..ExecSpec::shell("cat hello.txt") };
//! let outcome = vm.exec(spec, &mut |_, bytes| print!("{}", String::from_utf8_lossy(bytes)), None).await?;
//! tether_target::download_file(vm.as_ref(), "/root/hello.txt", "hello.txt").await?;
//! # let _ = (outcome, LocalTarget); Ok(()) }
//! ```

mod copy;
mod error;
mod local;
mod remote;
mod script;
mod search;
mod target;

use std::time::Duration;

pub use copy::{copy_file, copy_tree, download_file, download_tree, upload_file, upload_tree};
pub use error::TargetError;
pub use local::{DEFAULT_PATH, KILL_GRACE, LocalTarget};
pub use remote::{AccessError, RemoteAccess, RemoteTarget, StaticAccess};
pub use target::{
    DirEntry, FileKind, GrepMatch, GrepQuery, Metadata, OnOutput, Sink, Source, Target,
};
pub use tether_transport::{Endpoint, ExecOutcome, ExecSpec, Output, Pool, Stream};

/// Deadline for a small file operation on a remote target (stat, mkdir, listing a directory).
pub const META_TIMEOUT: Duration = Duration::from_secs(30);
/// Deadline for a glob or grep.
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(120);
