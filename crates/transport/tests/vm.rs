//! The transport against real VMs of the real simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::keys::PrivateKey;
use tether_testkit::Sim;
use tether_transport::{
    Endpoint, ExecOutcome, ExecSpec, Pool, Stream, TransportConfig, TransportError,
};
use tokio_util::sync::CancellationToken;

#[path = "vm/agent.rs"]
mod agent;
#[path = "vm/forward.rs"]
mod forward;

struct Fixture {
    sim: Sim,
    vm: String,
    key: Arc<PrivateKey>,
    pins: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Fixture {
        let sim = Sim::start(tether_testkit::tether_binary().unwrap())
            .await
            .unwrap();
        let vm = sim.api().new_vm().await.unwrap();
        let key = key_of(&sim, &vm).await;
        Fixture {
            sim,
            vm,
            key,
            pins: tempfile::tempdir().unwrap(),
        }
    }

    fn endpoint(&self) -> Endpoint {
        let info = self.sim.info();
        Endpoint::vers(&self.vm, &info.vm_domain, Some(&info.ssh_gateway))
    }

    fn config(&self) -> TransportConfig {
        let mut config = TransportConfig::new(self.pins.path().join("known_hosts"));
        config.extra_ca = Some(self.sim.info().ca_cert.clone());
        config
    }

    fn pool(&self) -> Pool {
        Pool::new(self.config()).unwrap()
    }
}

async fn key_of(sim: &Sim, vm: &str) -> Arc<PrivateKey> {
    let pem = sim.api().ssh_key(vm).await.unwrap();
    Arc::new(PrivateKey::from_openssh(&pem).unwrap())
}

struct Collected {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    outcome: ExecOutcome,
}

async fn run(
    pool: &Pool,
    f: &Fixture,
    spec: ExecSpec,
    cancel: Option<CancellationToken>,
) -> Result<Collected, TransportError> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let mut sink = |stream: Stream, bytes: &[u8]| match stream {
        Stream::Stdout => stdout.extend_from_slice(bytes),
        Stream::Stderr => stderr.extend_from_slice(bytes),
    };
    let run = pool
        .exec(&f.endpoint(), &f.key, spec, &mut sink, cancel)
        .await?;
    Ok(Collected {
        stdout,
        stderr,
        outcome: run.outcome,
    })
}

#[tokio::test]
async fn exec_streams_output_codes_stdin_cwd_and_env() {
    let f = Fixture::new().await;
    let pool = f.pool();
    let spec = ExecSpec {
        command: "pwd; echo \"$GREETING\"; tr a-z A-Z; echo err >&2; exit 3".into(),
        cwd: Some("/tmp".into()),
        env: vec![("GREETING".into(), "hi there".into())],
        stdin: Some(b"abc".to_vec()),
        timeout: None,
    };
    let out = run(&pool, &f, spec, None).await.unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "/tmp\nhi there\nABC"
    );
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.outcome, ExecOutcome::Exited(3));

    let killed = run(&pool, &f, ExecSpec::shell("kill -9 $$"), None)
        .await
        .unwrap();
    assert_eq!(killed.outcome, ExecOutcome::Signaled("KILL".into()));
}

#[tokio::test]
async fn local_environment_does_not_reach_the_vm() {
    // SAFETY: set before any other thread of this test process reads the environment.
    unsafe { std::env::set_var("TETHER_TEST_SECRET", "must-not-leak") };
    let f = Fixture::new().await;
    let out = run(&f.pool(), &f, ExecSpec::shell("env"), None)
        .await
        .unwrap();
    let env = String::from_utf8(out.stdout).unwrap();
    assert!(!env.contains("must-not-leak"), "{env}");
}

#[tokio::test]
async fn timeout_returns_output_so_far_and_kills_the_process_group() {
    let f = Fixture::new().await;
    let pool = f.pool();
    let spec = ExecSpec {
        command: "echo started; sleep 300 & sleep 301; echo never".into(),
        timeout: Some(Duration::from_secs(1)),
        ..ExecSpec::default()
    };
    let began = Instant::now();
    let out = run(&pool, &f, spec, None).await.unwrap();
    assert_eq!(out.outcome, ExecOutcome::TimedOut);
    assert_eq!(out.stdout, b"started\n");
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "took {:?}",
        began.elapsed()
    );
    let ps = run(&pool, &f, ExecSpec::shell("ps -eo args"), None)
        .await
        .unwrap();
    let ps = String::from_utf8(ps.stdout).unwrap();
    assert!(!ps.contains("sleep 30"), "leftover processes:\n{ps}");
}

#[tokio::test]
async fn cancel_stops_a_running_command() {
    let f = Fixture::new().await;
    let pool = f.pool();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let spec = ExecSpec::shell("echo ready; exec sleep 300");
    let session = pool.session(&f.endpoint(), &f.key).await.unwrap();
    let mut stdout = Vec::new();
    let mut sink = |_: Stream, bytes: &[u8]| {
        stdout.extend_from_slice(bytes);
        if stdout.ends_with(b"ready\n") {
            trigger.cancel();
        }
    };
    let run_result = session.exec(spec, &mut sink, Some(cancel)).await.unwrap();
    assert_eq!(run_result.outcome, ExecOutcome::Cancelled);
    assert_eq!(stdout, b"ready\n");
    let ps = run(&pool, &f, ExecSpec::shell("ps -eo args"), None)
        .await
        .unwrap();
    assert!(!String::from_utf8(ps.stdout).unwrap().contains("sleep 300"));
}

