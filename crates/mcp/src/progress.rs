//! Progress notifications: while a call runs longer than a moment, the client hears how long
//! it has been going and what it waits for (booting, resuming a paused VM), if it asked for
//! progress with a token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::Peer;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use tether_router::{Progress, WaitGuard};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often a running call reports progress.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);

/// What the router is waiting for right now (set while a wait lasts).
#[derive(Default)]
pub(crate) struct WaitNotes {
    current: Mutex<Option<String>>,
}

impl WaitNotes {
    fn set(&self, note: Option<String>) {
        let mut current = match self.current.lock() {
            Ok(current) => current,
            Err(poisoned) => poisoned.into_inner(),
        };
        *current = note;
    }

    fn get(&self) -> Option<String> {
        match self.current.lock() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The router's waits, recorded for the heartbeats of running calls.
#[derive(Clone, Default)]
pub(crate) struct ProgressHub {
    notes: Arc<WaitNotes>,
}

impl Progress for ProgressHub {
    fn begin(&self, message: &str) -> WaitGuard {
        self.notes.set(Some(message.to_owned()));
        let notes = self.notes.clone();
        WaitGuard::new(move || notes.set(None))
    }
}

impl ProgressHub {
    /// Starts reporting progress of the call `tool` to `peer` (if the client gave a token);
    /// the reports stop when the returned heartbeat is dropped.
    pub(crate) fn heartbeat(
        &self,
        peer: Peer<RoleServer>,
        token: Option<ProgressToken>,
        tool: &str,
        first: Option<&str>,
    ) -> Heartbeat {
        let Some(token) = token else {
            return Heartbeat(None);
        };
        let notes = self.notes.clone();
        let (tool, first) = (tool.to_owned(), first.map(str::to_owned));
        let task = tokio::spawn(async move {
            let started = Instant::now();
            if let Some(first) = first {
                notify(&peer, &token, 0.0, first).await;
            }
            let mut ticks =
                tokio::time::interval_at(started + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
            loop {
                ticks.tick().await;
                let elapsed = started.elapsed().as_secs();
                let doing = notes.get().unwrap_or_else(|| format!("{tool} running"));
                notify(
                    &peer,
                    &token,
                    started.elapsed().as_secs_f64(),
                    format!("{doing} ({elapsed} s)"),
                )
                .await;
            }
        });
        Heartbeat(Some(task))
    }
}

async fn notify(peer: &Peer<RoleServer>, token: &ProgressToken, progress: f64, message: String) {
    let mut param = ProgressNotificationParam::new(token.clone(), progress);
    param.message = Some(message);
    if let Err(e) = peer.notify_progress(param).await {
        tracing::debug!("could not send a progress notification: {e}");
    }
}

/// Reports a call's progress until dropped.
pub(crate) struct Heartbeat(Option<JoinHandle<()>>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
