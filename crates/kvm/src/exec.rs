//! A running command in the guest: its events, stdin, signals and pty.

use crate::agent::{AgentClient, Replies};
use crate::error::KvmError;
use tether_guest_proto::{Event, PtySize, Request, Stream};

/// One event of a running command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    /// Bytes on stdout (or the pty).
    Stdout(Vec<u8>),
    /// Bytes on stderr.
    Stderr(Vec<u8>),
    /// A stream ended.
    Eof(Stream),
    /// The process exited: `code` is 128 + the signal when a signal killed it.
    Exited {
        /// Exit code (128 + signal number for a signal).
        code: i32,
        /// The signal, if one killed it.
        signal: Option<i32>,
    },
}

/// A finished command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// Everything written to stdout (or the pty).
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// Exit code; 128 + N when signal N killed it.
    pub code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
}

/// A command started by [`AgentClient::exec`]. Dropping it stops routing its events (the
/// command itself runs on; send a signal first to stop it).
pub struct Exec {
    pub(crate) id: u64,
    pub(crate) pid: u32,
    pub(crate) pty: bool,
    pub(crate) events: Replies,
    pub(crate) client: AgentClient,
}

impl Exec {
    /// The command's pid in the guest (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends bytes to its stdin.
    pub fn write_stdin(&self, bytes: &[u8]) -> Result<(), KvmError> {
        self.client.send(&Request::Stdin { id: self.id }, bytes)
    }

    /// Closes its stdin (on a pty: nothing; write `^D` instead).
    pub fn close_stdin(&self) -> Result<(), KvmError> {
        self.client.send(&Request::CloseStdin { id: self.id }, &[])
    }

    /// Sends a signal (Linux number) to its whole process group.
    pub fn signal(&self, signal: i32) -> Result<(), KvmError> {
        self.client.send(
            &Request::Signal {
                id: self.id,
                signal,
            },
            &[],
        )
    }

    /// Resizes its pty.
    pub fn resize(&self, size: PtySize) -> Result<(), KvmError> {
        self.client
            .send(&Request::Resize { id: self.id, size }, &[])
    }

    /// The next event; `None` once the process exited and its streams ended, or the channel
    /// closed (then [`Exec::wait_output`] says why). No deadline: a command runs as long as
    /// it runs; wrap the call in a timeout to bound it.
    pub async fn next_event(&mut self) -> Option<ExecEvent> {
        loop {
            let (event, payload) = self.events.recv().await?;
            match event {
                Event::Stdout { .. } => return Some(ExecEvent::Stdout(payload)),
                Event::Stderr { .. } => return Some(ExecEvent::Stderr(payload)),
                Event::Eof { stream, .. } => return Some(ExecEvent::Eof(stream)),
                Event::Exited { code, signal, .. } => {
                    return Some(ExecEvent::Exited { code, signal });
                }
                // A signal or resize the guest could not deliver (the command had exited).
                Event::Failed { message, .. } => tracing::debug!("exec {}: {message}", self.id),
                other => tracing::warn!("exec {}: unexpected {other:?}", self.id),
            }
        }
    }

    /// Collects all output until the process exited and both streams (a pty: its one
    /// stream) ended.
    pub async fn wait_output(mut self) -> Result<ExecOutput, KvmError> {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut exit = None;
        // A pty is one stream: only stdout's end comes.
        let mut open_streams = if self.pty { 1 } else { 2 };
        while exit.is_none() || open_streams > 0 {
            match self.next_event().await {
                Some(ExecEvent::Stdout(bytes)) => stdout.extend_from_slice(&bytes),
                Some(ExecEvent::Stderr(bytes)) => stderr.extend_from_slice(&bytes),
                Some(ExecEvent::Eof(Stream::Stdout)) => open_streams -= 1,
                Some(ExecEvent::Eof(Stream::Stderr)) => open_streams -= 1,
                Some(ExecEvent::Exited { code, signal }) => exit = Some((code, signal)),
                None => {
                    return Err(KvmError::Disconnected {
                        reason: format!("the stream ended before command {} finished", self.id),
                    });
                }
            }
        }
        let (code, signal) = exit.unwrap_or((-1, None));
        Ok(ExecOutput {
            stdout,
            stderr,
            code,
            signal,
        })
    }
}

impl Drop for Exec {
    fn drop(&mut self) {
        self.client.close_route(self.id);
    }
}
