//! Test support for the gateway tests: VMs booted directly with `tether_sandbox`, a
//! [`VmDirectory`] over them, a gateway on `127.0.0.1:0`, and a russh client over TLS that
//! verifies the simulator's CA and pins the VM's host key.
//!
//! Included by `gateway.rs` and `gateway_openssh.rs` (`#[path]`); also built on its own as
//! a test target with no tests.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tether_sandbox::{BootSpec, SandboxConfig, Vm};
use tether_sim::access::{LookupError, SshVm, VmDirectory};
use tether_sim::ca::CertificateAuthority;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// The domain VMs are named under, as in `tether sim`.
pub const VM_DOMAIN: &str = "vm.tether.localhost";
/// Deadline for one step of a test (boot, connect, a command, …).
pub const STEP: Duration = Duration::from_secs(30);

/// Awaits `future` within [`STEP`], panicking with `what` if it takes longer.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP:?} waiting for {what}"),
    }
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh Ed25519 key.
pub fn new_key() -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&rand::random()))
}

/// The VM init binary built by `cargo build -p tether-sandbox --bins`.
fn init_program() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let init = profile_dir.join("tether-vm-init");
    assert!(
        init.is_file(),
        "{} is missing: run `cargo build -p tether-sandbox --bins` first",
        init.display()
    );
    init
}

/// VMs by id, each reachable or paused.
#[derive(Default)]
pub struct Directory {
    vms: Mutex<HashMap<String, (SshVm, bool)>>,
}

impl Directory {
    pub fn set_paused(&self, vm_id: &str, paused: bool) {
        if let Some(entry) = self.vms.lock().unwrap().get_mut(vm_id) {
            entry.1 = paused;
        }
    }

    fn all(&self) -> Vec<SshVm> {
        self.vms
            .lock()
            .unwrap()
            .values()
            .map(|(vm, _)| vm.clone())
            .collect()
    }
}

impl VmDirectory for Directory {
    fn lookup(
        &self,
        vm_id: &str,
    ) -> impl std::future::Future<Output = Result<SshVm, LookupError>> + Send {
        let found = match self.vms.lock().unwrap().get(vm_id) {
            Some((vm, false)) => Ok(vm.clone()),
            Some((_, true)) => Err(LookupError::Paused {
                vm_id: vm_id.to_owned(),
            }),
            None => Err(LookupError::UnknownVm {
                vm_id: vm_id.to_owned(),
            }),
        };
        async move { found }
    }
}

/// A VM booted for a test, with the keys a client needs.
#[derive(Clone)]
pub struct TestVm {
    pub id: String,
    pub vm: Arc<Vm>,
    /// The key allowed to log in.
    pub client_key: PrivateKey,
    /// The VM's host key (its public half is what a client pins).
    pub host_key: PublicKey,
}

impl TestVm {
    /// `<vm_id>.vm.tether.localhost`.
    pub fn host(&self) -> String {
        format!("{}.{VM_DOMAIN}", self.id)
    }
}

