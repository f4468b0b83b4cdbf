//! Linux-namespace sandboxes that stand in for Vers VMs in the simulator.
//!
//! CONTRACT: the public API in this file is fixed (the simulator is written against it);
//! bodies marked `unimplemented_stub` are being implemented.
//!
//! A VM is a long-lived init process (PID 1 of its own pid namespace, in its own user, mount,
//! uts and ipc namespaces) whose root filesystem is the VM's disk: writable top-level
//! directories plus overlays of the host's system directories. Commands are spawned by the
//! init on request, so they live inside the VM and outlive the request that started them.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};

/// How to start a VM's init process: `program args… <init options>`.
/// The simulator passes its own executable and `["__vm-init"]`; tests in this crate use the
/// `tether-vm-init` binary. Both call [`init_main`].
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The executable that runs [`init_main`].
    pub init_program: PathBuf,
    /// Arguments placed before the init's own options.
    pub init_args: Vec<OsString>,
}

/// What a VM boots from.
#[derive(Clone, Debug)]
pub struct BootSpec {
    /// The VM's disk directory (made by [`create_disk`] or [`copy_disk`]).
    pub disk: PathBuf,
    /// Hostname inside the VM (the VM id).
    pub hostname: String,
    /// Start frozen (a VM that was paused before a restart).
    pub paused: bool,
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The VM is paused: resume it first.
    #[error("the VM is paused; resume it and retry")]
    Paused,
    /// The VM's init is gone (shut down or crashed).
    #[error("the VM is not running (its init exited)")]
    NotRunning,
    /// A path given for file access is not usable (relative, contains NUL, escapes the root).
    #[error("bad path {path:?}: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The file or directory does not exist inside the VM.
    #[error("no such file or directory in the VM: {path}")]
    NotFound {
        /// The path as given.
        path: String,
    },
    /// The path names a directory where a file was expected.
    #[error("{path} is a directory, not a file")]
    IsDirectory {
        /// The path as given.
        path: String,
    },
    /// The program to run does not exist or cannot be executed in the VM.
    #[error("cannot run {program:?} in the VM: {source}")]
    Spawn {
        /// argv[0].
        program: String,
        /// The errno the init saw.
        #[source]
        source: std::io::Error,
    },
    /// An I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// This platform has no namespaces.
    #[error("VM sandboxes need Linux namespaces; this platform has none")]
    Unsupported,
}

/// Result alias of this crate.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// A command to run inside a VM.
#[derive(Clone, Debug)]
pub struct Command {
    /// Program and arguments; the program is looked up on `PATH` from `env` if it has no `/`.
    pub argv: Vec<String>,
    /// The complete environment (nothing is inherited from the host).
    pub env: Vec<(String, String)>,
    /// Working directory inside the VM; `None` = `/root`.
    pub cwd: Option<String>,
    /// How stdin/stdout/stderr are connected.
    pub stdio: Stdio,
}

/// How a spawned process's standard streams are connected.
#[derive(Clone, Debug)]
pub enum Stdio {
    /// Three pipes: [`Process::stdin`], [`Process::stdout`], [`Process::stderr`].
    Pipes,
    /// A pseudo-terminal that becomes the process's controlling terminal: [`Process::pty`].
    Pty(PtySize),
}

/// Terminal dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtySize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal number.
    Signal {
        /// The signal number (e.g. 9 for SIGKILL).
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

/// The master side of a process's pseudo-terminal.
pub struct Pty {
    _private: (),
}

impl Pty {
    /// Reader for terminal output.
    pub fn reader(&self) -> Result<Box<dyn AsyncRead + Send + Unpin>> {
        unimplemented_stub()
    }
    /// Writer for terminal input.
    pub fn writer(&self) -> Result<Box<dyn AsyncWrite + Send + Unpin>> {
        unimplemented_stub()
    }
    /// Changes the window size (the process gets SIGWINCH).
    pub fn resize(&self, _size: PtySize) -> Result<()> {
        unimplemented_stub()
    }
}

/// Sends signals to a spawned process's process group; cheap to clone, usable after the
/// [`Process`] is gone.
#[derive(Clone, Debug)]
pub struct Signaller {
    _private: (),
}

impl Signaller {
    /// Sends `signal` (a number, e.g. 15) to the process group led by the process.
    pub async fn signal(&self, _signal: i32) -> Result<()> {
        unimplemented_stub()
    }
}

/// A process running inside a VM. It is the leader of its own session and process group.
pub struct Process {
    /// Its pid inside the VM.
    pub pid: i32,
    /// Stdin (with [`Stdio::Pipes`]); drop it to send EOF.
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Stdout (with [`Stdio::Pipes`]).
    pub stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Stderr (with [`Stdio::Pipes`]).
    pub stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The terminal (with [`Stdio::Pty`]).
    pub pty: Option<Pty>,
    _private: (),
}

impl Process {
    /// A handle that signals this process's group.
    pub fn signaller(&self) -> Signaller {
        Signaller { _private: () }
    }
    /// Waits for the process to end. Cancel-safe. Returns [`SandboxError::NotRunning`] if the
    /// VM shuts down first.
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        unimplemented_stub()
    }
}

