//! Progress notifications: while a call runs longer than a moment, the client hears how long
//! it has been going and what it waits for (booting, resuming a paused VM) or how far it got
//! (a swarm's workers), if it asked for progress with a token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::Peer;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use tether_router::{Progress, WaitGuard};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How often a running call reports progress.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// How long a finished call waits for its last progress reports to be sent.
const FLUSH_DEADLINE: Duration = Duration::from_secs(2);

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
    /// Starts reporting progress of the call `tool` to `peer` (if the client gave a token):
    /// `first` at once, what the call [reports](Reporter::report) as it happens, and a
    /// heartbeat every [`HEARTBEAT_INTERVAL`] saying what it waits for. The reports stop when
    /// the returned heartbeat is dropped or [finished](Heartbeat::finish).
    pub(crate) fn heartbeat(
        &self,
        peer: Peer<RoleServer>,
        token: Option<ProgressToken>,
        tool: &str,
        first: Option<&str>,
    ) -> Heartbeat {
        let Some(token) = token else {
            return Heartbeat {
                task: None,
                finish: None,
                reporter: Reporter(None),
            };
        };
        let notes = self.notes.clone();
        let (tool, first) = (tool.to_owned(), first.map(str::to_owned));
        let (reports, mut reported) = mpsc::unbounded_channel::<String>();
        let (finish, mut finished) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let elapsed = || started.elapsed().as_secs_f64();
            if let Some(first) = first {
                notify(&peer, &token, 0.0, first).await;
            }
            let mut ticks =
                tokio::time::interval_at(started + HEARTBEAT_INTERVAL, HEARTBEAT_INTERVAL);
            let mut latest: Option<String> = None;
            loop {
                tokio::select! {
                    biased;
                    Some(message) = reported.recv() => {
                        notify(&peer, &token, elapsed(), message.clone()).await;
                        latest = Some(message);
                    }
                    _ = &mut finished => {
                        while let Ok(message) = reported.try_recv() {
                            notify(&peer, &token, elapsed(), message).await;
                        }
                        return;
                    }
                    _ = ticks.tick() => {
                        let doing = notes
                            .get()
                            .or_else(|| latest.clone())
                            .unwrap_or_else(|| format!("{tool} running"));
                        let secs = started.elapsed().as_secs();
                        notify(&peer, &token, elapsed(), format!("{doing} ({secs} s)")).await;
                    }
                }
            }
        });
        Heartbeat {
            task: Some(task),
            finish: Some(finish),
            reporter: Reporter(Some(reports)),
        }
    }
}

async fn notify(peer: &Peer<RoleServer>, token: &ProgressToken, progress: f64, message: String) {
    let mut param = ProgressNotificationParam::new(token.clone(), progress);
    param.message = Some(message);
    if let Err(e) = peer.notify_progress(param).await {
        tracing::debug!("could not send a progress notification: {e}");
    }
}

/// What a running call has to say about its progress (nothing is sent without a token).
#[derive(Clone)]
pub(crate) struct Reporter(Option<mpsc::UnboundedSender<String>>);

impl Reporter {
    /// Sends `message` as a progress notification now; later heartbeats repeat it.
    pub(crate) fn report(&self, message: String) {
        if let Some(reports) = &self.0 {
            // The heartbeat is gone only when the call is over: nobody listens any more.
            let _ = reports.send(message);
        }
    }
}

/// Reports a call's progress until dropped.
pub(crate) struct Heartbeat {
    task: Option<JoinHandle<()>>,
    finish: Option<oneshot::Sender<()>>,
    reporter: Reporter,
}

impl Heartbeat {
    /// Where the call reports its progress.
    pub(crate) fn reporter(&self) -> Reporter {
        self.reporter.clone()
    }

    /// Stops the heartbeats after sending what the call reported, so that every report
    /// reaches the client before the call's result.
    pub(crate) async fn finish(mut self) {
        if let Some(finish) = self.finish.take() {
            let _ = finish.send(());
        }
        if let Some(task) = self.task.as_mut()
            && tokio::time::timeout(FLUSH_DEADLINE, task).await.is_err()
        {
            tracing::debug!("progress reports still unsent after {FLUSH_DEADLINE:?}");
        }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
