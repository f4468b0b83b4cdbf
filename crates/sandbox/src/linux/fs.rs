//! [`crate::VmFs`]: file operations on a VM's root, run on tokio's blocking pool.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use nix::errno::Errno;

use super::confined;
use super::protocol::{Outcome, Request};
use super::vm::WeakVm;
use crate::{FileStat, Result, SandboxError};

/// File access to one VM; does not keep the VM alive.
#[derive(Clone, Debug)]
pub(crate) struct VmFs {
    vm: WeakVm,
}

impl VmFs {
    pub(crate) fn new(vm: WeakVm) -> VmFs {
        VmFs { vm }
    }

    pub(crate) async fn read(&self, path: &str) -> Result<Vec<u8>> {
        let (root, owned) = (self.root()?, path.to_owned());
        match blocking(move || confined::read(&root, &owned)).await? {
            confined::ReadOutcome::Content(content) => Ok(content),
            confined::ReadOutcome::PseudoFile => self.read_through_init(path).await,
        }
    }

    /// Has the VM's init open `path` (with the VM's privileges) and reads what it sends.
    async fn read_through_init(&self, path: &str) -> Result<Vec<u8>> {
        let vm = self.vm.upgrade().ok_or(SandboxError::NotRunning)?;
        let request = |id| Request::Open {
            id,
            path: path.to_owned(),
        };
        let mut reply = vm.channel().request(request, &[]).await?;
        let file = match (reply.outcome, reply.fds.pop()) {
            (Outcome::Opened, Some(file)) => file,
            (Outcome::Failed { errno, .. }, _) => {
                return Err(confined::error(path, Errno::from_raw(errno), "opening"));
            }
            _ => return Err(SandboxError::NotRunning),
        };
        let path = path.to_owned();
        blocking(move || confined::read_opened(file, &path)).await
    }

    pub(crate) async fn write(
        &self,
        path: &str,
        content: &[u8],
        mode: Option<u32>,
        create_dirs: bool,
    ) -> Result<()> {
        let (root, path, content) = (self.root()?, path.to_owned(), content.to_vec());
        blocking(move || confined::write(&root, &path, &content, mode, create_dirs)).await
    }

    pub(crate) async fn stat(&self, path: &str) -> Result<FileStat> {
        let (root, path) = (self.root()?, path.to_owned());
        blocking(move || confined::stat(&root, &path)).await
    }

    fn root(&self) -> Result<Arc<OwnedFd>> {
        self.vm
            .upgrade()
            .and_then(|vm| vm.root())
            .ok_or(SandboxError::NotRunning)
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SandboxError::io("running a file operation", std::io::Error::other(e)))?
}
