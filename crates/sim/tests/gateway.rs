//! The gateway and SSH server against a russh client over TLS that verifies the simulator's
//! CA and pins the VM's host key, with VMs booted directly by `tether_sandbox`.
//!
//! Needs the VM init binary: `cargo build -p tether-sandbox --bins` (the workspace test
//! command builds it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "gateway_harness.rs"]
mod harness;

use harness::*;
use russh::Sig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_reports_exit_status_and_keeps_stderr_apart() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let run = exec(&ssh, "echo out; echo err >&2; exit 3").await;
        assert_eq!(
            (run.stdout(), run.stderr(), run.exit),
            ("out\n".into(), "err\n".into(), Exit::Status(3))
        );
        let run = exec(&ssh, "hostname; uname -n").await;
        assert_eq!(run.stdout(), format!("{0}\n{0}\n", vm.id));
        assert_eq!(run.exit, Exit::Status(0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_reports_its_signal_by_name() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let run = exec(&ssh, "echo before; kill -9 $$").await;
        assert_eq!(run.stdout(), "before\n");
        assert_eq!(
            run.exit,
            Exit::Signal {
                name: "KILL".into(),
                core_dumped: false
            }
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_round_trips_through_the_process_with_flow_control() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let input: Vec<u8> = (0..3_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let (mut read, write) = open(&ssh).await;
        within("exec", write.exec(true, "cat")).await.unwrap();
        let sent = input.clone();
        let writer = tokio::spawn(async move {
            write.data(&sent[..]).await.unwrap();
            write.eof().await.unwrap();
            write
        });
        let run = collect(&mut read).await;
        drop(within("stdin writer", writer).await.unwrap());
        assert_eq!(run.exit, Exit::Status(0));
        assert_eq!(run.stdout.len(), input.len());
        assert!(run.stdout == input, "cat returned different bytes");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_output_arrives_whole() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let run = exec(&ssh, "head -c 5000000 /dev/zero; echo done >&2").await;
        assert_eq!(
            (run.stdout.len(), run.stderr(), run.exit),
            (5_000_000, "done\n".into(), Exit::Status(0))
        );
        assert!(run.stdout.iter().all(|b| *b == 0));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_is_clean_and_carries_env_requests() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("env", write.set_env(true, "TETHER_GREETING", "hello there")).await.unwrap();
        assert!(reply(&mut read).await, "env request refused");
        let script = r#"echo "$TETHER_GREETING"; echo "$HOME|$USER|$LOGNAME|$SHELL|$PATH"; pwd; echo "${SSH_CONNECTION%% *}"; env"#;
        within("exec", write.exec(true, script)).await.unwrap();
        let run = collect(&mut read).await;
        assert_eq!(run.exit, Exit::Status(0), "{}", run.stderr());
        let out = run.stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "hello there",
                "/root|root|root|/bin/bash|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "/root",
                "127.0.0.1",
            ]
        );
        let leaked: Vec<&&str> = lines[4..].iter().filter(|l| l.starts_with("CARGO") || l.starts_with("RUST")).collect();
        assert!(leaked.is_empty(), "the simulator's environment leaked into the VM: {leaked:?}");
        assert!(!out.contains("TERM="), "TERM set without a terminal:\n{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_session_runs_a_login_shell_with_the_requested_size() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("pty", write.request_pty(true, "xterm-256color", 100, 30, 0, 0, &[])).await.unwrap();
        assert!(reply(&mut read).await, "pty request refused");
        within("shell", write.request_shell(true)).await.unwrap();
        within("input", write.data(&b"stty size; echo TERM=$TERM; tty; shopt -q login_shell && echo LOGIN; exit 7\n"[..]))
            .await
            .unwrap();
        let run = collect(&mut read).await;
        let out = run.stdout();
        assert!(out.contains("30 100"), "{out}");
        assert!(out.contains("TERM=xterm-256color"), "{out}");
        assert!(out.contains("/dev/pts/"), "{out}");
        assert!(out.contains("LOGIN"), "{out}");
        assert_eq!(run.exit, Exit::Status(7), "{out}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_change_resizes_the_terminal() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("pty", write.request_pty(true, "vt100", 80, 24, 0, 0, &[]))
            .await
            .unwrap();
        let script = "trap 'stty size; exit 5' WINCH; echo ready; while :; do sleep 0.05; done";
        within("exec", write.exec(true, script)).await.unwrap();
        let first = read_until(&mut read, "ready").await;
        within("window change", write.window_change(120, 40, 0, 0))
            .await
            .unwrap();
        let rest = collect(&mut read).await;
        assert!(
            rest.stdout().contains("40 120"),
            "{}{}",
            first.stdout(),
            rest.stdout()
        );
        assert_eq!(rest.exit, Exit::Status(5));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signal_requests_reach_the_process_group() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("exec", write.exec(true, "sleep 60")).await.unwrap();
        assert!(reply(&mut read).await, "exec refused");
        within("signal", write.signal(Sig::TERM)).await.unwrap();
        let run = collect(&mut read).await;
        assert_eq!(
            run.exit,
            Exit::Signal {
                name: "TERM".into(),
                core_dumped: false
            }
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_processes_survive_the_client_leaving() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let run = exec(&ssh, "nohup sleep 300 >/dev/null 2>&1 & echo $!").await;
        let pid = run.stdout().trim().to_owned();
        assert!(pid.parse::<u32>().is_ok(), "no pid: {run:?}");
        ssh.disconnect(russh::Disconnect::ByApplication, "bye", "en")
            .await
            .unwrap();
        let ssh = connect(h, &vm).await;
        let run = exec(&ssh, &format!("kill -0 {pid} && echo alive")).await;
        assert_eq!(run.stdout(), "alive\n", "{}", run.stderr());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_session_is_hung_up_when_the_client_leaves() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("pty", write.request_pty(true, "vt100", 80, 24, 0, 0, &[]))
            .await
            .unwrap();
        within("exec", write.exec(true, "echo pid=$$; exec sleep 300"))
            .await
            .unwrap();
        let out = read_until(&mut read, "\n").await.stdout();
        let pid = out.trim().strip_prefix("pid=").unwrap().to_owned();
        ssh.disconnect(russh::Disconnect::ByApplication, "bye", "en")
            .await
            .unwrap();
        let ssh = connect(h, &vm).await;
        let run = exec(
            &ssh,
            &format!("while kill -0 {pid} 2>/dev/null; do sleep 0.05; done; echo gone"),
        )
        .await;
        assert_eq!(run.stdout(), "gone\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vm_paused_while_connected_refuses_new_channels_and_commands() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        h.directory.set_paused(&vm.id, true);
        assert!(
            within("channel open", ssh.channel_open_session())
                .await
                .is_err()
        );
        within("exec", write.exec(true, "echo should not run"))
            .await
            .unwrap();
        let run = answer(&mut read).await;
        assert!(run.refused, "exec on a paused VM was accepted: {run:?}");
        assert!(run.stderr().contains("paused"), "{}", run.stderr());
        assert_eq!(run.stdout(), "");
        h.directory.set_paused(&vm.id, false);
        assert_eq!(exec(&ssh, "echo back").await.stdout(), "back\n");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_root_with_the_vms_key_may_log_in() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let (_, ok) = login(h, &vm, "root", &new_key()).await;
        assert!(!ok, "a foreign key logged in");
        let (_, ok) = login(h, &vm, "alice", &vm.client_key).await;
        assert!(!ok, "a user other than root logged in");
        let other = h.boot_vm().await;
        let (_, ok) = login(h, &vm, "root", &other.client_key).await;
        assert!(!ok, "another VM's key logged in");
        let (_, ok) = login(h, &vm, "root", &vm.client_key).await;
        assert!(ok);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_paused_vms_and_foreign_names_get_no_tls_handshake() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let unknown = format!("{}.{VM_DOMAIN}", uuid::Uuid::new_v4());
        for name in [unknown.as_str(), "localhost", "example.com", "127.0.0.1"] {
            let result = within("TLS connect", tls_connect(h.addr, h.tls_client(), name)).await;
            assert!(result.is_err(), "TLS to {name} succeeded");
        }
        h.directory.set_paused(&vm.id, true);
        let result = within(
            "TLS connect",
            tls_connect(h.addr, h.tls_client(), &vm.host()),
        )
        .await;
        assert!(result.is_err(), "TLS to a paused VM succeeded");
        h.directory.set_paused(&vm.id, false);
        let result = within(
            "TLS connect",
            tls_connect(h.addr, h.tls_client(), &vm.host()),
        )
        .await;
        assert!(result.is_ok(), "TLS to a running VM failed: {result:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trusting_another_ca_refuses_the_gateway() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let other_dir = TempDir::new("tether-other-ca");
        let other =
            tether_sim::ca::CertificateAuthority::load_or_create(&other_dir.0, VM_DOMAIN).unwrap();
        let result = within(
            "TLS connect",
            tls_connect(h.addr, tls_client_trusting(&other), &vm.host()),
        )
        .await;
        let Err(error) = result else {
            panic!("TLS verified against the wrong CA")
        };
        let tls_error = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        assert!(
            matches!(
                tls_error,
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            ),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_subsystems_are_refused_with_a_reason() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("subsystem", write.request_subsystem(true, "nope"))
            .await
            .unwrap();
        let run = answer(&mut read).await;
        assert!(run.refused, "unknown subsystem accepted");
        assert!(run.stderr().contains("only \"sftp\""), "{}", run.stderr());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_on_the_terminal_interrupts_the_foreground_process() {
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let ssh = connect(h, &vm).await;
        let (mut read, write) = open(&ssh).await;
        within("pty", write.request_pty(true, "vt100", 80, 24, 0, 0, &[]))
            .await
            .unwrap();
        // One long foreground process and no trap: a shell trap on INT around a loop of
        // short children races (a child that exits normally as ^C lands makes the shell
        // assume it handled the signal and skip the trap).
        within("exec", write.exec(true, "echo ready; exec sleep 600"))
            .await
            .unwrap();
        read_until(&mut read, "ready").await;
        within("ctrl-c", write.data(&b"\x03"[..])).await.unwrap();
        let run = collect(&mut read).await;
        assert_eq!(
            run.exit,
            Exit::Signal {
                name: "INT".into(),
                core_dumped: false
            },
            "{run:?}"
        );
    })
    .await;
}