/// File access inside a VM, confined to its root: absolute paths only; symlinks and `..`
/// resolve inside the VM's root (as if chrooted), never outside it.
#[derive(Clone, Debug)]
pub struct VmFs {
    _private: (),
}

/// Metadata of a file inside a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Size in bytes.
    pub size: u64,
    /// Permission bits and file type (`st_mode`).
    pub mode: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
}

impl VmFs {
    /// Reads a whole regular file.
    pub async fn read(&self, _path: &str) -> Result<Vec<u8>> {
        unimplemented_stub()
    }
    /// Writes a whole file atomically (temp file + rename in the same directory); `mode` is
    /// applied to a new file (default 0o644) and replaces the mode of an existing one.
    /// With `create_dirs`, missing parent directories are created (0o755).
    pub async fn write(
        &self,
        _path: &str,
        _content: &[u8],
        _mode: Option<u32>,
        _create_dirs: bool,
    ) -> Result<()> {
        unimplemented_stub()
    }
    /// Metadata, following symlinks inside the VM.
    pub async fn stat(&self, _path: &str) -> Result<FileStat> {
        unimplemented_stub()
    }
}

/// A booted VM. Dropping it does not stop it: call [`Vm::shutdown`].
#[derive(Debug)]
pub struct Vm {
    _private: (),
}

impl Vm {
    /// Boots a VM from `spec`; returns once its init is ready to spawn commands.
    pub async fn boot(_config: &SandboxConfig, _spec: BootSpec) -> Result<Vm> {
        unimplemented_stub()
    }
    /// Starts a command inside the VM. Fails with [`SandboxError::Paused`] while paused.
    pub async fn spawn(&self, _command: Command) -> Result<Process> {
        unimplemented_stub()
    }
    /// Freezes every process of the VM (they stop advancing until [`Vm::resume`]).
    pub async fn pause(&self) -> Result<()> {
        unimplemented_stub()
    }
    /// Thaws every process frozen by [`Vm::pause`].
    pub async fn resume(&self) -> Result<()> {
        unimplemented_stub()
    }
    /// Whether the VM is paused.
    pub fn is_paused(&self) -> bool {
        false
    }
    /// Kills every process of the VM and waits until they are gone. Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        unimplemented_stub()
    }
    /// File access confined to this VM's root.
    pub fn fs(&self) -> VmFs {
        VmFs { _private: () }
    }
}

/// Lays out an empty disk at `path` (the directory must not exist).
pub fn create_disk(_path: &Path) -> Result<()> {
    unimplemented_stub()
}

/// Copies a disk (of a stopped or paused VM, or a commit) to `dst`, which must not exist.
pub async fn copy_disk(_src: &Path, _dst: &Path) -> Result<()> {
    unimplemented_stub()
}

/// Removes a disk. The VM using it must be shut down first.
pub async fn remove_disk(_path: &Path) -> Result<()> {
    unimplemented_stub()
}

/// Bytes used by a disk (for metadata and benchmarks).
pub async fn disk_usage(_path: &Path) -> Result<u64> {
    unimplemented_stub()
}

/// Entry point of a VM's init process (`tether __vm-init …`). Never returns.
pub fn init_main(_args: Vec<OsString>) -> ! {
    std::process::exit(2)
}

fn unimplemented_stub<T>() -> Result<T> {
    Err(SandboxError::Unsupported)
}
