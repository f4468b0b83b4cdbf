//! Integration tests of the VM sandbox: real namespaces, real processes.
//!
//! Every test boots VMs with the crate's `tether-vm-init` binary on disks in a temp dir, runs
//! its body in a task with a deadline, and shuts every VM down even when the body fails.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod disks;
mod files;
mod isolation;
mod lifecycle;
mod processes;
mod unprivileged;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tether_sandbox::{BootSpec, Command, ExitStatus, SandboxConfig, Stdio, Vm};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long any one test body may take.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// PATH given to commands in tests.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The init program these tests boot VMs with.
pub fn config() -> SandboxConfig {
    SandboxConfig {
        init_program: env!("CARGO_BIN_EXE_tether-vm-init").into(),
        init_args: vec![],
    }
}

/// A temp dir holding disks; removed when dropped.
pub struct Disks {
    pub dir: tempfile::TempDir,
}

impl Disks {
    pub fn fresh() -> Disks {
        Disks {
            dir: tempfile::Builder::new()
                .prefix("tether-sandbox-test-")
                .tempdir()
                .unwrap(),
        }
    }
    /// Creates a fresh disk named `name`.
    pub fn create(&self, name: &str) -> PathBuf {
        let disk = self.dir.path().join(name);
        tether_sandbox::create_disk(&disk).unwrap();
        disk
    }
}

/// Boots a VM with hostname `name` from `disk`.
pub async fn boot(disk: &Path, name: &str) -> Arc<Vm> {
    let spec = BootSpec {
        disk: disk.to_owned(),
        hostname: name.to_owned(),
        paused: false,
    };
    Arc::new(Vm::boot(&config(), spec).await.unwrap())
}

/// Runs `body` with the deadline; shuts `vms` down afterwards whatever happened, then
/// re-raises a failure.
pub async fn guarded<Fut>(vms: Vec<Arc<Vm>>, body: Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(tokio::time::timeout(DEADLINE, body)).await;
    for vm in &vms {
        vm.shutdown().await.unwrap();
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_elapsed)) => panic!("the test body did not finish within {DEADLINE:?}"),
        Err(panic) => std::panic::resume_unwind(panic.into_panic()),
    }
}

/// A test with one fresh VM.
pub async fn with_vm<F, Fut>(name: &str, body: F)
where
    F: FnOnce(Arc<Vm>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let disks = Disks::fresh();
    let vm = boot(&disks.create("disk"), name).await;
    guarded(vec![vm.clone()], body(vm)).await;
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A `sh -c script` command with a plain environment.
pub fn sh(script: &str) -> Command {
    Command {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: vec![("PATH".into(), PATH.into())],
        cwd: None,
        stdio: Stdio::Pipes,
    }
}

/// Runs `command` with `input` on stdin; collects its output.
pub async fn run_with(vm: &Vm, command: Command, input: &[u8]) -> Output {
    let mut process = vm.spawn(command).await.unwrap();
    let mut stdin = process.stdin.take().unwrap();
    let (mut stdout, mut stderr) = (
        process.stdout.take().unwrap(),
        process.stderr.take().unwrap(),
    );
    let input = input.to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
        let _ = stdin.shutdown().await;
    });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (read_out, read_err) =
        tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
    read_out.unwrap();
    read_err.unwrap();
    writer.await.unwrap();
    let status = process.wait().await.unwrap();
    Output {
        status,
        stdout: String::from_utf8_lossy(&out).into(),
        stderr: String::from_utf8_lossy(&err).into(),
    }
}

/// Runs a shell script; returns its output.
pub async fn run(vm: &Vm, script: &str) -> Output {
    run_with(vm, sh(script), b"").await
}

/// Runs a shell script that must succeed (every command: `set -e`); returns its stdout.
pub async fn ok(vm: &Vm, script: &str) -> String {
    let output = run(vm, &format!("set -e; {script}")).await;
    assert_eq!(
        output.status,
        ExitStatus::Code(0),
        "`{script}` failed: {output:?}"
    );
    output.stdout
}

/// Polls `check` until it holds; panics with `what` after `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Host processes whose command line contains `needle`.
pub fn host_processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().parse::<u32>().is_err()
            || name.to_string_lossy() == std::process::id().to_string()
        {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!("{}: {cmdline}", name.to_string_lossy()));
            }
        }
    }
    found
}
