//! Errors of the transport, each saying what to do next.

use std::path::PathBuf;
use std::time::Duration;

/// Why reaching or using a VM over SSH-in-TLS failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The TCP connection could not be made.
    #[error(
        "could not reach {target} for {host}: {source}; check that the VM exists and is running, and the gateway address"
    )]
    Connect {
        /// The address dialled.
        target: String,
        /// The VM's host name.
        host: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (certificate not trusted, name mismatch, refused by the server).
    #[error(
        "TLS handshake with {host} failed: {source}; if this is the local simulator, point TETHER_CA_CERT at its ca_cert; an unknown or paused VM is also refused here"
    )]
    Tls {
        /// The SNI name.
        host: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A CA certificate file could not be used.
    #[error("cannot use CA certificate {path}: {reason}; fix or unset TETHER_CA_CERT")]
    CaCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The VM's SSH host key differs from the one pinned on first use.
    #[error(
        "the SSH host key of {host} changed (pinned in {known_hosts}, line {line}); this can be an attack. If the VM was really replaced, delete that line and retry"
    )]
    HostKeyChanged {
        /// The VM's host name.
        host: String,
        /// The pin file.
        known_hosts: PathBuf,
        /// The line holding the old key.
        line: usize,
    },
    /// The pin file could not be read or written.
    #[error("cannot use the SSH pin file {known_hosts}: {reason}")]
    KnownHosts {
        /// The pin file.
        known_hosts: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The VM refused the SSH key.
    #[error(
        "{host} refused the SSH key for user {user}; fetch the VM's key again (GET /vm/<id>/ssh_key) — a key of another VM does not work"
    )]
    AuthRejected {
        /// The VM's host name.
        host: String,
        /// The user.
        user: String,
    },
    /// The SSH layer failed.
    #[error("SSH with {host} failed: {source}")]
    Ssh {
        /// The VM's host name.
        host: String,
        /// The cause.
        #[source]
        source: russh::Error,
    },
    /// A step took longer than its deadline.
    #[error(
        "{what} with {host} took longer than {after:?}; the VM may be overloaded or unreachable; retry"
    )]
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// The VM's host name.
        host: String,
        /// The deadline.
        after: Duration,
    },
    /// The caller's side of a streamed command failed: its stdin source or output writer.
    #[error(
        "{what} failed: {source}; the command was stopped; check the local file or stream and retry"
    )]
    LocalIo {
        /// Which side failed.
        what: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Nothing accepted a forwarded connection on the VM's side (connection refused there).
    #[error(
        "nothing listens on {to} in {host} (the connection was refused there); start the server there (bg_start, or `nohup CMD >LOG 2>&1 &` with tether exec) or check the port"
    )]
    NothingListening {
        /// The VM's host name.
        host: String,
        /// The `host:port` asked for, as the VM sees it.
        to: String,
    },
    /// The VM's SSH server does not forward to that destination.
    #[error(
        "{host} refused to forward to {to}: its SSH server does not allow that destination (the local simulator forwards only to loopback: localhost, 127.0.0.0/8, ::1); forward to localhost and have the server listen there"
    )]
    ForwardProhibited {
        /// The VM's host name.
        host: String,
        /// The `host:port` asked for, as the VM sees it.
        to: String,
    },
    /// A forwarded connection could not be opened for another reason.
    #[error("{host} could not open a forwarded connection to {to}: {reason}; retry")]
    ForwardFailed {
        /// The VM's host name.
        host: String,
        /// The `host:port` asked for, as the VM sees it.
        to: String,
        /// What the SSH server said.
        reason: String,
    },
    /// The connection's agent (the helper tether runs on the VM) went away while a request
    /// ran; the connection itself is still up.
    #[error(
        "tether's helper on {host} (tether-agent, a perl process tether starts there) stopped while this ran ({why}); a command may still be running there (check with `ps`); retry: the next call starts the helper again, or runs without it"
    )]
    AgentLost {
        /// The VM's host name.
        host: String,
        /// Whether the request had been sent (it may have run, or still run).
        started: bool,
        /// What the helper said last, or how it ended.
        why: String,
    },
    /// The VM could not start the command (no process could be created).
    #[error(
        "{host} could not start the command: {reason}; the machine may be out of processes or memory: free some (or wait for running work to end) and retry"
    )]
    NotStarted {
        /// The VM's host name.
        host: String,
        /// What the VM said.
        reason: String,
    },
    /// The connection dropped, before or while a command ran.
    #[error("{}", disconnected(host, *started))]
    Disconnected {
        /// The VM's host name.
        host: String,
        /// Whether the command had started (it may still be running on the VM).
        started: bool,
    },
}

fn disconnected(host: &str, started: bool) -> String {
    if started {
        format!(
            "the connection to {host} dropped while the command ran; it may still be running on the VM (check with `ps`); the next call reconnects"
        )
    } else {
        format!("the connection to {host} was lost before the command started; nothing ran; retry")
    }
}
