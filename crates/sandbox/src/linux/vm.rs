//! The host's handle on a VM: boot (spawn the init, wait for "ready"), spawn, pause,
//! resume, shutdown.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio as StdStdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::unistd::pipe2;
use tokio::process::Child;
use tokio::task::JoinHandle;

use super::channel::{Channel, Reply};
use super::fs::VmFs;
use super::process::{ProcessHandle, Spawned};
use super::protocol::{self, Event, Outcome, Request, WindowSize};
use super::stream::{FdStream, Pty};
use super::{disk, tree};
use crate::{BootSpec, Command, Result, SandboxConfig, SandboxError, Stdio};

/// How long a VM may take to boot.
pub(crate) const BOOT_DEADLINE: Duration = Duration::from_secs(10);
/// How long the init may take to stop after SIGTERM before it is killed.
pub(crate) const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// Longest hostname.
const MAX_HOSTNAME: usize = 64;

/// A booted VM.
pub(crate) struct Vm {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    hostname: String,
    channel: Arc<Channel>,
    reader: JoinHandle<()>,
    /// The outer init process; `None` once shut down.
    init: tokio::sync::Mutex<Option<Child>>,
    /// An `O_PATH` descriptor of the VM's root directory; `None` once shut down.
    root: RwLock<Option<Arc<OwnedFd>>>,
    paused: AtomicBool,
    scratch: PathBuf,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("hostname", &self.inner.hostname)
            .field("paused", &self.is_paused())
            .finish_non_exhaustive()
    }
}

impl Vm {
    pub(crate) async fn boot(config: &SandboxConfig, spec: BootSpec) -> Result<Vm> {
        validate_hostname(&spec.hostname)?;
        let disk = std::path::absolute(&spec.disk)
            .map_err(|e| SandboxError::io("resolving the disk path", e))?;
        disk::check(&disk)?;
        let scratch = disk::scratch_path(&disk);
        let (host, init_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| SandboxError::io("creating the VM's control socket", e.into()))?;
        protocol::enlarge_buffers(host.as_fd());
        protocol::enlarge_buffers(init_end.as_fd());
        let mut child = spawn_init(config, &disk, &scratch, &spec.hostname, init_end)?;
        let channel = Arc::new(make_channel(host)?);
        let root = match tokio::time::timeout(BOOT_DEADLINE, wait_ready(&channel)).await {
            Ok(Ok(root)) => root,
            Ok(Err(message)) => return Err(boot_failed(&mut child, &spec.hostname, message).await),
            Err(_elapsed) => {
                let message = format!("it did not come up within {BOOT_DEADLINE:?}");
                return Err(boot_failed(&mut child, &spec.hostname, message).await);
            }
        };
        let reader = tokio::spawn(channel.clone().run_reader());
        let inner = Inner {
            hostname: spec.hostname,
            channel,
            reader,
            init: tokio::sync::Mutex::new(Some(child)),
            root: RwLock::new(Some(Arc::new(root))),
            paused: AtomicBool::new(false),
            scratch,
        };
        let vm = Vm {
            inner: Arc::new(inner),
        };
        if spec.paused {
            vm.pause().await?;
        }
        Ok(vm)
    }

    pub(crate) async fn spawn(&self, command: Command) -> Result<Spawned> {
        if self.is_paused() {
            return Err(SandboxError::Paused);
        }
        let program = command.argv.first().cloned().unwrap_or_default();
        let cwd = command.cwd.unwrap_or_else(|| "/root".to_owned());
        let spec = SpawnSpec {
            argv: command.argv,
            env: command.env,
            cwd,
        };
        match command.stdio {
            Stdio::Pipes => self.spawn_with_pipes(spec, &program).await,
            Stdio::Pty(size) => {
                let size = WindowSize {
                    rows: size.rows,
                    cols: size.cols,
                };
                self.spawn_with_terminal(spec, size, &program).await
            }
        }
    }

    async fn spawn_with_pipes(&self, spec: SpawnSpec, program: &str) -> Result<Spawned> {
        let pipes = Pipes::new()?;
        let request = |id| spec.into_request(id, None);
        let reply = self
            .inner
            .channel
            .request(request, &pipes.child_fds())
            .await?;
        let pid = expect_spawned(&reply, program)?;
        let (stdin, stdout, stderr) = pipes.into_streams()?;
        let handle = self.handle(pid, reply);
        let (stdin, stdout, stderr) = (Some(stdin), Some(stdout), Some(stderr));
        Ok(Spawned {
            pid,
            stdin,
            stdout,
            stderr,
            pty: None,
            handle,
        })
    }

