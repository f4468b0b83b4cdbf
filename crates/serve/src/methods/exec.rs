//! `exec` (a command on a VM, its output streamed as `exec/output` notifications) and
//! `exec/cancel`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tether_target::{ExecOutcome, ExecSpec, Output};
use tokio::io::AsyncWrite;
use tokio_util::sync::PollSender;

use super::paths;
use crate::ServeError;
use crate::protocol::Outgoing;
use crate::state::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ExecParams {
    /// The client's name for this run (for `exec/cancel` and the output notifications).
    exec_id: String,
    /// The VM (default: the active one).
    vm_id: Option<String>,
    /// A shell command line, run by `bash -c`.
    command: String,
    /// The working directory (default: the VM's working directory; `~` is its home).
    cwd: Option<String>,
    /// Kill the command's process group after this many seconds (none: no limit).
    timeout_secs: Option<f64>,
}

/// How the command ended.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecResult {
    exit_code: Option<u32>,
    signal: Option<String>,
    timed_out: bool,
    cancelled: bool,
}

impl From<ExecOutcome> for ExecResult {
    fn from(outcome: ExecOutcome) -> ExecResult {
        match outcome {
            ExecOutcome::Exited(code) => ExecResult {
                exit_code: Some(code),
                ..ExecResult::default()
            },
            ExecOutcome::Signaled(name) => ExecResult {
                signal: Some(name),
                ..ExecResult::default()
            },
            ExecOutcome::TimedOut => ExecResult {
                timed_out: true,
                ..ExecResult::default()
            },
            ExecOutcome::Cancelled => ExecResult {
                cancelled: true,
                ..ExecResult::default()
            },
        }
    }
}

pub(crate) async fn exec(state: &State, params: ExecParams) -> Result<ExecResult, ServeError> {
    let timeout = timeout(params.timeout_secs)?;
    let vm_id = state.vm(params.vm_id.as_deref()).await?;
    let place = state.place(&vm_id).await?;
    let cwd = paths::resolve(&place, params.cwd.as_deref().unwrap_or("."));
    let target = state.target(&vm_id).await?;
    let spec = ExecSpec {
        command: params.command,
        cwd: Some(cwd),
        env: Vec::new(),
        stdin: None,
        timeout,
    };
    let cancel = state.start_exec(&params.exec_id)?;
    let sender = state.notifier.sender();
    let mut stdout = Chunks::new(&sender, &params.exec_id, "stdout");
    let mut stderr = Chunks::new(&sender, &params.exec_id, "stderr");
    let mut output = Output::Writers {
        stdout: &mut stdout,
        stderr: &mut stderr,
    };
    let outcome = target.exec_io(spec, None, &mut output, Some(cancel)).await;
    state.end_exec(&params.exec_id);
    Ok(outcome?.into())
}

/// `timeoutSecs` as a deadline: none, or a positive finite number of seconds.
fn timeout(secs: Option<f64>) -> Result<Option<Duration>, ServeError> {
    match secs {
        None => Ok(None),
        Some(secs) if secs <= 0.0 => Ok(None),
        Some(secs) => {
            Duration::try_from_secs_f64(secs)
                .map(Some)
                .map_err(|_| ServeError::InvalidParams {
                    method: "exec".into(),
                    reason: format!("timeoutSecs {secs} is not a usable number of seconds"),
                })
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CancelParams {
    exec_id: String,
}

pub(crate) fn cancel(state: &State, params: CancelParams) -> Result<serde_json::Value, ServeError> {
    Ok(json!({ "cancelled": state.cancel_exec(&params.exec_id) }))
}

/// Output of one stream, sent as `exec/output` notifications; waits while the writer is
/// behind, so a fast command cannot fill memory.
struct Chunks {
    sender: PollSender<Outgoing>,
    exec_id: String,
    stream: &'static str,
}

impl Chunks {
    fn new(
        sender: &tokio::sync::mpsc::Sender<Outgoing>,
        exec_id: &str,
        stream: &'static str,
    ) -> Chunks {
        Chunks {
            sender: PollSender::new(sender.clone()),
            exec_id: exec_id.to_owned(),
            stream,
        }
    }

    fn notification(&self, bytes: &[u8]) -> Outgoing {
        let params = json!({
            "execId": self.exec_id,
            "stream": self.stream,
            "data": STANDARD.encode(bytes),
        });
        Outgoing::notification("exec/output", params)
    }
}

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client has gone")
}

impl AsyncWrite for Chunks {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.sender.poll_reserve(cx)).map_err(|_| gone())?;
        let message = this.notification(buf);
        this.sender.send_item(message).map_err(|_| gone())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn outcomes_map_to_one_field_each() {
        let exited = serde_json::to_value(ExecResult::from(ExecOutcome::Exited(3))).unwrap();
        assert_eq!(
            exited,
            json!({"exitCode": 3, "signal": null, "timedOut": false, "cancelled": false})
        );
        let killed = ExecResult::from(ExecOutcome::Signaled("KILL".into()));
        assert_eq!(killed.signal.as_deref(), Some("KILL"));
        assert_eq!(killed.exit_code, None);
        assert!(ExecResult::from(ExecOutcome::TimedOut).timed_out);
        assert!(ExecResult::from(ExecOutcome::Cancelled).cancelled);
    }

    #[test]
    fn a_timeout_is_positive_seconds_or_none() {
        assert_eq!(timeout(None).unwrap(), None);
        assert_eq!(timeout(Some(0.0)).unwrap(), None);
        assert_eq!(
            timeout(Some(1.5)).unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert!(timeout(Some(f64::INFINITY)).is_err());
    }
}
