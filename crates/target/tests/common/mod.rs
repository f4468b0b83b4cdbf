//! Backends for the parity tests: the local machine, a VM of the real simulator, and a plain
//! SSH host (a throwaway `sshd` on loopback). Each gives a [`Target`] and an empty scratch
//! directory on it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

mod sshd;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PrivateKey;
use tether_target::{
    Endpoint, ExecOutcome, ExecSpec, LocalTarget, Pool, RemoteTarget, StaticAccess, Stream, Target,
};
use tether_testkit::Sim;
use tether_transport::TransportConfig;

pub use sshd::Sshd;

/// One place where tools run, with a scratch directory.
pub struct Backend {
    pub name: &'static str,
    pub target: Arc<dyn Target>,
    /// An empty directory on the target for this test.
    pub root: String,
    /// Fixtures kept alive until the backend is dropped (after `target`).
    _keep: Box<dyn Any + Send>,
}

impl Backend {
    /// `name` under the scratch directory.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.root)
    }

    /// Replaces the scratch directory's path with `$ROOT`, so outputs compare across backends.
    pub fn normalize(&self, text: &str) -> String {
        text.replace(&self.root, "$ROOT")
    }

    /// Runs a shell command and collects its output.
    pub async fn run(&self, spec: ExecSpec) -> Run {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut sink = |stream: Stream, bytes: &[u8]| match stream {
            Stream::Stdout => stdout.extend_from_slice(bytes),
            Stream::Stderr => stderr.extend_from_slice(bytes),
        };
        let outcome = self.target.exec(spec, &mut sink, None).await.unwrap();
        Run {
            stdout: self.normalize(&String::from_utf8_lossy(&stdout)),
            stderr: String::from_utf8_lossy(&stderr).into(),
            outcome,
        }
    }

    /// Runs `command` and returns its stdout, asserting it exited 0.
    pub async fn sh(&self, command: &str) -> String {
        let run = self.run(ExecSpec::shell(command)).await;
        assert_eq!(
            run.outcome,
            ExecOutcome::Exited(0),
            "{}: `{command}` failed: {}",
            self.name,
            run.stderr
        );
        run.stdout
    }
}

/// What a command did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub outcome: ExecOutcome,
}

/// A `.bashrc` whose shell prints on both streams when it is the login shell sshd starts for
/// tether (running tether's wrapper, or starting its agent), as a chatty `.zshenv` does for a
/// zsh user: none of it may reach a command's output. (bash also reads `.bashrc` for the
/// `bash -c` running the command itself, as with any `ssh host cmd`; what that prints is the
/// command's own.)
pub const NOISY_BASHRC: &str = "case \"$BASH_EXECUTION_STRING\" in *tether-pid*|*TETHER-AGENT*)\n  \
    echo 'a login script talking on stdout'; echo 'a login script talking on stderr' >&2;;\nesac\n";

/// How long a remote backend's agent may take to come up.
const AGENT_READY: Duration = Duration::from_secs(30);

/// Every backend available here, the remote ones twice: through the connection's agent, and
/// with the agent turned off (a channel per command, shell snippets for files). A missing one
/// is skipped with a printed reason.
pub async fn backends() -> Vec<Backend> {
    let mut all = vec![local()];
    match vm().await {
        Ok(backends) => all.extend(backends),
        Err(reason) => eprintln!("SKIPPED the simulator VM backend: {reason}"),
    }
    match ssh().await {
        Ok(backends) => all.extend(backends),
        Err(reason) => eprintln!("SKIPPED the plain SSH backend: {reason}"),
    }
    all
}

/// The local machine, in a temporary directory.
pub fn local() -> Backend {
    let dir = tempfile::Builder::new()
        .prefix("tether-parity-")
        .tempdir()
        .unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    Backend {
        name: "local",
        target: Arc::new(LocalTarget::new()),
        root,
        _keep: Box::new(dir),
    }
}

/// The local machine working in `root`, which the caller owns.
pub fn local_at(root: &str) -> Backend {
    Backend {
        name: "local",
        target: Arc::new(LocalTarget::new()),
        root: root.into(),
        _keep: Box::new(()),
    }
}

/// The `tether` binary built beside this test (nextest builds the workspace's binaries).
fn tether_binary() -> Result<PathBuf, String> {
    tether_testkit::tether_binary().map_err(|e| e.to_string())
}

