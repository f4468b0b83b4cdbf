//! The one writer to the host, shared by every thread that reports something.

use std::io::Write;
use std::sync::{Arc, Mutex};
use tether_guest_proto::{Event, write_frame};

/// Sends events; a frame is written whole under the lock, so threads never interleave.
#[derive(Clone)]
pub(crate) struct Outbox {
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl Outbox {
    pub(crate) fn new(writer: impl Write + Send + 'static) -> Self {
        Self {
            writer: Arc::new(Mutex::new(Box::new(writer))),
        }
    }

    /// Sends everything from now on to `writer` (a new session's).
    pub(crate) fn replace(&self, writer: impl Write + Send + 'static) {
        *self.lock() = Box::new(writer);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn Write + Send>> {
        match self.writer.lock() {
            Ok(writer) => writer,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Sends one event. A host that went away loses it: the reader notices the end of the
    /// stream and tears the session down, so the error is only logged.
    pub(crate) fn send(&self, event: &Event, payload: &[u8]) {
        let mut writer = self.lock();
        if let Err(e) = write_frame(&mut *writer, event, payload) {
            eprintln!("tether-guest: sending {event:?}: {e}");
        }
    }
}
