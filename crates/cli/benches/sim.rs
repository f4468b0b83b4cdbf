//! Simulator benchmark: create-VM and branch latency, and how branch time grows with the
//! amount written to the disk. Each figure is set beside a baseline measured in the same run.
//!
//! Run: `cargo bench -p tether --bench sim` (prints a Markdown table).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use tether_testkit::{Api, Sim};

const CREATE_SAMPLES: usize = 30;
const BRANCH_SAMPLES: usize = 20;
const SIZED_BRANCH_SAMPLES: usize = 7;

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let sim = Sim::start(env!("CARGO_BIN_EXE_tether")).await.unwrap();
    let api = sim.api();
    let mut rows = Vec::new();

    let create = sample(CREATE_SAMPLES, || async {
        vec![api.new_vm().await.unwrap()]
    })
    .await;
    let namespaces = sample(CREATE_SAMPLES, || async { bare_namespaces() }).await;
    let scratch = tempfile::tempdir().unwrap();
    rows.push(row(
        "create VM (new_root, wait_boot)",
        &create.times,
        "`unshare` of the same namespaces running `true`",
        &namespaces.times,
    ));

    let parent = api.new_vm().await.unwrap();
    let branch = sample(BRANCH_SAMPLES, || async {
        api.branch(&parent, 1).await.unwrap()
    })
    .await;
    rows.push(row(
        "branch, empty disk",
        &branch.times,
        "create VM (above)",
        &create.times,
    ));

    for mib in [10, 100] {
        let vm = api.new_vm().await.unwrap();
        api.sh(&vm, &format!("head -c {mib}M /dev/urandom > /root/blob"))
            .await
            .unwrap();
        let source = scratch.path().join(format!("src-{mib}"));
        write_random_tree(&source, mib);
        // Interleaved, so both sides see the same page-cache and writeback pressure.
        let mut branched = Samples::default();
        let mut copied = Samples::default();
        for i in 0..SIZED_BRANCH_SAMPLES {
            let start = Instant::now();
            let children = api.branch(&vm, 1).await.unwrap();
            branched.push(start.elapsed(), children);
            let target = scratch.path().join(format!("copy-{mib}-{i}"));
            let start = Instant::now();
            copy_tree(&source, &target);
            copied.push(start.elapsed(), ());
        }
        // The branch really carries the data.
        let child = &branched.values[0][0];
        let size = api.sh(child, "stat -c %s /root/blob").await.unwrap();
        assert_eq!(size.trim(), (mib << 20).to_string());
        rows.push(row(
            &format!("branch, {mib} MB written"),
            &branched.times,
            &format!("`cp -a` of {mib} MB on the same disk"),
            &copied.times,
        ));
        delete_all(&api, &branched.values).await;
    }
    delete_all(&api, &create.values).await;
    delete_all(&api, &branch.values).await;

    println!("| operation | p50 | p95 | baseline | baseline p50 | ratio (p50) |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}

struct Samples<T> {
    times: Vec<Duration>,
    values: Vec<T>,
}

impl<T> Default for Samples<T> {
    fn default() -> Self {
        Samples {
            times: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<T> Samples<T> {
    fn push(&mut self, time: Duration, value: T) {
        self.times.push(time);
        self.values.push(value);
    }
}

async fn sample<T, F, Fut>(n: usize, mut f: F) -> Samples<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut samples = Samples {
        times: Vec::with_capacity(n),
        values: Vec::with_capacity(n),
    };
    for _ in 0..n {
        let start = Instant::now();
        let value = f().await;
        samples.times.push(start.elapsed());
        samples.values.push(value);
    }
    samples
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

fn row(what: &str, times: &[Duration], baseline: &str, base: &[Duration]) -> String {
    let (p50, p95, b50) = (
        percentile(times, 50.0),
        percentile(times, 95.0),
        percentile(base, 50.0),
    );
    format!(
        "| {what} | {} | {} | {baseline} | {} | {:.2}× |",
        ms(p50),
        ms(p95),
        ms(b50),
        p50.as_secs_f64() / b50.as_secs_f64()
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// The OS's floor for a sandbox: creating the same namespaces and running one process.
fn bare_namespaces() {
    let status = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--uts",
            "--ipc",
            "true",
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Writes `mib` MB of random data into `dir/blob`.
fn write_random_tree(dir: &std::path::Path, mib: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("head")
        .args(["-c", &format!("{mib}M"), "/dev/urandom"])
        .stdout(std::fs::File::create(dir.join("blob")).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
}

/// A plain recursive copy, what a branch has to do at the least.
fn copy_tree(source: &std::path::Path, target: &std::path::Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(source)
        .arg(target)
        .status()
        .unwrap();
    assert!(status.success());
}

async fn delete_all(api: &Api, groups: &[Vec<String>]) {
    for id in groups.iter().flatten() {
        let _ = api.delete(&format!("/vm/{id}")).await;
    }
}
