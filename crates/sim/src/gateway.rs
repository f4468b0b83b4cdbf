//! The TLS gateway: how VMs are reached, as on Vers.
//!
//! One TCP listener speaks TLS. The SNI name `<vm_id>.{vm_domain}` selects the VM, and so does
//! a custom domain mapped to a VM (`POST /domains`; it gets a certificate from the
//! simulator's CA). Any other name, an unknown VM or a VM that is paused or stopped gets no TLS
//! handshake (the connection is dropped, as when a Vers VM is not there). Inside the TLS stream
//! is plain SSH, served by this crate's SSH server with that VM's host key. (Vers also serves
//! HTTP to a VM's ports through its proxy; the simulator does not: its VMs share the host's
//! loopback, so there is no VM port to send it to.)
//!
//! ```no_run
//! # async fn demo<D: tether_sim::access::VmDirectory>(directory: std::sync::Arc<D>) -> Result<(), Box<dyn std::error::Error>> {
//! let ca = tether_sim::ca::CertificateAuthority::load_or_create("data/tls".as_ref(), "vm.tether.localhost")?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! tether_sim::gateway::serve(listener, ca.server_config(), "vm.tether.localhost".into(), directory, shutdown).await?;
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::{LookupError, SshVm, VmDirectory};
use crate::ssh::{self, Peer, SshError};

/// How long a client has to complete the TLS handshake (Vers's proxy allows 10 s).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`serve`] waits for open connections to close after shutdown.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(5);
/// Pause after an accept error caused by resource exhaustion (too many open files, …).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why one connection was dropped (logged, never returned).
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error("the client sent no SNI name; connect with the VM's name `<vm_id>.{vm_domain}`")]
    NoServerName { vm_domain: String },
    #[error("SNI name {name:?} is neither `<vm_id>.{vm_domain}` nor a domain mapped to a VM")]
    ForeignName { name: String, vm_domain: String },
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("TLS handshake failed: {0}")]
    Tls(#[source] io::Error),
    #[error("TLS handshake did not complete within {timeout:?}")]
    Timeout { timeout: Duration },
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// Serves SSH-over-TLS until `shutdown` is cancelled: reads the SNI name `<vm_id>.{vm_domain}`
/// (tokio_rustls::LazyConfigAcceptor), looks the VM up, completes TLS, then runs the SSH server
/// (russh::server::run_stream) over the TLS stream with that VM's host key.
///
/// On shutdown (or a listener failure), open connections are disconnected; returns once they
/// are closed (or after a short deadline). Fails only if the listener itself fails.
pub async fn serve<D: VmDirectory>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    vm_domain: String,
    directory: Arc<D>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let gateway = Arc::new(Gateway {
        tls,
        vm_domain: vm_domain.to_ascii_lowercase(),
        directory,
    });
    let connections = TaskTracker::new();
    let disconnect = shutdown.child_token();
    let result = loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, remote)) => {
                // Interactive traffic: small packets must not wait for Nagle/delayed ACKs.
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!("TCP_NODELAY on {remote}: {e}");
                }
                let gateway = Arc::clone(&gateway);
                connections.spawn(gateway.connection(tcp, remote, disconnect.clone()));
            }
            Err(e) if is_per_connection(&e) => tracing::debug!("accept: {e}"),
            Err(e) if is_exhaustion(&e) => {
                tracing::warn!("accept: {e}; retrying in {ACCEPT_BACKOFF:?}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
            Err(e) => break Err(e),
        }
    };
    disconnect.cancel();
    connections.close();
    if tokio::time::timeout(SHUTDOWN_DEADLINE, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "{} SSH connection(s) still open after {SHUTDOWN_DEADLINE:?}",
            connections.len()
        );
    }
    result
}

/// Accept errors that concern one connection only.
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Accept errors that pass when connections close (EMFILE, ENFILE, ENOBUFS, ENOMEM).
fn is_exhaustion(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// The VM id in an SNI name `<vm_id>.{vm_domain}` (one label, lowercased).
fn vm_id_of(name: &str, vm_domain: &str) -> Option<String> {
    let name = name.to_ascii_lowercase();
    let vm_id = name.strip_suffix(vm_domain)?.strip_suffix('.')?;
    (!vm_id.is_empty() && !vm_id.contains('.')).then(|| vm_id.to_owned())
}

struct Gateway<D> {
    tls: Arc<rustls::ServerConfig>,
    vm_domain: String,
    directory: Arc<D>,
}

impl<D: VmDirectory> Gateway<D> {
    async fn connection(
        self: Arc<Self>,
        tcp: TcpStream,
        remote: SocketAddr,
        shutdown: CancellationToken,
    ) {
        let local = tcp.local_addr().unwrap_or(remote);
        let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, self.handshake(tcp));
        let outcome = match handshake.await {
            Ok(Ok((stream, vm))) => {
                tracing::debug!(vm_id = %vm.vm_id, "SSH connection from {remote}");
                let peer = Peer { remote, local };
                ssh::serve_connection(stream, vm, Arc::clone(&self.directory), peer, shutdown)
                    .await
                    .map_err(ConnectionError::from)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(ConnectionError::Timeout {
                timeout: TLS_HANDSHAKE_TIMEOUT,
            }),
        };
        match outcome {
            Ok(()) => tracing::debug!("connection from {remote} closed"),
            Err(e @ (ConnectionError::Lookup(_) | ConnectionError::ForeignName { .. })) => {
                tracing::info!("refused connection from {remote}: {e}");
            }
            Err(e) => tracing::debug!("connection from {remote} ended: {e}"),
        }
    }

    /// Reads the client hello, finds the VM its SNI names, and completes TLS.
    async fn handshake(
        &self,
        tcp: TcpStream,
    ) -> Result<(TlsStream<TcpStream>, SshVm), ConnectionError> {
        let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
        let start = acceptor.await.map_err(ConnectionError::Tls)?;
        let vm_domain = &self.vm_domain;
        let name = start.client_hello().server_name().map(str::to_owned);
        let name = name.ok_or_else(|| ConnectionError::NoServerName {
            vm_domain: vm_domain.clone(),
        })?;
        let vm_id = vm_id_of(&name, vm_domain)
            .or_else(|| self.directory.domain_vm(&name))
            .ok_or_else(|| ConnectionError::ForeignName {
                name,
                vm_domain: vm_domain.clone(),
            })?;
        let vm = self.directory.lookup(&vm_id).await?;
        let stream = start
            .into_stream(Arc::clone(&self.tls))
            .await
            .map_err(ConnectionError::Tls)?;
        Ok((stream, vm))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_id_is_the_single_label_before_the_domain() {
        let domain = "vm.tether.localhost";
        assert_eq!(
            vm_id_of("abc-123.vm.tether.localhost", domain).as_deref(),
            Some("abc-123")
        );
        assert_eq!(
            vm_id_of("ABC-123.VM.Tether.localhost", domain).as_deref(),
            Some("abc-123")
        );
        assert_eq!(vm_id_of("vm.tether.localhost", domain), None);
        assert_eq!(vm_id_of(".vm.tether.localhost", domain), None);
        assert_eq!(vm_id_of("a.b.vm.tether.localhost", domain), None);
        assert_eq!(vm_id_of("abcvm.tether.localhost", domain), None);
        assert_eq!(vm_id_of("abc.vm.example.com", domain), None);
    }
}
