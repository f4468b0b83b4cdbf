//! [`VmAccess`]: how a Vers VM is reached — its endpoint, its key (fetched once, held in
//! memory), and getting it running first (a paused VM is resumed, a booting one waited for).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use russh::keys::PrivateKey;
use tether_target::{AccessError, RemoteAccess};
use tether_transport::Endpoint;
use tether_vers::VersClient;
use tether_wire::VmState;
use tokio::sync::OnceCell;

use crate::{Progress, RouterError};

/// Access to one Vers VM, for [`tether_target::RemoteTarget`] and the transport's pool.
///
/// The first [`VmAccess::access`] makes sure the VM runs and fetches its key; later ones are
/// free until [`VmAccess::mark_stale`] (after the VM was paused, or a connection failed).
pub struct VmAccess {
    vm_id: String,
    vers: VersClient,
    progress: Arc<dyn Progress>,
    key: OnceCell<Arc<PrivateKey>>,
    running: AtomicBool,
}

impl VmAccess {
    /// Access to `vm_id` through `vers`, reporting waits to `progress`.
    pub fn new(vm_id: &str, vers: VersClient, progress: Arc<dyn Progress>) -> VmAccess {
        VmAccess {
            vm_id: vm_id.to_owned(),
            vers,
            progress,
            key: OnceCell::new(),
            running: AtomicBool::new(false),
        }
    }

    /// The VM's id.
    pub fn vm_id(&self) -> &str {
        &self.vm_id
    }

    /// The endpoint to dial for the VM, from the current settings.
    pub fn endpoint(&self) -> Result<Endpoint, RouterError> {
        let settings = self.vers.settings()?;
        Ok(Endpoint::vers(
            &self.vm_id,
            &settings.vm_domain,
            settings.ssh_gateway.as_deref(),
        ))
    }

    /// Makes sure the VM is running (once), then returns its endpoint and key.
    pub async fn connect_info(&self) -> Result<(Endpoint, Arc<PrivateKey>), RouterError> {
        if !self.running.load(Ordering::Acquire) {
            self.ensure_running().await?;
            self.running.store(true, Ordering::Release);
        }
        let key = self.key.get_or_try_init(|| self.fetch_key()).await?;
        Ok((self.endpoint()?, key.clone()))
    }

    /// The next access checks the VM's state again (it may have been paused).
    pub fn mark_stale(&self) {
        self.running.store(false, Ordering::Release);
    }

    /// Resumes a paused VM or waits for a booting one, telling `progress` when it does.
    async fn ensure_running(&self) -> Result<(), RouterError> {
        let vm = self.vers.status(&self.vm_id).await?;
        let message = match vm.state {
            VmState::Running => return Ok(()),
            VmState::Paused | VmState::Sleeping => format!("resuming paused VM {}…", self.vm_id),
            VmState::Booting => format!("waiting for VM {} to boot…", self.vm_id),
            VmState::Dead => {
                self.vers.ensure_running(&self.vm_id).await?;
                return Ok(());
            }
        };
        let _wait = self.progress.begin(&message);
        self.vers.ensure_running(&self.vm_id).await?;
        Ok(())
    }

    async fn fetch_key(&self) -> Result<Arc<PrivateKey>, RouterError> {
        let reply = self.vers.ssh_key(&self.vm_id).await?;
        let key =
            PrivateKey::from_openssh(&reply.ssh_private_key).map_err(|e| RouterError::BadKey {
                vm_id: self.vm_id.clone(),
                reason: e.to_string(),
            })?;
        Ok(Arc::new(key))
    }
}

#[async_trait]
impl RemoteAccess for VmAccess {
    fn describe(&self) -> String {
        format!("VM {}", self.vm_id)
    }

    async fn access(&self) -> Result<(Endpoint, Arc<PrivateKey>), AccessError> {
        self.connect_info()
            .await
            .map_err(|e| Box::new(e) as AccessError)
    }
}
