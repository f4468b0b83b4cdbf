//! File operations on the agent: read, write, stat and `mkdir -p`, one round trip each, any
//! size (streamed within credit), binary-safe; a write goes to a temporary file beside the
//! destination and is renamed over it, the destination's mode (and owner) kept.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Failure;
use super::link::{Event, Link, Request};
use super::wire::{self, End};
use crate::{Session, TransportError};

/// The codes a file operation ends with: those of tether's shell snippets for the same
/// operation, so both paths map to the same errors.
pub mod status {
    /// Done.
    pub const OK: u32 = 0;
    /// The path does not exist.
    pub const NOT_FOUND: u32 = 101;
    /// A file was expected; the path is a directory.
    pub const IS_A_DIRECTORY: u32 = 102;
    /// The user may not do this.
    pub const PERMISSION_DENIED: u32 = 103;
    /// The file's directory does not exist.
    pub const PARENT_MISSING: u32 = 104;
    /// A directory was expected; the path (or a parent) is not one.
    pub const NOT_A_DIRECTORY: u32 = 105;
    /// Writing failed (disk full, I/O error); the message says why.
    pub const WRITE_FAILED: u32 = 106;
    /// Fewer (or more) bytes arrived than announced; nothing was written.
    pub const TRUNCATED: u32 = 107;
    /// The file is larger than the most asked for; nothing was sent.
    pub const TOO_LARGE: u32 = 108;
}

/// Data read from the caller's stream per frame of a write.
const WRITE_CHUNK: usize = 256 * 1024;
/// File data a read may have in flight towards tether.
const READ_WINDOW: u32 = 8 << 20;
/// Consumed data returned as credit once this much has accumulated.
const GRANT_AT: u32 = READ_WINDOW / 4;

/// How a file operation on the agent ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileRun {
    /// [`status::OK`], or the code the matching shell snippet exits with ([`status`]); any
    /// other code is a failure the message explains.
    pub code: u32,
    /// What failed, in the words of the tool that would have failed (`cat: …`), or empty.
    pub message: String,
    /// For reads and stats: `<L|-> <raw mode in hex> <size>`, following symlinks (`L` when the
    /// path itself is a link), as the stat snippet prints it.
    pub stat: Option<String>,
    /// For writes that create their directory: whether `code` is that of creating it (the
    /// `mkdir -p` snippet's) rather than of writing.
    pub creating_dir: bool,
}

/// A connection's agent, for file operations in one round trip each. Get one from
/// [`crate::Pool::agent`]; `None` there means the agent is not up (yet), and the caller uses
/// its other path.
#[derive(Clone)]
pub struct Agent {
    pub(crate) link: Arc<Link>,
    pub(crate) session: Arc<Session>,
}

impl Agent {
    /// Streams the file at `path` into `sink` if it has at most `max` bytes (else ends with
    /// [`status::TOO_LARGE`] and sends nothing).
    pub async fn read(
        &self,
        path: &str,
        max: u64,
        sink: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<FileRun, TransportError> {
        let mut request = self
            .request(0, |id| wire::read(id, path, max, READ_WINDOW))
            .await?;
        let (mut stat, mut owed) = (None, 0u32);
        loop {
            match self.next(&mut request).await? {
                Event::Out(_, data) => {
                    sink.write_all(&data).await.map_err(local)?;
                    owed = owed.saturating_add(u32::try_from(data.len()).unwrap_or(u32::MAX));
                    if owed >= GRANT_AT {
                        request.handle.grant(owed);
                        owed = 0;
                    }
                }
                Event::Stat(line) => stat = Some(line),
                Event::End(end) => {
                    sink.flush().await.map_err(local)?;
                    return Ok(ran(end, stat));
                }
            }
        }
    }

    /// Replaces (or creates) the file at `path` in the directory `dir` with `len` bytes from
    /// `source`, atomically. With `create`, `dir` is created first (`mkdir -p`; `create` lists
    /// its ancestors, nearest first, to tell a file in the way from a permission problem). A
    /// symlink is written through to its target. A `source` that ends early writes nothing and
    /// ends with [`status::TRUNCATED`].
    pub async fn write(
        &self,
        path: &str,
        dir: &str,
        create: Option<&[String]>,
        source: &mut (dyn AsyncRead + Send + Unpin),
        len: u64,
    ) -> Result<FileRun, TransportError> {
        let window = self.link.hello().write_window;
        let mut request = self
            .request(window, |id| wire::write(id, path, dir, create, len))
            .await?;
        let handle = &request.handle;
        let chunk = WRITE_CHUNK.min(window as usize).max(1);
        let sending = async {
            let mut source = source.take(len);
            let mut buf = vec![0u8; chunk];
            loop {
                let n = source.read(&mut buf).await?;
                if n == 0 || !handle.input(&buf[..n]).await {
                    handle.close_input();
                    return Ok::<(), std::io::Error>(());
                }
            }
        };
        tokio::pin!(sending);
        let mut sent = false;
        loop {
            tokio::select! {
                event = request.events.next() => match event {
                    Some(Event::End(end)) => return Ok(ran(end, None)),
                    Some(_) => {}
                    None => return Err(self.session.agent_error(Failure::Lost(self.link.why()))),
                },
                result = &mut sending, if !sent => {
                    sent = true;
                    result.map_err(|source| TransportError::LocalIo {
                        what: "reading the file's data",
                        source,
                    })?;
                }
            }
        }
    }

    /// The metadata of `path` ([`FileRun::stat`]), or [`status::NOT_FOUND`].
    pub async fn stat(&self, path: &str) -> Result<FileRun, TransportError> {
        self.simple(|id| wire::frame(b't', id, path.as_bytes()))
            .await
    }

    /// `mkdir -p path`; `ancestors` are its parents, nearest first, to tell a file in the way
    /// ([`status::NOT_A_DIRECTORY`]) from a permission problem.
    pub async fn mkdir(&self, path: &str, ancestors: &[String]) -> Result<FileRun, TransportError> {
        self.simple(|id| wire::mkdir(id, path, ancestors)).await
    }

    async fn simple(
        &self,
        first: impl FnOnce(u32) -> bytes::Bytes,
    ) -> Result<FileRun, TransportError> {
        let mut request = self.request(0, first).await?;
        let mut stat = None;
        loop {
            match self.next(&mut request).await? {
                Event::Stat(line) => stat = Some(line),
                Event::End(end) => return Ok(ran(end, stat)),
                Event::Out(..) => {}
            }
        }
    }

    async fn request(
        &self,
        window: u32,
        first: impl FnOnce(u32) -> bytes::Bytes,
    ) -> Result<Request, TransportError> {
        match self.link.request(window, first).await {
            Some(request) => Ok(request),
            None => Err(self.session.agent_error(Failure::NotStarted)),
        }
    }

    async fn next(&self, request: &mut Request) -> Result<Event, TransportError> {
        match request.events.next().await {
            Some(event) => Ok(event),
            None => Err(self.session.agent_error(Failure::Lost(self.link.why()))),
        }
    }
}

fn ran(end: End, stat: Option<String>) -> FileRun {
    FileRun {
        code: end.code,
        message: end.message,
        stat,
        creating_dir: end.kind == 3,
    }
}

fn local(source: std::io::Error) -> TransportError {
    TransportError::LocalIo {
        what: "writing the file's data",
        source,
    }
}
