//! The agent against real VMs: commands and files through it, flow control that keeps a
//! stalled reader from stalling anything else, and what happens when it is killed.

use std::sync::Arc;
use std::time::Duration;

use tether_transport::{
    ExecOutcome, ExecSpec, Output, Pool, Session, TransportConfig, TransportError, status,
};
use tokio::io::AsyncReadExt;

use super::{Fixture, run};

/// How long the agent may take to come up in a test.
const READY: Duration = Duration::from_secs(30);

/// A pool and a session whose agent is up.
async fn ready(f: &Fixture) -> (Pool, Arc<Session>) {
    let pool = f.pool();
    let session = pool.session(&f.endpoint(), &f.key).await.unwrap();
    assert!(session.agent_ready(READY).await, "the agent did not start");
    (pool, session)
}

fn stdout(out: &super::Collected) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test]
async fn commands_run_on_the_agent_as_bash_c_in_their_own_session() {
    let f = Fixture::new().await;
    let (pool, _session) = ready(&f).await;
    let spec = ExecSpec {
        command: "cat /proc/$PPID/comm; echo \"$0\"; [ \"$(ps -o sid= -p $$)\" -eq $$ ] && echo leader; pwd; echo \"$K\"; exit 4".into(),
        cwd: Some("/tmp".into()),
        env: vec![("K".into(), "v 'w'".into())],
        ..ExecSpec::default()
    };
    let out = run(&pool, &f, spec, None).await.unwrap();
    assert_eq!(
        (stdout(&out), out.outcome),
        (
            "tether-agent\nbash\nleader\n/tmp\nv 'w'\n".into(),
            ExecOutcome::Exited(4)
        )
    );
    let syntax = run(&pool, &f, ExecSpec::shell("echo ("), None)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(syntax.stderr).unwrap(),
        "bash: -c: line 1: syntax error near unexpected token `newline'\nbash: -c: line 1: `echo ('\n"
    );
}

#[tokio::test]
async fn a_command_sees_the_same_environment_with_and_without_the_agent() {
    let f = Fixture::new().await;
    let (pool, _session) = ready(&f).await;
    let mut config = f.config();
    config.agent = false;
    let plain = Pool::new(config).unwrap();
    let env = "env | grep -v '^SSH_C' | sort; echo $SHLVL; ls -l /proc/self/fd/0 | sed 's/.*-> //; s/[0-9]\\+/N/'";
    let with = run(&pool, &f, ExecSpec::shell(env), None).await.unwrap();
    let without = run(&plain, &f, ExecSpec::shell(env), None).await.unwrap();
    assert_eq!(stdout(&with), stdout(&without));
    assert!(stdout(&with).contains("HOME=/root\n"), "{}", stdout(&with));
}

#[tokio::test]
async fn a_stalled_reader_stalls_only_its_own_command_and_memory_stays_bounded() {
    let f = Fixture::new().await;
    let (pool, session) = ready(&f).await;
    let agent_pid = stdout(
        &run(&pool, &f, ExecSpec::shell("echo $PPID"), None)
            .await
            .unwrap(),
    );
    const BIG: usize = 40 << 20;
    // The big command's output goes to a pipe nobody reads until the others are done.
    let (mut writer, mut reader) = tokio::io::duplex(1024);
    let mut stderr = Vec::new();
    let big = async {
        let spec = ExecSpec::shell(format!("head -c {BIG} /dev/zero; echo done >&2"));
        let mut output = Output::Writers {
            stdout: &mut writer,
            stderr: &mut stderr,
        };
        let run = session.exec_io(spec, None, &mut output, None).await;
        drop(writer);
        run
    };
    let others = async {
        for i in 0..16 {
            let out = run(&pool, &f, ExecSpec::shell(format!("echo {i}")), None).await;
            assert_eq!(stdout(&out.unwrap()), format!("{i}\n"));
        }
        let status = format!("grep VmRSS /proc/{}/status", agent_pid.trim());
        let rss = stdout(&run(&pool, &f, ExecSpec::shell(status), None).await.unwrap());
        let kb: u64 = rss.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert!(
            kb < 32 * 1024,
            "the agent holds {kb} kB while its reader stalls"
        );
        let mut total = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).await.unwrap();
            if n == 0 {
                break total;
            }
            total += n;
        }
    };
    let (big, total) = tokio::join!(big, others);
    assert_eq!(big.unwrap().outcome, ExecOutcome::Exited(0));
    assert_eq!((total, stderr.as_slice()), (BIG, b"done\n".as_slice()));
}

