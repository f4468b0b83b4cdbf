//! Client input on its way to a process.
//!
//! russh re-opens a channel's receive window as soon as a packet is read, not when the process
//! has consumed it, so input cannot be held back per channel. Blocking the connection instead
//! deadlocks filters such as `cat`: the process waits for its output to drain, the output waits
//! for the client's window adjustments, and those wait behind the blocked input. So each
//! channel buffers up to [`STDIN_BUFFER_LIMIT`] bytes without blocking; only a process that
//! leaves more than that unread makes the connection wait.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

/// Unread client input one channel may buffer before the connection waits.
pub(super) const STDIN_BUFFER_LIMIT: usize = 8 * 1024 * 1024;

enum Input {
    Data(Bytes, OwnedSemaphorePermit),
    Eof,
}

/// The session's end: queues input for one process.
pub(super) struct StdinQueue {
    queue: mpsc::UnboundedSender<Input>,
    budget: Arc<Semaphore>,
}

/// The process's end: see [`feed`].
pub(super) struct StdinFeed {
    queue: mpsc::UnboundedReceiver<Input>,
}

/// A connected queue and feed.
pub(super) fn channel() -> (StdinQueue, StdinFeed) {
    let (queue, receiver) = mpsc::unbounded_channel();
    let budget = Arc::new(Semaphore::new(STDIN_BUFFER_LIMIT));
    (StdinQueue { queue, budget }, StdinFeed { queue: receiver })
}

impl StdinQueue {
    /// Queues `data`; waits only while the channel already buffers [`STDIN_BUFFER_LIMIT`].
    pub async fn push(&self, data: &[u8]) {
        if self.queue.is_closed() || data.is_empty() {
            return;
        }
        let size = u32::try_from(data.len().min(STDIN_BUFFER_LIMIT)).unwrap_or(u32::MAX);
        let budget = Arc::clone(&self.budget);
        let permit = tokio::select! {
            permit = budget.acquire_many_owned(size) => permit,
            () = self.queue.closed() => return,
        };
        if let Ok(permit) = permit {
            let _ = self
                .queue
                .send(Input::Data(Bytes::copy_from_slice(data), permit));
        }
    }

    /// The client sends no more input.
    pub fn eof(&self) {
        let _ = self.queue.send(Input::Eof);
    }
}

/// Writes queued input to `sink` until the session drops the queue or a write fails; with
/// `close_on_eof`, stops (closing `sink`) at the client's EOF.
pub(super) async fn feed(
    mut sink: Box<dyn AsyncWrite + Send + Unpin>,
    mut feed: StdinFeed,
    close_on_eof: bool,
) {
    while let Some(input) = feed.queue.recv().await {
        match input {
            Input::Data(bytes, _permit) => {
                if sink.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Input::Eof if close_on_eof => break,
            Input::Eof => {}
        }
    }
    let _ = sink.shutdown().await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[tokio::test]
    async fn input_reaches_the_sink_in_order_and_eof_closes_it() {
        let (queue, feed_end) = channel();
        let (sink, mut out) = tokio::io::duplex(64);
        let task = tokio::spawn(feed(Box::new(sink), feed_end, true));
        queue.push(b"hello ").await;
        queue.push(b"world").await;
        queue.eof();
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut out, &mut got)
            .await
            .unwrap();
        assert_eq!(got, b"hello world");
        task.await.unwrap();
    }

    #[tokio::test]
    async fn pushing_does_not_wait_below_the_limit_even_if_nothing_reads() {
        let (queue, feed_end) = channel();
        let (sink, _out) = tokio::io::duplex(1);
        let _task = tokio::spawn(feed(Box::new(sink), feed_end, true));
        let chunk = vec![7u8; 32 * 1024];
        let pushes = async {
            for _ in 0..(STDIN_BUFFER_LIMIT / chunk.len() - 1) {
                queue.push(&chunk).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), pushes)
            .await
            .expect("push waited below the buffer limit");
        let over = tokio::time::timeout(std::time::Duration::from_millis(50), async {
            queue.push(&chunk).await;
            queue.push(&chunk).await;
        });
        assert!(
            over.await.is_err(),
            "push did not wait above the buffer limit"
        );
    }

    #[tokio::test]
    async fn pushing_to_a_finished_process_returns_at_once() {
        let (queue, feed_end) = channel();
        drop(feed_end);
        let chunk = vec![0u8; STDIN_BUFFER_LIMIT];
        queue.push(&chunk).await;
        queue.push(&chunk).await;
        queue.eof();
    }
}
