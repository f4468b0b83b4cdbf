//! The network's floor: a 1-byte TCP round trip to an echo server, through a relay with the
//! same delay as the network under test. No client can answer faster than this.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tether_testkit::Relay;

use crate::Samples;

/// How long one echo may take before the measurement fails.
const ECHO_DEADLINE: Duration = Duration::from_secs(10);

/// `n` round trips of one byte over a network with round-trip time `rtt` (zero = loopback).
pub async fn tcp_round_trips(rtt: Duration, n: usize) -> anyhow::Result<Samples> {
    tokio::task::spawn_blocking(move || measure(rtt, n)).await?
}

fn measure(rtt: Duration, n: usize) -> anyhow::Result<Samples> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let server_addr = listener.local_addr()?;
    let server = std::thread::spawn(move || echo_one(&listener));
    // Loopback is measured directly, as tether's loopback runs dial the gateway directly.
    let relay = if rtt.is_zero() {
        None
    } else {
        Some(Relay::start(&server_addr.to_string(), rtt / 2)?)
    };
    let mut stream = TcpStream::connect(relay.as_ref().map_or(server_addr, Relay::addr))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(ECHO_DEADLINE))?;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        stream.write_all(b"x")?;
        let mut byte = [0u8];
        stream
            .read_exact(&mut byte)
            .context("no echo through the relay")?;
        times.push(start.elapsed());
    }
    stream.shutdown(Shutdown::Write)?;
    match server.join() {
        Ok(result) => result?,
        Err(_) => bail!("the echo server panicked"),
    }
    Ok(Samples::from_times(times))
}

/// Echoes one connection until it ends.
fn echo_one(listener: &TcpListener) -> anyhow::Result<()> {
    let (mut stream, _) = listener.accept()?;
    stream.set_nodelay(true)?;
    let mut reader = stream.try_clone()?;
    std::io::copy(&mut reader, &mut stream)?;
    Ok(())
}

/// Keeps `$ARGV[0]` runs of `bash -c 'echo hi'` in flight until `$ARGV[1]` have ended, each
/// forked and exec'd as the agent does it, output to /dev/null.
const PROCESS_STARTS: &str = r#"
my ($flights, $total) = @ARGV;
my ($running, $ended) = (0, 0);
while ($ended < $total) {
    while ($running < $flights && $ended + $running < $total) {
        my $pid = fork // die "fork: $!\n";
        if (!$pid) {
            open(STDOUT, '>', '/dev/null');
            exec { 'bash' } 'bash', '-c', 'echo hi';
            exit 127;
        }
        $running++;
    }
    wait;
    die "bash ended with status $?\n" if $?;
    ($running, $ended) = ($running - 1, $ended + 1);
}
"#;

/// The host's ceiling for commands that each start one process: `total` runs of
/// `bash -c 'echo hi'` forked and exec'd by a local Perl loop (as the agent starts them),
/// `flights` at a time, with no network, no SSH and no agent protocol in between. Returns how
/// long they took.
pub async fn local_process_starts(flights: usize, total: usize) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let run = tokio::process::Command::new("perl")
        .args([
            "-e",
            PROCESS_STARTS,
            &flights.to_string(),
            &total.to_string(),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .context("could not run perl on this host")?;
    if !run.status.success() {
        bail!(
            "the local process-start loop failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    Ok(start.elapsed())
}
