//! `direct-tcpip` forwards on the pooled connection: bytes both ways, half-close, and the
//! refusals (nothing listening, a non-loopback destination) as errors that say what to do.

use std::time::Duration;

use tether_transport::{ExecSpec, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Fixture, run};

/// An echo server in the VM on a free loopback port: it reads until EOF, then answers with
/// everything it read, upper-cased, and closes, noting each connection's end in
/// `/tmp/echo.log`. Prints "PORT PID" once listening, then lets go of the command's output so
/// the command returns.
const ECHO_SERVER: &str = r#"
import os, socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], os.getpid(), flush=True)
null = os.open(os.devnull, os.O_RDWR); os.dup2(null, 1); os.dup2(null, 2)
while True:
    c, _ = s.accept(); data = b""
    while chunk := c.recv(65536): data += chunk
    open("/tmp/echo.log", "a").write(f"{len(data)}\n")
    try: c.sendall(data.upper())
    except OSError: pass
    c.close()
"#;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_forward_carries_bytes_both_ways_and_keeps_reading_after_eof() {
    tokio::time::timeout(DEADLINE, async {
        let f = Fixture::new().await;
        let pool = f.pool();
        let start = ExecSpec {
            stdin: Some(ECHO_SERVER.as_bytes().to_vec()),
            ..ExecSpec::shell("cat > /tmp/echo.py; python3 /tmp/echo.py &")
        };
        let started = run(&pool, &f, start, None).await.unwrap();
        let line = String::from_utf8(started.stdout).unwrap();
        let (port, pid) = line.trim().split_once(' ').unwrap();
        let port: u16 = port.parse().unwrap();

        let sent: Vec<u8> = (0..3_000_000u32)
            .map(|i| b"abcxyz"[i as usize % 6])
            .collect();
        let mut stream = pool
            .direct_tcpip(&f.endpoint(), &f.key, "localhost", port)
            .await
            .unwrap();
        let (mut reader, mut writer) = tokio::io::split(&mut stream);
        let writing = async {
            writer.write_all(&sent).await.unwrap();
            writer.shutdown().await.unwrap();
        };
        let mut received = Vec::new();
        let reading = reader.read_to_end(&mut received);
        let ((), read) = tokio::join!(writing, reading);
        read.unwrap();
        assert_eq!(received.len(), sent.len());
        assert!(received == sent.to_ascii_uppercase(), "the echo differs");

        // A client that goes away without EOF: the VM side sees its connection end.
        let mut dropped = pool
            .direct_tcpip(&f.endpoint(), &f.key, "127.0.0.1", port)
            .await
            .unwrap();
        dropped.write_all(b"gone").await.unwrap();
        dropped.flush().await.unwrap();
        drop(dropped);
        let log = loop {
            let log = run(&pool, &f, ExecSpec::shell("cat /tmp/echo.log"), None)
                .await
                .unwrap();
            if log.stdout.split(|b| *b == b'\n').count() > 2 {
                break log.stdout;
            }
        };
        assert_eq!(String::from_utf8(log).unwrap(), "3000000\n4\n");

        let stopped = run(&pool, &f, ExecSpec::shell(format!("kill {pid}")), None).await;
        assert!(stopped.is_ok());
    })
    .await
    .expect("the forward test finishes within its deadline");
}

#[tokio::test]
async fn refused_forwards_say_why_and_what_to_do() {
    tokio::time::timeout(DEADLINE, async {
        let f = Fixture::new().await;
        let pool = f.pool();
        // A port nothing listens on: bound and closed inside the VM's (shared) network.
        let free = run(
            &pool,
            &f,
            ExecSpec::shell(
                "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'",
            ),
            None,
        )
        .await
        .unwrap();
        let port: u16 = String::from_utf8(free.stdout).unwrap().trim().parse().unwrap();
        let err = pool
            .direct_tcpip(&f.endpoint(), &f.key, "localhost", port)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, TransportError::NothingListening { .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("nothing listens on localhost:{port} in {}", f.vm))
                && message.contains("start the server there"),
            "{message}"
        );

        let err = pool
            .direct_tcpip(&f.endpoint(), &f.key, "10.1.2.3", 80)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, TransportError::ForwardProhibited { .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("the local simulator forwards only to loopback"),
            "{err}"
        );

        // The connection is still good for commands.
        let echoed = run(&pool, &f, ExecSpec::shell("echo ok"), None).await.unwrap();
        assert_eq!(echoed.stdout, b"ok\n");
    })
    .await
    .expect("the refusal test finishes within its deadline");
}