/// A running gateway with its CA, directory and VMs.
pub struct Harness {
    pub addr: SocketAddr,
    pub ca: CertificateAuthority,
    pub directory: Arc<Directory>,
    pub dir: TempDir,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Harness {
    /// Starts a gateway on `127.0.0.1:0` with a new CA.
    pub async fn start() -> Harness {
        let dir = TempDir::new("tether-gateway-test");
        let ca = CertificateAuthority::load_or_create(&dir.0.join("tls"), VM_DOMAIN).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let directory = Arc::new(Directory::default());
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(tether_sim::gateway::serve(
            listener,
            ca.server_config(),
            VM_DOMAIN.to_owned(),
            Arc::clone(&directory),
            shutdown.clone(),
        ));
        Harness {
            addr,
            ca,
            directory,
            dir,
            shutdown,
            server,
        }
    }

    /// Boots a VM on a fresh disk and makes it reachable through the gateway.
    pub async fn boot_vm(&self) -> TestVm {
        let id = uuid::Uuid::new_v4().to_string();
        let disk = self.dir.0.join("disks").join(&id);
        std::fs::create_dir_all(disk.parent().unwrap()).unwrap();
        tether_sandbox::create_disk(&disk).unwrap();
        let config = SandboxConfig {
            init_program: init_program(),
            init_args: Vec::new(),
        };
        let spec = BootSpec {
            disk,
            hostname: id.clone(),
            paused: false,
        };
        let vm = Arc::new(within("VM boot", Vm::boot(&config, spec)).await.unwrap());
        let (client_key, host_key) = (new_key(), new_key());
        let ssh_vm = SshVm {
            vm_id: id.clone(),
            vm: vm.clone(),
            authorized_key: client_key.public_key().clone(),
            host_key: host_key.clone(),
        };
        self.directory
            .vms
            .lock()
            .unwrap()
            .insert(id.clone(), (ssh_vm, false));
        TestVm {
            id,
            vm,
            client_key,
            host_key: host_key.public_key().clone(),
        }
    }

    /// Shuts down every VM, stops the gateway and waits for it.
    pub async fn finish(self) {
        for vm in self.directory.all() {
            within("VM shutdown", vm.vm.shutdown()).await.unwrap();
        }
        self.shutdown.cancel();
        within("gateway shutdown", self.server)
            .await
            .unwrap()
            .unwrap();
    }

    /// A rustls client config that trusts only this gateway's CA.
    pub fn tls_client(&self) -> Arc<rustls::ClientConfig> {
        tls_client_trusting(&self.ca)
    }

    /// Writes `vm`'s client key in OpenSSH format to a 0600 file.
    pub fn key_file(&self, vm: &TestVm) -> PathBuf {
        let path = self.dir.0.join(format!("{}.key", vm.id));
        write_key(&path, &vm.client_key);
        path
    }
}

/// Writes `key` in OpenSSH format to a new 0600 file.
pub fn write_key(path: &Path, key: &PrivateKey) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// A rustls client config that trusts only `ca`.
pub fn tls_client_trusting(ca: &CertificateAuthority) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.ca_cert_der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Opens TLS to the gateway with `server_name` as SNI, verifying the certificate.
pub async fn tls_connect(
    addr: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    server_name: &str,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
}

/// A russh client that accepts only the expected host key.
pub struct PinnedHost(pub PublicKey);

impl client::Handler for PinnedHost {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(
            matches!(key, PublicKeyOrCertificate::PublicKey { key, .. } if key.key_data() == self.0.key_data()),
        )
    }
}

/// An SSH session to a VM through the gateway (TLS verified, host key pinned).
pub type Ssh = client::Handle<PinnedHost>;

/// Connects to `vm` and logs in as `user` with `key`; returns whether login succeeded.
pub async fn login(h: &Harness, vm: &TestVm, user: &str, key: &PrivateKey) -> (Ssh, bool) {
    let stream = within(
        "TLS connect",
        tls_connect(h.addr, h.tls_client(), &vm.host()),
    )
    .await
    .unwrap();
    let config = Arc::new(client::Config::default());
    let connecting = client::connect_stream(config, stream, PinnedHost(vm.host_key.clone()));
    let mut ssh = within("SSH handshake", connecting).await.unwrap();
    let key = PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None);
    let auth = within("SSH login", ssh.authenticate_publickey(user, key))
        .await
        .unwrap();
    (ssh, auth.success())
}

/// Connects to `vm` as root with its key.
pub async fn connect(h: &Harness, vm: &TestVm) -> Ssh {
    let (ssh, ok) = login(h, vm, "root", &vm.client_key).await;
    assert!(ok, "root login with the VM's key was refused");
    ssh
}

/// How a channel's program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    Status(u32),
    Signal {
        name: String,
        core_dumped: bool,
    },
    /// The channel closed without an exit status.
    None,
}

