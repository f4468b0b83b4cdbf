//! Terminal ioctls shared by the init (allocating a terminal) and the host (resizing it).

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// Sets a terminal's window size (the foreground process group gets SIGWINCH).
pub(crate) fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> nix::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one `winsize` from the pointer, which outlives the call.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) }).map(drop)
}

/// Makes `fd` (a terminal) the controlling terminal of the calling session leader.
pub(crate) fn make_controlling(fd: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory.
    Errno::result(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSCTTY, 0) }).map(drop)
}
