//! Spawning: output, exit codes, signals, stdin, terminals, background processes, errors.

use std::time::Duration;

use tether_sandbox::{Command, ExitStatus, PtySize, SandboxError, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{PATH, eventually, ok, run, sh, with_vm};

#[tokio::test]
async fn the_hostname_is_the_vm_id() {
    with_vm("vm-hostname-1", |vm| async move {
        assert_eq!(ok(&vm, "uname -n").await, "vm-hostname-1\n");
        assert_eq!(ok(&vm, "cat /etc/hostname").await, "vm-hostname-1\n");
        assert!(
            ok(&vm, "cat /etc/hosts")
                .await
                .contains("127.0.1.1\tvm-hostname-1")
        );
        assert_eq!(ok(&vm, "id -u; pwd").await, "0\n/root\n");
    })
    .await;
}

#[tokio::test]
async fn stdout_stderr_and_exit_codes_are_separate() {
    with_vm("vm-exit", |vm| async move {
        let output = run(&vm, "echo out; echo err >&2; exit 3").await;
        assert_eq!(
            (
                output.status,
                output.stdout.as_str(),
                output.stderr.as_str()
            ),
            (ExitStatus::Code(3), "out\n", "err\n")
        );
        let killed = run(&vm, "kill -9 $$").await;
        assert_eq!(
            killed.status,
            ExitStatus::Signal {
                signal: 9,
                core_dumped: false
            }
        );
    })
    .await;
}

#[tokio::test]
async fn a_signal_reaches_the_whole_process_group() {
    with_vm("vm-signal", |vm| async move {
        let mut process = vm.spawn(sh("sleep 1000 & wait")).await.unwrap();
        let mut stdout = process.stdout.take().unwrap();
        process.signaller().signal(15).await.unwrap();
        assert_eq!(
            process.wait().await.unwrap(),
            ExitStatus::Signal {
                signal: 15,
                core_dumped: false
            }
        );
        // The backgrounded sleep was in the same group, so the pipe closes.
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stdout.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        // Signalling a group that is gone is not an error.
        process.signaller().signal(15).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn stdin_round_trips_through_cat_byte_exact() {
    with_vm("vm-stdin", |vm| async move {
        let input: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut command = sh("");
        command.argv = vec!["cat".into()];
        let mut process = vm.spawn(command).await.unwrap();
        let (mut stdin, mut stdout) = (
            process.stdin.take().unwrap(),
            process.stdout.take().unwrap(),
        );
        let sent = input.clone();
        let writer = tokio::spawn(async move {
            stdin.write_all(&sent).await.unwrap();
            drop(stdin); // EOF
        });
        let mut echoed = Vec::new();
        stdout.read_to_end(&mut echoed).await.unwrap();
        writer.await.unwrap();
        assert_eq!(process.wait().await.unwrap(), ExitStatus::Code(0));
        assert!(
            echoed == input,
            "cat echoed {} bytes that differ from the {} sent",
            echoed.len(),
            input.len()
        );
    })
    .await;
}

#[tokio::test]
async fn a_terminal_is_the_controlling_tty_and_can_be_resized() {
    with_vm("vm-pty", |vm| async move {
        let script = "tty; stty size; read line; stty size; echo got:$line";
        let command = Command {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![
                ("PATH".into(), PATH.into()),
                ("TERM".into(), "xterm".into()),
            ],
            cwd: Some("/tmp".into()),
            stdio: Stdio::Pty(PtySize { rows: 24, cols: 80 }),
        };
        let mut process = vm.spawn(command).await.unwrap();
        let pty = process.pty.take().unwrap();
        let (mut reader, mut writer) = (pty.reader().unwrap(), pty.writer().unwrap());
        let mut seen = String::new();
        read_until(&mut reader, &mut seen, "24 80").await;
        assert!(seen.starts_with("/dev/pts/0"), "tty printed {seen:?}");
        pty.resize(PtySize {
            rows: 50,
            cols: 132,
        })
        .unwrap();
        writer.write_all(b"hello\n").await.unwrap();
        read_until(&mut reader, &mut seen, "got:hello").await;
        assert!(seen.contains("50 132"), "after the resize: {seen:?}");
        assert_eq!(process.wait().await.unwrap(), ExitStatus::Code(0));
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await.unwrap();
    })
    .await;
}

async fn read_until(reader: &mut (impl AsyncReadExt + Unpin), seen: &mut String, needle: &str) {
    let mut buffer = [0u8; 4096];
    while !seen.contains(needle) {
        let n = reader.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the terminal closed before {needle:?}; saw {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
    }
}

#[tokio::test]
async fn a_background_process_outlives_the_command_that_started_it() {
    with_vm("vm-background", |vm| async move {
        let pid = ok(&vm, "nohup sleep 3131 >/dev/null 2>&1 & echo $!").await;
        let pid = pid.trim();
        let cmdline = ok(&vm, &format!("tr '\\0' ' ' < /proc/{pid}/cmdline")).await;
        assert_eq!(cmdline, "sleep 3131 ");
        assert!(ok(&vm, "ps -eo args").await.contains("sleep 3131"));
        // Orphans are reaped by the init: a killed background process leaves no zombie.
        ok(&vm, &format!("kill {pid}")).await;
        let gone = || async {
            run(&vm, &format!("test -e /proc/{pid}")).await.status == ExitStatus::Code(1)
        };
        eventually(
            "the killed sleep to be reaped",
            Duration::from_secs(10),
            gone,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn spawn_errors_name_what_failed() {
    with_vm("vm-spawn-errors", |vm| async move {
        let mut missing = sh("");
        missing.argv = vec!["no-such-program".into()];
        match vm.spawn(missing).await {
            Err(SandboxError::Spawn { program, source }) => {
                assert_eq!(program, "no-such-program");
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
            }
            other => panic!("expected a spawn error, got {:?}", other.map(|p| p.pid)),
        }
        let mut bad_cwd = sh("true");
        bad_cwd.cwd = Some("/no/such/dir".into());
        let error = vm.spawn(bad_cwd).await.err().unwrap();
        assert!(error.to_string().contains("working directory"), "{error}");
        // The lookup uses the command's PATH, not the host's.
        let mut no_path = sh("true");
        no_path.env = vec![("PATH".into(), "/nowhere".into())];
        assert!(matches!(
            vm.spawn(no_path).await,
            Err(SandboxError::Spawn { .. })
        ));
    })
    .await;
}
