//! The async client for `tether-guest`: one stream, many concurrent commands and file
//! operations, each routed by its id.

use crate::error::KvmError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tether_guest_proto::{
    Event, FrameLengths, PROTOCOL_VERSION, PtySize, Request, decode_header, encode_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// How long a request may wait for the guest's first answer (`Started`, `Stat`, …).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// The events of one request, each with its payload.
pub(crate) type Replies = mpsc::UnboundedReceiver<(Event, Vec<u8>)>;
type Routes = Arc<Mutex<Option<HashMap<u64, mpsc::UnboundedSender<(Event, Vec<u8>)>>>>>;

/// A connected agent. Cheap to clone; every clone shares the one stream. The reader and
/// writer tasks end when the stream closes or the last clone is dropped.
#[derive(Clone)]
pub struct AgentClient {
    frames: mpsc::UnboundedSender<Vec<u8>>,
    routes: Routes,
    next_id: Arc<AtomicU64>,
}

/// What [`AgentClient::connect`] learned from the guest's hello.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hello {
    /// The guest kernel's uptime when the agent came up, in milliseconds.
    pub uptime_ms: u64,
}

/// A command to run in the guest.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    /// Program and arguments (looked up in the guest's PATH).
    pub argv: Vec<String>,
    /// Variables added to the agent's base environment.
    pub env: Vec<(String, String)>,
    /// Working directory (the agent's default is `/root`).
    pub cwd: Option<String>,
    /// Run on a pseudo-terminal of this size (stdout and stderr arrive merged as stdout).
    pub pty: Option<PtySize>,
}

impl ExecRequest {
    /// `argv` with no other settings.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> Self {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

impl AgentClient {
    /// Waits (up to `hello_timeout`) for the guest's hello on `reader`, then serves the
    /// stream: a task reads events, another writes requests.
    pub async fn connect<R, W>(
        mut reader: R,
        writer: W,
        hello_timeout: Duration,
    ) -> Result<(Self, Hello), KvmError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let first = tokio::time::timeout(hello_timeout, read_event(&mut reader))
            .await
            .map_err(|_| KvmError::Timeout {
                what: "the guest agent's hello",
                timeout: hello_timeout,
                hint: String::new(),
            })??;
        let hello = match first {
            Some((Event::Hello { version, uptime_ms }, _)) if version == PROTOCOL_VERSION => {
                Hello { uptime_ms }
            }
            Some((Event::Hello { version, .. }, _)) => {
                return Err(KvmError::Version {
                    guest: version,
                    host: PROTOCOL_VERSION,
                });
            }
            None => return Err(KvmError::ClosedBeforeHello),
            other => {
                return Err(KvmError::Disconnected {
                    reason: format!("expected the agent's hello, got {other:?}"),
                });
            }
        };
        let (frames, frame_rx) = mpsc::unbounded_channel();
        let routes: Routes = Arc::new(Mutex::new(Some(HashMap::new())));
        tokio::spawn(write_frames(writer, frame_rx));
        tokio::spawn(route_events(reader, routes.clone()));
        let client = Self {
            frames,
            routes,
            next_id: Arc::new(AtomicU64::new(1)),
        };
        Ok((client, hello))
    }

    /// Starts a command; returns once the guest says it runs (or why it could not).
    pub async fn exec(&self, request: ExecRequest) -> Result<Exec, KvmError> {
        let (id, mut events) = self.open_route()?;
        let ExecRequest {
            argv,
            env,
            cwd,
            pty,
        } = request;
        let has_pty = pty.is_some();
        self.send(
            &Request::Exec {
                id,
                argv,
                env,
                cwd,
                pty,
            },
            &[],
        )?;
        let (event, _) = next_reply(&mut events, "the guest to start the command").await?;
        match event {
            Event::Started { pid, .. } => Ok(Exec {
                id,
                pid,
                pty: has_pty,
                events,
                client: self.clone(),
            }),
            other => Err(self.unexpected(id, other)),
        }
    }

