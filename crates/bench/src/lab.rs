//! The simulator, the VM every measurement runs on, and the networks it is reached over.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use russh::keys::PrivateKey;
use tether_testkit::{Api, Relay, Sim, SimInfo};
use tether_transport::{Endpoint, Pool, TransportConfig};

/// A running simulator with one VM, its key, and a scratch directory.
pub struct Lab {
    sim: Sim,
    vm: String,
    key: Arc<PrivateKey>,
    key_file: PathBuf,
    scratch: tempfile::TempDir,
}

impl Lab {
    /// Starts the simulator built at `target/release/tether` and creates a VM on it.
    pub async fn start() -> anyhow::Result<Lab> {
        let sim = Sim::start(tether_binary()?).await?;
        let vm = sim.api().new_vm().await?;
        let pem = sim.api().ssh_key(&vm).await?;
        let key = PrivateKey::from_openssh(&pem).context("the VM's key does not parse")?;
        let scratch = tempfile::Builder::new().prefix("tether-bench-").tempdir()?;
        let key_file = scratch.path().join("vm_key");
        write_private(&key_file, pem.as_bytes())?;
        Ok(Lab {
            sim,
            vm,
            key: Arc::new(key),
            key_file,
            scratch,
        })
    }

    /// The simulator's addresses, API key and CA.
    pub fn info(&self) -> &SimInfo {
        self.sim.info()
    }

    /// The VM's id.
    pub fn vm(&self) -> &str {
        &self.vm
    }

    /// The VM's SSH host name, `<vm>.<vm_domain>` (the TLS SNI name).
    pub fn host(&self) -> String {
        format!("{}.{}", self.vm, self.sim.info().vm_domain)
    }

    /// The VM's private key.
    pub fn key(&self) -> &Arc<PrivateKey> {
        &self.key
    }

    /// The VM's private key in a 0600 file, for OpenSSH runs that do not time the key fetch.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// A directory that lives as long as the lab.
    pub fn scratch(&self) -> &Path {
        self.scratch.path()
    }

    /// The simulator's network as seen directly (`None`) or through relays adding a round trip
    /// of `rtt` in front of its gateway and its API.
    pub fn network(&self, rtt: Option<Duration>) -> anyhow::Result<Network> {
        let info = self.sim.info();
        let Some(rtt) = rtt else {
            return Ok(Network {
                name: "loopback".into(),
                rtt: Duration::ZERO,
                gateway: info.ssh_gateway.clone(),
                api_url: info.vers_url.clone(),
                api: self.sim.api(),
                _relays: Vec::new(),
            });
        };
        let api_addr = info.vers_url.trim_start_matches("http://");
        let gateway = Relay::start(&info.ssh_gateway, rtt / 2)?;
        let api = Relay::start(api_addr, rtt / 2)?;
        let api_url = format!("http://{}", api.addr());
        Ok(Network {
            name: format!("{} ms RTT", rtt.as_millis()),
            rtt,
            gateway: gateway.addr().to_string(),
            api: Api::new(&api_url, &info.api_key),
            api_url,
            _relays: vec![gateway, api],
        })
    }

    /// A fresh connection pool trusting the simulator's CA, with its own pin file.
    pub fn pool(&self, network: &Network) -> anyhow::Result<Arc<Pool>> {
        let pins = self
            .scratch()
            .join(format!("known_hosts-{}", network.rtt.as_millis()));
        let mut config = TransportConfig::new(pins);
        config.extra_ca = Some(self.sim.info().ca_cert.clone());
        Ok(Arc::new(Pool::new(config)?))
    }

    /// The VM's endpoint as dialled over `network`.
    pub fn endpoint(&self, network: &Network) -> Endpoint {
        Endpoint::vers(&self.vm, &self.sim.info().vm_domain, Some(&network.gateway))
    }
}

/// How the simulator is reached: directly, or through delaying relays.
pub struct Network {
    /// `loopback` or `20 ms RTT`.
    pub name: String,
    /// The emulated round-trip time added by the relays (zero on loopback).
    pub rtt: Duration,
    /// The `host:port` dialled for SSH inside TLS.
    pub gateway: String,
    /// The API's base URL (without `/api/v1`), through the relay when there is one.
    pub api_url: String,
    /// The API client, through the relay when there is one.
    pub api: Api,
    _relays: Vec<Relay>,
}

/// Creates `path` readable by its owner only and writes `bytes` to it.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not create {}", path.display()))?;
    file.write_all(bytes)?;
    Ok(())
}

/// The `tether` binary of the same build profile: `target/release/tether` beside the bench's
/// `target/release/deps/<bench>`.
pub fn tether_binary() -> anyhow::Result<PathBuf> {
    tether_testkit::tether_binary().context("run `cargo build --release -p tether` first")
}
