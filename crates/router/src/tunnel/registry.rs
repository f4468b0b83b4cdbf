//! [`Tunnels`]: the forwards a server process keeps open for its agent, one per VM, host and
//! port, until closed, until their VM is deleted, or until the process ends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::forward::{ForwardFailure, Forwarder, Remote, listen_local};
use crate::{Router, RouterError};

/// One open tunnel, as the tools report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TunnelInfo {
    /// The VM (full id).
    pub vm_id: String,
    /// The host, as the VM sees it.
    pub host: String,
    /// The port in the VM.
    pub port: u16,
    /// The port on 127.0.0.1.
    pub local_port: u16,
    /// `http://127.0.0.1:<localPort>`.
    pub url: String,
}

impl TunnelInfo {
    /// `http://127.0.0.1:P -> VM <id>:<remote>`.
    pub fn line(&self) -> String {
        let remote = Remote {
            host: self.host.clone(),
            port: self.port,
        };
        format!("{} -> VM {}:{}", self.url, self.vm_id, remote.written())
    }
}

/// What [`Tunnels::open`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opened {
    /// A new tunnel.
    New(TunnelInfo),
    /// The tunnel to that VM, host and port was already open.
    Existing(TunnelInfo),
}

struct Open {
    info: TunnelInfo,
    cancel: CancellationToken,
}

type Key = (String, Remote);

/// The tunnels of one server process. Dropping it closes them all.
pub struct Tunnels {
    open: Mutex<BTreeMap<Key, Open>>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Default for Tunnels {
    fn default() -> Tunnels {
        Tunnels {
            open: Mutex::new(BTreeMap::new()),
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
        }
    }
}

impl Tunnels {
    /// Opens a tunnel from 127.0.0.1:`local_port` (`None`: a free port) to `remote` in
    /// `vm_id` (a full id), or returns the one already open to it. The VM must answer; the
    /// server in it may start later.
    pub async fn open(
        &self,
        router: &Router,
        vm_id: &str,
        remote: Remote,
        local_port: Option<u16>,
    ) -> Result<Opened, RouterError> {
        let key = (vm_id.to_owned(), remote.clone());
        if let Some(open) = lock(&self.open).get(&key) {
            return Ok(Opened::Existing(open.info.clone()));
        }
        router.session(vm_id).await?;
        let listener = listen_local(local_port.unwrap_or(0)).await?;
        let local = listener
            .local_addr()
            .map_err(|source| RouterError::Listen {
                port: local_port.unwrap_or(0),
                source,
            })?;
        let forwarder = Forwarder::new(router, vm_id, self.tasks.clone(), Arc::new(report)).await?;
        let info = TunnelInfo {
            vm_id: vm_id.to_owned(),
            host: remote.host.clone(),
            port: remote.port,
            local_port: local.port(),
            url: format!("http://{local}"),
        };
        let mut open = lock(&self.open);
        if let Some(existing) = open.get(&key) {
            return Ok(Opened::Existing(existing.info.clone()));
        }
        let cancel = self.cancel.child_token();
        forwarder.serve(listener, remote, cancel.clone());
        let opened = Open {
            info: info.clone(),
            cancel,
        };
        open.insert(key, opened);
        Ok(Opened::New(info))
    }

    /// Closes the tunnel to `remote` in `vm_id`; `None` if there was none.
    pub fn close(&self, vm_id: &str, remote: &Remote) -> Option<TunnelInfo> {
        let key = (vm_id.to_owned(), remote.clone());
        let open = lock(&self.open).remove(&key)?;
        open.cancel.cancel();
        Some(open.info)
    }

    /// Closes every tunnel to `vm_id` (it was deleted); returns them.
    pub fn close_vm(&self, vm_id: &str) -> Vec<TunnelInfo> {
        let mut open = lock(&self.open);
        let keys: Vec<Key> = open.keys().filter(|(id, _)| id == vm_id).cloned().collect();
        keys.iter()
            .filter_map(|key| open.remove(key))
            .map(|closed| {
                closed.cancel.cancel();
                closed.info
            })
            .collect()
    }

    /// The tunnels open now.
    pub fn list(&self) -> Vec<TunnelInfo> {
        lock(&self.open).values().map(|o| o.info.clone()).collect()
    }

    /// Closes every tunnel and waits for their connections to end.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        lock(&self.open).clear();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Drop for Tunnels {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

fn report(failure: &ForwardFailure) {
    tracing::warn!(
        "connection from {} to VM {}:{}: {}",
        failure.peer,
        failure.vm_id,
        failure.remote.written(),
        failure.error
    );
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}
