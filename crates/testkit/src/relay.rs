//! A TCP relay with an emulated one-way delay, for latency benchmarks and fault tests.
//!
//! The kernels tether is tested on have no `netem`, so the delay is made in user space: every
//! chunk read from one side is stamped with its arrival time and queued, and a writer releases it
//! to the other side at `arrival + delay`. Chunks keep flowing while earlier ones wait, so the
//! relay behaves like a long pipe (throughput is not cut), not like stop-and-wait.
//!
//! The relay runs on plain threads with blocking sockets rather than on the async runtime: a
//! thread sleeps with microsecond precision, while tokio's timer rounds every wait up to the next
//! millisecond, which would add up to 2 ms to every emulated round trip.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Deadline for connecting to the relay's target for each accepted connection.
const TARGET_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from a socket at a time; a queued chunk is at most this big.
const CHUNK: usize = 64 * 1024;
/// Chunks queued per direction before the reading side waits for the writer. Even at the
/// smallest reads this holds far more than a loopback link carries in 10 ms.
const QUEUE_CHUNKS: usize = 4096;

/// A TCP relay on `127.0.0.1:0` in front of a target address, delaying each direction by a
/// fixed one-way delay (so a round trip through it takes at least twice that). `TCP_NODELAY`
/// is set on both sides. Dropping it stops it and drops every connection through it.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

/// What the accepting thread and the connection threads share.
struct Shared {
    target: SocketAddr,
    delay: Duration,
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Sockets of the open connections, for [`Relay::cut`].
    open: Mutex<Vec<Link>>,
}

/// One relayed connection: handles on both of its sockets.
struct Link {
    id: u64,
    client: TcpStream,
    server: TcpStream,
}

/// A chunk on its way through the relay; an empty chunk is the end of the stream.
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
}

impl Relay {
    /// Starts a relay in front of `target` (`host:port`) that delays each direction by
    /// `one_way_delay` (`Duration::ZERO` for none).
    pub fn start(target: &str, one_way_delay: Duration) -> anyhow::Result<Relay> {
        let target = target
            .to_socket_addrs()
            .with_context(|| format!("relay target {target} is not a host:port address"))?
            .next()
            .with_context(|| format!("relay target {target} resolves to no address"))?;
        let listener = TcpListener::bind("127.0.0.1:0").context("the relay could not bind")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            delay: one_way_delay,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            open: Mutex::new(Vec::new()),
        });
        let accepting = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("relay-accept-{addr}"))
            .spawn(move || accept_loop(&listener, &accepting))?;
        Ok(Relay {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The one-way delay of each direction.
    pub fn delay(&self) -> Duration {
        self.shared.delay
    }

    /// How many connections are open through the relay now.
    pub fn open_connections(&self) -> usize {
        self.shared.links().len()
    }

    /// Drops every open connection at once, as a network cut would; returns how many there
    /// were. Both ends see their connection end; new connections are still relayed.
    pub fn cut(&self) -> usize {
        let links = std::mem::take(&mut *self.shared.links());
        for link in &links {
            link.shut();
        }
        links.len()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, TARGET_CONNECT_TIMEOUT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        self.cut();
    }
}

impl Shared {
    fn links(&self) -> MutexGuard<'_, Vec<Link>> {
        match self.open.lock() {
            Ok(links) => links,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Relays one accepted connection until both directions have ended.
    fn serve(&self, client: TcpStream) {
        let Ok(server) = TcpStream::connect_timeout(&self.target, TARGET_CONNECT_TIMEOUT) else {
            return;
        };
        let Ok(link) = Link::new(self.next_id.fetch_add(1, Ordering::Relaxed), client, server)
        else {
            return;
        };
        let (id, ends) = (link.id, link.clone_ends());
        self.links().push(link);
        if self.stopping.load(Ordering::SeqCst)
            && let Some(link) = self.forget(id)
        {
            link.shut();
        }
        if let Ok([client_in, client_out, server_in, server_out]) = ends {
            let delay = self.delay;
            let upstream = std::thread::spawn(move || pipe(client_in, server_out, delay));
            pipe(server_in, client_out, delay);
            let _ = upstream.join();
        }
        self.forget(id);
    }

    fn forget(&self, id: u64) -> Option<Link> {
        let mut links = self.links();
        let at = links.iter().position(|link| link.id == id)?;
        Some(links.swap_remove(at))
    }
}

impl Link {
    fn new(id: u64, client: TcpStream, server: TcpStream) -> std::io::Result<Link> {
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok(Link { id, client, server })
    }

    /// Separate handles for each direction's reader and writer.
    fn clone_ends(&self) -> std::io::Result<[TcpStream; 4]> {
        Ok([
            self.client.try_clone()?,
            self.client.try_clone()?,
            self.server.try_clone()?,
            self.server.try_clone()?,
        ])
    }

    /// Shuts both sockets down, which ends every thread blocked on them.
    fn shut(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let serving = shared.clone();
        let _ = std::thread::Builder::new()
            .name("relay-conn".into())
            .spawn(move || serving.serve(client));
    }
}

/// Copies `from` to `to`, each chunk released `delay` after it arrived; ends `to`'s sending
/// side when `from` ends.
fn pipe(mut from: TcpStream, to: TcpStream, delay: Duration) {
    let (tx, rx) = sync_channel::<Chunk>(QUEUE_CHUNKS);
    let reader = from.try_clone();
    let writer = std::thread::spawn(move || deliver(&rx, to, reader.ok()));
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).unwrap_or(0);
        let chunk = Chunk {
            due: Instant::now() + delay,
            bytes: buf[..n].to_vec(),
        };
        if tx.send(chunk).is_err() || n == 0 {
            break;
        }
    }
    drop(tx);
    let _ = writer.join();
}

