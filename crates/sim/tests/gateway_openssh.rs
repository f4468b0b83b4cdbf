//! The gateway against the real OpenSSH client and `openssl s_client`, as the Vers tutorial
//! connects: `ssh` (and `sftp`) with a ProxyCommand that opens TLS with the VM's name as SNI.
//!
//! Skips (with a printed reason) where `ssh`, `sftp` or `openssl` is missing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "gateway_harness.rs"]
mod harness;

use std::path::Path;
use std::process::Stdio;

use harness::*;

/// What an OpenSSH program did.
#[derive(Debug)]
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Whether the OpenSSH and OpenSSL programs are installed; prints why not.
fn tools_present() -> bool {
    let missing: Vec<&str> = ["ssh", "sftp", "openssl"]
        .into_iter()
        .filter(|tool| {
            let found = std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status();
            !found.is_ok_and(|s| s.success())
        })
        .collect();
    if !missing.is_empty() {
        println!("skipping: {missing:?} not installed (apt-get install openssh-client openssl)");
    }
    missing.is_empty()
}

/// The tutorial's ProxyCommand, pointed at the test gateway.
fn tutorial_proxy(h: &Harness) -> String {
    format!(
        "ProxyCommand=openssl s_client -connect {} -servername %h -quiet",
        h.addr
    )
}

/// A ProxyCommand that verifies the gateway's certificate against `ca_file`.
fn verifying_proxy(h: &Harness, ca_file: &Path) -> String {
    format!(
        "ProxyCommand=openssl s_client -connect {} -servername %h -quiet -verify_return_error -verify_hostname %h -CAfile {}",
        h.addr,
        ca_file.display()
    )
}

/// The tutorial's command, unchanged but for the gateway address.
fn tutorial_argv(h: &Harness, key: &Path, host: &str, remote: &str) -> Vec<String> {
    let mut argv: Vec<String> = vec!["ssh".into(), "-i".into(), key.display().to_string()];
    for option in [
        "StrictHostKeyChecking=no".into(),
        "UserKnownHostsFile=/dev/null".into(),
        tutorial_proxy(h),
    ] {
        argv.extend(["-o".into(), option]);
    }
    argv.extend([format!("root@{host}"), remote.into()]);
    argv
}

/// Options for non-interactive runs: no prompts, only the given key, quiet.
fn batch_options(proxy: String) -> Vec<String> {
    let options = [
        "StrictHostKeyChecking=no".into(),
        "UserKnownHostsFile=/dev/null".into(),
        "BatchMode=yes".into(),
        "IdentitiesOnly=yes".into(),
        "LogLevel=ERROR".into(),
        proxy,
    ];
    options
        .into_iter()
        .flat_map(|option| ["-o".to_owned(), option])
        .collect()
}

async fn run(argv: &[String]) -> Output {
    run_with_stdin(argv, b"").await
}

