//! The SSH server behind the TLS gateway, as sshd would serve a Vers VM.
//!
//! One SSH connection per TLS stream. Login: user `root`, public key only, and only the VM's
//! own key. Each session channel runs one process inside the VM: `exec` runs
//! `/bin/bash -c <command>`, `shell` a login shell, `subsystem sftp` OpenSSH's `sftp-server`
//! (the VM's own copy, so paths resolve inside the VM). Processes get a clean sshd-like
//! environment, never the simulator's.

mod process;
mod signal;
mod stdin;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use russh::keys::{PrivateKey, PublicKey};
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{
    Channel, ChannelId, ChannelOpenFailure, ChannelWriteHalf, Disconnect, MethodKind, MethodSet,
    Sig,
};
use tether_sandbox::{Command, PtySize, SandboxError, Stdio};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::access::{LookupError, SshVm, VmDirectory};
use process::{Controls, Output};

/// How long the client has to send its SSH version line.
const SSH_HELLO_DEADLINE: Duration = Duration::from_secs(10);
/// How long the client has to log in (sshd's `LoginGraceTime`).
const LOGIN_GRACE: Duration = Duration::from_secs(120);
/// How long a rejected login attempt takes (the first `none` probe is answered at once).
const AUTH_REJECTION_DELAY: Duration = Duration::from_millis(100);
/// How long a client has to leave after the server disconnects it.
const DISCONNECT_DEADLINE: Duration = Duration::from_secs(5);
/// The only user that may log in.
const USER: &str = "root";
/// The user's home and the working directory of every process.
const HOME: &str = "/root";
/// `PATH` of every process, as sshd sets it.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The VM's OpenSSH SFTP server (the VM's `/usr` is the host's, read-only).
const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";
/// Terminal size when a client asks for a terminal of size 0.
const DEFAULT_PTY_SIZE: PtySize = PtySize { rows: 24, cols: 80 };

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

/// The two ends of the TCP connection, for `SSH_CONNECTION` / `SSH_CLIENT`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer {
    /// The client.
    pub remote: SocketAddr,
    /// The gateway's listening address.
    pub local: SocketAddr,
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

/// One SSH connection (russh's per-client handler).
struct Connection<D> {
    vm_id: String,
    authorized_key: PublicKey,
    directory: Arc<D>,
    peer: Peer,
    channels: HashMap<ChannelId, Slot>,
    token: CancellationToken,
    _cancel_on_drop: DropGuard,
    logged_in: Option<oneshot::Sender<()>>,
}

/// A session channel: what the client asked for so far, and its process once started.
struct Slot {
    writer: Option<ChannelWriteHalf<Msg>>,
    env: Vec<(String, String)>,
    pty: Option<(String, PtySize)>,
    running: Option<Controls>,
    token: CancellationToken,
}

/// What a channel runs.
enum Program {
    Exec(Vec<u8>),
    Shell,
    Sftp,
}

impl<D: VmDirectory> Connection<D> {
    fn new(
        vm: SshVm,
        directory: Arc<D>,
        peer: Peer,
        token: CancellationToken,
        logged_in: oneshot::Sender<()>,
    ) -> Self {
        Connection {
            vm_id: vm.vm_id,
            authorized_key: vm.authorized_key,
            directory,
            peer,
            channels: HashMap::new(),
            _cancel_on_drop: token.clone().drop_guard(),
            token,
            logged_in: Some(logged_in),
        }
    }

    fn check_key(&self, user: &str, key: &PublicKey) -> Auth {
        if user == USER && key.key_data() == self.authorized_key.key_data() {
            return Auth::Accept;
        }
        tracing::debug!(vm_id = %self.vm_id, "refused key {} for user {user:?}", key.fingerprint(Default::default()));
        Auth::reject()
    }

    /// Starts `program` on channel `id`, replying success, or failure with the reason on the
    /// channel's stderr.
    async fn launch(
        &mut self,
        id: ChannelId,
        program: Program,
        session: &mut Session,
    ) -> Result<(), SshError> {
        match self.try_launch(id, program, session).await {
            Ok(()) => session.channel_success(id)?,
            Err(e) => {
                tracing::info!(vm_id = %self.vm_id, "channel {id}: {e}");
                session.extended_data(id, 1, Bytes::from(format!("tether: {e}\r\n")))?;
                session.channel_failure(id)?;
            }
        }
        Ok(())
    }

    async fn try_launch(
        &mut self,
        id: ChannelId,
        program: Program,
        session: &mut Session,
    ) -> Result<(), SshError> {
        let vm = self.directory.lookup(&self.vm_id).await?;
        let Some(slot) = self.channels.get_mut(&id) else {
            return Ok(());
        };
        if slot.running.is_some() {
            return Err(SshError::AlreadyStarted { channel: id });
        }
        let writer = slot
            .writer
            .take()
            .ok_or(SshError::AlreadyStarted { channel: id })?;
        let command = command(program, &self.peer, slot);
        let out = Output {
            id,
            writer,
            handle: session.handle(),
            token: slot.token.clone(),
        };
        slot.running = Some(process::start(&vm.vm, &self.vm_id, command, out).await?);
        Ok(())
    }

