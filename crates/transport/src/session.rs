//! One SSH session over TLS (or plain TCP) to one VM or host.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::Channel;
use russh::client::{self, Handle, Msg};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;

use crate::{KnownHosts, TransportError};

/// Deadline for TCP connect + TLS + SSH handshake + auth.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How often an idle connection is probed.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Unanswered keepalives before a connection is declared dead.
const KEEPALIVE_MAX: usize = 3;
/// Deadline for opening a channel on a live connection.
pub const CHANNEL_OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Each channel's receive window. russh's default (2 MiB, topped up once half is used) keeps
/// at most 2 MiB in flight, which caps a download at about 50 MB/s over a 20 ms round trip.
const CHANNEL_WINDOW: u32 = 16 << 20;

/// Where a VM or host is, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The host name: the TLS SNI name and the key in the pin file.
    pub host: String,
    /// The `host:port` dialled.
    pub dial: String,
    /// SSH inside TLS (Vers) or plain SSH.
    pub tls: bool,
    /// The SSH user.
    pub user: String,
}

impl Endpoint {
    /// A Vers VM: `<vm_id>.<vm_domain>` on port 443, or on `gateway` (`host:port`) when one is
    /// configured (the simulator, `TETHER_SSH_GATEWAY`); the SNI name is the VM's either way.
    pub fn vers(vm_id: &str, vm_domain: &str, gateway: Option<&str>) -> Endpoint {
        let host = format!("{vm_id}.{vm_domain}");
        let dial = gateway.map_or_else(|| format!("{host}:443"), str::to_owned);
        Endpoint {
            host,
            dial,
            tls: true,
            user: "root".into(),
        }
    }

    /// A plain SSH host (no TLS).
    pub fn plain(host: &str, port: u16, user: &str) -> Endpoint {
        Endpoint {
            host: host.into(),
            dial: format!("{host}:{port}"),
            tls: false,
            user: user.into(),
        }
    }

    fn pin_port(&self) -> u16 {
        if self.tls {
            443
        } else {
            self.dial
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(22)
        }
    }
}

/// Settings shared by every connection.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// Where host keys are pinned.
    pub known_hosts: KnownHosts,
    /// An extra CA to trust besides the public roots (the simulator's `ca_cert`).
    pub extra_ca: Option<PathBuf>,
    /// Whether to start the [`crate::Agent`] on each connection (commands and file operations
    /// in one round trip); without it, every command takes a channel of its own.
    pub agent: bool,
}

/// The environment variable that turns the agent off (`TETHER_NO_AGENT=1`).
pub const NO_AGENT_VAR: &str = "TETHER_NO_AGENT";

impl TransportConfig {
    /// Public roots only, pins in `known_hosts`; the agent on unless `TETHER_NO_AGENT=1`.
    pub fn new(known_hosts: impl Into<PathBuf>) -> TransportConfig {
        let off = std::env::var_os(NO_AGENT_VAR).is_some_and(|v| v == "1");
        TransportConfig {
            known_hosts: KnownHosts::new(known_hosts),
            extra_ca: None,
            agent: !off,
        }
    }
}

/// A live SSH session. Commands run on its agent, or on channels of it, concurrently.
pub struct Session {
    handle: Handle<Client>,
    endpoint: Endpoint,
    spare: Mutex<Spare>,
    pub(crate) agent: crate::agent::Slot,
}

/// The channel opened ahead of need. Its lock is never held across an await, so concurrent
/// callers never queue behind a channel being opened: the first one waits for that channel (it
/// is already on its way), the others open their own.
#[derive(Default)]
struct Spare {
    /// An open channel nobody has taken yet.
    ready: Option<Channel<Msg>>,
    /// Whether a spare is being opened.
    opening: bool,
    /// The caller waiting for the spare being opened.
    claimed: Option<oneshot::Sender<Channel<Msg>>>,
}

