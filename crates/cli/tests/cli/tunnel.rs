//! `tether tunnel`: local ports forwarded to a server in a VM (bytes exact, concurrent
//! connections, a large body), failed connections reported while the tunnel goes on, refused
//! destinations, a local port in use, and nothing left running afterwards.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tether_testkit::{STEP_DEADLINE, within};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout};

use crate::Env;

/// An HTTP server in the VM serving `argv[1]` on 127.0.0.1 (port `argv[2]`, or a free one).
/// Prints "PORT PID" once listening, then lets go of the command's output so `exec` returns.
const HTTP_SERVER: &str = r#"
import functools, http.server, os, sys
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
print(server.server_address[1], os.getpid(), flush=True)
null = os.open(os.devnull, os.O_RDWR); os.dup2(null, 1); os.dup2(null, 2)
server.serve_forever()
"#;

/// How long a refused connection through the tunnel may take to be closed.
const PROMPTLY: Duration = Duration::from_secs(15);

/// Starts [`HTTP_SERVER`] in `vm` serving `dir` and returns its port and pid.
async fn http_server(env: &Env, vm: &str, dir: &str, port: Option<u16>) -> (u16, String) {
    let port = port.map_or_else(String::new, |p| p.to_string());
    let script =
        format!("cat > /tmp/tunnel_server.py; python3 /tmp/tunnel_server.py {dir} {port} &");
    let started = env
        .run_with_stdin(&["exec", vm, "--", &script], HTTP_SERVER.as_bytes())
        .await;
    let (port, pid) = started
        .ok()
        .split_once(' ')
        .unwrap_or_else(|| panic!("the server did not start: {started:?}"));
    (port.parse().unwrap(), pid.to_owned())
}

/// A running `tether tunnel`, its output lines, and what it printed per forward.
struct Tunnel {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: Lines<BufReader<ChildStderr>>,
}

impl Tunnel {
    async fn start(env: &Env, args: &[&str]) -> Tunnel {
        let mut command = env.command(&[&["tunnel"], args].concat());
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        Tunnel {
            stdout: BufReader::new(child.stdout.take().unwrap()).lines(),
            stderr: BufReader::new(child.stderr.take().unwrap()).lines(),
            child,
        }
    }

    /// The next forward line: `127.0.0.1:PORT -> VM <id>:<remote>`; returns the local address.
    async fn forward(&mut self, vm: &str, remote: &str) -> SocketAddr {
        let line = within(STEP_DEADLINE, "the tunnel's forward line", async {
            Ok(self.stdout.next_line().await?)
        })
        .await
        .unwrap()
        .unwrap_or_default();
        let (local, rest) = line
            .split_once(" -> ")
            .unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(rest, format!("VM {vm}:{remote}"));
        let local: SocketAddr = local.parse().unwrap();
        assert!(local.ip().is_loopback() && local.port() != 0, "{line}");
        local
    }

    /// Reads stderr until a line contains `text`; returns that line.
    async fn stderr_line(&mut self, text: &str) -> String {
        within(
            STEP_DEADLINE,
            &format!("the tunnel to say {text:?}"),
            async {
                loop {
                    match self.stderr.next_line().await? {
                        Some(line) if line.contains(text) => return Ok(line),
                        Some(_) => {}
                        None => anyhow::bail!("the tunnel's stderr ended"),
                    }
                }
            },
        )
        .await
        .unwrap()
    }

    /// Sends `signal` and waits for the tunnel to exit: after SIGTERM at once, with 0,
    /// saying it closed.
    async fn end(mut self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id().unwrap()).unwrap());
        kill(pid, signal).unwrap();
        let status = within(
            STEP_DEADLINE,
            &format!("the tunnel to exit after {signal}"),
            async { Ok(self.child.wait().await?) },
        )
        .await
        .unwrap();
        if signal == Signal::SIGTERM {
            assert_eq!(status.code(), Some(0), "{status}");
            self.stderr_line("tether: tunnel closed").await;
        }
    }
}

/// Waits until the number of established TCP connections to or from 127.0.0.1:`port` (this
/// machine's loopback, which the simulator's VMs share) passes `check`.
async fn connections_to(port: u16, check: impl Fn(usize) -> bool, what: &str) {
    let port = format!("0100007F:{port:04X}");
    let count = || {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        table
            .lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                Some((*fields.get(1)?, *fields.get(2)?, *fields.get(3)?))
            })
            .filter(|(local, remote, state)| *state == "01" && (*local == port || *remote == port))
            .count()
    };
    within(STEP_DEADLINE, what, async {
        while !check(count()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    })
    .await
    .unwrap();
}

async fn fetch(local: SocketAddr, path: &str) -> Vec<u8> {
    let url = format!("http://{local}/{path}");
    within(STEP_DEADLINE, &format!("GET {url}"), async {
        let reply = reqwest::get(&url).await?.error_for_status()?;
        Ok(reply.bytes().await?.to_vec())
    })
    .await
    .unwrap()
}

/// Stops the VM's server (`pid`), which must then be gone.
async fn stop_server(env: &Env, vm: &str, pid: &str) {
    env.sh(vm, &format!("kill {pid}")).await;
    nothing_running(env, vm, "tunnel_server.py").await;
}

