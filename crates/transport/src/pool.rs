//! One connection per VM, shared by every concurrent caller, reconnected when it drops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::PrivateKey;
use tokio::io::AsyncRead;
use tokio::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::{
    Agent, Endpoint, ExecRun, ExecSpec, ForwardStream, Output, Session, Stream, TransportConfig,
    TransportError,
};

/// First wait after a failed connect; doubles per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between connect attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The state of one endpoint's connection.
enum Slot {
    /// Never connected, or closed.
    Idle,
    /// A live session.
    Ready(Arc<Session>),
    /// The last attempt failed; the next may start at `retry_at`.
    Failed {
        retry_at: Instant,
        backoff: Duration,
    },
}

/// Connections keyed by endpoint. Concurrent callers for one endpoint share one connect attempt
/// (they queue on the endpoint's lock) and then one session.
pub struct Pool {
    config: TransportConfig,
    tls: Arc<rustls::ClientConfig>,
    slots: Mutex<HashMap<Endpoint, Arc<tokio::sync::Mutex<Slot>>>>,
}

impl Pool {
    /// A pool using `config`.
    pub fn new(config: TransportConfig) -> Result<Pool, TransportError> {
        let tls = crate::client_config(config.extra_ca.as_deref())?;
        Ok(Pool {
            config,
            tls,
            slots: Mutex::new(HashMap::new()),
        })
    }

    /// A live session to `endpoint`, connecting (or reconnecting) with `key` if needed.
    pub async fn session(
        &self,
        endpoint: &Endpoint,
        key: &Arc<PrivateKey>,
    ) -> Result<Arc<Session>, TransportError> {
        let slot = self.slot(endpoint);
        let mut slot = slot.lock().await;
        if let Slot::Ready(session) = &*slot {
            if !session.is_closed() {
                return Ok(session.clone());
            }
            tracing::debug!(host = %endpoint.host, "connection closed; reconnecting");
        }
        let backoff = match &*slot {
            Slot::Failed { retry_at, backoff } => {
                tokio::time::sleep_until(*retry_at).await;
                (*backoff * 2).min(MAX_BACKOFF)
            }
            _ => FIRST_BACKOFF,
        };
        match Session::connect(endpoint, key, &self.config, &self.tls).await {
            Ok(session) => {
                let session = Arc::new(session);
                // Starts the agent in the background; commands take channels until it is up.
                let _ = session.agent_link();
                session.prepare_spare().await;
                *slot = Slot::Ready(session.clone());
                Ok(session)
            }
            Err(err) => {
                *slot = Slot::Failed {
                    retry_at: Instant::now() + backoff,
                    backoff,
                };
                Err(err)
            }
        }
    }

    /// Runs `spec` on `endpoint`: like [`Session::exec`] on [`Pool::session`], but a connection
    /// found dead before the command started is replaced and the command tried once more.
    pub async fn exec(
        &self,
        endpoint: &Endpoint,
        key: &Arc<PrivateKey>,
        spec: ExecSpec,
        on_output: &mut (dyn FnMut(Stream, &[u8]) + Send),
        cancel: Option<CancellationToken>,
    ) -> Result<ExecRun, TransportError> {
        self.exec_io(
            endpoint,
            key,
            spec,
            None,
            &mut Output::Callback(on_output),
            cancel,
        )
        .await
    }

    /// Like [`Pool::exec`] with streamed input and output, as [`Session::exec_io`].
    pub async fn exec_io(
        &self,
        endpoint: &Endpoint,
        key: &Arc<PrivateKey>,
        spec: ExecSpec,
        mut stdin: Option<&mut (dyn AsyncRead + Send + Unpin)>,
        output: &mut Output<'_>,
        cancel: Option<CancellationToken>,
    ) -> Result<ExecRun, TransportError> {
        let session = self.session(endpoint, key).await?;
        let first = stdin
            .as_mut()
            .map(|s| &mut **s as &mut (dyn AsyncRead + Send + Unpin));
        match session
            .exec_io(spec.clone(), first, output, cancel.clone())
            .await
        {
            Err(TransportError::Disconnected { started: false, .. }) => {
                // Nothing was read from `stdin` or written to `output` yet.
                tracing::debug!(host = %endpoint.host, "stale connection; reconnecting once");
                self.forget(endpoint).await;
                self.session(endpoint, key)
                    .await?
                    .exec_io(spec, stdin, output, cancel)
                    .await
            }
            other => other,
        }
    }

    /// The agent of the connection to `endpoint` (connecting if needed), for file operations
    /// in one round trip; `None` while it is not up (it is being started) or cannot run there.
    pub async fn agent(
        &self,
        endpoint: &Endpoint,
        key: &Arc<PrivateKey>,
    ) -> Result<Option<Agent>, TransportError> {
        let session = self.session(endpoint, key).await?;
        Ok(session.agent_link().map(|link| Agent { link, session }))
    }

    /// Opens a connection to `host:port` as the VM at `endpoint` sees it, on its pooled
    /// connection: like [`Session::direct_tcpip`], but a connection found dead is replaced and
    /// the open tried once more.
    pub async fn direct_tcpip(
        &self,
        endpoint: &Endpoint,
        key: &Arc<PrivateKey>,
        host: &str,
        port: u16,
    ) -> Result<ForwardStream, TransportError> {
        let session = self.session(endpoint, key).await?;
        match session.direct_tcpip(host, port).await {
            Err(TransportError::Disconnected { started: false, .. }) => {
                tracing::debug!(host = %endpoint.host, "stale connection; reconnecting once");
                self.forget(endpoint).await;
                let session = self.session(endpoint, key).await?;
                session.direct_tcpip(host, port).await
            }
            other => other,
        }
    }

    /// Drops the connection to `endpoint` (e.g. when its VM is deleted).
    pub async fn forget(&self, endpoint: &Endpoint) {
        let slot = self
            .slots
            .lock()
            .ok()
            .and_then(|mut slots| slots.remove(endpoint));
        if let Some(slot) = slot {
            *slot.lock().await = Slot::Idle;
        }
    }

    fn slot(&self, endpoint: &Endpoint) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = match self.slots.lock() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots
            .entry(endpoint.clone())
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Slot::Idle)))
            .clone()
    }
}
