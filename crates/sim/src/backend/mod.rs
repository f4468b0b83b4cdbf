//! Where VMs run: the [`Backend`] that makes disks and boots VMs on them, and the [`VmHandle`]
//! of a booted VM that the registry, the exec API, the files API and the SSH server use.
//!
//! CONTRACT: nothing else in the simulator names a backend's own types. A VM is reached only
//! through [`VmHandle`]: commands are spawned through it (SFTP too: it is `sftp-server` run in
//! the VM), and files are read, written and stat'ed through it by their path inside the VM,
//! never as a host path, so a backend whose guest is a real machine (files behind an agent)
//! fits the same seam. Disks are named by a path in the data directory; what the backend keeps
//! there (a directory tree, an image file) is its own business.
//!
//! The vocabulary (commands, stdio, exit statuses, file metadata, errors) is the plain data of
//! `tether_sandbox`, re-exported here, so every backend speaks it. Today there is one backend,
//! [`NamespaceBackend`]; [`BackendChoice::Auto`] picks it.

mod namespaces;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite};

pub use namespaces::NamespaceBackend;
pub use tether_sandbox::{BootSpec, Command, ExitStatus, FileStat, PtySize, SandboxError, Stdio};

/// Result of a backend call.
pub type BackendResult<T> = Result<T, SandboxError>;

/// A backend by name, as the startup line reports it (`"backend": "namespaces"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Linux-namespace sandboxes ([`NamespaceBackend`]).
    Namespaces,
}

impl BackendKind {
    /// Its name, as in the startup line and `--backend`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Namespaces => "namespaces",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which backend to run VMs on, as asked for (`tether sim --backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// The best one this machine has; today always [`BackendKind::Namespaces`].
    #[default]
    Auto,
    /// Linux-namespace sandboxes.
    Namespaces,
}

impl BackendChoice {
    /// The backend this choice runs VMs on.
    pub fn resolve(self) -> BackendKind {
        match self {
            BackendChoice::Auto | BackendChoice::Namespaces => BackendKind::Namespaces,
        }
    }
}

/// Makes VM disks and boots VMs on them.
///
/// Disk copies are taken only of disks of stopped or paused VMs (commit, branch) or of
/// commits (restore): [`VmHandle::pause`] must leave a VM's disk consistent.
#[async_trait]
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// Lays out an empty disk at `disk` (which must not exist; its parent is created).
    async fn create_disk(&self, disk: &Path) -> BackendResult<()>;
    /// Copies the disk (or commit) `src` to `dst`, which must not exist.
    async fn copy_disk(&self, src: &Path, dst: &Path) -> BackendResult<()>;
    /// Removes a disk; its VM must be shut down first. A missing disk is not an error.
    async fn remove_disk(&self, disk: &Path) -> BackendResult<()>;
    /// Boots a VM from `spec`; returns once it can spawn commands.
    async fn boot(&self, spec: BootSpec) -> BackendResult<Arc<dyn VmHandle>>;
}

/// A booted VM. Call [`VmHandle::shutdown`] to stop it; dropping the last handle without it
/// kills its processes without waiting.
#[async_trait]
pub trait VmHandle: Send + Sync + fmt::Debug {
    /// Starts a command inside the VM, in its own session and process group. Fails with
    /// [`SandboxError::Paused`] while paused and [`SandboxError::Spawn`] if the program cannot
    /// be run.
    async fn spawn(&self, command: Command) -> BackendResult<Process>;
    /// Freezes the VM (its processes stop advancing; its disk is consistent for copying).
    async fn pause(&self) -> BackendResult<()>;
    /// Thaws a VM frozen by [`VmHandle::pause`].
    async fn resume(&self) -> BackendResult<()>;
    /// Whether the VM is paused.
    fn is_paused(&self) -> bool;
    /// Kills every process of the VM and waits until they are gone. Idempotent.
    async fn shutdown(&self) -> BackendResult<()>;
    /// Reads a whole regular file by its absolute path inside the VM.
    async fn read_file(&self, path: &str) -> BackendResult<Vec<u8>>;
    /// Writes a whole file atomically; `mode` is applied to a new file (default 0o644) and
    /// replaces an existing one's; `create_dirs` creates missing parents (0o755).
    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        mode: Option<u32>,
        create_dirs: bool,
    ) -> BackendResult<()>;
    /// Metadata of a path inside the VM, following symlinks inside the VM.
    async fn stat(&self, path: &str) -> BackendResult<FileStat>;
}

/// Waits for and signals one spawned process.
#[async_trait]
pub trait ProcessControl: Send {
    /// Waits for the process to end. Cancel-safe; may be called again after it returned.
    /// [`SandboxError::NotRunning`] if the VM shuts down first.
    async fn wait(&mut self) -> BackendResult<ExitStatus>;
    /// A handle that signals the process's group.
    fn signaller(&self) -> Signaller;
}

/// Sends signals to a process group; usable after its [`Process`] is gone.
#[async_trait]
pub trait GroupSignal: Send + Sync {
    /// Sends `signal` (a number, e.g. 15) to the group. A group that no longer exists is not
    /// an error; [`SandboxError::NotRunning`] if the VM is gone.
    async fn signal(&self, signal: i32) -> BackendResult<()>;
}

/// The master side of a process's terminal.
pub trait Terminal: Send {
    /// Reader for terminal output; ends once every holder of the terminal is gone.
    fn reader(&self) -> BackendResult<Box<dyn AsyncRead + Send + Unpin>>;
    /// Writer for terminal input.
    fn writer(&self) -> BackendResult<Box<dyn AsyncWrite + Send + Unpin>>;
    /// Changes the window size (the process gets SIGWINCH).
    fn resize(&self, size: PtySize) -> BackendResult<()>;
}

/// A cheap, cloneable [`GroupSignal`].
pub type Signaller = Arc<dyn GroupSignal>;
/// A process's terminal.
pub type Pty = Box<dyn Terminal>;

/// A process running inside a VM.
pub struct Process {
    /// Stdin (with [`Stdio::Pipes`]); drop it (or shut it down) to send EOF.
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Stdout (with [`Stdio::Pipes`]).
    pub stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Stderr (with [`Stdio::Pipes`]).
    pub stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The terminal (with [`Stdio::Pty`]).
    pub pty: Option<Pty>,
    control: Box<dyn ProcessControl>,
}

impl Process {
    /// A process with no streams attached yet, controlled by `control`.
    pub fn new(control: Box<dyn ProcessControl>) -> Process {
        Process {
            stdin: None,
            stdout: None,
            stderr: None,
            pty: None,
            control,
        }
    }

    /// A handle that signals this process's group.
    pub fn signaller(&self) -> Signaller {
        self.control.signaller()
    }

    /// Waits for the process to end (see [`ProcessControl::wait`]).
    pub async fn wait(&mut self) -> BackendResult<ExitStatus> {
        self.control.wait().await
    }
}