    fn running(&self, id: ChannelId) -> Option<&Controls> {
        self.channels
            .get(&id)
            .and_then(|slot| slot.running.as_ref())
    }
}

/// The command a channel's program runs as.
fn command(program: Program, peer: &Peer, slot: &Slot) -> Command {
    let terminal = slot.pty.as_ref().map(|(_, size)| *size);
    let (argv, stdio) = match program {
        Program::Exec(line) => (process::exec_argv(&line), terminal),
        Program::Shell => (process::shell_argv(), terminal),
        Program::Sftp => (vec![SFTP_SERVER.to_owned()], None),
    };
    let stdio = stdio.map_or(Stdio::Pipes, Stdio::Pty);
    Command {
        argv,
        env: environment(peer, slot),
        cwd: Some(HOME.to_owned()),
        stdio,
    }
}

/// sshd's environment for root, the terminal type, then what the client sent.
fn environment(peer: &Peer, slot: &Slot) -> Vec<(String, String)> {
    let (remote, local) = (peer.remote, peer.local);
    let mut env: Vec<(String, String)> = [
        ("PATH", PATH.to_owned()),
        ("HOME", HOME.to_owned()),
        ("USER", USER.to_owned()),
        ("LOGNAME", USER.to_owned()),
        ("SHELL", "/bin/bash".to_owned()),
        (
            "SSH_CONNECTION",
            format!(
                "{} {} {} {}",
                remote.ip(),
                remote.port(),
                local.ip(),
                local.port()
            ),
        ),
        (
            "SSH_CLIENT",
            format!("{} {} {}", remote.ip(), remote.port(), local.port()),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let term = slot
        .pty
        .as_ref()
        .map(|(term, _)| ("TERM".to_owned(), term.clone()));
    for (name, value) in term.into_iter().chain(slot.env.iter().cloned()) {
        match env.iter_mut().find(|(known, _)| *known == name) {
            Some(entry) => entry.1 = value,
            None => env.push((name, value)),
        }
    }
    env
}

/// Whether an `env` request names a variable that can be set.
fn valid_env(name: &str, value: &str) -> bool {
    !name.is_empty() && !name.contains(['=', '\0']) && !value.contains('\0')
}

fn pty_size(cols: u32, rows: u32) -> PtySize {
    match (u16::try_from(rows), u16::try_from(cols)) {
        (Ok(rows), Ok(cols)) if rows > 0 && cols > 0 => PtySize { rows, cols },
        _ => DEFAULT_PTY_SIZE,
    }
}

impl<D: VmDirectory> russh::server::Handler for Connection<D> {
    type Error = SshError;

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, SshError> {
        Ok(self.check_key(user, offer.public_key))
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, SshError> {
        Ok(self.check_key(user, key.public_key))
    }

    async fn auth_succeeded(&mut self, _session: &mut Session) -> Result<(), SshError> {
        if let Some(logged_in) = self.logged_in.take() {
            let _ = logged_in.send(());
        }
        Ok(())
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), SshError> {
        if let Err(e) = self.directory.lookup(&self.vm_id).await {
            tracing::info!(vm_id = %self.vm_id, "refusing a channel: {e}");
            let reason = format!("tether: {e}");
            reply
                .reject(ChannelOpenFailure::Other { code: 1, reason })
                .await;
            return Ok(());
        }
        let id = channel.id();
        let (_, writer) = channel.split();
        let slot = Slot {
            writer: Some(writer),
            env: Vec::new(),
            pty: None,
            running: None,
            token: self.token.child_token(),
        };
        self.channels.insert(id, slot);
        reply.accept().await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), SshError> {
        match self.channels.get_mut(&channel) {
            Some(slot) if slot.running.is_none() => {
                slot.pty = Some((term.to_owned(), pty_size(col_width, row_height)));
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut Session,
    ) -> Result<(), SshError> {
        match self.channels.get_mut(&channel) {
            Some(slot) if slot.running.is_none() && valid_env(name, value) => {
                slot.env.push((name.to_owned(), value.to_owned()));
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), SshError> {
        self.launch(channel, Program::Exec(data.to_vec()), session)
            .await
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), SshError> {
        self.launch(channel, Program::Shell, session).await
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), SshError> {
        if name == "sftp" {
            return self.launch(channel, Program::Sftp, session).await;
        }
        let e = SshError::UnknownSubsystem {
            name: name.to_owned(),
        };
        session.extended_data(channel, 1, Bytes::from(format!("tether: {e}\r\n")))?;
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), SshError> {
        if let Some(running) = self.running(channel) {
            running.stdin.push(data).await;
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), SshError> {
        if let Some(running) = self.running(channel) {
            running.stdin.eof();
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), SshError> {
        match self
            .running(channel)
            .and_then(|running| running.resize.as_ref())
        {
            Some(resize) => {
                resize.send_replace(pty_size(col_width, row_height));
                session.channel_success(channel)?;
            }
            None => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn signal(
        &mut self,
        channel: ChannelId,
        sig: Sig,
        _session: &mut Session,
    ) -> Result<(), SshError> {
        let (Some(running), Some(number)) = (self.running(channel), signal::number(&sig)) else {
            tracing::debug!(vm_id = %self.vm_id, "ignoring signal {sig:?} on channel {channel}");
            return Ok(());
        };
        let signaller = running.signaller.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(process::SIGNAL_DEADLINE, signaller.signal(number)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("signal {number} failed: {e}"),
                Err(_) => {
                    tracing::debug!("signal {number} took over {:?}", process::SIGNAL_DEADLINE)
                }
            }
        });
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), SshError> {
        if let Some(slot) = self.channels.remove(&channel) {
            slot.token.cancel();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot() -> Slot {
        Slot {
            writer: None,
            env: Vec::new(),
            pty: None,
            running: None,
            token: CancellationToken::new(),
        }
    }

    fn peer() -> Peer {
        Peer {
            remote: SocketAddr::from(([127, 0, 0, 1], 40000)),
            local: SocketAddr::from(([127, 0, 0, 1], 2222)),
        }
    }

    fn get<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
        env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn environment_is_sshd_like_and_the_client_adds_to_it() {
        let mut slot = slot();
        slot.pty = Some(("xterm-256color".into(), DEFAULT_PTY_SIZE));
        slot.env.push(("LANG".into(), "C.UTF-8".into()));
        slot.env.push(("HOME".into(), "/tmp".into()));
        let env = environment(&peer(), &slot);
        assert_eq!(get(&env, "PATH"), Some(PATH));
        assert_eq!(get(&env, "USER"), Some("root"));
        assert_eq!(get(&env, "TERM"), Some("xterm-256color"));
        assert_eq!(get(&env, "LANG"), Some("C.UTF-8"));
        assert_eq!(get(&env, "HOME"), Some("/tmp"));
        assert_eq!(
            get(&env, "SSH_CONNECTION"),
            Some("127.0.0.1 40000 127.0.0.1 2222")
        );
        assert_eq!(get(&env, "SSH_CLIENT"), Some("127.0.0.1 40000 2222"));
        assert_eq!(env.iter().filter(|(n, _)| n == "HOME").count(), 1);
    }

    #[test]
    fn environment_without_terminal_has_no_term() {
        let env = environment(&peer(), &slot());
        assert_eq!(get(&env, "TERM"), None);
        assert_eq!(env.len(), 7);
    }

    #[test]
    fn commands_run_in_root_home_through_bash() {
        let command = command(Program::Exec(b"echo hi".to_vec()), &peer(), &slot());
        assert_eq!(command.argv, ["/bin/bash", "-c", "echo hi"]);
        assert_eq!(command.cwd.as_deref(), Some("/root"));
        assert!(matches!(command.stdio, Stdio::Pipes));
        let mut with_pty = slot();
        with_pty.pty = Some((
            "vt100".into(),
            PtySize {
                rows: 40,
                cols: 100,
            },
        ));
        let shell = command_for_shell(&with_pty);
        assert_eq!(shell.argv, ["/bin/bash", "-l"]);
        assert!(matches!(
            shell.stdio,
            Stdio::Pty(PtySize {
                rows: 40,
                cols: 100
            })
        ));
        let sftp = self::command(Program::Sftp, &peer(), &with_pty);
        assert_eq!(sftp.argv, [SFTP_SERVER]);
        assert!(
            matches!(sftp.stdio, Stdio::Pipes),
            "sftp never gets a terminal"
        );
    }

    fn command_for_shell(slot: &Slot) -> Command {
        command(Program::Shell, &peer(), slot)
    }

    #[test]
    fn bad_env_names_and_sizes_are_refused_or_defaulted() {
        assert!(valid_env("LANG", "C"));
        assert!(!valid_env("", "x"));
        assert!(!valid_env("A=B", "x"));
        assert!(!valid_env("A", "x\0y"));
        assert_eq!(pty_size(0, 0), DEFAULT_PTY_SIZE);
        assert_eq!(
            pty_size(120, 50),
            PtySize {
                rows: 50,
                cols: 120
            }
        );
        assert_eq!(pty_size(70000, 50), DEFAULT_PTY_SIZE);
    }
}
