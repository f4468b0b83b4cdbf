//! Running commands through the API: `POST /vm/{id}/exec`, and `/exec/stream` decoded line by
//! line as the NDJSON arrives (the body is never buffered whole).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use reqwest::Method;
use serde::Deserialize;
use tether_wire::{
    AttachRequest, ExecLogQuery, ExecLogResponse, ExecRequest, ExecResponse, ExecStream,
};

use crate::client::Call;
use crate::reply::Subject;
use crate::{Named, VersClient, VersError};

/// Added to a command's own time limit for the HTTP deadline, so the server's answer to the
/// limit (an exit record) arrives before the client gives up.
pub const EXEC_GRACE: Duration = Duration::from_secs(10);
/// Longest NDJSON line accepted from `/exec/stream` (one base64 chunk with its envelope).
pub const MAX_EVENT_LINE: usize = 16 * 1024 * 1024;

/// One decoded event of an exec stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecEvent {
    /// Output bytes, as they arrived.
    Output {
        /// Which stream.
        stream: ExecStream,
        /// The bytes (decoded from base64).
        data: Bytes,
    },
    /// The command ended with this code; always the last event.
    Exit {
        /// The exit code.
        exit_code: i32,
    },
}

/// The events of one `/exec/stream` run: output, then exactly one exit, or an error.
/// Ends after the exit or the first error.
pub struct ExecEvents {
    inner: BoxStream<'static, Result<ExecEvent, VersError>>,
    position: Arc<Mutex<ExecPosition>>,
}

/// How far a stream has got: the run's id and the cursor of the last event it delivered,
/// which is what `exec/stream/attach` needs to rejoin the run with nothing lost or repeated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecPosition {
    /// The run's id, once the server has named it.
    pub exec_id: Option<String>,
    /// The cursor of the last event delivered (`None`: nothing yet).
    pub cursor: Option<u64>,
}

impl ExecEvents {
    /// How far the stream has got so far (see [`ExecPosition`]).
    pub fn position(&self) -> ExecPosition {
        lock(&self.position).clone()
    }
}

fn lock(position: &Mutex<ExecPosition>) -> std::sync::MutexGuard<'_, ExecPosition> {
    match position.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Stream for ExecEvents {
    type Item = Result<ExecEvent, VersError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl std::fmt::Debug for ExecEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExecEvents")
    }
}

impl VersClient {
    /// `POST /vm/{id}/exec`: runs `request.command` and returns its whole output. No HTTP
    /// deadline unless the request has a time limit (then that limit + [`EXEC_GRACE`]).
    pub async fn exec(
        &self,
        vm_id: &str,
        request: &ExecRequest,
    ) -> Result<ExecResponse, VersError> {
        self.json(exec_call(vm_id, false, request)?).await
    }

    /// `POST /vm/{id}/exec/stream`: runs `request.command`, yielding output as it arrives.
    pub async fn exec_stream(
        &self,
        vm_id: &str,
        request: &ExecRequest,
    ) -> Result<ExecEvents, VersError> {
        let call = exec_call(vm_id, true, request)?;
        let position = ExecPosition {
            exec_id: request.exec_id.clone(),
            cursor: None,
        };
        self.events(vm_id, call, position).await
    }

    /// `POST /vm/{id}/exec/stream/attach`: rejoins the run `request.exec_id` (running or
    /// finished), yielding every event after `request.cursor` (all of them without one), then
    /// what comes live, to its exit. Used after a dropped connection: pass the
    /// [`ExecEvents::position`] of the stream that broke.
    pub async fn exec_attach(
        &self,
        vm_id: &str,
        request: &AttachRequest,
    ) -> Result<ExecEvents, VersError> {
        let subject = Subject::Named(Named::Exec {
            vm_id: vm_id.to_owned(),
            exec_id: request.exec_id.clone(),
        });
        let segments = ["vm", vm_id, "exec", "stream", "attach"];
        let call = Call::new(Method::POST, &segments, subject)
            .body(request)?
            .timeout(None);
        let position = ExecPosition {
            exec_id: Some(request.exec_id.clone()),
            cursor: request.cursor,
        };
        self.events(vm_id, call, position).await
    }

    /// `GET /vm/{id}/logs`: the VM's exec output, in order, from `query.offset`.
    pub async fn exec_logs(
        &self,
        vm_id: &str,
        query: &ExecLogQuery,
    ) -> Result<ExecLogResponse, VersError> {
        let call = Call::new(
            Method::GET,
            &["vm", vm_id, "logs"],
            Subject::Vm(vm_id.to_owned()),
        )
        .query(query);
        self.json(call).await
    }

    async fn events(
        &self,
        vm_id: &str,
        call: Call,
        position: ExecPosition,
    ) -> Result<ExecEvents, VersError> {
        let response = self.send(call.clone()).await?;
        let position = Arc::new(Mutex::new(position));
        let decoder = Decoder {
            body: response.bytes_stream().boxed(),
            buf: BytesMut::new(),
            scanned: 0,
            done: false,
            vm_id: vm_id.to_owned(),
            call,
            position: Arc::clone(&position),
        };
        let inner = futures::stream::unfold(decoder, |mut decoder| async move {
            decoder.next().await.map(|item| (item, decoder))
        });
        Ok(ExecEvents {
            inner: inner.boxed(),
            position,
        })
    }
}

