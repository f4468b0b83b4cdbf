//! Backends for the parity tests: the local machine, a VM of the real simulator, and a plain
//! SSH host (a throwaway `sshd` on loopback). Each gives a [`Target`] and an empty scratch
//! directory on it.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

mod sshd;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

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

/// Every backend available here; a missing one is skipped with a printed reason.
pub async fn backends() -> Vec<Backend> {
    let mut all = vec![local()];
    match vm().await {
        Ok(backend) => all.push(backend),
        Err(reason) => eprintln!("SKIPPED the simulator VM backend: {reason}"),
    }
    match ssh().await {
        Ok(backend) => all.push(backend),
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

/// A fresh VM of a freshly started simulator, in `/tmp/parity`.
pub async fn vm() -> Result<Backend, String> {
    let sim = Sim::start(tether_binary()?)
        .await
        .expect("the simulator starts");
    let vm = sim.api().new_vm().await.expect("a VM is created");
    let body = sim
        .api()
        .get(&format!("/vm/{vm}/ssh_key"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    let key =
        Arc::new(PrivateKey::from_openssh(body["ssh_private_key"].as_str().unwrap()).unwrap());
    let info = sim.info().clone();
    let pins = tempfile::tempdir().unwrap();
    let mut config = TransportConfig::new(pins.path().join("known_hosts"));
    config.extra_ca = Some(info.ca_cert.clone());
    let endpoint = Endpoint::vers(&vm, &info.vm_domain, Some(&info.ssh_gateway));
    let target = remote(config, endpoint, key);
    let root = "/tmp/parity".to_owned();
    target.mkdir_all(&root).await.unwrap();
    Ok(Backend {
        name: "vm",
        target,
        root,
        _keep: Box::new((sim, pins)),
    })
}

/// A plain SSH host: a throwaway `sshd` on loopback, working in a local temporary directory.
pub async fn ssh() -> Result<Backend, String> {
    let sshd = Sshd::start().await?;
    let pins = tempfile::tempdir().unwrap();
    let config = TransportConfig::new(pins.path().join("known_hosts"));
    let endpoint = Endpoint::plain("127.0.0.1", sshd.port(), "root");
    let target = remote(config, endpoint, sshd.client_key());
    let dir = tempfile::Builder::new()
        .prefix("tether-parity-ssh-")
        .tempdir()
        .unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    Ok(Backend {
        name: "ssh",
        target,
        root,
        _keep: Box::new((sshd, pins, dir)),
    })
}

fn remote(config: TransportConfig, endpoint: Endpoint, key: Arc<PrivateKey>) -> Arc<dyn Target> {
    let pool = Arc::new(Pool::new(config).unwrap());
    Arc::new(RemoteTarget::new(
        pool,
        Arc::new(StaticAccess::new(endpoint, key)),
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
