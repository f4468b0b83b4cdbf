//! Linux-namespace sandboxes that stand in for Vers VMs in the simulator.
//!
//! A VM is a long-lived init process (PID 1 of its own pid namespace, in its own user, mount,
//! uts and ipc namespaces; the network is the host's) whose root filesystem is the VM's disk:
//! writable top-level directories plus overlays of the host's system directories (`/usr`,
//! `/etc`, `/var`, …). Commands are spawned by the init on request, so they live inside the VM
//! and outlive the request that started them. The host's home directories, `/tmp` and project
//! files are not visible inside, nor is any other VM.
//!
//! # Disk layout
//!
//! A disk is a directory made by [`create_disk`]:
//!
//! - `root/` — the VM's root tree (`/root`, `/home`, `/tmp`, `/opt`, …, mount points, and the
//!   host's usrmerge symlinks such as `bin -> usr/bin`);
//! - `upper/<dir>` — the writable overlay layer over the host's `/<dir>` (one per overlaid
//!   system directory);
//! - `tether-disk` — a marker with the layout version.
//!
//! While a VM runs, a sibling scratch directory `<disk>.scratch` holds the overlay work
//! directories; it is removed by [`Vm::shutdown`] and recreated at boot, so a disk can always be
//! copied without it.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> tether_sandbox::Result<()> {
//! use tether_sandbox::{BootSpec, Command, SandboxConfig, Stdio, Vm};
//!
//! let config = SandboxConfig { init_program: "/usr/bin/tether".into(), init_args: vec!["__vm-init".into()] };
//! let disk = std::path::Path::new("/var/lib/sim/vm-1");
//! tether_sandbox::create_disk(disk)?;
//! let vm = Vm::boot(&config, BootSpec { disk: disk.into(), hostname: "vm-1".into(), paused: false }).await?;
//! let command = Command { argv: vec!["uname".into(), "-n".into()], env: vec![], cwd: None, stdio: Stdio::Pipes };
//! let mut process = vm.spawn(command).await?;
//! let status = process.wait().await?;
//! vm.shutdown().await?;
//! # let _ = status; Ok(()) }
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as imp;
#[cfg(not(target_os = "linux"))]
mod unsupported;
#[cfg(not(target_os = "linux"))]
use unsupported as imp;

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
    /// Hostname inside the VM (the VM id): 1–64 letters, digits, `-`, `_` or `.`.
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
        /// `argv[0]`.
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

