//! Handles on processes spawned in a VM: their exit state and their process group.

use std::sync::Weak;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::channel::{Channel, ExitState};
use super::protocol::{Outcome, Request};
use super::stream::Pty;
use crate::{ExitStatus, Result, SandboxError};

/// What [`crate::Vm::spawn`] assembles into a [`crate::Process`].
pub(crate) struct Spawned {
    pub(crate) pid: i32,
    pub(crate) stdin: Option<Box<dyn AsyncWrite + Send + Unpin>>,
    pub(crate) stdout: Option<Box<dyn AsyncRead + Send + Unpin>>,
    pub(crate) stderr: Option<Box<dyn AsyncRead + Send + Unpin>>,
    pub(crate) pty: Option<Pty>,
    pub(crate) handle: ProcessHandle,
}

/// A process's exit state and a way to signal it.
pub(crate) struct ProcessHandle {
    pid: i32,
    exit: watch::Receiver<ExitState>,
    channel: Weak<Channel>,
}

impl ProcessHandle {
    pub(crate) fn new(
        pid: i32,
        exit: watch::Receiver<ExitState>,
        channel: Weak<Channel>,
    ) -> ProcessHandle {
        ProcessHandle { pid, exit, channel }
    }

    pub(crate) fn signaller(&self) -> Signaller {
        Signaller {
            pgid: self.pid,
            channel: self.channel.clone(),
        }
    }

    pub(crate) async fn wait(&mut self) -> Result<ExitStatus> {
        let state = self
            .exit
            .wait_for(|state| *state != ExitState::Running)
            .await
            .map(|state| *state);
        match state {
            Ok(ExitState::Exited(status)) => Ok(status),
            _ => Err(SandboxError::NotRunning),
        }
    }
}

/// Signals a process group through the VM's init (the pid is only meaningful inside the VM).
#[derive(Clone, Debug)]
pub(crate) struct Signaller {
    pgid: i32,
    channel: Weak<Channel>,
}

impl Signaller {
    pub(crate) async fn signal(&self, signal: i32) -> Result<()> {
        let channel = self.channel.upgrade().ok_or(SandboxError::NotRunning)?;
        let pgid = self.pgid;
        let reply = channel
            .request(|id| Request::Signal { id, pgid, signal }, &[])
            .await?;
        match reply.outcome {
            Outcome::Failed { errno, .. } => Err(SandboxError::io(
                format!("sending signal {signal} to process group {pgid} in the VM"),
                std::io::Error::from_raw_os_error(errno),
            )),
            _ => Ok(()),
        }
    }
}
