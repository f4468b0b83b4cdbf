//! The host's end of a VM's control socket: requests with replies matched by id, and a
//! reader task that routes replies and exit reports.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, watch};

use super::protocol::{self, Event, Outcome, Request, WireStatus};
use crate::{ExitStatus, Result, SandboxError};

/// How long the init may take to answer a request.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Size of the buffer for the init's (small) messages.
const EVENT_BUFFER: usize = 64 * 1024;

/// What a process's watchers see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExitState {
    /// Still running.
    Running,
    /// Ended.
    Exited(ExitStatus),
    /// The VM went away first.
    VmGone,
}

/// A reply from the init.
pub(crate) struct Reply {
    /// What happened.
    pub(crate) outcome: Outcome,
    /// Attached descriptors (a terminal master).
    pub(crate) fds: Vec<OwnedFd>,
    /// For a spawn: the new process's exit state.
    pub(crate) exit: Option<watch::Receiver<ExitState>>,
}

/// The control socket and the requests in flight.
pub(crate) struct Channel {
    socket: AsyncFd<OwnedFd>,
    next_id: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    closed: bool,
    pending: HashMap<u64, oneshot::Sender<Reply>>,
    exits: HashMap<i32, watch::Sender<ExitState>>,
}

impl Channel {
    /// Wraps the (non-blocking) socket. Must be called inside a tokio runtime.
    pub(crate) fn new(socket: OwnedFd) -> io::Result<Channel> {
        Ok(Channel {
            socket: super::stream::register(socket)?,
            next_id: AtomicU64::new(1),
            state: Mutex::default(),
        })
    }

    /// Sends the request built from a fresh id (with `fds` attached) and waits for its reply.
    pub(crate) async fn request(
        &self,
        build: impl FnOnce(u64) -> Request,
        fds: &[RawFd],
    ) -> Result<Reply> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state();
            if state.closed {
                return Err(SandboxError::NotRunning);
            }
            state.pending.insert(id, tx);
        }
        let sent = self.send(&build(id), fds).await;
        if let Err(error) = sent {
            self.state().pending.remove(&id);
            return Err(error);
        }
        match tokio::time::timeout(REQUEST_DEADLINE, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_closed)) => Err(SandboxError::NotRunning),
            Err(_elapsed) => {
                self.state().pending.remove(&id);
                let error = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {REQUEST_DEADLINE:?}"),
                );
                Err(SandboxError::io(
                    "waiting for the VM's init (it may be stuck; shut the VM down)",
                    error,
                ))
            }
        }
    }

    async fn send(&self, request: &Request, fds: &[RawFd]) -> Result<()> {
        let bytes = serde_json::to_vec(request)
            .map_err(|e| SandboxError::io("encoding a request", e.into()))?;
        let result = loop {
            let mut guard = match self.socket.writable().await {
                Ok(guard) => guard,
                Err(error) => break Err(error),
            };
            match guard.try_io(|socket| {
                protocol::send(socket.as_fd(), &bytes, fds).map_err(io::Error::from)
            }) {
                Ok(result) => break result,
                Err(_would_block) => continue,
            }
        };
        result.map_err(|error| match error.raw_os_error() {
            Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN) => SandboxError::NotRunning,
            Some(libc::EMSGSIZE) => SandboxError::io(
                "sending a request to the VM (argv and env are too large)",
                error,
            ),
            _ => SandboxError::io("sending a request to the VM's init", error),
        })
    }

    /// Receives one event: `None` once the init is gone.
    pub(crate) async fn next_event(&self) -> io::Result<Option<(Event, Vec<OwnedFd>)>> {
        let mut buffer = vec![0u8; EVENT_BUFFER];
        loop {
            let mut guard = self.socket.readable().await?;
            match guard.try_io(|socket| {
                protocol::recv(socket.as_fd(), &mut buffer).map_err(io::Error::from)
            }) {
                Ok(Ok(None)) => return Ok(None),
                Ok(Ok(Some((len, fds)))) => {
                    let event = serde_json::from_slice(&buffer[..len])
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    return Ok(Some((event, fds)));
                }
                Ok(Err(error)) => return Err(error),
                Err(_would_block) => continue,
            }
        }
    }

    /// Routes events until the init is gone, then fails everything still waiting.
    pub(crate) async fn run_reader(self: Arc<Self>) {
        while let Ok(Some((event, fds))) = self.next_event().await {
            self.dispatch(event, fds);
        }
        self.close();
    }

    fn dispatch(&self, event: Event, fds: Vec<OwnedFd>) {
        let mut state = self.state();
        match event {
            Event::Reply { id, outcome } => {
                let exit = match outcome {
                    Outcome::Spawned { pid } => {
                        let (tx, rx) = watch::channel(ExitState::Running);
                        state.exits.insert(pid, tx);
                        Some(rx)
                    }
                    _ => None,
                };
                if let Some(waiter) = state.pending.remove(&id) {
                    let _ = waiter.send(Reply { outcome, fds, exit });
                }
            }
            Event::Exited { pid, status } => {
                if let Some(watcher) = state.exits.remove(&pid) {
                    let _ = watcher.send(ExitState::Exited(status.into()));
                }
            }
            Event::Ready | Event::BootFailed { .. } => {}
        }
    }

    /// Marks the channel closed: waiting requests fail, running processes become `VmGone`.
    pub(crate) fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.pending.clear();
        for (_, watcher) in state.exits.drain() {
            let _ = watcher.send(ExitState::VmGone);
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl From<WireStatus> for ExitStatus {
    fn from(status: WireStatus) -> ExitStatus {
        match status {
            WireStatus::Code { code } => ExitStatus::Code(code),
            WireStatus::Signal {
                signal,
                core_dumped,
            } => ExitStatus::Signal {
                signal,
                core_dumped,
            },
        }
    }
}
