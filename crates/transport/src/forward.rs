//! Port forwarding: a TCP connection to a host and port as seen from the VM, carried on a
//! `direct-tcpip` channel of the VM's pooled connection (what `ssh -L` does).

use russh::client::Msg;
use russh::{ChannelOpenFailure, ChannelStream};

use crate::{Session, TransportError};

/// A forwarded TCP connection: bytes written go to the VM-side port, bytes read come from it.
/// Shutting down the write side sends EOF (the other direction stays open); dropping it closes
/// the channel.
pub type ForwardStream = ChannelStream<Msg>;

/// The originator address sent with each forward (the connection comes from this machine).
const ORIGINATOR: &str = "127.0.0.1";

impl Session {
    /// Opens a connection to `host:port` as the VM sees it (`localhost` = the VM itself).
    pub async fn direct_tcpip(
        &self,
        host: &str,
        port: u16,
    ) -> Result<ForwardStream, TransportError> {
        let opening = self
            .handle()
            .channel_open_direct_tcpip(host, u32::from(port), ORIGINATOR, 0);
        match self
            .await_open("opening a forwarded connection", opening)
            .await
        {
            Ok(channel) => Ok(channel.into_stream()),
            Err(TransportError::Ssh {
                host: vm,
                source: russh::Error::ChannelOpenFailure(failure),
            }) => Err(refused(vm, host, port, failure)),
            Err(err) => Err(err),
        }
    }
}

/// The error for a forward the VM's SSH server turned down.
fn refused(vm: String, host: &str, port: u16, failure: ChannelOpenFailure) -> TransportError {
    let to = format!("{host}:{port}");
    match failure {
        ChannelOpenFailure::ConnectFailed => TransportError::NothingListening { host: vm, to },
        ChannelOpenFailure::AdministrativelyProhibited => {
            TransportError::ForwardProhibited { host: vm, to }
        }
        other => TransportError::ForwardFailed {
            host: vm,
            to,
            reason: other.description().to_owned(),
        },
    }
}
