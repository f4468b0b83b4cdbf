//! The agent's channel: one task reads frames and hands each to its request, one writes the
//! requests' frames (control frames before bulk data), and a registry of live requests.
//!
//! Flow control is per request, so no request can stall another or fill memory: the agent
//! sends a request's output only within the credit tether gave it (returned as the output is
//! consumed), and tether sends a request's input only within the credit the agent gave it
//! (returned as the agent consumes it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::wire::{self, Decoder, End, Hello};
use crate::Stream;

/// Requests in flight on one agent at most (each command holds three descriptors there).
const MAX_REQUESTS: usize = 256;
/// Bytes of queued frames written to the channel at once.
const BATCH: usize = 256 * 1024;
/// Bytes of the agent's own standard error kept for messages.
const WHY_KEPT: usize = 2048;

/// What a request hears from the agent.
#[derive(Debug)]
pub(crate) enum Event {
    /// Output of a command, or data of a file being read.
    Out(Stream, Bytes),
    /// A stat line.
    Stat(String),
    /// The end.
    End(End),
}

/// A live request's entry: where its events go, and its input credit.
struct Slot {
    events: mpsc::UnboundedSender<Event>,
    input: Arc<Semaphore>,
}

/// What the reader and the requests share.
#[derive(Default)]
struct Shared {
    live: Mutex<Option<HashMap<u32, Slot>>>,
    /// The agent's last words: its standard error, how it ended.
    why: Mutex<String>,
}

