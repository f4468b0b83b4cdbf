//! The messages: [`Request`] host→guest, [`Event`] guest→host.

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change; the guest reports its own in [`Event::Hello`].
pub const PROTOCOL_VERSION: u32 = 1;

/// What the host asks of the guest. Payload bytes travel beside the header (see the crate
/// docs); a variant's docs say when it has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Run `argv` in a new session (its own process group). `env` is added to the agent's
    /// base environment (PATH, HOME=/root, LANG=C.UTF-8, …); `cwd` defaults to `/root`.
    /// With `pty`, stdin, stdout and stderr are one terminal and only `Stdout` events come.
    Exec {
        /// The host's id for this command, unique among those running.
        id: u64,
        /// Program and arguments; the program is looked up in PATH.
        argv: Vec<String>,
        /// Variables to set, in order.
        #[serde(default)]
        env: Vec<(String, String)>,
        /// Working directory.
        #[serde(default)]
        cwd: Option<String>,
        /// Run on a new pseudo-terminal of this size.
        #[serde(default)]
        pty: Option<PtySize>,
    },
    /// Bytes for the command's stdin, in the payload.
    Stdin {
        /// The command.
        id: u64,
    },
    /// Close the command's stdin (on a pty: nothing; send `^D` as data instead).
    CloseStdin {
        /// The command.
        id: u64,
    },
    /// Send `signal` (a Linux signal number) to the command's whole process group.
    Signal {
        /// The command.
        id: u64,
        /// Signal number, e.g. 9 for SIGKILL.
        signal: i32,
    },
    /// Resize the command's pty.
    Resize {
        /// The command.
        id: u64,
        /// The new size.
        size: PtySize,
    },
    /// Read a whole file: answered by `Data` chunks and `Done`.
    ReadFile {
        /// The operation's id.
        id: u64,
        /// Absolute path in the guest.
        path: String,
    },
    /// Replace a file with the payload (written to a temporary file, then renamed): `Done`.
    WriteFile {
        /// The operation's id.
        id: u64,
        /// Absolute path in the guest.
        path: String,
        /// Permission bits of a newly created file.
        mode: u32,
    },
    /// Stat a path without following a final symlink: `Stat`.
    Stat {
        /// The operation's id.
        id: u64,
        /// Absolute path in the guest.
        path: String,
    },
    /// List a directory: `Entries`.
    ReadDir {
        /// The operation's id.
        id: u64,
        /// Absolute path in the guest.
        path: String,
    },
    /// Sync filesystems and power the guest off (only when the agent is PID 1).
    PowerOff,
}

/// What the guest tells the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The agent is up and serving.
    Hello {
        /// The guest's [`PROTOCOL_VERSION`].
        version: u32,
        /// The guest kernel's uptime when the agent opened its port, in milliseconds.
        uptime_ms: u64,
    },
    /// The command is running as `pid` (also its process group id).
    Started {
        /// The command.
        id: u64,
        /// Its pid in the guest.
        pid: u32,
    },
    /// Output on stdout (or the pty), in the payload.
    Stdout {
        /// The command.
        id: u64,
    },
    /// Output on stderr, in the payload.
    Stderr {
        /// The command.
        id: u64,
    },
    /// No more output will come on `stream`.
    Eof {
        /// The command.
        id: u64,
        /// Which stream ended.
        stream: Stream,
    },
    /// The command's process exited.
    Exited {
        /// The command.
        id: u64,
        /// Its exit code, or 128 + the signal number when a signal killed it.
        code: i32,
        /// The signal that killed it, if one did.
        signal: Option<i32>,
    },
    /// A chunk of a file being read, in the payload.
    Data {
        /// The operation.
        id: u64,
    },
    /// The operation (a read or write) finished.
    Done {
        /// The operation.
        id: u64,
    },
    /// A stat's answer.
    Stat {
        /// The operation.
        id: u64,
        /// What the path is.
        stat: FileStat,
    },
    /// A directory listing.
    Entries {
        /// The operation.
        id: u64,
        /// The entries, without `.` and `..`, in the order the kernel returned them.
        entries: Vec<DirEntry>,
    },
    /// The command could not start, or the file operation failed.
    Failed {
        /// The command or operation.
        id: u64,
        /// What went wrong, classified.
        kind: ErrorKind,
        /// The guest's description, with the path or program.
        message: String,
    },
}

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtySize {
    /// Rows.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

/// An output stream of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard output (or the pty).
    Stdout,
    /// Standard error.
    Stderr,
}

/// Why a request failed, from the errno the guest saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// ENOENT: the program or path does not exist.
    NotFound,
    /// EACCES / EPERM.
    PermissionDenied,
    /// The id is already running, or names nothing running.
    BadId,
    /// The request cannot be carried out as asked (bad argv, not a directory, too large, …).
    Invalid,
    /// Any other error.
    Other,
}

/// What kind of file a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, socket, fifo).
    Other,
}

/// The answer to a stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// The kind of file.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

/// One directory entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    /// The name (not a path).
    pub name: String,
    /// Its kind, not following symlinks.
    pub kind: FileKind,
}
