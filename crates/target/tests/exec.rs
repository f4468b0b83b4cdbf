//! Timeouts, cancellation and environment isolation, on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, backends};
use tether_target::{ExecOutcome, ExecSpec, KILL_GRACE, Stream};
use tokio_util::sync::CancellationToken;

/// A `sleep` argument no other test uses, so `ps` finds only this test's processes.
fn marker(backend: usize) -> String {
    format!("{}.{}", 300 + backend, std::process::id())
}

/// The process lines on the backend that mention `marker`.
async fn leftovers(b: &Backend, marker: &str) -> Vec<String> {
    let ps = b.sh("ps -eo args").await;
    ps.lines()
        .filter(|line| line.contains(marker))
        .map(str::to_owned)
        .collect()
}

/// Longest a stopped command may take to return: the grace period plus slack for the round trips.
const PROMPT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_whole_group_and_keeps_the_output_so_far() {
    for (i, b) in backends().await.into_iter().enumerate() {
        let m = marker(i);
        let spec = ExecSpec {
            command: format!("echo started; echo warn >&2; sleep {m} & sleep {m}; echo never"),
            timeout: Some(Duration::from_secs(1)),
            ..ExecSpec::default()
        };
        let began = Instant::now();
        let run = b.run(spec).await;
        assert!(
            began.elapsed() < PROMPT,
            "{}: took {:?}",
            b.name,
            began.elapsed()
        );
        assert_eq!(
            (run.outcome, run.stdout.as_str(), run.stderr.as_str()),
            (ExecOutcome::TimedOut, "started\n", "warn\n")
        );
        assert_eq!(
            leftovers(&b, &m).await,
            Vec::<String>::new(),
            "{}: processes left behind",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_returns_promptly_with_the_output_so_far() {
    for (i, b) in backends().await.into_iter().enumerate() {
        let m = marker(i + 10);
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let mut stdout = Vec::new();
        let mut sink = |stream: Stream, bytes: &[u8]| {
            if stream == Stream::Stdout {
                stdout.extend_from_slice(bytes);
            }
            if stdout.ends_with(b"ready\n") {
                trigger.cancel();
            }
        };
        let spec = ExecSpec::shell(format!("echo ready; sleep {m} & exec sleep {m}"));
        let began = Instant::now();
        let outcome = b.target.exec(spec, &mut sink, Some(cancel)).await.unwrap();
        assert!(
            began.elapsed() < KILL_GRACE + PROMPT,
            "{}: took {:?}",
            b.name,
            began.elapsed()
        );
        assert_eq!(
            (outcome, stdout.as_slice()),
            (ExecOutcome::Cancelled, b"ready\n".as_slice()),
            "{}",
            b.name
        );
        assert_eq!(
            leftovers(&b, &m).await,
            Vec::<String>::new(),
            "{}: processes left behind",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_explicit_environment_reaches_a_command() {
    // Cargo and nextest give every test process CARGO_* variables: none may reach a command.
    assert!(
        std::env::var_os("CARGO_MANIFEST_DIR").is_some(),
        "the test runner sets CARGO_* variables"
    );
    for b in backends().await {
        let spec = ExecSpec {
            env: vec![("GIVEN".into(), "a b".into())],
            ..ExecSpec::shell("env")
        };
        let env = b.run(spec).await.stdout;
        let cargo: Vec<&str> = env
            .lines()
            .filter(|l| l.starts_with("CARGO") || l.starts_with("NEXTEST") || l.starts_with("RUST"))
            .collect();
        assert_eq!(
            cargo,
            Vec::<&str>::new(),
            "{}: the local environment leaked",
            b.name
        );
        assert!(
            env.lines().any(|line| line == "GIVEN=a b"),
            "{}: the explicit variable is missing:\n{env}",
            b.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_stdin_and_output_move_large_data_through_a_command() {
    let data = common::noise(4 * 1024 * 1024);
    for b in backends().await {
        let mut source: &[u8] = &data;
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let mut output = tether_target::Output::Writers {
            stdout: &mut stdout,
            stderr: &mut stderr,
        };
        let spec = ExecSpec::shell("cat; echo done >&2");
        let outcome = b
            .target
            .exec_io(spec, Some(&mut source), &mut output, None)
            .await
            .unwrap();
        assert_eq!(
            (outcome, stderr.as_slice()),
            (ExecOutcome::Exited(0), b"done\n".as_slice()),
            "{}",
            b.name
        );
        assert!(
            stdout == data,
            "{}: {} bytes came back, not the 4 MiB sent",
            b.name,
            stdout.len()
        );
    }
}

/// The most this test process may ever hold in memory while moving a file larger than that.
const MEMORY_CEILING_KB: u64 = 48 * 1024;

/// The process's peak resident memory so far, in kB.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_larger_than_memory_allows_are_streamed_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    let size: u64 = 96 * 1024 * 1024;
    let made = std::process::Command::new("head")
        .args(["-c", &size.to_string(), "/dev/urandom"])
        .stdout(std::fs::File::create(&big).unwrap())
        .status()
        .unwrap();
    assert!(made.success());
    for b in backends().await {
        let remote = b.path("big.bin");
        let sent = tether_target::upload_file(big.to_str().unwrap(), b.target.as_ref(), &remote)
            .await
            .unwrap();
        let back = dir.path().join(format!("back-{}", b.name));
        let got = tether_target::download_file(b.target.as_ref(), &remote, back.to_str().unwrap())
            .await
            .unwrap();
        assert_eq!((sent, got), (size, size), "{}", b.name);
        let same = std::process::Command::new("cmp")
            .arg(&big)
            .arg(&back)
            .status()
            .unwrap();
        assert!(same.success(), "{}: the downloaded file differs", b.name);
        std::fs::remove_file(&back).unwrap();
        let peak = peak_rss_kb();
        assert!(
            peak < MEMORY_CEILING_KB,
            "{}: peak memory {peak} kB for a {size}-byte file",
            b.name
        );
    }
}
