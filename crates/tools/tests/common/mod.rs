//! Backends for the tool tests: the local machine and a VM of the real simulator, each a
//! [`Workspace`] in an empty scratch directory.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, missing_docs)]

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use russh::keys::PrivateKey;
use tether_target::{Endpoint, Pool, RemoteTarget, StaticAccess, Target};
use tether_testkit::Sim;
use tether_tools::Workspace;
use tether_transport::TransportConfig;

/// One place where the tools run.
pub struct Backend {
    pub name: &'static str,
    pub ws: Workspace,
    /// The scratch directory (the workspace's cwd).
    pub root: String,
    _keep: Box<dyn Any + Send>,
}

impl Backend {
    /// `name` under the scratch directory.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.root)
    }

    /// `text` with the scratch directory and the temp directory replaced by placeholders.
    pub fn normalize(&self, text: &str) -> String {
        text.replace(&self.root, "$ROOT")
            .replace(self.ws.temp_dir(), "$TMP")
    }

    pub fn target(&self) -> &Arc<dyn Target> {
        self.ws.target()
    }
}

/// Every backend available; a missing one is skipped with a printed reason.
pub async fn backends() -> Vec<Backend> {
    let mut all = vec![local()];
    match vm().await {
        Ok(backend) => all.push(backend),
        Err(reason) => eprintln!("SKIPPED the simulator VM backend: {reason}"),
    }
    all
}

/// This machine, in a temporary directory that is also its home.
pub fn local() -> Backend {
    let dir = tempfile::Builder::new()
        .prefix("tether-tools-")
        .tempdir()
        .unwrap();
    let root = dir.path().to_str().unwrap().to_owned();
    let ws = Workspace::local().unwrap().with_cwd(&root).with_home(&root);
    Backend {
        name: "local",
        ws,
        root,
        _keep: Box::new(dir),
    }
}

/// The `tether` binary built beside this test (nextest builds the workspace's binaries).
pub fn tether_binary() -> Result<PathBuf, String> {
    tether_testkit::tether_binary().map_err(|e| e.to_string())
}

/// A fresh VM of a freshly started simulator, working in `/tmp/tools`.
pub async fn vm() -> Result<Backend, String> {
    let sim = Sim::start(tether_binary()?)
        .await
        .expect("the simulator starts");
    let vm = sim.api().new_vm().await.expect("a VM is created");
    let pem = sim.api().ssh_key(&vm).await.unwrap();
    let key = Arc::new(PrivateKey::from_openssh(&pem).unwrap());
    let info = sim.info().clone();
    let pins = tempfile::tempdir().unwrap();
    let mut config = TransportConfig::new(pins.path().join("known_hosts"));
    config.extra_ca = Some(info.ca_cert.clone());
    let endpoint = Endpoint::vers(&vm, &info.vm_domain, Some(&info.ssh_gateway));
    let pool = Arc::new(Pool::new(config).unwrap());
    let access = Arc::new(StaticAccess::new(endpoint, key));
    let target: Arc<dyn Target> = Arc::new(RemoteTarget::new(pool, access));
    let root = "/tmp/tools".to_owned();
    target.mkdir_all(&root).await.unwrap();
    let ws = Workspace::discover(target).await.unwrap().with_cwd(&root);
    Ok(Backend {
        name: "vm",
        ws,
        root,
        _keep: Box::new((sim, pins)),
    })
}

/// Asserts that every backend produced the same value, and returns it.
pub fn same<T: PartialEq + std::fmt::Debug + Clone>(results: &[(&'static str, T)]) -> T {
    let (first_name, first) = &results[0];
    for (name, value) in &results[1..] {
        assert_eq!(value, first, "{name} differs from {first_name}");
    }
    first.clone()
}
