//! One test body per behaviour, run against every way of reaching an agent: a
//! `tether-guest --stdio` process (crates/guest/tests/stdio.rs) and a QEMU guest
//! (crates/kvm/tests/vm.rs).

use std::time::Duration;
use tether_kvm::{AgentClient, ErrorKind, ExecRequest, FileKind, KvmError, PtySize};

/// The deadline of one scenario.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(60);

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub async fn echo_hi(agent: &AgentClient) {
    let out = agent.output(["echo", "hi"]).await.unwrap();
    assert_eq!(
        (text(&out.stdout), text(&out.stderr), out.code, out.signal),
        ("hi\n".into(), String::new(), 0, None)
    );
}

pub async fn exit_code_and_stderr(agent: &AgentClient) {
    let out = agent
        .output(["bash", "-c", "echo oops >&2; exit 3"])
        .await
        .unwrap();
    assert_eq!(
        (text(&out.stdout), text(&out.stderr), out.code),
        (String::new(), "oops\n".into(), 3)
    );
}

pub async fn sigkill_is_128_plus_9(agent: &AgentClient) {
    let exec = agent
        .exec(ExecRequest::new(["sleep", "600"]))
        .await
        .unwrap();
    exec.signal(9).unwrap();
    let out = exec.wait_output().await.unwrap();
    assert_eq!((out.code, out.signal), (137, Some(9)));
}

/// A signal reaches the whole process group: the backgrounded child dies too, so stdout
/// (which it holds open) ends.
pub async fn signal_kills_the_process_group(agent: &AgentClient) {
    let exec = agent
        .exec(ExecRequest::new([
            "bash",
            "-c",
            "sleep 600 & echo started; wait",
        ]))
        .await
        .unwrap();
    let mut exec = exec;
    assert_eq!(
        exec.next_event().await,
        Some(tether_kvm::ExecEvent::Stdout(b"started\n".to_vec()))
    );
    exec.signal(15).unwrap();
    let out = exec.wait_output().await.unwrap();
    assert_eq!((out.code, out.signal), (143, Some(15)));
}

pub async fn stdin_to_cat(agent: &AgentClient) {
    let exec = agent.exec(ExecRequest::new(["cat"])).await.unwrap();
    exec.write_stdin(b"hello ").unwrap();
    exec.write_stdin(b"world\n").unwrap();
    exec.close_stdin().unwrap();
    let out = exec.wait_output().await.unwrap();
    assert_eq!((text(&out.stdout), out.code), ("hello world\n".into(), 0));
}

pub async fn twenty_concurrent_execs(agent: &AgentClient) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let agent = agent.clone();
        tasks.spawn(async move {
            let script = format!("sleep 0.5; echo {i}");
            (
                i,
                agent.output(["sh", "-c", script.as_str()]).await.unwrap(),
            )
        });
    }
    let mut seen = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, out) = done.unwrap();
        assert_eq!((text(&out.stdout), out.code), (format!("{i}\n"), 0));
        seen.push(i);
    }
    seen.sort();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}

pub async fn env_and_cwd(agent: &AgentClient) {
    let mut request = ExecRequest::new(["sh", "-c", "echo $GREETING $HOME; pwd"]);
    request.env = vec![("GREETING".into(), "hello".into())];
    request.cwd = Some("/tmp".into());
    let out = agent
        .exec(request)
        .await
        .unwrap()
        .wait_output()
        .await
        .unwrap();
    assert_eq!(text(&out.stdout), "hello /root\n/tmp\n");
}

pub async fn pty_with_resize(agent: &AgentClient) {
    let mut request = ExecRequest::new(["bash", "-c", "read line; stty size; tty"]);
    request.pty = Some(PtySize { rows: 24, cols: 80 });
    let exec = agent.exec(request).await.unwrap();
    exec.resize(PtySize {
        rows: 50,
        cols: 132,
    })
    .unwrap();
    exec.write_stdin(b"go\n").unwrap();
    let out = exec.wait_output().await.unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("50 132\r\n/dev/pts/"),
        "pty output: {stdout:?}"
    );
    assert_eq!(out.code, 0);
}

fn assert_not_found(err: &KvmError) {
    let found = matches!(
        err,
        KvmError::Guest {
            kind: ErrorKind::NotFound,
            ..
        }
    );
    assert!(found, "expected the guest's NotFound, got: {err}");
}

pub async fn missing_program_is_not_found(agent: &AgentClient) {
    let err = agent
        .exec(ExecRequest::new(["/no/such/program"]))
        .await
        .err()
        .unwrap();
    assert_not_found(&err);
}

pub async fn file_round_trip(agent: &AgentClient) {
    let dir = agent.output(["mktemp", "-d"]).await.unwrap();
    let dir = text(&dir.stdout).trim().to_owned();
    let path = format!("{dir}/blob");
    let contents: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    agent.write_file(&path, &contents, 0o640).await.unwrap();
    assert_eq!(agent.read_file(&path).await.unwrap(), contents);
    let stat = agent.stat(&path).await.unwrap();
    assert_eq!(
        (stat.kind, stat.size, stat.mode),
        (FileKind::File, contents.len() as u64, 0o640)
    );
    let entries = agent.read_dir(&dir).await.unwrap();
    let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(names, [("blob", FileKind::File)]);
    let err = agent
        .read_file(&format!("{dir}/missing"))
        .await
        .err()
        .unwrap();
    assert_not_found(&err);
}
