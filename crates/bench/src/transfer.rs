//! Big-file upload and download: tether's streamed copies against `scp` through the same tunnel.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::RngCore;
use tether_target::{download_file, upload_file};

use crate::Samples;
use crate::lab::{Lab, Network};
use crate::openssh::scp;
use crate::warm::Warm;

/// Bytes generated or compared at a time.
const BLOCK: usize = 1 << 20;

/// Transfer times of one file size over one network.
#[derive(Clone, Debug, Default)]
pub struct Transfers {
    /// The file size in bytes.
    pub bytes: u64,
    /// tether, local → VM.
    pub tether_up: Samples,
    /// tether, VM → local.
    pub tether_down: Samples,
    /// `scp`, local → VM.
    pub scp_up: Samples,
    /// `scp`, VM → local.
    pub scp_down: Samples,
}

/// Megabytes (10⁶ bytes) per second for `bytes` moved in the median of `samples`.
pub fn mb_per_s(bytes: u64, samples: &Samples) -> f64 {
    let secs = samples.p50().as_secs_f64();
    if secs == 0.0 {
        return 0.0;
    }
    bytes as f64 / 1e6 / secs
}

/// A file of `bytes` random (incompressible) bytes in `dir`.
pub fn random_file(dir: &Path, bytes: u64) -> anyhow::Result<PathBuf> {
    let path = dir.join("payload.bin");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut block = vec![0u8; BLOCK];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        rand::rng().fill_bytes(&mut block[..n]);
        file.write_all(&block[..n])?;
        left -= n as u64;
    }
    file.flush()?;
    Ok(path)
}

/// `samples` uploads and downloads of `file` by tether and by `scp`, interleaved so both see
/// the same disk and cache pressure. Every download is checked byte for byte against `file`.
pub async fn measure(
    lab: &Lab,
    network: &Network,
    warm: &Warm,
    file: &Path,
    samples: usize,
) -> anyhow::Result<Transfers> {
    let mut result = Transfers {
        bytes: std::fs::metadata(file)?.len(),
        ..Transfers::default()
    };
    let target = warm.target();
    let local = path_str(file)?;
    let back = lab
        .scratch()
        .join(format!("back-{}", network.rtt.as_millis()));
    let back_str = path_str(&back)?;
    let (remote_tether, remote_scp) = ("/root/tether.bin", "/root/scp.bin");
    let scp_remote = format!("root@{}:{remote_scp}", lab.host());
    let (key, gateway) = (lab.key_file(), network.gateway.as_str());
    let mut up = (Vec::new(), Vec::new());
    let mut down = (Vec::new(), Vec::new());
    for _ in 0..samples {
        up.0.push(timed(upload_file(local, &target, remote_tether)).await?);
        up.1.push(timed(scp(key, gateway, local, &scp_remote)).await?);
        down.0
            .push(timed(download_file(&target, remote_tether, back_str)).await?);
        same_bytes(file, &back)?;
        down.1
            .push(timed(scp(key, gateway, &scp_remote, back_str)).await?);
        same_bytes(file, &back)?;
    }
    result.tether_up = Samples::from_times(up.0);
    result.scp_up = Samples::from_times(up.1);
    result.tether_down = Samples::from_times(down.0);
    result.scp_down = Samples::from_times(down.1);
    Ok(result)
}

async fn timed<T, E>(op: impl Future<Output = Result<T, E>>) -> anyhow::Result<Duration>
where
    anyhow::Error: From<E>,
{
    let start = Instant::now();
    op.await?;
    Ok(start.elapsed())
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))
}

/// Fails unless the files at `a` and `b` hold the same bytes.
fn same_bytes(a: &Path, b: &Path) -> anyhow::Result<()> {
    let open = |p: &Path| -> anyhow::Result<_> {
        Ok(std::io::BufReader::with_capacity(
            BLOCK,
            std::fs::File::open(p)?,
        ))
    };
    let (mut a_file, mut b_file) = (open(a)?, open(b)?);
    let (mut a_block, mut b_block) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    loop {
        let n = read_full(&mut a_file, &mut a_block)?;
        let m = read_full(&mut b_file, &mut b_block)?;
        if n != m || a_block[..n] != b_block[..m] {
            bail!("{} does not match {}", b.display(), a.display());
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