    /// Runs `argv` to completion with empty stdin; its output and exit code.
    pub async fn output<S: Into<String>>(
        &self,
        argv: impl IntoIterator<Item = S>,
    ) -> Result<ExecOutput, KvmError> {
        let exec = self.exec(ExecRequest::new(argv)).await?;
        exec.close_stdin()?;
        exec.wait_output().await
    }

    /// Asks the guest to sync and power off; QEMU then exits.
    pub fn power_off(&self) -> Result<(), KvmError> {
        self.send(&Request::PowerOff, &[])
    }

    pub(crate) fn open_route(&self) -> Result<(u64, Replies), KvmError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut routes = lock(&self.routes);
        let Some(map) = routes.as_mut() else {
            return Err(disconnected());
        };
        map.insert(id, tx);
        Ok((id, rx))
    }

    pub(crate) fn close_route(&self, id: u64) {
        if let Some(map) = lock(&self.routes).as_mut() {
            map.remove(&id);
        }
    }

    pub(crate) fn send(&self, request: &Request, payload: &[u8]) -> Result<(), KvmError> {
        let frame = encode_frame(request, payload)?;
        self.frames.send(frame).map_err(|_| disconnected())
    }

    /// The error for a reply that is not the one expected (a `Failed` becomes its message).
    pub(crate) fn unexpected(&self, id: u64, event: Event) -> KvmError {
        self.close_route(id);
        match event {
            Event::Failed { kind, message, .. } => KvmError::Guest { kind, message },
            other => KvmError::Disconnected {
                reason: format!("unexpected reply {other:?}"),
            },
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn disconnected() -> KvmError {
    KvmError::Disconnected {
        reason: "the stream to the guest ended".into(),
    }
}

/// The next event for one route, within [`REPLY_TIMEOUT`].
pub(crate) async fn next_reply(
    events: &mut Replies,
    what: &'static str,
) -> Result<(Event, Vec<u8>), KvmError> {
    match tokio::time::timeout(REPLY_TIMEOUT, events.recv()).await {
        Ok(Some(event)) => Ok(event),
        Ok(None) => Err(disconnected()),
        Err(_) => Err(KvmError::Timeout {
            what,
            timeout: REPLY_TIMEOUT,
            hint: String::new(),
        }),
    }
}

async fn read_event<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<(Event, Vec<u8>)>, KvmError> {
    let mut lengths = [0u8; 8];
    match reader.read_exact(&mut lengths).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(KvmError::io("reading from the guest agent", e)),
    }
    let lengths = FrameLengths::parse(lengths)?;
    let mut bytes = vec![0u8; lengths.header + lengths.payload];
    reader
        .read_exact(&mut bytes)
        .await
        .map_err(|e| KvmError::io("reading from the guest agent", e))?;
    let payload = bytes.split_off(lengths.header);
    Ok(Some((decode_header(&bytes)?, payload)))
}

async fn write_frames<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(frame) = frames.recv().await {
        if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
            break;
        }
    }
}

/// Routes each event to its id's receiver; when the stream ends, drops every route so all
/// waiters see the disconnection.
async fn route_events<R: AsyncRead + Unpin>(mut reader: R, routes: Routes) {
    loop {
        match read_event(&mut reader).await {
            Ok(Some((event, payload))) => {
                let Some(id) = event_id(&event) else { continue };
                if let Some(route) = lock(&routes).as_ref().and_then(|m| m.get(&id)) {
                    let _ = route.send((event, payload));
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("guest agent channel: {e}");
                break;
            }
        }
    }
    lock(&routes).take();
}

fn event_id(event: &Event) -> Option<u64> {
    match event {
        Event::Hello { .. } => None,
        Event::Started { id, .. }
        | Event::Stdout { id }
        | Event::Stderr { id }
        | Event::Eof { id, .. }
        | Event::Exited { id, .. }
        | Event::Data { id }
        | Event::Done { id }
        | Event::Stat { id, .. }
        | Event::Entries { id, .. }
        | Event::Failed { id, .. } => Some(*id),
    }
}

use crate::exec::{Exec, ExecOutput};