impl Shared {
    fn live(&self) -> std::sync::MutexGuard<'_, Option<HashMap<u32, Slot>>> {
        match self.live.lock() {
            Ok(live) => live,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn note(&self, text: &str) {
        let mut why = match self.why.lock() {
            Ok(why) => why,
            Err(poisoned) => poisoned.into_inner(),
        };
        why.push_str(text);
        if why.len() > WHY_KEPT {
            let cut = why.len() - WHY_KEPT;
            let cut = (cut..why.len())
                .find(|i| why.is_char_boundary(*i))
                .unwrap_or(0);
            why.drain(..cut);
        }
    }

    /// Ends every request: their event queues close and their input credit is gone.
    fn lose(&self) {
        if let Some(live) = self.live().take() {
            for slot in live.into_values() {
                slot.input.close();
            }
        }
    }
}

/// A running agent on one channel.
pub(crate) struct Link {
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Bytes>,
    bulk: mpsc::UnboundedSender<Bytes>,
    permits: Arc<Semaphore>,
    next: Mutex<u32>,
    hello: Hello,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Link {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Link {
    /// Starts the reader and writer of a channel whose agent said `hello`; `decoder` holds
    /// what was read after the hello.
    pub(crate) fn new(
        hello: Hello,
        read: ChannelReadHalf,
        write: ChannelWriteHalf<Msg>,
        decoder: Decoder,
    ) -> Link {
        let shared = Arc::new(Shared {
            live: Mutex::new(Some(HashMap::new())),
            why: Mutex::default(),
        });
        let (control, control_rx) = mpsc::unbounded_channel();
        let (bulk, bulk_rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(read, decoder, shared.clone()));
        let writer = tokio::spawn(write_loop(write, control_rx, bulk_rx, shared.clone()));
        Link {
            shared,
            control,
            bulk,
            permits: Arc::new(Semaphore::new(MAX_REQUESTS)),
            next: Mutex::new(0),
            hello,
            tasks: [reader, writer],
        }
    }

    /// What the agent said about itself.
    pub(crate) fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Whether the channel still runs.
    pub(crate) fn is_alive(&self) -> bool {
        self.shared.live().is_some()
    }

    /// Why the agent went away, as far as it said.
    pub(crate) fn why(&self) -> String {
        let why = match self.shared.why.lock() {
            Ok(why) => why.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let why = why.trim();
        if why.is_empty() {
            "its channel closed".into()
        } else {
            why.to_owned()
        }
    }

    /// A new request whose input credit starts at `window`; `None` when the agent is gone.
    /// `first` builds its first frame from its id; nothing is sent if the agent is gone.
    pub(crate) async fn request(
        self: &Arc<Self>,
        window: u32,
        first: impl FnOnce(u32) -> Bytes,
    ) -> Option<Request> {
        let permit = self.permits.clone().acquire_owned().await.ok()?;
        let (events, receiver) = mpsc::unbounded_channel();
        let input = Arc::new(Semaphore::new(window as usize));
        let id = {
            let mut live = self.shared.live();
            let live = live.as_mut()?;
            let id = self.fresh_id(live);
            let slot = Slot {
                events,
                input: input.clone(),
            };
            live.insert(id, slot);
            id
        };
        let request = Request {
            handle: Handle {
                id,
                link: self.clone(),
                input,
            },
            events: Events {
                receiver,
                ended: false,
            },
            _permit: permit,
        };
        request.handle.control(first(id));
        Some(request)
    }

    fn fresh_id(&self, live: &HashMap<u32, Slot>) -> u32 {
        let mut next = match self.next.lock() {
            Ok(next) => next,
            Err(poisoned) => poisoned.into_inner(),
        };
        loop {
            *next = next.wrapping_add(1);
            if *next != 0 && !live.contains_key(&next) {
                return *next;
            }
        }
    }

    fn forget(&self, id: u32) {
        if let Some(live) = self.shared.live().as_mut() {
            live.remove(&id);
        }
    }
}

/// One request on the agent. Dropped before its end, it stops the request on the agent (a
/// command's group is killed after the grace period, its output dropped).
pub(crate) struct Request {
    /// Sends to the agent.
    pub(crate) handle: Handle,
    /// What the agent sends back.
    pub(crate) events: Events,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Request {
    fn drop(&mut self) {
        self.handle.link.forget(self.handle.id);
        if !self.events.ended {
            let grace = u32::try_from(crate::exec::KILL_GRACE.as_millis()).unwrap_or(u32::MAX);
            self.handle.control(wire::stop(self.handle.id, grace, true));
        }
    }
}

/// A request's events.
pub(crate) struct Events {
    receiver: mpsc::UnboundedReceiver<Event>,
    ended: bool,
}

impl Events {
    /// The next event; `None` when the agent went away first.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        let event = self.receiver.recv().await;
        if matches!(event, Some(Event::End(_))) {
            self.ended = true;
        }
        event
    }
}

/// A request's way to the agent.
pub(crate) struct Handle {
    id: u32,
    link: Arc<Link>,
    input: Arc<Semaphore>,
}

impl Handle {
    /// Gives the agent `bytes` more output credit.
    pub(crate) fn grant(&self, bytes: u32) {
        self.control(wire::count(b'g', self.id, bytes));
    }

    /// Sends `data` as input once the agent has room for it; `false` when the agent is gone.
    pub(crate) async fn input(&self, data: &[u8]) -> bool {
        let Ok(len) = u32::try_from(data.len()) else {
            return false;
        };
        match self.input.acquire_many(len).await {
            Ok(permit) => permit.forget(),
            Err(_) => return false,
        }
        self.link
            .bulk
            .send(wire::frame(b'i', self.id, data))
            .is_ok()
    }

    /// Ends the input (after everything sent before).
    pub(crate) fn close_input(&self) {
        let _ = self.link.bulk.send(wire::frame(b'c', self.id, b""));
    }

    /// Stops the request on the agent; its end still arrives.
    pub(crate) fn stop(&self, grace_ms: u32) {
        self.control(wire::stop(self.id, grace_ms, false));
    }

    fn control(&self, frame: Bytes) {
        let _ = self.link.control.send(frame);
    }
}

/// Reads the channel until it ends, handing each frame to its request.
async fn read_loop(mut read: ChannelReadHalf, mut decoder: Decoder, shared: Arc<Shared>) {
    dispatch_all(&mut decoder, &shared);
    while let Some(message) = read.wait().await {
        match message {
            ChannelMsg::Data { data } => {
                decoder.extend(&data);
                dispatch_all(&mut decoder, &shared);
            }
            ChannelMsg::ExtendedData { data, .. } => {
                let text = String::from_utf8_lossy(&data);
                tracing::debug!(agent = %text.trim_end(), "agent stderr");
                shared.note(&text);
            }
            ChannelMsg::ExitStatus { exit_status } => {
                shared.note(&format!(" (it exited with code {exit_status})"));
            }
            ChannelMsg::ExitSignal { signal_name, .. } => {
                let name = crate::exec::signal_name_of(&signal_name);
                shared.note(&format!(" (it was killed by SIG{name})"));
            }
            _ => {}
        }
    }
    shared.lose();
}

fn dispatch_all(decoder: &mut Decoder, shared: &Shared) {
    while let Some(frame) = decoder.next() {
        let mut live = shared.live();
        let Some(live) = live.as_mut() else { return };
        let Some(slot) = live.get(&frame.id) else {
            continue;
        };
        let event = match frame.kind {
            b'o' => Event::Out(Stream::Stdout, frame.body),
            b'e' => Event::Out(Stream::Stderr, frame.body),
            b's' => Event::Stat(String::from_utf8_lossy(&frame.body).into_owned()),
            b'a' => {
                let acked = wire::parse_count(&frame.body).unwrap_or(0);
                slot.input.add_permits(acked as usize);
                continue;
            }
            b'z' => match End::parse(&frame.body) {
                Some(end) => {
                    let _ = slot.events.send(Event::End(end));
                    live.remove(&frame.id);
                    continue;
                }
                None => continue,
            },
            _ => continue,
        };
        let _ = slot.events.send(event);
    }
}

/// Writes queued frames, control before bulk, many at once.
async fn write_loop(
    write: ChannelWriteHalf<Msg>,
    mut control: mpsc::UnboundedReceiver<Bytes>,
    mut bulk: mpsc::UnboundedReceiver<Bytes>,
    shared: Arc<Shared>,
) {
    loop {
        let first = tokio::select! {
            biased;
            Some(frame) = control.recv() => frame,
            Some(frame) = bulk.recv() => frame,
            else => break,
        };
        let mut batch = BytesMut::from(first);
        while batch.len() < BATCH {
            match control.try_recv().or_else(|_| bulk.try_recv()) {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        if write.data_bytes(batch.freeze()).await.is_err() {
            break;
        }
    }
    shared.lose();
}