impl SandboxError {
    /// An [`SandboxError::Io`] saying what was being done.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> SandboxError {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }
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

/// The master side of a process's pseudo-terminal (allocated inside the VM, so the process
/// sees `/dev/pts/N` of the VM's own devpts).
pub struct Pty {
    inner: imp::Pty,
}

impl Pty {
    /// Reader for terminal output; reads end (`Ok(0)`) once every holder of the terminal is
    /// gone. Must be called inside a tokio runtime.
    pub fn reader(&self) -> Result<Box<dyn AsyncRead + Send + Unpin>> {
        self.inner.reader()
    }
    /// Writer for terminal input. Must be called inside a tokio runtime.
    pub fn writer(&self) -> Result<Box<dyn AsyncWrite + Send + Unpin>> {
        self.inner.writer()
    }
    /// Changes the window size (the process gets SIGWINCH).
    pub fn resize(&self, size: PtySize) -> Result<()> {
        self.inner.resize(size)
    }
}

/// Sends signals to a spawned process's process group; cheap to clone, usable after the
/// [`Process`] is gone.
#[derive(Clone, Debug)]
pub struct Signaller {
    inner: imp::Signaller,
}

impl Signaller {
    /// Sends `signal` (a number, e.g. 15) to the process group led by the process. A group
    /// that no longer exists is not an error; [`SandboxError::NotRunning`] if the VM is gone.
    pub async fn signal(&self, signal: i32) -> Result<()> {
        self.inner.signal(signal).await
    }
}

/// A process running inside a VM. It is the leader of its own session and process group.
pub struct Process {
    /// Its pid inside the VM.
    pub pid: i32,
    /// Stdin (with [`Stdio::Pipes`]); drop it (or shut it down) to send EOF.
    pub stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    /// Stdout (with [`Stdio::Pipes`]).
    pub stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// Stderr (with [`Stdio::Pipes`]).
    pub stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The terminal (with [`Stdio::Pty`]).
    pub pty: Option<Pty>,
    inner: imp::ProcessHandle,
}

impl Process {
    /// A handle that signals this process's group.
    pub fn signaller(&self) -> Signaller {
        Signaller {
            inner: self.inner.signaller(),
        }
    }
    /// Waits for the process to end. Cancel-safe; may be called again after it returned.
    /// Returns [`SandboxError::NotRunning`] if the VM shuts down first.
    pub async fn wait(&mut self) -> Result<ExitStatus> {
        self.inner.wait().await
    }
}

/// File access inside a VM, confined to its root: absolute paths only; symlinks and `..`
/// resolve inside the VM's root (as if chrooted), never outside it.
#[derive(Clone, Debug)]
pub struct VmFs {
    inner: imp::VmFs,
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
    pub async fn read(&self, path: &str) -> Result<Vec<u8>> {
        self.inner.read(path).await
    }
    /// Writes a whole file atomically (temp file + rename in the same directory); `mode` is
    /// applied to a new file (default 0o644) and replaces the mode of an existing one.
    /// With `create_dirs`, missing parent directories are created (0o755). A symlink at
    /// `path` is followed (inside the VM), as a shell's `>` would.
    pub async fn write(
        &self,
        path: &str,
        content: &[u8],
        mode: Option<u32>,
        create_dirs: bool,
    ) -> Result<()> {
        self.inner.write(path, content, mode, create_dirs).await
    }
    /// Metadata, following symlinks inside the VM.
    pub async fn stat(&self, path: &str) -> Result<FileStat> {
        self.inner.stat(path).await
    }
}

/// A booted VM. Call [`Vm::shutdown`] to stop it and wait until its processes are gone;
/// dropping the last handle without it kills the VM's processes without waiting.
#[derive(Debug)]
pub struct Vm {
    inner: imp::Vm,
}

impl Vm {
    /// Boots a VM from `spec`; returns once its init is ready to spawn commands.
    pub async fn boot(config: &SandboxConfig, spec: BootSpec) -> Result<Vm> {
        Ok(Vm {
            inner: imp::Vm::boot(config, spec).await?,
        })
    }
    /// Starts a command inside the VM. Fails with [`SandboxError::Paused`] while paused.
    pub async fn spawn(&self, command: Command) -> Result<Process> {
        let spawned = self.inner.spawn(command).await?;
        Ok(Process {
            pid: spawned.pid,
            stdin: spawned.stdin,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            pty: spawned.pty.map(|inner| Pty { inner }),
            inner: spawned.handle,
        })
    }
    /// Freezes every process of the VM (they stop advancing until [`Vm::resume`]).
    pub async fn pause(&self) -> Result<()> {
        self.inner.pause().await
    }
    /// Thaws every process frozen by [`Vm::pause`].
    pub async fn resume(&self) -> Result<()> {
        self.inner.resume().await
    }
    /// Whether the VM is paused.
    pub fn is_paused(&self) -> bool {
        self.inner.is_paused()
    }
    /// Kills every process of the VM and waits until they are gone. Idempotent.
    pub async fn shutdown(&self) -> Result<()> {
        self.inner.shutdown().await
    }
    /// File access confined to this VM's root.
    pub fn fs(&self) -> VmFs {
        VmFs {
            inner: self.inner.fs(),
        }
    }
}

/// Lays out an empty disk at `path` (the directory must not exist; its parent is created).
pub fn create_disk(path: &Path) -> Result<()> {
    imp::create_disk(path)
}

/// Copies a disk (of a stopped or paused VM, or a commit) to `dst`, which must not exist.
pub async fn copy_disk(src: &Path, dst: &Path) -> Result<()> {
    imp::copy_disk(src, dst).await
}

/// Removes a disk (and its scratch directory, if a crashed VM left one). The VM using it must
/// be shut down first. A disk that does not exist is not an error.
pub async fn remove_disk(path: &Path) -> Result<()> {
    imp::remove_disk(path).await
}

/// Bytes used by a disk (for metadata and benchmarks).
pub async fn disk_usage(path: &Path) -> Result<u64> {
    imp::disk_usage(path).await
}

/// Entry point of a VM's init process (`tether __vm-init …`). Never returns.
///
/// `args` may be the whole argv (program name and subcommand included): everything that is not
/// one of the init's own `--vm-*` options is ignored.
pub fn init_main(args: Vec<OsString>) -> ! {
    imp::init_main(args)
}