impl Session {
    /// Connects and authenticates with `key`, within the connect timeout (15 s).
    pub async fn connect(
        endpoint: &Endpoint,
        key: &Arc<PrivateKey>,
        config: &TransportConfig,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Session, TransportError> {
        let connecting = connect_inner(endpoint, key, config, tls);
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout {
                what: "connecting",
                host: endpoint.host.clone(),
                after: CONNECT_TIMEOUT,
            }),
        }
    }

    /// The endpoint this session is connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// A channel: the spare if one is open or being opened and not claimed, else a new one.
    pub(crate) async fn channel(&self) -> Result<Channel<Msg>, TransportError> {
        let claim = {
            let mut spare = self.spare();
            if let Some(channel) = spare.ready.take() {
                return Ok(channel);
            }
            (spare.opening && spare.claimed.is_none()).then(|| {
                let (tx, rx) = oneshot::channel();
                spare.claimed = Some(tx);
                rx
            })
        };
        // A failed spare drops the sender: then this caller opens its own.
        if let Some(rx) = claim
            && let Ok(channel) = rx.await
        {
            return Ok(channel);
        }
        self.open_channel().await
    }

    /// Opens a channel ahead of need, so the next command saves a round trip. Does nothing if
    /// a spare is open or being opened.
    pub async fn prepare_spare(&self) {
        {
            let mut spare = self.spare();
            if spare.ready.is_some() || spare.opening {
                return;
            }
            spare.opening = true;
        }
        // Settles the spare even if this future is dropped halfway.
        let opening = Opening(Some(self));
        opening.finish(self.open_channel().await.ok());
    }

    /// Hands a newly opened spare to the caller that claimed it, or keeps it; without a
    /// channel, drops the claim so that caller opens its own.
    fn settle_spare(&self, channel: Option<Channel<Msg>>) {
        let mut spare = self.spare();
        spare.opening = false;
        spare.ready = match (channel, spare.claimed.take()) {
            (Some(channel), Some(claim)) => claim.send(channel).err(),
            (channel, _) => channel,
        };
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Spare> {
        match self.spare.lock() {
            Ok(spare) => spare,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) async fn open_channel(&self) -> Result<Channel<Msg>, TransportError> {
        let opening = self.handle.channel_open_session();
        self.await_open("opening a channel", opening).await
    }

    /// Awaits a channel being opened, within [`CHANNEL_OPEN_TIMEOUT`]; a failure on a closed
    /// connection is [`TransportError::Disconnected`] (nothing started: safe to retry).
    pub(crate) async fn await_open(
        &self,
        what: &'static str,
        opening: impl Future<Output = Result<Channel<Msg>, russh::Error>>,
    ) -> Result<Channel<Msg>, TransportError> {
        match tokio::time::timeout(CHANNEL_OPEN_TIMEOUT, opening).await {
            Ok(Ok(channel)) => Ok(channel),
            Ok(Err(source)) if self.is_closed() => {
                tracing::debug!(%source, host = %self.endpoint.host, "channel open on a closed connection");
                Err(TransportError::Disconnected {
                    host: self.endpoint.host.clone(),
                    started: false,
                })
            }
            Ok(Err(source)) => Err(TransportError::Ssh {
                host: self.endpoint.host.clone(),
                source,
            }),
            Err(_) => Err(TransportError::Timeout {
                what,
                host: self.endpoint.host.clone(),
                after: CHANNEL_OPEN_TIMEOUT,
            }),
        }
    }

    pub(crate) fn handle(&self) -> &Handle<Client> {
        &self.handle
    }

    pub(crate) fn host(&self) -> &str {
        &self.endpoint.host
    }
}

/// A spare being opened: settled with the channel when the open ends, or without one if it is
/// dropped before.
struct Opening<'a>(Option<&'a Session>);

impl Opening<'_> {
    fn finish(mut self, channel: Option<Channel<Msg>>) {
        if let Some(session) = self.0.take() {
            session.settle_spare(channel);
        }
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0.take() {
            session.settle_spare(None);
        }
    }
}

async fn connect_inner(
    endpoint: &Endpoint,
    key: &Arc<PrivateKey>,
    config: &TransportConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Session, TransportError> {
    let tcp =
        TcpStream::connect(&endpoint.dial)
            .await
            .map_err(|source| TransportError::Connect {
                target: endpoint.dial.clone(),
                host: endpoint.host.clone(),
                source,
            })?;
    let _ = tcp.set_nodelay(true);
    let client = Client::new(endpoint, config.known_hosts.clone());
    let rejected = client.rejected.clone();
    let handle = if endpoint.tls {
        let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone()).map_err(|e| {
            TransportError::Tls {
                host: endpoint.host.clone(),
                source: std::io::Error::other(e),
            }
        })?;
        let stream = TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|source| TransportError::Tls {
                host: endpoint.host.clone(),
                source,
            })?;
        handshake(endpoint, stream, client, &rejected).await?
    } else {
        handshake(endpoint, tcp, client, &rejected).await?
    };
    let mut session = Session {
        handle,
        endpoint: endpoint.clone(),
        spare: Default::default(),
        agent: crate::agent::Slot::new(config.agent),
    };
    authenticate(&mut session, key).await?;
    Ok(session)
}

async fn handshake<S>(
    endpoint: &Endpoint,
    stream: S,
    client: Client,
    rejected: &Arc<Mutex<Option<TransportError>>>,
) -> Result<Handle<Client>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = Arc::new(client::Config {
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        window_size: CHANNEL_WINDOW,
        ..Default::default()
    });
    match client::connect_stream(config, stream, client).await {
        Ok(handle) => Ok(handle),
        Err(source) => {
            let pinned = rejected.lock().ok().and_then(|mut r| r.take());
            Err(pinned.unwrap_or(TransportError::Ssh {
                host: endpoint.host.clone(),
                source,
            }))
        }
    }
}

async fn authenticate(session: &mut Session, key: &Arc<PrivateKey>) -> Result<(), TransportError> {
    let host = session.endpoint.host.clone();
    let ssh_error = |source| TransportError::Ssh {
        host: host.clone(),
        source,
    };
    let hash = session
        .handle
        .best_supported_rsa_hash()
        .await
        .map_err(ssh_error)?
        .flatten();
    let key = PrivateKeyWithHashAlg::new(key.clone(), hash);
    let user = session.endpoint.user.clone();
    let result = session
        .handle
        .authenticate_publickey(&user, key)
        .await
        .map_err(ssh_error)?;
    if result.success() {
        Ok(())
    } else {
        Err(TransportError::AuthRejected { host, user })
    }
}

/// The russh client handler: checks the server's key against the pin file.
pub(crate) struct Client {
    host: String,
    port: u16,
    known_hosts: KnownHosts,
    rejected: Arc<Mutex<Option<TransportError>>>,
}

impl Client {
    fn new(endpoint: &Endpoint, known_hosts: KnownHosts) -> Client {
        Client {
            host: endpoint.host.clone(),
            port: endpoint.pin_port(),
            known_hosts,
            rejected: Default::default(),
        }
    }
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            return Ok(false);
        };
        match self.known_hosts.check_or_pin(&self.host, self.port, key) {
            Ok(()) => Ok(true),
            Err(err) => {
                if let Ok(mut slot) = self.rejected.lock() {
                    *slot = Some(err);
                }
                Ok(false)
            }
        }
    }
}
