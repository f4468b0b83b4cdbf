//! `direct-tcpip` channels (`ssh -L`, `tether tunnel`): a TCP connection from the VM to a
//! port, bridged to the channel.
//!
//! The simulator's VMs share the host's network namespace, so the simulator connects itself —
//! and only to loopback addresses (`localhost`, `127.0.0.0/8`, `::1`), which is where a VM's
//! own services are. Anything else is refused. A failed connect is a channel open failure with
//! the reason, never a hang. Each direction ends on its own (EOF one way leaves the other
//! open); closing the channel or the connection ends the bridge and closes the socket.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use russh::server::{ChannelOpenHandle, Msg};
use russh::{Channel, ChannelOpenFailure};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// How long connecting to the requested port may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

/// Why a forward could not be opened.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    /// The destination is not a loopback address.
    #[error(
        "the tether simulator forwards only to loopback (localhost, 127.0.0.0/8, ::1), not to {host:?}; forward to localhost"
    )]
    NotLoopback {
        /// The host asked for.
        host: String,
    },
    /// The port is not a TCP port.
    #[error("{port} is not a TCP port (1-65535)")]
    BadPort {
        /// The port asked for.
        port: u32,
    },
    /// Connecting failed (nothing listens there).
    #[error("connecting to {host}:{port} in VM {vm_id} failed: {source}")]
    Connect {
        /// The host asked for.
        host: String,
        /// The port.
        port: u16,
        /// The VM.
        vm_id: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl ForwardError {
    /// The channel open failure the client sees: connect failed, or prohibited.
    fn failure(&self) -> ChannelOpenFailure {
        let reason = self.to_string();
        let code = match self {
            ForwardError::Connect { .. } => ChannelOpenFailure::ConnectFailed.code(),
            _ => ChannelOpenFailure::AdministrativelyProhibited.code(),
        };
        ChannelOpenFailure::Other { code, reason }
    }
}

/// What the client asked to be connected to.
pub(super) struct Destination {
    /// The host, as sent.
    pub host: String,
    /// The port, as sent.
    pub port: u32,
}

/// Connects to `to` in the background and answers the open request: accepted and bridged
/// until either side closes or `token` is cancelled, or refused with the reason. `token` is
/// cancelled when the bridge ends.
pub(super) fn open(
    channel: Channel<Msg>,
    to: Destination,
    vm_id: String,
    reply: ChannelOpenHandle,
    token: CancellationToken,
) {
    tokio::spawn(async move {
        let _done = token.clone().drop_guard();
        let tcp = tokio::select! {
            connected = connect(&to, &vm_id) => connected,
            () = token.cancelled() => return,
        };
        match tcp {
            Ok(tcp) => {
                reply.accept().await;
                bridge(channel, tcp, &token).await;
            }
            Err(e) => {
                tracing::info!(%vm_id, "refusing a forward: {e}");
                reply.reject(e.failure()).await;
            }
        }
    });
}

/// Copies both ways until both directions end (each passes its EOF on) or `token` is cancelled.
async fn bridge(channel: Channel<Msg>, mut tcp: TcpStream, token: &CancellationToken) {
    let mut channel = channel.into_stream();
    // The copy first: data that arrived before the channel closed still reaches the port.
    tokio::select! {
        biased;
        copied = tokio::io::copy_bidirectional(&mut channel, &mut tcp) => {
            if let Err(e) = copied {
                tracing::debug!("forward ended: {e}");
            }
        }
        () = token.cancelled() => {}
    }
}

/// Connects to the first address of `to` that answers, within [`CONNECT_DEADLINE`].
async fn connect(to: &Destination, vm_id: &str) -> Result<TcpStream, ForwardError> {
    let port = u16::try_from(to.port)
        .ok()
        .filter(|port| *port != 0)
        .ok_or(ForwardError::BadPort { port: to.port })?;
    let connect_error = |source| ForwardError::Connect {
        host: to.host.clone(),
        port,
        vm_id: vm_id.to_owned(),
        source,
    };
    let mut last = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
    for address in loopback(&to.host, port)? {
        match tokio::time::timeout(CONNECT_DEADLINE, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                return Ok(tcp);
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::from(std::io::ErrorKind::TimedOut),
        }
    }
    Err(connect_error(last))
}

/// The loopback addresses `host` names: `localhost` is 127.0.0.1 then ::1; an IP address must
/// be a loopback one. Names are not looked up.
fn loopback(host: &str, port: u16) -> Result<Vec<SocketAddr>, ForwardError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        let v4 = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port);
        return Ok(vec![v4, SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port)]);
    }
    match bare.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(vec![SocketAddr::new(ip, port)]),
        _ => Err(ForwardError::NotLoopback {
            host: host.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_loopback_destinations_are_allowed() {
        let ports = |host: &str| {
            loopback(host, 80).map(|addresses| {
                addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(ports("localhost").unwrap(), ["127.0.0.1:80", "[::1]:80"]);
        assert_eq!(ports("127.1.2.3").unwrap(), ["127.1.2.3:80"]);
        assert_eq!(ports("[::1]").unwrap(), ["[::1]:80"]);
        for refused in ["10.0.0.1", "example.com", "0.0.0.0", "::ffff:127.0.0.1", ""] {
            let err = ports(refused).unwrap_err();
            assert!(
                err.to_string().contains("forwards only to loopback"),
                "{refused}: {err}"
            );
            assert_eq!(err.failure().code(), 1, "{refused}");
        }
    }
}
