//! Async byte streams over the host ends of a process's pipes and terminal.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{PtySize, Result, SandboxError};

/// A non-blocking descriptor driven by tokio; [`AsyncWrite::poll_shutdown`] closes it.
pub(crate) struct FdStream {
    fd: Option<AsyncFd<OwnedFd>>,
    /// A terminal master reads `EIO` once no process holds the terminal: that is its end.
    eio_is_eof: bool,
}

impl FdStream {
    /// Wraps `fd` (made non-blocking). Must be called inside a tokio runtime.
    pub(crate) fn new(fd: OwnedFd, eio_is_eof: bool) -> io::Result<FdStream> {
        let flags = OFlag::from_bits_retain(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
        fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(FdStream {
            fd: Some(register(fd)?),
            eio_is_eof,
        })
    }

    fn fd(&self) -> io::Result<&AsyncFd<OwnedFd>> {
        self.fd
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream already shut down"))
    }
}

impl AsyncRead for FdStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let eio_is_eof = self.eio_is_eof;
        let fd = self.fd()?;
        loop {
            let mut guard = ready!(fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard
                .try_io(|fd| nix::unistd::read(fd.get_ref(), unfilled).map_err(io::Error::from))
            {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(error)) if eio_is_eof && error.raw_os_error() == Some(Errno::EIO as i32) => {
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(error)) => return Poll::Ready(Err(error)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for FdStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let fd = self.fd()?;
        loop {
            let mut guard = ready!(fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| nix::unistd::write(fd.get_ref(), buf).map_err(io::Error::from))
            {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.fd = None;
        Poll::Ready(Ok(()))
    }
}

/// Registers `fd` with tokio's reactor. Must be called inside a tokio runtime.
pub(crate) fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is open and keeps referring to the same file description until the
    // `AsyncFd` (its only owner) drops it.
    unsafe { AsyncFd::register(fd) }.map_err(io::Error::from)
}

/// The host's side of a process's terminal.
pub(crate) struct Pty {
    master: Arc<OwnedFd>,
}

impl Pty {
    pub(crate) fn new(master: OwnedFd) -> Pty {
        Pty {
            master: Arc::new(master),
        }
    }

    pub(crate) fn reader(&self) -> Result<Box<dyn AsyncRead + Send + Unpin>> {
        Ok(Box::new(self.stream()?))
    }

    pub(crate) fn writer(&self) -> Result<Box<dyn AsyncWrite + Send + Unpin>> {
        Ok(Box::new(self.stream()?))
    }

    pub(crate) fn resize(&self, size: PtySize) -> Result<()> {
        super::tty::set_window_size(self.master.as_fd(), size.rows, size.cols)
            .map_err(|errno| SandboxError::io("resizing the terminal", errno.into()))
    }

    /// A stream over a duplicate of the master, so reader and writer live independently.
    fn stream(&self) -> Result<FdStream> {
        let fd = self
            .master
            .try_clone()
            .map_err(|e| SandboxError::io("duplicating the terminal", e))?;
        FdStream::new(fd, true)
            .map_err(|e| SandboxError::io("registering the terminal with tokio", e))
    }
}
