//! The namespace backend: each VM is a `tether_sandbox` sandbox (Linux namespaces, a
//! long-lived init as PID 1, a disk that is a directory tree).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tether_sandbox::{SandboxConfig, Vm};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{
    Backend, BackendKind, BackendResult, BootSpec, Command, ExitStatus, FileStat, GroupSignal,
    Process, ProcessControl, Pty, PtySize, SandboxError, Signaller, Terminal, VmHandle,
};

/// VMs as Linux-namespace sandboxes, their inits started as `config` says.
#[derive(Clone, Debug)]
pub struct NamespaceBackend {
    config: SandboxConfig,
}

impl NamespaceBackend {
    /// A backend whose VMs' inits run `config.init_program config.init_args…`.
    pub fn new(config: SandboxConfig) -> NamespaceBackend {
        NamespaceBackend { config }
    }
}

#[async_trait]
impl Backend for NamespaceBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Namespaces
    }

    async fn create_disk(&self, disk: &Path) -> BackendResult<()> {
        let disk = disk.to_path_buf();
        tokio::task::spawn_blocking(move || tether_sandbox::create_disk(&disk))
            .await
            .map_err(|join| SandboxError::Io {
                context: "creating a disk".into(),
                source: std::io::Error::other(join.to_string()),
            })?
    }

    async fn copy_disk(&self, src: &Path, dst: &Path) -> BackendResult<()> {
        tether_sandbox::copy_disk(src, dst).await
    }

    async fn remove_disk(&self, disk: &Path) -> BackendResult<()> {
        tether_sandbox::remove_disk(disk).await
    }

    async fn boot(&self, spec: BootSpec) -> BackendResult<Arc<dyn VmHandle>> {
        Ok(Arc::new(Vm::boot(&self.config, spec).await?))
    }
}

#[async_trait]
impl VmHandle for Vm {
    async fn spawn(&self, command: Command) -> BackendResult<Process> {
        let mut spawned = Vm::spawn(self, command).await?;
        let (stdin, stdout, stderr) = (
            spawned.stdin.take(),
            spawned.stdout.take(),
            spawned.stderr.take(),
        );
        let pty = spawned.pty.take().map(|pty| Box::new(pty) as Pty);
        let mut process = Process::new(Box::new(spawned));
        process.stdin = stdin;
        process.stdout = stdout;
        process.stderr = stderr;
        process.pty = pty;
        Ok(process)
    }

    async fn pause(&self) -> BackendResult<()> {
        Vm::pause(self).await
    }

    async fn resume(&self) -> BackendResult<()> {
        Vm::resume(self).await
    }

    fn is_paused(&self) -> bool {
        Vm::is_paused(self)
    }

    async fn shutdown(&self) -> BackendResult<()> {
        Vm::shutdown(self).await
    }

    async fn read_file(&self, path: &str) -> BackendResult<Vec<u8>> {
        self.fs().read(path).await
    }

    async fn write_file(
        &self,
        path: &str,
        content: &[u8],
        mode: Option<u32>,
        create_dirs: bool,
    ) -> BackendResult<()> {
        self.fs().write(path, content, mode, create_dirs).await
    }

    async fn stat(&self, path: &str) -> BackendResult<FileStat> {
        self.fs().stat(path).await
    }
}

#[async_trait]
impl ProcessControl for tether_sandbox::Process {
    async fn wait(&mut self) -> BackendResult<ExitStatus> {
        tether_sandbox::Process::wait(self).await
    }

    fn signaller(&self) -> Signaller {
        Arc::new(tether_sandbox::Process::signaller(self))
    }
}

#[async_trait]
impl GroupSignal for tether_sandbox::Signaller {
    async fn signal(&self, signal: i32) -> BackendResult<()> {
        tether_sandbox::Signaller::signal(self, signal).await
    }
}

impl Terminal for tether_sandbox::Pty {
    fn reader(&self) -> BackendResult<Box<dyn AsyncRead + Send + Unpin>> {
        tether_sandbox::Pty::reader(self)
    }

    fn writer(&self) -> BackendResult<Box<dyn AsyncWrite + Send + Unpin>> {
        tether_sandbox::Pty::writer(self)
    }

    fn resize(&self, size: PtySize) -> BackendResult<()> {
        tether_sandbox::Pty::resize(self, size)
    }
}