    async fn spawn_with_terminal(
        &self,
        spec: SpawnSpec,
        size: WindowSize,
        program: &str,
    ) -> Result<Spawned> {
        let request = |id| spec.into_request(id, Some(size));
        let mut reply = self.inner.channel.request(request, &[]).await?;
        let pid = expect_spawned(&reply, program)?;
        let master = reply.fds.pop().ok_or_else(|| {
            SandboxError::io(
                "spawning with a terminal",
                io::Error::other("the init sent no terminal"),
            )
        })?;
        let handle = self.handle(pid, reply);
        let pty = Some(Pty::new(master));
        Ok(Spawned {
            pid,
            stdin: None,
            stdout: None,
            stderr: None,
            pty,
            handle,
        })
    }

    fn handle(&self, pid: i32, reply: Reply) -> ProcessHandle {
        let exit = reply
            .exit
            .unwrap_or_else(|| tokio::sync::watch::channel(super::channel::ExitState::VmGone).1);
        ProcessHandle::new(pid, exit, Arc::downgrade(&self.inner.channel))
    }

    pub(crate) async fn pause(&self) -> Result<()> {
        let reply = self
            .inner
            .channel
            .request(|id| Request::Pause { id }, &[])
            .await?;
        expect_done(reply, "pausing the VM")?;
        self.inner.paused.store(true, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) async fn resume(&self) -> Result<()> {
        let reply = self
            .inner
            .channel
            .request(|id| Request::Resume { id }, &[])
            .await?;
        expect_done(reply, "resuming the VM")?;
        self.inner.paused.store(false, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.inner.paused.load(Ordering::SeqCst)
    }

    pub(crate) async fn shutdown(&self) -> Result<()> {
        let mut init = self.inner.init.lock().await;
        let Some(mut child) = init.take() else {
            return Ok(());
        };
        *self.inner.root.write().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(pid) = child.id() {
            // The outer init kills PID 1 on SIGTERM and exits once the namespace is empty.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(SHUTDOWN_DEADLINE, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
        self.inner.channel.close();
        let scratch = self.inner.scratch.clone();
        tokio::task::spawn_blocking(move || tree::remove_tree(&scratch))
            .await
            .map_err(|e| {
                SandboxError::io("removing the VM's scratch directory", io::Error::other(e))
            })?
            .map_err(|e| SandboxError::io(format!("removing {}", self.inner.scratch.display()), e))
    }

    pub(crate) fn fs(&self) -> VmFs {
        VmFs::new(Arc::downgrade(&self.inner))
    }
}

impl Inner {
    /// The control channel to the VM's init.
    pub(crate) fn channel(&self) -> &Arc<Channel> {
        &self.channel
    }

    /// The VM's root directory, while it runs.
    pub(crate) fn root(&self) -> Option<Arc<OwnedFd>> {
        self.root.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A weak reference to a VM, for handles that must not keep it alive.
pub(crate) type WeakVm = Weak<Inner>;

fn validate_hostname(hostname: &str) -> Result<()> {
    let valid = !hostname.is_empty()
        && hostname.len() <= MAX_HOSTNAME
        && hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if valid {
        return Ok(());
    }
    let error = io::Error::new(
        io::ErrorKind::InvalidInput,
        "use 1-64 letters, digits, '-', '_' or '.'",
    );
    Err(SandboxError::io(
        format!("hostname {hostname:?} is not valid"),
        error,
    ))
}

fn spawn_init(
    config: &SandboxConfig,
    disk: &Path,
    scratch: &Path,
    hostname: &str,
    control: OwnedFd,
) -> Result<Child> {
    let fd: RawFd = control.as_raw_fd();
    let mut command = std::process::Command::new(&config.init_program);
    command
        .args(&config.init_args)
        .arg("--vm-disk")
        .arg(disk)
        .arg("--vm-scratch")
        .arg(scratch)
        .arg("--vm-hostname")
        .arg(hostname)
        .arg("--vm-ctl-fd")
        .arg(fd.to_string())
        .env_clear()
        .stdin(StdStdio::null())
        .stdout(StdStdio::null())
        .stderr(StdStdio::inherit())
        .process_group(0);
    // SAFETY: the closure only calls fcntl, which is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // Let the control socket (close-on-exec in the host) survive into the init.
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let child = command.spawn().map_err(|e| {
        SandboxError::io(
            format!("starting the VM init {}", config.init_program.display()),
            e,
        )
    })?;
    drop(control);
    Ok(child)
}

fn make_channel(host: OwnedFd) -> Result<Channel> {
    let nonblocking = nix::fcntl::fcntl(
        host.as_fd(),
        nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK),
    );
    nonblocking.map_err(|e| SandboxError::io("configuring the control socket", e.into()))?;
    Channel::new(host).map_err(|e| SandboxError::io("registering the control socket with tokio", e))
}

/// Waits for `Ready`; the error is the init's message.
async fn wait_ready(channel: &Channel) -> std::result::Result<OwnedFd, String> {
    match channel.next_event().await {
        Ok(Some((Event::Ready, mut fds))) => fds
            .pop()
            .ok_or_else(|| "the init sent no root directory".to_owned()),
        Ok(Some((Event::BootFailed { message }, _))) => Err(message),
        Ok(Some((other, _))) => Err(format!("unexpected message from the init: {other:?}")),
        Ok(None) => Err("the init exited during boot".to_owned()),
        Err(error) => Err(format!("reading from the init: {error}")),
    }
}

async fn boot_failed(child: &mut Child, hostname: &str, message: String) -> SandboxError {
    let _ = child.start_kill();
    let status = tokio::time::timeout(SHUTDOWN_DEADLINE, child.wait()).await;
    let detail = match status {
        Ok(Ok(status)) => format!("{message} (init {status})"),
        _ => message,
    };
    SandboxError::io(
        format!("VM {hostname} failed to boot"),
        io::Error::other(detail),
    )
}

fn expect_spawned(reply: &Reply, program: &str) -> Result<i32> {
    match &reply.outcome {
        Outcome::Spawned { pid } => Ok(*pid),
        Outcome::Paused => Err(SandboxError::Paused),
        Outcome::Failed { errno, step } => {
            let errno = io::Error::from_raw_os_error(*errno);
            let source = match step.as_str() {
                "exec" => errno,
                "chdir" => io::Error::new(errno.kind(), format!("working directory: {errno}")),
                other => io::Error::new(errno.kind(), format!("{other}: {errno}")),
            };
            Err(SandboxError::Spawn {
                program: program.to_owned(),
                source,
            })
        }
        Outcome::Done | Outcome::Opened => Err(SandboxError::io(
            "spawning",
            io::Error::other("the init did not report a pid"),
        )),
    }
}

fn expect_done(reply: Reply, doing: &str) -> Result<()> {
    match reply.outcome {
        Outcome::Failed { errno, .. } => {
            Err(SandboxError::io(doing, io::Error::from_raw_os_error(errno)))
        }
        _ => Ok(()),
    }
}

/// What to run, before it becomes a request.
struct SpawnSpec {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: String,
}

impl SpawnSpec {
    fn into_request(self, id: u64, pty: Option<WindowSize>) -> Request {
        Request::Spawn {
            id,
            argv: self.argv,
            env: self.env,
            cwd: self.cwd,
            pty,
        }
    }
}

/// The three pipes of a spawn: the child's ends go to the init, ours become streams.
struct Pipes {
    stdin: (OwnedFd, OwnedFd),
    stdout: (OwnedFd, OwnedFd),
    stderr: (OwnedFd, OwnedFd),
}

impl Pipes {
    fn new() -> Result<Pipes> {
        let pipe =
            || pipe2(OFlag::O_CLOEXEC).map_err(|e| SandboxError::io("creating pipes", e.into()));
        Ok(Pipes {
            stdin: pipe()?,
            stdout: pipe()?,
            stderr: pipe()?,
        })
    }

    /// stdin's read end, stdout's and stderr's write ends.
    fn child_fds(&self) -> [RawFd; 3] {
        [
            self.stdin.0.as_raw_fd(),
            self.stdout.1.as_raw_fd(),
            self.stderr.1.as_raw_fd(),
        ]
    }

    #[allow(clippy::type_complexity)]
    fn into_streams(
        self,
    ) -> Result<(
        Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
        Box<dyn tokio::io::AsyncRead + Send + Unpin>,
        Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    )> {
        let stream = |fd| {
            FdStream::new(fd, false)
                .map_err(|e| SandboxError::io("registering pipes with tokio", e))
        };
        Ok((
            Box::new(stream(self.stdin.1)?),
            Box::new(stream(self.stdout.0)?),
            Box::new(stream(self.stderr.0)?),
        ))
    }
}