#[tokio::test]
async fn many_commands_run_at_once_on_the_agent() {
    let f = Fixture::new().await;
    let (pool, _session) = ready(&f).await;
    // Every command waits until all 32 have started: only commands running at once finish.
    let barrier = "d=/tmp/barrier; mkdir -p $d; touch $d/$$; while [ $(ls $d | wc -l) -lt 32 ]; do sleep 0.05; done; echo ok";
    let runs =
        futures::future::join_all((0..32).map(|_| run(&pool, &f, ExecSpec::shell(barrier), None)))
            .await;
    for out in runs {
        assert_eq!(stdout(&out.unwrap()), "ok\n");
    }
}

#[tokio::test]
async fn a_killed_agent_fails_its_command_clearly_and_the_next_call_works() {
    let f = Fixture::new().await;
    let (pool, session) = ready(&f).await;
    let spec = ExecSpec::shell("echo running; kill -KILL $PPID; sleep 1; echo never");
    let err = run(&pool, &f, spec, None)
        .await
        .err()
        .expect("the command fails");
    assert!(
        matches!(err, TransportError::AgentLost { started: true, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("stopped while this ran") && text.contains("killed by SIGKILL"),
        "{text}"
    );
    let next = run(&pool, &f, ExecSpec::shell("echo fine"), None).await;
    assert_eq!(stdout(&next.unwrap()), "fine\n");
    assert!(session.agent_ready(READY).await, "the agent came back");
    let via = run(&pool, &f, ExecSpec::shell("cat /proc/$PPID/comm"), None).await;
    assert_eq!(stdout(&via.unwrap()), "tether-agent\n");
}

#[tokio::test]
async fn files_are_read_written_and_stated_through_the_agent() {
    let f = Fixture::new().await;
    let (pool, _session) = ready(&f).await;
    let agent = pool.agent(&f.endpoint(), &f.key).await.unwrap().unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let create = ["/tmp/a".to_owned(), "/tmp".to_owned(), "/".to_owned()];
    let wrote = agent
        .write(
            "/tmp/a/b/f.bin",
            "/tmp/a/b",
            Some(&create),
            &mut data.as_slice(),
            data.len() as u64,
        )
        .await
        .unwrap();
    assert_eq!(wrote.code, status::OK, "{wrote:?}");
    let mut back = Vec::new();
    let read = agent
        .read("/tmp/a/b/f.bin", u64::MAX, &mut back)
        .await
        .unwrap();
    assert_eq!(read.code, status::OK);
    assert!(back == data, "{} bytes came back", back.len());
    assert_eq!(read.stat, Some(format!("- 81a4 {}", data.len())));
    let small = agent
        .read("/tmp/a/b/f.bin", 10, &mut Vec::new())
        .await
        .unwrap();
    assert_eq!(small.code, status::TOO_LARGE);
    let short = agent
        .write("/tmp/a/b/f.bin", "/tmp/a/b", None, &mut &b"abc"[..], 4)
        .await
        .unwrap();
    assert_eq!(short.code, status::TRUNCATED);
    let missing = agent.stat("/tmp/a/nope").await.unwrap();
    assert_eq!(missing.code, status::NOT_FOUND);
    let dir = agent.stat("/tmp/a").await.unwrap();
    assert!(dir.stat.unwrap().starts_with("- 41ed "));
    let ls = run(&pool, &f, ExecSpec::shell("ls -A /tmp/a/b"), None)
        .await
        .unwrap();
    assert_eq!(stdout(&ls), "f.bin\n", "no temporary file is left behind");
}

#[tokio::test]
async fn the_agent_can_be_turned_off() {
    let f = Fixture::new().await;
    let mut config: TransportConfig = f.config();
    config.agent = false;
    let pool = Pool::new(config).unwrap();
    let session = pool.session(&f.endpoint(), &f.key).await.unwrap();
    assert!(!session.agent_ready(Duration::from_secs(1)).await);
    assert!(pool.agent(&f.endpoint(), &f.key).await.unwrap().is_none());
    let out = run(&pool, &f, ExecSpec::shell("cat /proc/$PPID/comm"), None)
        .await
        .unwrap();
    assert_ne!(stdout(&out), "tether-agent\n");
}
