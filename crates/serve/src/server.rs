//! The stdio server: reader → bounded queue → processor → writer.
//!
//! The reader parses lines into messages and queues them; the processor answers `initialize`,
//! `shutdown` and cancels at once and runs every other request as its own task, so a long
//! exec never holds up a file read; every response and notification goes through one writer.
//! When stdin closes, running commands are cancelled (their process groups killed on the VM)
//! before the server returns.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::ServeError;
use crate::methods;
use crate::protocol::{Incoming, Message, Outgoing, RpcError, code};
use crate::state::{Connect, Notifier, State};

/// How many parsed messages may wait for the processor.
pub const QUEUE_DEPTH: usize = 64;
/// How many responses and notifications may wait for the writer.
pub const WRITE_DEPTH: usize = 256;
/// The longest line accepted (a file sent whole as base64 must fit).
pub const MAX_MESSAGE: usize = 256 << 20;
/// How long running requests get to finish after stdin closes or `shutdown`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);

/// The protocol version spoken (README "Handshake").
pub const PROTOCOL_VERSION: u32 = 1;

/// Serves JSON-RPC on `input`/`output` until `input` ends or `shutdown` is requested.
pub async fn serve<R, W>(input: R, output: W, connect: Connect) -> Result<(), ServeError>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel(WRITE_DEPTH);
    let writer = tokio::spawn(write_loop(output, out_rx));
    let (in_tx, in_rx) = mpsc::channel(QUEUE_DEPTH);
    let reader = tokio::spawn(read_loop(input, in_tx, out_tx.clone()));
    let state = Arc::new(State::new(connect, Notifier::new(out_tx.clone())));
    process(in_rx, state, out_tx).await;
    reader.abort();
    let read = reader.await.unwrap_or(Ok(()));
    let written = writer.await.unwrap_or(Ok(()));
    read.and(written)
}

/// Serves JSON-RPC on this process's stdin and stdout (logs belong on stderr).
pub async fn serve_stdio(connect: Connect) -> Result<(), ServeError> {
    serve(tokio::io::stdin(), tokio::io::stdout(), connect).await
}

async fn read_loop<R: AsyncRead + Unpin>(
    input: R,
    queue: mpsc::Sender<Message>,
    out: mpsc::Sender<Outgoing>,
) -> Result<(), ServeError> {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = (MAX_MESSAGE + 1) as u64;
        let read = (&mut input).take(limit).read_until(b'\n', &mut line).await;
        let read = read.map_err(|source| ServeError::Stdio {
            action: "read",
            source,
        })?;
        if read == 0 {
            return Ok(());
        }
        if line.len() > MAX_MESSAGE {
            skip_line(&mut input).await?;
            let error = ServeError::MessageTooLong { limit: MAX_MESSAGE }.to_string();
            let reply =
                Outgoing::response(Value::Null, Err(RpcError::new(code::PARSE_ERROR, error)));
            let _ = out.send(reply).await;
            continue;
        }
        match parse(&line) {
            Ok(Some(message)) => {
                if queue.send(message).await.is_err() {
                    return Ok(());
                }
            }
            Ok(None) => {}
            Err((id, error)) => {
                let _ = out.send(Outgoing::response(id, Err(error))).await;
            }
        }
    }
}

/// Reads and drops the rest of an over-long line.
async fn skip_line<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> Result<(), ServeError> {
    loop {
        let buf = input.fill_buf().await.map_err(|source| ServeError::Stdio {
            action: "read",
            source,
        })?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            input.consume(end + 1);
            return Ok(());
        }
        let len = buf.len();
        input.consume(len);
    }
}

/// A message from one line; `None` for a blank line.
fn parse(line: &[u8]) -> Result<Option<Message>, (Value, RpcError)> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let incoming: Incoming = serde_json::from_slice(line).map_err(|e| {
        let message =
            format!("the line is not a JSON-RPC message ({e}); send one JSON object per line");
        (Value::Null, RpcError::new(code::PARSE_ERROR, message))
    })?;
    incoming.into_message().map(Some)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut output: W,
    mut queue: mpsc::Receiver<Outgoing>,
) -> Result<(), ServeError> {
    let failed = |source| ServeError::Stdio {
        action: "write",
        source,
    };
    while let Some(message) = queue.recv().await {
        let mut line = match serde_json::to_vec(&message) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!("could not encode a message: {err}");
                continue;
            }
        };
        line.push(b'\n');
        output.write_all(&line).await.map_err(failed)?;
        if queue.is_empty() {
            output.flush().await.map_err(failed)?;
        }
    }
    output.flush().await.map_err(failed)
}

/// Answers messages until the queue ends or `shutdown`; then cancels and drains requests.
async fn process(
    mut queue: mpsc::Receiver<Message>,
    state: Arc<State>,
    out: mpsc::Sender<Outgoing>,
) {
    let mut tasks = JoinSet::new();
    let mut initialized = false;
    while let Some(message) = queue.recv().await {
        while tasks.try_join_next().is_some() {}
        match message {
            Message::Notification { method, params } => notification(&state, &method, &params),
            Message::Request { id, method, params } => match method.as_str() {
                "initialize" => {
                    initialized = true;
                    let _ = out
                        .send(Outgoing::response(id, Ok(initialize(&params))))
                        .await;
                }
                "shutdown" => {
                    let _ = out.send(Outgoing::response(id, Ok(json!({})))).await;
                    break;
                }
                _ if !initialized => {
                    let error = ServeError::NotInitialized.to_rpc();
                    let _ = out.send(Outgoing::response(id, Err(error))).await;
                }
                _ => {
                    let (state, out) = (state.clone(), out.clone());
                    tasks.spawn(async move {
                        let result = methods::call(&state, &method, params).await;
                        let result = result.map_err(|err| log_failure(&method, &err));
                        let _ = out.send(Outgoing::response(id, result)).await;
                    });
                }
            },
        }
    }
    state.cancel_all();
    state.tunnels().shutdown().await;
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        tracing::warn!(
            "requests still running {SHUTDOWN_GRACE:?} after the client left; stopping them"
        );
        tasks.abort_all();
    }
}

fn log_failure(method: &str, err: &ServeError) -> RpcError {
    tracing::debug!("{method} failed: {err}");
    err.to_rpc()
}

fn notification(state: &State, method: &str, params: &Value) {
    match method {
        "exec/cancel" => {
            let exec_id = params.get("execId").and_then(Value::as_str).unwrap_or("");
            if !state.cancel_exec(exec_id) {
                tracing::debug!("exec/cancel for {exec_id:?}, which is not running");
            }
        }
        "swarm/cancel" => {
            let call_id = params.get("callId").and_then(Value::as_str).unwrap_or("");
            if !state.cancel_swarm_call(call_id) {
                tracing::debug!("swarm/cancel for {call_id:?}, which is not running");
            }
        }
        other => tracing::debug!("ignored notification {other:?}"),
    }
}

/// The answer to `initialize`.
fn initialize(params: &Value) -> Value {
    let client = params.get("clientInfo").cloned().unwrap_or(Value::Null);
    tracing::info!("client {client}");
    json!({
        "protocolVersion": PROTOCOL_VERSION,
        "serverInfo": { "name": "tether serve", "version": env!("CARGO_PKG_VERSION") },
    })
}