/// Writes each chunk to `to` when it is due. When `to` no longer takes bytes, `from` is shut
/// for reading so the reading side stops too.
fn deliver(rx: &Receiver<Chunk>, mut to: TcpStream, from: Option<TcpStream>) {
    for chunk in rx {
        if let Some(wait) = chunk.due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if chunk.bytes.is_empty() {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        if to.write_all(&chunk.bytes).is_err() {
            if let Some(from) = &from {
                let _ = from.shutdown(Shutdown::Read);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// How long a test waits for bytes or for the end of a stream.
    const READ_DEADLINE: Duration = Duration::from_secs(10);

    /// A server for `connections` connections, each handled by `handle` on its own thread.
    fn server(
        connections: usize,
        handle: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = Arc::new(handle);
        let thread = std::thread::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..connections {
                let (stream, _) = listener.accept().unwrap();
                let handle = handle.clone();
                handlers.push(std::thread::spawn(move || handle(stream)));
            }
            for handler in handlers {
                handler.join().unwrap();
            }
        });
        (addr, thread)
    }

    fn echo(mut stream: TcpStream) {
        let mut reader = stream.try_clone().unwrap();
        let _ = std::io::copy(&mut reader, &mut stream);
        let _ = stream.shutdown(Shutdown::Write);
    }

    fn connect(relay: &Relay) -> TcpStream {
        let stream = TcpStream::connect(relay.addr()).unwrap();
        stream.set_read_timeout(Some(READ_DEADLINE)).unwrap();
        stream
    }

    /// Writes one byte and waits for it to come back.
    fn round_trip(stream: &mut TcpStream) -> Duration {
        let start = Instant::now();
        stream.write_all(b"x").unwrap();
        let mut byte = [0u8];
        stream.read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"x");
        start.elapsed()
    }

    fn pattern(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn bytes_pass_unchanged_both_ways() {
        const LEN: usize = 3 << 20;
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let (addr, server) = server(1, move |mut stream| {
            let mut writer = stream.try_clone().unwrap();
            let sending = std::thread::spawn(move || {
                writer.write_all(&pattern(2, LEN)).unwrap();
                writer.shutdown(Shutdown::Write).unwrap();
            });
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            sending.join().unwrap();
            got_tx.send(got).unwrap();
        });
        let relay = Relay::start(&addr.to_string(), Duration::from_millis(2)).unwrap();
        let mut stream = connect(&relay);
        let mut writer = stream.try_clone().unwrap();
        let sending = std::thread::spawn(move || {
            writer.write_all(&pattern(1, LEN)).unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        sending.join().unwrap();
        server.join().unwrap();
        assert!(got == pattern(2, LEN), "server → client bytes differ");
        assert!(
            got_rx.recv().unwrap() == pattern(1, LEN),
            "client → server bytes differ"
        );
    }

    #[test]
    fn a_round_trip_takes_at_least_twice_the_delay() {
        let (addr, server) = server(1, echo);
        let relay = Relay::start(&addr.to_string(), Duration::from_millis(10)).unwrap();
        let mut stream = connect(&relay);
        for _ in 0..5 {
            let rtt = round_trip(&mut stream);
            assert!(rtt >= Duration::from_millis(20), "round trip took {rtt:?}");
        }
        drop(stream);
        server.join().unwrap();
    }

    #[test]
    fn cut_ends_every_open_connection_and_later_ones_still_pass() {
        let (addr, server) = server(3, echo);
        let relay = Relay::start(&addr.to_string(), Duration::ZERO).unwrap();
        let mut streams = [connect(&relay), connect(&relay)];
        for stream in &mut streams {
            round_trip(stream);
        }
        assert_eq!(relay.open_connections(), 2);
        assert_eq!(relay.cut(), 2);
        for stream in &mut streams {
            let mut buf = [0u8; 16];
            // Ok(0) is the end of the stream; a timeout would be an error of kind WouldBlock.
            match stream.read(&mut buf) {
                Ok(0) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                other => panic!("a cut connection still reads: {other:?}"),
            }
        }
        let mut later = connect(&relay);
        round_trip(&mut later);
        drop(later);
        drop(streams);
        server.join().unwrap();
    }
}
