//! Platforms without Linux namespaces: every operation fails with
//! [`SandboxError::Unsupported`].

use std::ffi::OsString;
use std::path::Path;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::{
    BootSpec, Command, ExitStatus, FileStat, PtySize, Result, SandboxConfig, SandboxError,
};

/// No terminal can exist here.
pub(crate) struct Pty;

impl Pty {
    pub(crate) fn reader(&self) -> Result<Box<dyn AsyncRead + Send + Unpin>> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) fn writer(&self) -> Result<Box<dyn AsyncWrite + Send + Unpin>> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) fn resize(&self, _size: PtySize) -> Result<()> {
        Err(SandboxError::Unsupported)
    }
}

/// No process can exist here.
#[derive(Clone, Debug)]
pub(crate) struct Signaller;

impl Signaller {
    pub(crate) async fn signal(&self, _signal: i32) -> Result<()> {
        Err(SandboxError::Unsupported)
    }
}

/// No process can exist here.
pub(crate) struct ProcessHandle;

impl ProcessHandle {
    pub(crate) fn signaller(&self) -> Signaller {
        Signaller
    }
    pub(crate) async fn wait(&mut self) -> Result<ExitStatus> {
        Err(SandboxError::Unsupported)
    }
}

/// Never constructed: [`Vm::spawn`] always fails.
pub(crate) struct Spawned {
    pub(crate) pid: i32,
    pub(crate) stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub(crate) stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    pub(crate) stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    pub(crate) pty: Option<Pty>,
    pub(crate) handle: ProcessHandle,
}

/// No VM can exist here.
#[derive(Clone, Debug)]
pub(crate) struct VmFs;

impl VmFs {
    pub(crate) async fn read(&self, _path: &str) -> Result<Vec<u8>> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) async fn write(&self, _: &str, _: &[u8], _: Option<u32>, _: bool) -> Result<()> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) async fn stat(&self, _path: &str) -> Result<FileStat> {
        Err(SandboxError::Unsupported)
    }
}

/// Never constructed: [`Vm::boot`] always fails.
#[derive(Debug)]
pub(crate) struct Vm;

impl Vm {
    pub(crate) async fn boot(_config: &SandboxConfig, _spec: BootSpec) -> Result<Vm> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) async fn spawn(&self, _command: Command) -> Result<Spawned> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) async fn pause(&self) -> Result<()> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) async fn resume(&self) -> Result<()> {
        Err(SandboxError::Unsupported)
    }
    pub(crate) fn is_paused(&self) -> bool {
        false
    }
    pub(crate) async fn shutdown(&self) -> Result<()> {
        Ok(())
    }
    pub(crate) fn fs(&self) -> VmFs {
        VmFs
    }
}

pub(crate) fn create_disk(_path: &Path) -> Result<()> {
    Err(SandboxError::Unsupported)
}

pub(crate) async fn copy_disk(_src: &Path, _dst: &Path) -> Result<()> {
    Err(SandboxError::Unsupported)
}

pub(crate) async fn remove_disk(_path: &Path) -> Result<()> {
    Err(SandboxError::Unsupported)
}

pub(crate) async fn disk_usage(_path: &Path) -> Result<u64> {
    Err(SandboxError::Unsupported)
}

pub(crate) fn init_main(_args: Vec<OsString>) -> ! {
    eprintln!("tether: {}", SandboxError::Unsupported);
    std::process::exit(2)
}
