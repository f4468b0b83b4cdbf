//! tether's warm path: a [`Pool`] whose connection to the VM and its agent are already up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use russh::keys::PrivateKey;
use tether_target::{RemoteTarget, StaticAccess, Target};
use tether_transport::{AGENT_START_TIMEOUT, Endpoint, ExecOutcome, ExecSpec, Pool};

use crate::lab::{Lab, Network};

/// Commands run before measuring, so the connection and the spare channel are warm.
const WARM_UP: usize = 5;

/// The command every latency sample runs.
pub const ECHO: &str = "echo hi";

/// The size of the file every read and write sample moves.
pub const SMALL_FILE: usize = 4096;

/// Where on the VM the small file lives.
const SMALL_FILE_PATH: &str = "/root/tether-bench/small.bin";

/// tether's client side for one VM over one network.
pub struct Warm {
    pool: Arc<Pool>,
    endpoint: Endpoint,
    key: Arc<PrivateKey>,
}

impl Warm {
    /// Opens the pooled connection and runs a few commands on it.
    pub async fn connect(lab: &Lab, network: &Network) -> anyhow::Result<Arc<Warm>> {
        let warm = Arc::new(Warm {
            pool: lab.pool(network)?,
            endpoint: lab.endpoint(network),
            key: lab.key().clone(),
        });
        let session = warm.pool.session(&warm.endpoint, &warm.key).await?;
        if !session.agent_ready(AGENT_START_TIMEOUT).await {
            bail!(
                "the agent did not start on the VM; run with RUST_LOG=tether_transport=debug to see why"
            );
        }
        for _ in 0..WARM_UP {
            warm.echo_hi().await?;
        }
        Ok(warm)
    }

    /// Runs `echo hi` through the pool and checks its output and exit code.
    pub async fn echo_hi(&self) -> anyhow::Result<()> {
        let mut stdout = Vec::new();
        let run = self
            .pool
            .exec(
                &self.endpoint,
                &self.key,
                ExecSpec::shell(ECHO),
                &mut |_, bytes| stdout.extend_from_slice(bytes),
                None,
            )
            .await?;
        if run.outcome != ExecOutcome::Exited(0) || stdout != b"hi\n" {
            bail!(
                "`{ECHO}` ended {:?} with output {:?}",
                run.outcome,
                String::from_utf8_lossy(&stdout)
            );
        }
        Ok(())
    }

    /// Runs `total` commands with `flights` of them in flight at any time, on the one pooled
    /// connection; returns how long they took.
    pub async fn in_flight(
        self: &Arc<Self>,
        flights: usize,
        total: usize,
    ) -> anyhow::Result<Duration> {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let workers: Vec<_> = (0..flights)
            .map(|_| {
                let (warm, next) = (self.clone(), next.clone());
                tokio::spawn(async move {
                    while next.fetch_add(1, Ordering::Relaxed) < total {
                        warm.echo_hi().await?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker.await??;
        }
        Ok(start.elapsed())
    }

    /// Writes the [`SMALL_FILE`]-byte file as the write tool does (its directory created in
    /// the same operation).
    pub async fn write_small(&self, target: &RemoteTarget) -> anyhow::Result<()> {
        target
            .write_file_creating_dirs(SMALL_FILE_PATH, &small_file())
            .await?;
        Ok(())
    }

    /// Reads the small file back as the read tool does (metadata and content in one
    /// operation) and checks it byte for byte.
    pub async fn read_small(&self, target: &RemoteTarget) -> anyhow::Result<()> {
        let (_, bytes) = target
            .read_file_within(SMALL_FILE_PATH, SMALL_FILE as u64)
            .await?;
        if bytes.as_deref() != Some(small_file().as_slice()) {
            bail!("{SMALL_FILE_PATH} did not read back as written");
        }
        Ok(())
    }

    /// The VM as a [`RemoteTarget`] on the same pool.
    pub fn target(&self) -> RemoteTarget {
        let access = StaticAccess::new(self.endpoint.clone(), self.key.clone());
        RemoteTarget::new(self.pool.clone(), Arc::new(access))
    }
}

/// The small file's content: every byte value, repeated.
fn small_file() -> Vec<u8> {
    (0..SMALL_FILE).map(|i| (i % 256) as u8).collect()
}
