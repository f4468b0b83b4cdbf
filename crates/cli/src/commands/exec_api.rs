//! A command run through the Vers API's exec stream, under an exec id tether picks, that
//! survives a dropped connection: the run goes on in the VM, and tether rejoins it with
//! `exec/stream/attach` after the cursor of the last event it printed, so nothing is lost or
//! repeated.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tether_router::ErrorKind;
use tether_vers::{ExecEvent, ExecEvents, Named, VersClient, VersError};
use tether_wire::{AttachRequest, ExecRequest, ExecStream};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use tether_target::Stream;

use super::exec::Captured;
use crate::report::CliError;

/// How long tether keeps trying to rejoin a run after its connection dropped.
pub(crate) const REATTACH_WINDOW: Duration = Duration::from_secs(60);
/// The first wait between attempts to rejoin; it doubles up to [`MAX_RETRY_WAIT`].
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(100);
/// The longest wait between attempts to rejoin.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);

/// Where a run's output goes.
pub(crate) enum Sink {
    /// To this process's stdout and stderr, as it arrives.
    Terminal,
    /// Collected (for `--json`).
    Capture(Captured),
}

impl Sink {
    async fn write(&mut self, stream: ExecStream, bytes: &[u8]) -> anyhow::Result<()> {
        match (self, stream) {
            (Sink::Terminal, ExecStream::Stdout) => write_all(tokio::io::stdout(), bytes).await,
            (Sink::Terminal, ExecStream::Stderr) => write_all(tokio::io::stderr(), bytes).await,
            (Sink::Capture(captured), ExecStream::Stdout) => {
                captured.push(Stream::Stdout, bytes);
                Ok(())
            }
            (Sink::Capture(captured), ExecStream::Stderr) => {
                captured.push(Stream::Stderr, bytes);
                Ok(())
            }
        }
    }
}

async fn write_all(mut to: impl AsyncWriteExt + Unpin, bytes: &[u8]) -> anyhow::Result<()> {
    to.write_all(bytes).await?;
    Ok(to.flush().await?)
}

/// How a followed run ended for tether.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The command exited with this code (128 + N when signal N killed it).
    Exit(i32),
    /// Tether was told to stop (Ctrl-C); the command goes on in the VM.
    Cancelled,
}

/// One run being followed: started by tether (`request`) or joined (`request: None`).
pub(crate) struct Run<'a> {
    vers: &'a VersClient,
    vm_id: String,
    exec_id: String,
    /// The request, until the server is known to have the run.
    request: Option<ExecRequest>,
    /// Whether the request was sent at least once.
    sent: bool,
    /// The cursor of the last event passed on.
    cursor: Option<u64>,
}