#[tokio::test]
async fn concurrent_calls_share_one_connection() {
    let f = Fixture::new().await;
    let pool = f.pool();
    let first = pool.session(&f.endpoint(), &f.key).await.unwrap();
    let runs = futures::future::join_all(
        (0..16).map(|i| run(&pool, &f, ExecSpec::shell(format!("echo {i}")), None)),
    )
    .await;
    for (i, out) in runs.into_iter().enumerate() {
        assert_eq!(out.unwrap().stdout, format!("{i}\n").into_bytes());
    }
    let again = pool.session(&f.endpoint(), &f.key).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &again),
        "the pool opened a second connection"
    );
}

#[tokio::test]
async fn a_changed_host_key_is_refused() {
    let f = Fixture::new().await;
    // Pin a different key for this VM's name, as if the VM had been swapped.
    let other = f.sim.api().new_vm().await.unwrap();
    let other_endpoint = Endpoint::vers(
        &other,
        &f.sim.info().vm_domain,
        Some(&f.sim.info().ssh_gateway),
    );
    let other_key = key_of(&f.sim, &other).await;
    f.pool().session(&other_endpoint, &other_key).await.unwrap();
    let pins = f.pins.path().join("known_hosts");
    let text = std::fs::read_to_string(&pins)
        .unwrap()
        .replace(&other, &f.vm);
    std::fs::write(&pins, text).unwrap();

    let err = f
        .pool()
        .session(&f.endpoint(), &f.key)
        .await
        .err()
        .expect("a changed key must be refused");
    assert!(
        matches!(err, TransportError::HostKeyChanged { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("delete that line"), "{err}");
}

#[tokio::test]
async fn wrong_ca_and_wrong_key_are_refused() {
    let f = Fixture::new().await;
    let no_ca = Pool::new(TransportConfig::new(f.pins.path().join("kh2"))).unwrap();
    let err = no_ca
        .session(&f.endpoint(), &f.key)
        .await
        .err()
        .expect("untrusted certificate must fail");
    assert!(matches!(err, TransportError::Tls { .. }), "{err}");

    let other = f.sim.api().new_vm().await.unwrap();
    let wrong_key = key_of(&f.sim, &other).await;
    let err = f
        .pool()
        .session(&f.endpoint(), &wrong_key)
        .await
        .err()
        .expect("a wrong key must fail");
    assert!(matches!(err, TransportError::AuthRejected { .. }), "{err}");
}

#[tokio::test]
async fn pin_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new().await;
    run(&f.pool(), &f, ExecSpec::shell("true"), None)
        .await
        .unwrap();
    let mode = std::fs::metadata(f.pins.path().join("known_hosts"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "known_hosts is readable by others: {mode:o}"
    );
}

#[tokio::test]
async fn the_pool_reconnects_after_the_simulator_restarts() {
    let mut f = Fixture::new().await;
    let pool = f.pool();
    let endpoint_before = f.endpoint();
    run(&pool, &f, ExecSpec::shell("true"), None).await.unwrap();
    f.sim.restart().await.unwrap();
    assert_eq!(
        f.endpoint(),
        endpoint_before,
        "the simulator came back on the same addresses"
    );
    // The old connection is dead; the pool must notice and redial by itself.
    let out = run(&pool, &f, ExecSpec::shell("hostname"), None)
        .await
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), f.vm);
}

#[tokio::test]
async fn a_connection_cut_mid_command_is_reported_and_the_next_call_reconnects() {
    let f = Fixture::new().await;
    let relay = tether_testkit::Relay::start(&f.sim.info().ssh_gateway, Duration::ZERO).unwrap();
    let endpoint = Endpoint::vers(
        &f.vm,
        &f.sim.info().vm_domain,
        Some(&relay.addr().to_string()),
    );
    let pool = f.pool();
    let session = pool.session(&endpoint, &f.key).await.unwrap();

    let mut stdout = Vec::new();
    let mut cut_done = false;
    let mut sink = |_: Stream, bytes: &[u8]| {
        stdout.extend_from_slice(bytes);
        if !cut_done && stdout.ends_with(b"running\n") {
            cut_done = relay.cut() > 0;
        }
    };
    let spec = ExecSpec::shell("echo running; sleep 30; echo finished");
    let err = session
        .exec(spec, &mut sink, None)
        .await
        .expect_err("a cut connection must fail the call");
    assert!(cut_done, "the relay had no connection to cut");
    assert!(
        matches!(err, TransportError::Disconnected { started: true, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("may still be running"), "{err}");

    // The next call reconnects by itself, through the same relay.
    let mut out = Vec::new();
    let mut sink = |_: Stream, bytes: &[u8]| out.extend_from_slice(bytes);
    let run = pool
        .exec(
            &endpoint,
            &f.key,
            ExecSpec::shell("hostname"),
            &mut sink,
            None,
        )
        .await
        .unwrap();
    assert_eq!(run.outcome, ExecOutcome::Exited(0));
    assert_eq!(String::from_utf8(out).unwrap().trim(), f.vm);
}