/// Everything a channel sent until it closed.
#[derive(Clone, Debug)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit: Exit,
    /// The server refused a request on the channel.
    pub refused: bool,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Reads a channel until it closes.
pub async fn collect(channel: &mut ChannelReadHalf) -> Run {
    let mut run = Run {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit: Exit::None,
        refused: false,
    };
    while let Some(msg) = within("channel output", channel.wait()).await {
        if !record(&mut run, msg) {
            break;
        }
    }
    run
}

/// Reads a channel until its stdout contains `needle` (or it closes).
pub async fn read_until(channel: &mut ChannelReadHalf, needle: &str) -> Run {
    let mut run = Run {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit: Exit::None,
        refused: false,
    };
    while !run.stdout().contains(needle) {
        let Some(msg) = within(&format!("{needle:?} on stdout"), channel.wait()).await else {
            break;
        };
        if !record(&mut run, msg) {
            break;
        }
    }
    run
}

/// Waits for the server's reply to a request on the channel; true if it succeeded.
pub async fn reply(channel: &mut ChannelReadHalf) -> bool {
    loop {
        match within("a request reply", channel.wait()).await {
            Some(ChannelMsg::Success) => return true,
            Some(ChannelMsg::Failure) | Some(ChannelMsg::Close) | None => return false,
            Some(_) => {}
        }
    }
}

/// Reads a channel until the server answers a request, keeping what arrived before; `refused`
/// tells the answer. (russh's client closes nothing after a refusal, so this does not wait for
/// a close.)
pub async fn answer(channel: &mut ChannelReadHalf) -> Run {
    let mut run = Run {
        stdout: Vec::new(),
        stderr: Vec::new(),
        exit: Exit::None,
        refused: false,
    };
    loop {
        match within("a request reply", channel.wait()).await {
            Some(ChannelMsg::Success) | Some(ChannelMsg::Close) | None => return run,
            Some(ChannelMsg::Failure) => {
                run.refused = true;
                return run;
            }
            Some(msg) => {
                record(&mut run, msg);
            }
        }
    }
}

/// Adds `msg` to `run`; false once the channel is closed.
fn record(run: &mut Run, msg: ChannelMsg) -> bool {
    match msg {
        ChannelMsg::Data { data } => run.stdout.extend_from_slice(&data),
        ChannelMsg::ExtendedData { data, ext: 1 } => run.stderr.extend_from_slice(&data),
        ChannelMsg::ExitStatus { exit_status } => run.exit = Exit::Status(exit_status),
        ChannelMsg::ExitSignal {
            signal_name,
            core_dumped,
            ..
        } => {
            run.exit = Exit::Signal {
                name: signal_name_of(&signal_name),
                core_dumped,
            };
        }
        ChannelMsg::Failure => run.refused = true,
        ChannelMsg::Close => return false,
        _ => {}
    }
    true
}

/// The wire name of a signal (`"KILL"`).
pub fn signal_name_of(sig: &russh::Sig) -> String {
    match sig {
        russh::Sig::Custom(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

/// Opens a session channel, split into its read and write halves.
pub async fn open(ssh: &Ssh) -> (ChannelReadHalf, ChannelWriteHalf<client::Msg>) {
    within("channel open", ssh.channel_open_session())
        .await
        .unwrap()
        .split()
}

/// Runs `command` on a new channel of `ssh` and collects everything until the channel closes.
pub async fn exec(ssh: &Ssh, command: &str) -> Run {
    let (mut read, write) = open(ssh).await;
    within("exec", write.exec(true, command)).await.unwrap();
    collect(&mut read).await
}

/// Runs `body` against a fresh gateway, then shuts the gateway and its VMs down even if `body`
/// panicked (and re-raises the panic).
pub async fn with_harness(body: impl AsyncFnOnce(&Harness)) {
    use futures::FutureExt;
    let h = Harness::start().await;
    let outcome = std::panic::AssertUnwindSafe(body(&h)).catch_unwind().await;
    h.finish().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
