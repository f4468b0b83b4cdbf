//! The SSH server behind the TLS gateway, as sshd would serve a Vers VM.
//!
//! One SSH connection per TLS stream. Login: user `root`, public key only, and only the VM's
//! own key. Each session channel runs one process inside the VM: `exec` runs
//! `/bin/bash -c <command>`, `shell` a login shell, `subsystem sftp` OpenSSH's `sftp-server`
//! (the VM's own copy, so paths resolve inside the VM). Processes get a clean sshd-like
//! environment, never the simulator's. `direct-tcpip` channels forward TCP connections to
//! loopback ports (see `forward`).

mod command;
mod connection;
mod forward;
mod process;
mod signal;
mod stdin;

use std::sync::Arc;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::{ChannelId, Disconnect, MethodKind, MethodSet};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::access::{LookupError, SshVm, VmDirectory};
use crate::backend::SandboxError;
pub(crate) use command::Peer;
use connection::Connection;

/// How long the client has to send its SSH version line.
const SSH_HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// How long the client has to log in (sshd's `LoginGraceTime`).
const LOGIN_GRACE: Duration = Duration::from_secs(120);
/// How long a rejected login attempt takes (the first `none` probe is answered at once).
const AUTH_REJECTION_DELAY: Duration = Duration::from_millis(100);
/// How long a client has to leave after the server disconnects it.
const DISCONNECT_DEADLINE: Duration = Duration::from_secs(5);

/// Why an SSH connection or request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SshError {
    /// The SSH protocol failed (bad packet, lost connection, …).
    #[error("SSH protocol error: {0}")]
    Protocol(#[from] russh::Error),
    /// The client sent no SSH version line in time.
    #[error("the client sent no SSH version line within {timeout:?}")]
    HelloTimeout {
        /// The deadline.
        timeout: Duration,
    },
    /// The VM cannot be reached (deleted, paused, stopped).
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The program could not be started in the VM.
    #[error("could not start {program} in VM {vm_id}: {source}")]
    Spawn {
        /// argv[0].
        program: String,
        /// The VM.
        vm_id: String,
        /// What the sandbox said.
        #[source]
        source: SandboxError,
    },
    /// Starting the program took too long.
    #[error("starting {program} in VM {vm_id} took longer than {timeout:?}; retry")]
    SpawnTimeout {
        /// argv[0].
        program: String,
        /// The VM.
        vm_id: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The channel already runs a program.
    #[error("channel {channel} already runs a program; open a new channel for another")]
    AlreadyStarted {
        /// The channel.
        channel: ChannelId,
    },
    /// A subsystem other than sftp was asked for.
    #[error("unknown subsystem {name:?}; only \"sftp\" is available")]
    UnknownSubsystem {
        /// The name asked for.
        name: String,
    },
}

/// Serves one SSH connection for `vm` over `stream` until the client leaves, the login grace
/// time passes without a login, or `shutdown` is cancelled.
pub(crate) async fn serve_connection<D, S>(
    stream: S,
    vm: SshVm,
    directory: Arc<D>,
    peer: Peer,
    shutdown: CancellationToken,
) -> Result<(), SshError>
where
    D: VmDirectory,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = Arc::new(config(vm.host_key.clone()));
    let (logged_in, login) = oneshot::channel();
    let handler = Connection::new(vm, directory, peer, shutdown.child_token(), logged_in);
    let start = russh::server::run_stream(config, stream, handler);
    let mut session = tokio::time::timeout(SSH_HELLO_DEADLINE, start)
        .await
        .map_err(|_| SshError::HelloTimeout {
            timeout: SSH_HELLO_DEADLINE,
        })??;
    let handle = session.handle();
    let reason = tokio::select! {
        result = &mut session => return result,
        () = shutdown.cancelled() => "the simulator is shutting down",
        () = login_expired(login) => "login grace time over",
    };
    tracing::debug!("disconnecting {}: {reason}", peer.remote);
    let _ = handle
        .disconnect(Disconnect::ByApplication, reason.into(), "en".into())
        .await;
    tokio::time::timeout(DISCONNECT_DEADLINE, session)
        .await
        .unwrap_or(Ok(()))
}

/// Resolves when [`LOGIN_GRACE`] passes without a login.
async fn login_expired(login: oneshot::Receiver<()>) {
    if tokio::time::timeout(LOGIN_GRACE, login).await.is_ok() {
        std::future::pending::<()>().await;
    }
}

fn config(host_key: PrivateKey) -> russh::server::Config {
    russh::server::Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: AUTH_REJECTION_DELAY,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![host_key],
        inactivity_timeout: None,
        ..Default::default()
    }
}
