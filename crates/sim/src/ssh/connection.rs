//! One SSH connection: login, the session channels that run programs in the VM, and the
//! `direct-tcpip` channels that forward TCP connections to its ports.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use russh::keys::PublicKey;
use russh::server::{Auth, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelOpenFailure, ChannelWriteHalf, Sig};
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::command::{Peer, Program, Request, USER, command, pty_size, valid_env};
use super::forward::{self, Destination};
use super::process::{self, Controls, Output};
use super::{SshError, signal};
use crate::access::{SshVm, VmDirectory};

/// One SSH connection (russh's per-client handler).
pub(super) struct Connection<D> {
    vm_id: String,
    authorized_key: PublicKey,
    directory: Arc<D>,
    peer: Peer,
    channels: HashMap<ChannelId, Slot>,
    /// Forwarded connections, each ended by cancelling its token (also cancelled when it ends).
    forwards: HashMap<ChannelId, CancellationToken>,
    token: CancellationToken,
    _cancel_on_drop: DropGuard,
    logged_in: Option<oneshot::Sender<()>>,
    /// The VM's `/etc/environment`, read at the first session (as PAM's `pam_env` would).
    vm_env: Option<Vec<(String, String)>>,
}

/// A session channel: what the client asked for so far, and its process once started.
struct Slot {
    writer: Option<ChannelWriteHalf<Msg>>,
    request: Request,
    running: Option<Controls>,
    token: CancellationToken,
}

impl<D: VmDirectory> Connection<D> {
    pub(super) fn new(
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
            forwards: HashMap::new(),
            _cancel_on_drop: token.clone().drop_guard(),
            token,
            logged_in: Some(logged_in),
            vm_env: None,
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
        if self.vm_env.is_none() {
            self.vm_env = Some(crate::vm_env::read(&*vm.vm).await);
        }
        let vm_env = self.vm_env.as_deref().unwrap_or_default();
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
        let command = command(program, &self.peer, vm_env, &slot.request);
        let out = Output {
            id,
            writer,
            handle: session.handle(),
            token: slot.token.clone(),
        };
        slot.running = Some(process::start(&*vm.vm, &self.vm_id, command, out).await?);
        Ok(())
    }

    /// Refuses a channel with the reason when the VM cannot be used (deleted, paused).
    async fn vm_unusable(
        &self,
        reply: russh::server::ChannelOpenHandle,
    ) -> Option<russh::server::ChannelOpenHandle> {
        let Err(e) = self.directory.lookup(&self.vm_id).await else {
            return Some(reply);
        };
        tracing::info!(vm_id = %self.vm_id, "refusing a channel: {e}");
        let reason = format!("tether: {e}");
        reply
            .reject(ChannelOpenFailure::Other { code: 1, reason })
            .await;
        None
    }

    fn running(&self, id: ChannelId) -> Option<&Controls> {
        self.channels
            .get(&id)
            .and_then(|slot| slot.running.as_ref())
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
        let Some(reply) = self.vm_unusable(reply).await else {
            return Ok(());
        };
        let id = channel.id();
        let (_, writer) = channel.split();
        let slot = Slot {
            writer: Some(writer),
            request: Request::default(),
            running: None,
            token: self.token.child_token(),
        };
        self.channels.insert(id, slot);
        reply.accept().await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), SshError> {
        let Some(reply) = self.vm_unusable(reply).await else {
            return Ok(());
        };
        self.forwards.retain(|_, token| !token.is_cancelled());
        let token = self.token.child_token();
        self.forwards.insert(channel.id(), token.clone());
        let to = Destination {
            host: host_to_connect.to_owned(),
            port: port_to_connect,
        };
        forward::open(channel, to, self.vm_id.clone(), reply, token);
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
                slot.request.pty = Some((term.to_owned(), pty_size(col_width, row_height)));
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
                slot.request.env.push((name.to_owned(), value.to_owned()));
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
        if let Some(token) = self.forwards.remove(&channel) {
            token.cancel();
        }
        Ok(())
    }
}
