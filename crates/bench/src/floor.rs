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
