//! Starting commands and pumping their stdin, stdout and stderr.

use crate::outbox::Outbox;
use crate::table::{Entry, Table};
use nix::pty::{Winsize, openpty};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use tether_guest_proto::{ErrorKind, Event, PtySize, Stream};

/// The environment every command starts from; the request's variables are added to it.
const BASE_ENV: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("USER", "root"),
    ("LOGNAME", "root"),
    ("SHELL", "/bin/bash"),
    ("LANG", "C.UTF-8"),
];
/// Where a command runs when the request names no directory.
const DEFAULT_CWD: &str = "/root";
/// Output is read and sent in chunks of at most this many bytes.
const CHUNK: usize = 64 * 1024;

/// An exec request's parameters.
pub(crate) struct ExecSpec {
    pub(crate) argv: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: Option<String>,
    pub(crate) pty: Option<PtySize>,
}

/// Starts the command; reports `Started` or `Failed`.
pub(crate) fn start(table: &Table, outbox: &Outbox, id: u64, spec: ExecSpec) {
    if let Err((kind, message)) = try_start(table, outbox, id, spec) {
        outbox.send(&Event::Failed { id, kind, message }, &[]);
    }
}

fn try_start(
    table: &Table,
    outbox: &Outbox,
    id: u64,
    spec: ExecSpec,
) -> Result<(), (ErrorKind, String)> {
    let mut commands = table.lock();
    if commands.contains(id) {
        return Err((
            ErrorKind::BadId,
            format!("command id {id} is already running"),
        ));
    }
    let Some((program, args)) = spec.argv.split_first() else {
        return Err((
            ErrorKind::Invalid,
            "exec needs a program: argv is empty".into(),
        ));
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(BASE_ENV.iter().copied());
    command.envs(spec.env.iter().map(|(k, v)| (k, v)));
    command.current_dir(spec.cwd.as_deref().unwrap_or(DEFAULT_CWD));
    let io =
        Io::attach(&mut command, spec.pty).map_err(|e| classify("open a pty for", program, &e))?;
    let child = command
        .spawn()
        .map_err(|e| classify("start", program, &e))?;
    drop(command); // closes the parent's copies of the pty slave
    let pid = child.id() as i32;
    outbox.send(
        &Event::Started {
            id,
            pid: pid as u32,
        },
        &[],
    );
    let entry = io.pump(id, pid, child, outbox);
    commands.insert(id, entry);
    table.note_spawn(&mut commands);
    Ok(())
}

fn classify(what: &str, program: &str, e: &io::Error) -> (ErrorKind, String) {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        _ => ErrorKind::Other,
    };
    (kind, format!("cannot {what} {program}: {e}"))
}

/// The command's stdio: three pipes, or one pty.
enum Io {
    Pipes,
    Pty(OwnedFd),
}

impl Io {
    /// Sets the command's stdio and its pre-exec step (a new session; the pty as its
    /// controlling terminal).
    fn attach(command: &mut Command, pty: Option<PtySize>) -> io::Result<Self> {
        let Some(size) = pty else {
            command
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            set_session(command, false);
            return Ok(Io::Pipes);
        };
        let pty = openpty(Some(&winsize(size)), None).map_err(io::Error::from)?;
        set_cloexec(&pty.master)?;
        set_cloexec(&pty.slave)?;
        command.stdin(Stdio::from(pty.slave.try_clone()?));
        command.stdout(Stdio::from(pty.slave.try_clone()?));
        command.stderr(Stdio::from(pty.slave));
        set_session(command, true);
        Ok(Io::Pty(pty.master))
    }