/// Runs `argv` with `stdin` as its input, within the step deadline.
async fn run_with_stdin(argv: &[String], stdin: &[u8]) -> Output {
    use tokio::io::AsyncWriteExt;
    let mut command = tokio::process::Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
    });
    let output = within(&format!("`{}`", argv.join(" ")), child.wait_with_output())
        .await
        .unwrap();
    feeder.await.unwrap();
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_command_reaches_the_vm() {
    if !tools_present() {
        return;
    }
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let key = h.key_file(&vm);
        let out = run(&tutorial_argv(h, &key, &vm.host(), "uname -a")).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        let fields: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(
            fields.get(..2),
            Some(&["Linux", vm.id.as_str()][..]),
            "{out:?}"
        );
        let out = run(&tutorial_argv(
            h,
            &key,
            &vm.host(),
            "echo to-stderr >&2; exit 42",
        ))
        .await;
        assert_eq!(out.code, Some(42), "{out:?}");
        assert!(out.stderr.contains("to-stderr"), "{out:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_verifies_the_gateway_against_the_simulators_ca_only() {
    if !tools_present() {
        return;
    }
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let key = h.key_file(&vm);
        let ssh = |proxy: String| {
            let mut argv = vec!["ssh".to_owned(), "-i".to_owned(), key.display().to_string()];
            argv.extend(batch_options(proxy));
            argv.extend([format!("root@{}", vm.host()), "hostname".to_owned()]);
            argv
        };
        let out = run(&ssh(verifying_proxy(h, h.ca.ca_cert_path()))).await;
        assert_eq!(
            (out.code, out.stdout.trim()),
            (Some(0), vm.id.as_str()),
            "{out:?}"
        );
        let other_dir = TempDir::new("tether-other-ca");
        let other =
            tether_sim::ca::CertificateAuthority::load_or_create(&other_dir.0, VM_DOMAIN).unwrap();
        let out = run(&ssh(verifying_proxy(h, other.ca_cert_path()))).await;
        assert_eq!(
            out.code,
            Some(255),
            "connected through a CA the client does not trust: {out:?}"
        );
        assert!(out.stderr.contains("verify"), "{out:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_and_unknown_vms_are_refused() {
    if !tools_present() {
        return;
    }
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let wrong_key = h.dir.0.join("wrong.key");
        write_key(&wrong_key, &new_key());
        let ssh = |key: &Path, host: &str| {
            let mut argv = vec!["ssh".to_owned(), "-i".to_owned(), key.display().to_string()];
            argv.extend(batch_options(tutorial_proxy(h)));
            argv.extend([format!("root@{host}"), "true".to_owned()]);
            argv
        };
        let out = run(&ssh(&wrong_key, &vm.host())).await;
        assert_eq!(out.code, Some(255), "{out:?}");
        assert!(out.stderr.contains("Permission denied"), "{out:?}");
        let unknown = format!("{}.{VM_DOMAIN}", uuid::Uuid::new_v4());
        let out = run(&ssh(&h.key_file(&vm), &unknown)).await;
        assert_eq!(out.code, Some(255), "{out:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_round_trips_binary_files_and_cannot_reach_the_host() {
    if !tools_present() {
        return;
    }
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let key = h.key_file(&vm);
        let local = TempDir::new("tether-sftp-local");
        let blob: Vec<u8> = (0..1_500_000u32)
            .map(|i| (i.wrapping_mul(2_246_822_519) >> 23) as u8)
            .collect();
        std::fs::write(local.0.join("in.bin"), &blob).unwrap();
        let host_only = TempDir::new("tether-host-only");
        std::fs::write(host_only.0.join("secret"), b"host secret").unwrap();
        let secret = host_only.0.join("secret");
        let secret = secret.display();
        let dir_name = host_only
            .0
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let l = local.0.display();
        let batch = format!(
            "put {l}/in.bin /root/blob.bin\n\
             get /root/blob.bin {l}/out.bin\n\
             -get {secret} {l}/leak1\n\
             cd /\n\
             -cd ..\n\
             -cd ../../..\n\
             pwd\n\
             -get ../../..{secret} {l}/leak2\n\
             symlink {secret} /root/link\n\
             -get /root/link {l}/leak3\n\
             symlink / /root/up\n\
             -get /root/up/../..{secret} {l}/leak4\n\
             ls -a /\n\
             ls -a /tmp\n"
        );
        std::fs::write(local.0.join("batch"), batch).unwrap();
        let mut argv = vec![
            "sftp".to_owned(),
            "-i".to_owned(),
            key.display().to_string(),
        ];
        argv.extend(batch_options(tutorial_proxy(h)));
        argv.extend([
            "-b".to_owned(),
            local.0.join("batch").display().to_string(),
            format!("root@{}", vm.host()),
        ]);
        let out = run(&argv).await;
        assert_eq!(out.code, Some(0), "{out:?}");
        assert!(
            std::fs::read(local.0.join("out.bin")).unwrap() == blob,
            "sftp get returned different bytes"
        );
        for leak in ["leak1", "leak2", "leak3", "leak4"] {
            assert!(
                !local.0.join(leak).exists(),
                "{leak}: sftp read a host-only file\n{out:?}"
            );
        }
        assert!(
            out.stdout.contains("Remote working directory: /\n"),
            "{out:?}"
        );
        let tmp_listing = out.stdout.rsplit("sftp> ls -a /tmp\n").next().unwrap();
        assert!(
            tmp_listing.contains("/tmp/.") && !tmp_listing.contains(&dir_name),
            "the VM's /tmp is not its own: {tmp_listing}"
        );
        let stat = vm.vm.fs().stat("/root/blob.bin").await.unwrap();
        assert_eq!(stat.size, blob.len() as u64);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_with_a_forced_terminal_gets_an_interactive_login_shell() {
    if !tools_present() {
        return;
    }
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let key = h.key_file(&vm);
        let mut argv = vec![
            "ssh".to_owned(),
            "-tt".to_owned(),
            "-i".to_owned(),
            key.display().to_string(),
        ];
        argv.extend(batch_options(tutorial_proxy(h)));
        argv.push(format!("root@{}", vm.host()));
        let input = b"echo tty=$(tty) size=$(stty size); exit 4\n";
        let out = run_with_stdin(&argv, input).await;
        assert_eq!(out.code, Some(4), "{out:?}");
        assert!(out.stdout.contains("tty=/dev/pts/"), "{out:?}");
        assert!(out.stdout.contains("size=24 80"), "{out:?}");
    })
    .await;
}

/// `ssh -W host:port`: a direct-tcpip channel, stdin and stdout bridged to the port.
fn forward_argv(h: &Harness, key: &Path, vm: &TestVm, to: &str) -> Vec<String> {
    let mut argv = tutorial_argv(h, key, &vm.host(), "");
    argv.pop();
    argv.splice(1..1, ["-W".to_owned(), to.to_owned()]);
    argv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_dash_w_forwards_to_loopback_with_half_close_and_nowhere_else() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !tools_present() {
        return;
    }
    with_harness(async |h| {
        let vm = h.boot_vm().await;
        let key = h.key_file(&vm);
        // On the loopback the simulator's VMs share: reads to EOF, then answers and closes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            socket.read_to_end(&mut got).await.unwrap();
            socket.write_all(&got.to_ascii_uppercase()).await.unwrap();
        });
        let to = format!("localhost:{port}");
        let out = run_with_stdin(&forward_argv(h, &key, &vm, &to), b"after eof").await;
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "AFTER EOF"),
            "{out:?}"
        );
        within("the forwarded-to server", server).await.unwrap();

        let out = run(&forward_argv(h, &key, &vm, "10.1.2.3:80")).await;
        assert_ne!(out.code, Some(0), "{out:?}");
        assert!(
            out.stderr.contains("administratively prohibited")
                && out.stderr.contains("forwards only to loopback"),
            "{out:?}"
        );
    })
    .await;
}
