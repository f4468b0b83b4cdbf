//! [`crate::VmFs`]: file operations on a VM's root, run on tokio's blocking pool.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::confined;
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
        let (root, path) = (self.root()?, path.to_owned());
        blocking(move || confined::read(&root, &path)).await
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