/// Two fresh VMs of a freshly started simulator, in `/tmp/parity`: one through its agent, and
/// one without perl, where the agent cannot start and everything takes the other path.
pub async fn vm() -> Result<[Backend; 2], String> {
    let sim = Arc::new(
        Sim::start(tether_binary()?)
            .await
            .expect("the simulator starts"),
    );
    let with = vm_backend(&sim, "vm", "true", true).await;
    let without = vm_backend(&sim, "vm-without-perl", "rm /usr/bin/perl", false).await;
    Ok([with, without])
}

/// A new VM on `sim`, readied by `prepare` (run without the agent), then reached with the
/// agent wanted; `agent` says whether it must come up there.
async fn vm_backend(sim: &Arc<Sim>, name: &'static str, prepare: &str, agent: bool) -> Backend {
    let vm = sim.api().new_vm().await.expect("a VM is created");
    let pem = sim.api().ssh_key(&vm).await.unwrap();
    let key = Arc::new(PrivateKey::from_openssh(&pem).unwrap());
    let info = sim.info();
    let endpoint = Endpoint::vers(&vm, &info.vm_domain, Some(&info.ssh_gateway));
    let pins = tempfile::tempdir().unwrap();
    let mut config = TransportConfig::new(pins.path().join("known_hosts"));
    config.extra_ca = Some(info.ca_cert.clone());
    let setup = Backend {
        name,
        target: remote(
            TransportConfig {
                agent: false,
                ..config.clone()
            },
            &endpoint,
            &key,
            false,
        )
        .await,
        root: "/tmp/parity".into(),
        _keep: Box::new(()),
    };
    setup.sh(prepare).await;
    setup.target.mkdir_all(&setup.root).await.unwrap();
    let bashrc = NOISY_BASHRC.as_bytes();
    setup
        .target
        .write_file("/root/.bashrc", bashrc)
        .await
        .unwrap();
    Backend {
        target: remote(config, &endpoint, &key, agent).await,
        _keep: Box::new((sim.clone(), pins)),
        ..setup
    }
}

/// A plain SSH host: a throwaway `sshd` on loopback, working in a local temporary directory;
/// through its agent and without it.
pub async fn ssh() -> Result<[Backend; 2], String> {
    let sshd = Arc::new(Sshd::start().await?);
    let endpoint = Endpoint::plain("127.0.0.1", sshd.port(), "root");
    let mut made = Vec::new();
    for (name, agent) in [("ssh", true), ("ssh-channels", false)] {
        let pins = tempfile::tempdir().unwrap();
        let mut config = TransportConfig::new(pins.path().join("known_hosts"));
        config.agent = agent;
        let target = remote(config, &endpoint, &sshd.client_key(), agent).await;
        let dir = tempfile::Builder::new()
            .prefix("tether-parity-ssh-")
            .tempdir()
            .unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        made.push(Backend {
            name,
            target,
            root,
            _keep: Box::new((sshd.clone(), pins, dir)),
        });
    }
    Ok(made.try_into().unwrap_or_else(|_| unreachable!()))
}

/// A remote target on a pool of its own, once its agent is up (`agent`) or known not to come
/// up.
async fn remote(
    config: TransportConfig,
    endpoint: &Endpoint,
    key: &Arc<PrivateKey>,
    agent: bool,
) -> Arc<dyn Target> {
    let pool = Arc::new(Pool::new(config).unwrap());
    let session = pool.session(endpoint, key).await.unwrap();
    assert_eq!(
        session.agent_ready(AGENT_READY).await,
        agent,
        "whether the agent runs on {}",
        endpoint.host
    );
    Arc::new(RemoteTarget::new(
        pool,
        Arc::new(StaticAccess::new(endpoint.clone(), key.clone())),
    ))
}

/// Asserts that every backend produced the same value, and returns it.
pub fn same<T: PartialEq + std::fmt::Debug + Clone>(results: &[(&'static str, T)]) -> T {
    let (first_name, first) = &results[0];
    for (name, value) in &results[1..] {
        assert_eq!(value, first, "{name} differs from {first_name}");
    }
    first.clone()
}

/// `len` bytes of deterministic noise (every byte value occurs).
pub fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