impl<'a> Run<'a> {
    /// A new run of `request` (its `exec_id` is set to a fresh one).
    pub fn start(vers: &'a VersClient, vm_id: &str, mut request: ExecRequest) -> Run<'a> {
        let exec_id = uuid::Uuid::new_v4().to_string();
        request.exec_id = Some(exec_id.clone());
        Run {
            vers,
            vm_id: vm_id.to_owned(),
            exec_id,
            request: Some(request),
            sent: false,
            cursor: None,
        }
    }

    /// The existing run `exec_id`, from after `cursor` (from its start without one).
    pub fn join(vers: &'a VersClient, vm_id: &str, exec_id: &str, cursor: Option<u64>) -> Run<'a> {
        Run {
            vers,
            vm_id: vm_id.to_owned(),
            exec_id: exec_id.to_owned(),
            request: None,
            sent: true,
            cursor,
        }
    }

    /// The run's id.
    pub fn exec_id(&self) -> &str {
        &self.exec_id
    }

    /// Passes the run's output to `sink` until it exits, rejoining it whenever the connection
    /// drops (for up to [`REATTACH_WINDOW`] each time), or until `cancel`.
    pub async fn follow(
        &mut self,
        sink: &mut Sink,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Ended> {
        let mut events = self.open().await;
        loop {
            let lost = match events {
                Ok(mut stream) => {
                    let pumped = self.pump(&mut stream, sink, cancel).await?;
                    match pumped {
                        Pumped::Ended(ended) => return Ok(ended),
                        Pumped::Lost(err) => err,
                    }
                }
                Err(err) => err,
            };
            if !retryable(&lost) {
                return Err(lost.into());
            }
            eprintln!("tether: connection lost, re-attaching…");
            events = match self.reopen(lost, cancel).await? {
                Some(stream) => Ok(stream),
                None => return Ok(Ended::Cancelled),
            };
        }
    }

    /// Copies events to `sink` until the exit, a failure, or `cancel`.
    async fn pump(
        &mut self,
        events: &mut ExecEvents,
        sink: &mut Sink,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Pumped> {
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return Ok(Pumped::Ended(Ended::Cancelled)),
                next = events.next() => next,
            };
            if let Some(cursor) = events.position().cursor {
                self.cursor = Some(cursor);
            }
            match next {
                Some(Ok(ExecEvent::Output { stream, data })) => sink.write(stream, &data).await?,
                Some(Ok(ExecEvent::Exit { exit_code })) => {
                    return Ok(Pumped::Ended(Ended::Exit(exit_code)));
                }
                Some(Err(err)) => return Ok(Pumped::Lost(err)),
                None => {
                    return Ok(Pumped::Lost(VersError::StreamEnded {
                        vm_id: self.vm_id.clone(),
                        reason: "it ended without an exit record".into(),
                    }));
                }
            }
        }
    }

    /// Tries to rejoin the run, with capped backoff, for [`REATTACH_WINDOW`]; `None` if
    /// `cancel` came first.
    async fn reopen(
        &mut self,
        mut last: VersError,
        cancel: &CancellationToken,
    ) -> anyhow::Result<Option<ExecEvents>> {
        let deadline = Instant::now() + REATTACH_WINDOW;
        let mut wait = FIRST_RETRY_WAIT;
        loop {
            if Instant::now() + wait > deadline {
                return Err(self.gave_up(&last));
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(None),
                () = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(MAX_RETRY_WAIT);
            match self.open().await {
                Ok(events) => return Ok(Some(events)),
                Err(err) if retryable(&err) => last = err,
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Starts the run, or rejoins it after the last cursor. A run whose start may not have
    /// reached the server is looked for first and started again only if it is unknown.
    async fn open(&mut self) -> Result<ExecEvents, VersError> {
        let Some(request) = self.request.clone() else {
            return self.attach().await;
        };
        let events = match self.sent {
            false => {
                self.sent = true;
                self.vers.exec_stream(&self.vm_id, &request).await
            }
            true => match self.attach().await {
                Err(err) if self.is_unknown(&err) => {
                    self.vers.exec_stream(&self.vm_id, &request).await
                }
                other => other,
            },
        };
        if events.is_ok() {
            self.request = None;
        }
        events
    }

    async fn attach(&self) -> Result<ExecEvents, VersError> {
        let request = AttachRequest {
            exec_id: self.exec_id.clone(),
            cursor: self.cursor,
            from_latest: None,
        };
        self.vers.exec_attach(&self.vm_id, &request).await
    }

    fn is_unknown(&self, err: &VersError) -> bool {
        matches!(err, VersError::NotFound { what, .. } if matches!(**what, Named::Exec { .. }))
    }

    fn gave_up(&self, last: &VersError) -> anyhow::Error {
        let cursor = self
            .cursor
            .map(|c| format!(" --cursor {c}"))
            .unwrap_or_default();
        anyhow::Error::new(CliError {
            kind: ErrorKind::Unavailable,
            message: format!(
                "lost the connection to the API and could not re-attach within {REATTACH_WINDOW:?} \
                 ({last}); the command may still be running in the VM: rejoin it with \
                 `tether vm attach {} {}{cursor}`",
                self.vm_id, self.exec_id
            ),
        })
    }
}

enum Pumped {
    Ended(Ended),
    Lost(VersError),
}

/// Whether `err` is a lost or failed connection, after which the run can be rejoined.
fn retryable(err: &VersError) -> bool {
    matches!(
        err,
        VersError::Unreachable { .. }
            | VersError::Timeout { .. }
            | VersError::Http { .. }
            | VersError::StreamEnded { .. }
            | VersError::Server { .. }
    )
}