    /// Starts the threads that move the command's bytes; the table entry that feeds them.
    fn pump(self, id: u64, pid: i32, mut child: std::process::Child, outbox: &Outbox) -> Entry {
        let (stdin, stdin_rx) = mpsc::channel();
        let pty = match self {
            Io::Pipes => {
                if let Some(out) = child.stdout.take() {
                    spawn_reader(outbox.clone(), id, Stream::Stdout, out);
                }
                if let Some(err) = child.stderr.take() {
                    spawn_reader(outbox.clone(), id, Stream::Stderr, err);
                }
                if let Some(input) = child.stdin.take() {
                    spawn_writer(input, stdin_rx, true);
                }
                None
            }
            Io::Pty(master) => {
                if let (Ok(reader), Ok(writer)) = (master.try_clone(), master.try_clone()) {
                    spawn_reader(outbox.clone(), id, Stream::Stdout, File::from(reader));
                    spawn_writer(File::from(writer), stdin_rx, false);
                }
                Some(master)
            }
        };
        Entry { pid, stdin, pty }
    }
}

fn set_session(command: &mut Command, controlling_tty: bool) {
    // SAFETY: between fork and exec this calls only async-signal-safe functions (setsid,
    // ioctl) and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            if controlling_tty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn set_cloexec(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    Ok(())
}

fn winsize(size: PtySize) -> Winsize {
    Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Sends everything `source` yields as `stream` chunks, then `Eof`. A pty master reports the
/// end (every slave closed) as EIO.
fn spawn_reader(outbox: Outbox, id: u64, stream: Stream, mut source: impl Read + Send + 'static) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let event = match stream {
                        Stream::Stdout => Event::Stdout { id },
                        Stream::Stderr => Event::Stderr { id },
                    };
                    outbox.send(&event, &buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        outbox.send(&Event::Eof { id, stream }, &[]);
    });
}

/// Writes what arrives for stdin; `None` (when `closable`) or a failed write ends it, which
/// closes the pipe.
fn spawn_writer(
    mut sink: impl Write + Send + 'static,
    input: mpsc::Receiver<Option<Vec<u8>>>,
    closable: bool,
) {
    std::thread::spawn(move || {
        while let Ok(chunk) = input.recv() {
            match chunk {
                Some(bytes) if sink.write_all(&bytes).is_err() => break,
                Some(_) => {}
                None if closable => break,
                None => {}
            }
        }
    });
}

/// Sends `signal` to the process group of command `id`.
pub(crate) fn signal(table: &Table, id: u64, signal: i32) -> Result<(), (ErrorKind, String)> {
    let pid = table
        .lock()
        .get(id)
        .map(|e| e.pid)
        .ok_or_else(|| not_running(id))?;
    let signal = Signal::try_from(signal).map_err(|_| {
        (
            ErrorKind::Invalid,
            format!("{signal} is not a signal number"),
        )
    })?;
    killpg(Pid::from_raw(pid), signal)
        .map_err(|e| (ErrorKind::Other, format!("cannot signal command {id}: {e}")))
}

/// Queues stdin bytes (or, with `None`, the end of stdin) for command `id`. Input for a
/// command that has exited is dropped, as a pipe's reader going away drops it.
pub(crate) fn stdin(table: &Table, id: u64, bytes: Option<Vec<u8>>) {
    if let Some(entry) = table.lock().get(id) {
        // The writer thread is gone once a write failed (the command closed stdin).
        let _ = entry.stdin.send(bytes);
    }
}

/// Resizes the pty of command `id`.
pub(crate) fn resize(table: &Table, id: u64, size: PtySize) -> Result<(), (ErrorKind, String)> {
    let commands = table.lock();
    let entry = commands.get(id).ok_or_else(|| not_running(id))?;
    let Some(master) = &entry.pty else {
        return Err((
            ErrorKind::Invalid,
            format!("command {id} has no pty to resize"),
        ));
    };
    let size = winsize(size);
    // SAFETY: TIOCSWINSZ reads one Winsize from the pointer, which outlives the call.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err((
            ErrorKind::Other,
            format!("cannot resize the pty of command {id}: {e}"),
        ));
    }
    Ok(())
}

/// Kills every running command's process group (the host went away).
pub(crate) fn kill_all(table: &Table) {
    for pid in table.lock().pids() {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

fn not_running(id: u64) -> (ErrorKind, String) {
    (
        ErrorKind::BadId,
        format!("command {id} is not running (it exited, or never started)"),
    )
}