/// Waits until no process in `vm` has `text` in its command line (a killed one may take a
/// moment to go).
async fn nothing_running(env: &Env, vm: &str, text: &str) {
    let what = format!("{text} to be gone from {vm}");
    let gone = within(STEP_DEADLINE, &what, async {
        loop {
            let processes = env.sh(vm, "ps -eo args").await;
            if !processes.contains(text) {
                return Ok(());
            }
        }
    });
    gone.await.unwrap();
}

#[tokio::test]
async fn a_tunnel_serves_a_vm_http_server_byte_exact_and_concurrently() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(env.home.path().join("big.bin"), &big).unwrap();
    env.sh(
        &vm,
        "mkdir -p /srv && printf 'hello from the VM\\n' > /srv/small.txt",
    )
    .await;
    env.run(&["cp", "big.bin", &format!("vm:{vm}:/srv/big.bin")])
        .await
        .ok();
    let (port, pid) = http_server(&env, &vm, "/srv", None).await;

    let mut tunnel = Tunnel::start(&env, &[&vm, &format!("0:{port}")]).await;
    let local = tunnel.forward(&vm, &port.to_string()).await;
    tunnel.stderr_line("listening on 127.0.0.1 only").await;

    let (small, large) = tokio::join!(fetch(local, "small.txt"), fetch(local, "big.bin"));
    assert_eq!(small, b"hello from the VM\n");
    assert_eq!(large.len(), big.len());
    assert!(large == big, "the large body differs");

    // A connection held open through the tunnel ends on the VM's side when the tunnel dies.
    connections_to(port, |n| n == 0, "the fetches' connections to end").await;
    let mut held = tokio::net::TcpStream::connect(local).await.unwrap();
    held.write_all(b"GET /small.txt HTTP/1.1\r\n")
        .await
        .unwrap();
    connections_to(
        port,
        |n| n > 0,
        "the held connection to reach the VM's server",
    )
    .await;
    tunnel.end(Signal::SIGKILL).await;
    connections_to(
        port,
        |n| n == 0,
        "the VM side of the held connection to end",
    )
    .await;
    stop_server(&env, &vm, &pid).await;
}

#[tokio::test]
async fn failed_connections_are_reported_and_the_tunnel_goes_on() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    env.run(&["use", &vm]).await.ok();
    // A port nothing listens on: bound and closed in the VM's (shared) network.
    let free = env
        .sh(
            &vm,
            "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'",
        )
        .await;
    let mut tunnel = Tunnel::start(&env, &[&free, "0:10.1.2.3:80"]).await;
    let to_free = tunnel.forward(&vm, &free).await;
    let to_elsewhere = tunnel.forward(&vm, "10.1.2.3:80").await;

    for (local, says) in [
        (to_free, format!("nothing listens on localhost:{free}")),
        (to_elsewhere, "forwards only to loopback".to_owned()),
    ] {
        let mut socket = tokio::net::TcpStream::connect(local).await.unwrap();
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(PROMPTLY, socket.read_to_end(&mut rest)).await;
        assert!(matches!(closed, Ok(Ok(0)) | Ok(Err(_))), "{closed:?}");
        let line = tunnel.stderr_line(&says).await;
        assert!(line.contains(&format!("to VM {vm}:")), "{line}");
    }

    // Still serving: a server started there now is reached through the same forward.
    env.sh(&vm, "mkdir -p /srv && echo late > /srv/late.txt")
        .await;
    let (_, pid) = http_server(&env, &vm, "/srv", Some(free.parse().unwrap())).await;
    assert_eq!(fetch(to_free, "late.txt").await, b"late\n");

    tunnel.end(Signal::SIGTERM).await;
    stop_server(&env, &vm, &pid).await;
}

#[tokio::test]
async fn a_local_port_in_use_is_an_error() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let run = env.run(&["tunnel", &vm, &format!("{port}:3000")]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!(
            "local port {port} is already in use on 127.0.0.1; pick another LOCAL port"
        )),
        "{run:?}"
    );
    let bad = env.run(&["tunnel", &vm, "3000:x:y"]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("give [LOCAL:][HOST:]PORT"), "{bad:?}");
}

#[tokio::test]
async fn the_tunnel_reconnects_when_its_connection_drops() {
    let mut env = Env::start().await;
    let vm = env.new_vm().await;
    env.sh(&vm, "mkdir -p /srv && echo one > /srv/n.txt").await;
    let (port, _) = http_server(&env, &vm, "/srv", None).await;
    let mut tunnel = Tunnel::start(&env, &[&vm, &port.to_string()]).await;
    let local = tunnel.forward(&vm, &port.to_string()).await;
    assert_eq!(fetch(local, "n.txt").await, b"one\n");

    // The simulator restarts: the VM's connection is gone, and the VM comes back as after a
    // reboot, so its server is started again (same port).
    env.sim.restart().await.unwrap();
    let (_, pid) = http_server(&env, &vm, "/srv", Some(port)).await;
    assert_eq!(fetch(local, "n.txt").await, b"one\n");

    tunnel.end(Signal::SIGTERM).await;
    stop_server(&env, &vm, &pid).await;
}
