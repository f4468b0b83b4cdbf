//! The messages between the host and a VM's init, over a `SOCK_SEQPACKET` socket pair: one
//! JSON document per packet, file descriptors attached with `SCM_RIGHTS`.
//!
//! Host → init: [`Request`]s, each with an `id` the [`Event::Reply`] echoes. A pipe spawn
//! carries three fds (stdin, stdout, stderr ends for the child).
//! Init → host: [`Event::Ready`] once (with an `O_PATH` fd of the VM's root), or
//! [`Event::BootFailed`]; then replies (a pty spawn's reply carries the pty master) and
//! [`Event::Exited`] for every process the init spawned. An `Open` reply carries a copy of
//! the file's content.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};
use serde::{Deserialize, Serialize};

/// Socket buffer size asked for on both ends, so large argv/env fit in one packet (the kernel
/// caps it at `net.core.wmem_max`).
pub(crate) const SOCKET_BUFFER: usize = 4 << 20;

/// Most fds one message carries.
const MAX_FDS: usize = 4;

/// A request from the host to the init.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Request {
    /// Start a process (fds: stdin, stdout, stderr unless `pty` is set).
    Spawn {
        /// Request id.
        id: u64,
        /// Program and arguments.
        argv: Vec<String>,
        /// Complete environment.
        env: Vec<(String, String)>,
        /// Working directory.
        cwd: String,
        /// Allocate a terminal of this size instead of using the passed fds.
        pty: Option<WindowSize>,
    },
    /// Signal a process group.
    Signal {
        /// Request id.
        id: u64,
        /// Process group (the leader's pid inside the VM).
        pgid: i32,
        /// Signal number.
        signal: i32,
    },
    /// Freeze every process.
    Pause {
        /// Request id.
        id: u64,
    },
    /// Thaw every process.
    Resume {
        /// Request id.
        id: u64,
    },
    /// Read a regular file with the VM's own privileges and namespaces (reply: a memfd with
    /// its content).
    Open {
        /// Request id.
        id: u64,
        /// Absolute path inside the VM.
        path: String,
    },
}

/// Terminal size on the wire.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub(crate) struct WindowSize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// A message from the init to the host.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum Event {
    /// The VM is up (fd: the VM's root directory, `O_PATH`).
    Ready,
    /// The VM could not be set up.
    BootFailed {
        /// What failed.
        message: String,
    },
    /// The answer to a request.
    Reply {
        /// The request's id.
        id: u64,
        /// What happened.
        outcome: Outcome,
    },
    /// A process the init spawned ended.
    Exited {
        /// Its pid inside the VM.
        pid: i32,
        /// How it ended.
        status: WireStatus,
    },
}

/// The result of a request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Outcome {
    /// A process started (a pty spawn carries the master fd).
    Spawned {
        /// Its pid inside the VM.
        pid: i32,
    },
    /// Done.
    Done,
    /// A file was read (a memfd with its content is attached).
    Opened,
    /// Refused: the VM is paused.
    Paused,
    /// Failed with an errno.
    Failed {
        /// The errno.
        errno: i32,
        /// The step that failed (`exec`, `chdir`, `pty`, …).
        step: String,
    },
}

/// How a process ended, on the wire.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum WireStatus {
    /// Exit code.
    Code {
        /// The code.
        code: i32,
    },
    /// Killed by a signal.
    Signal {
        /// The signal number.
        signal: i32,
        /// Whether it dumped core.
        core_dumped: bool,
    },
}

/// Sends one packet with `fds` attached. Does not block on a blocking socket only if there is
/// buffer space; returns `EAGAIN` on a non-blocking one that is full.
pub(crate) fn send(socket: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    let iov = [IoSlice::new(bytes)];
    let rights = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    let sent = sendmsg::<()>(
        socket.as_raw_fd(),
        &iov,
        cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    if sent != bytes.len() {
        Err(Errno::EMSGSIZE)
    } else {
        Ok(())
    }
}

/// Receives one packet into `buf`: `None` at end of stream (the peer closed), else the length
/// and the attached fds (close-on-exec).
pub(crate) fn recv(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
) -> nix::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for message in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(raw) = message {
            // SAFETY: SCM_RIGHTS hands us fresh descriptors that nothing else owns.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    if msg
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC)
    {
        return Err(Errno::EMSGSIZE);
    }
    match msg.bytes {
        0 => Ok(None),
        n => Ok(Some((n, fds))),
    }
}

/// Asks for [`SOCKET_BUFFER`]-sized send and receive buffers (best effort).
pub(crate) fn enlarge_buffers(socket: BorrowedFd<'_>) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(&socket, sockopt::SndBuf, &SOCKET_BUFFER);
    let _ = setsockopt(&socket, sockopt::RcvBuf, &SOCKET_BUFFER);
}