/// `/vm/{id}/exec` or `/vm/{id}/exec/stream` with `request`, deadline from its time limit.
fn exec_call(vm_id: &str, stream: bool, request: &ExecRequest) -> Result<Call, VersError> {
    let segments: &[&str] = if stream {
        &["vm", vm_id, "exec", "stream"]
    } else {
        &["vm", vm_id, "exec"]
    };
    let timeout = request.timeout().map(|limit| limit + EXEC_GRACE);
    let subject = Subject::Vm(vm_id.to_owned());
    Ok(Call::new(Method::POST, segments, subject)
        .body(request)?
        .timeout(timeout))
}

/// Splits the body into lines and decodes each as it completes.
struct Decoder {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    buf: BytesMut,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
    done: bool,
    vm_id: String,
    call: Call,
    position: Arc<Mutex<ExecPosition>>,
}

impl Decoder {
    async fn next(&mut self) -> Option<Result<ExecEvent, VersError>> {
        while !self.done {
            if let Some(line) = self.take_line() {
                match self.decode(&line) {
                    Ok(None) => continue,
                    Ok(Some(event)) => {
                        self.done = matches!(event, ExecEvent::Exit { .. });
                        return Some(Ok(event));
                    }
                    Err(err) => return Some(self.fail(err)),
                }
            }
            if let Err(err) = self.fill().await {
                return Some(self.fail(err));
            }
        }
        None
    }

    /// The next complete line, if the buffer holds one.
    fn take_line(&mut self) -> Option<BytesMut> {
        let newline = self.buf[self.scanned..].iter().position(|b| *b == b'\n');
        match newline {
            Some(at) => {
                let line = self.buf.split_to(self.scanned + at + 1);
                self.scanned = 0;
                Some(line)
            }
            None => {
                self.scanned = self.buf.len();
                None
            }
        }
    }

    /// Reads more of the body; at its end, a last line without a newline is completed.
    async fn fill(&mut self) -> Result<(), VersError> {
        match self.body.next().await {
            Some(Ok(chunk)) if self.buf.len() + chunk.len() > MAX_EVENT_LINE => Err(self.ended(
                format!("a line of the stream is longer than {MAX_EVENT_LINE} bytes"),
            )),
            Some(Ok(chunk)) => {
                self.buf.extend_from_slice(&chunk);
                Ok(())
            }
            Some(Err(e)) if e.is_timeout() => Err(self.call.transport_error("", e)),
            Some(Err(e)) => Err(self.ended(format!("reading it failed: {e}"))),
            None if self.buf.iter().any(|b| !b.is_ascii_whitespace()) => {
                self.buf.extend_from_slice(b"\n");
                Ok(())
            }
            None => Err(self.ended("the server closed it".to_owned())),
        }
    }

    fn decode(&self, line: &[u8]) -> Result<Option<ExecEvent>, VersError> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let raw: RawEvent = serde_json::from_slice(line).map_err(|e| {
            self.call
                .bad_reply(format!("a stream line is not JSON: {e}"))
        })?;
        if matches!(raw.kind.as_str(), "chunk" | "exit") {
            let mut position = lock(&self.position);
            if let Some(exec_id) = &raw.exec_id {
                position.exec_id = Some(exec_id.clone());
            }
            if let Some(cursor) = raw.cursor {
                position.cursor = Some(cursor);
            }
        }
        raw.into_event(&self.vm_id).map_err(|reason| match reason {
            Decoded::Failed(err) => err,
            Decoded::Bad(reason) => self.call.bad_reply(reason),
        })
    }

    fn ended(&self, reason: String) -> VersError {
        VersError::StreamEnded {
            vm_id: self.vm_id.clone(),
            reason,
        }
    }

    fn fail(&mut self, err: VersError) -> Result<ExecEvent, VersError> {
        self.done = true;
        Err(err)
    }
}

/// A stream line, leniently: fields are checked per `type`; unknown types are skipped.
#[derive(Deserialize)]
struct RawEvent {
    #[serde(rename = "type")]
    kind: String,
    exec_id: Option<String>,
    cursor: Option<u64>,
    stream: Option<ExecStream>,
    data_b64: Option<String>,
    exit_code: Option<i32>,
    code: Option<String>,
    message: Option<String>,
}

enum Decoded {
    Failed(VersError),
    Bad(String),
}

impl RawEvent {
    fn into_event(self, vm_id: &str) -> Result<Option<ExecEvent>, Decoded> {
        match self.kind.as_str() {
            "chunk" => {
                let stream = self
                    .stream
                    .ok_or(Decoded::Bad("a chunk has no stream".into()))?;
                let data = B64
                    .decode(self.data_b64.unwrap_or_default())
                    .map_err(|e| Decoded::Bad(format!("a chunk is not base64: {e}")))?;
                Ok(Some(ExecEvent::Output {
                    stream,
                    data: Bytes::from(data),
                }))
            }
            "exit" => {
                let exit_code = self
                    .exit_code
                    .ok_or(Decoded::Bad("an exit record has no exit_code".into()))?;
                Ok(Some(ExecEvent::Exit { exit_code }))
            }
            "error" => Err(Decoded::Failed(VersError::ExecFailed {
                vm_id: vm_id.to_owned(),
                code: self.code.unwrap_or_else(|| "unknown".into()),
                message: self.message.unwrap_or_default(),
            })),
            other => {
                tracing::debug!(kind = other, "skipping an unknown exec stream record");
                Ok(None)
            }
        }
    }
}
