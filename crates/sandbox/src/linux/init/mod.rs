//! The VM's init: what runs inside `tether __vm-init` (or `tether-vm-init`).
//!
//! Two processes per VM:
//! - the *outer* process (the one the host spawned) prepares the disk, enters a new user
//!   namespace (the host user becomes root inside it) and new mount and pid namespaces, forks
//!   the VM's PID 1 and supervises it: SIGTERM makes it kill PID 1 — which takes every process
//!   of the pid namespace with it — and it exits once PID 1 is reaped;
//! - *PID 1* builds the VM's root (overlays, /dev, /proc, /sys, /run), pivots into it, enters
//!   a second, nested user namespace with fresh mount, uts and ipc namespaces (so every mount
//!   it made is locked: nothing inside can unmount or remount them), sets the hostname and
//!   serves spawn/signal/pause requests from the host (see `serve`).

mod exec;
mod mounts;
mod prepare;
mod serve;
mod userns;

use std::ffi::OsString;
use std::fmt::Display;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::stat::{Mode, umask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::protocol::{self, Event};
use userns::IdMap;

/// Exit code of an init that could not start the VM.
const BOOT_FAILED: i32 = 1;
/// Exit code for unusable arguments.
const USAGE: i32 = 2;

/// Runs the init with the process's arguments; never returns.
pub(crate) fn init_main(args: Vec<OsString>) -> ! {
    let code = match Options::parse(&args) {
        Ok(options) => outer(options),
        Err(failure) => {
            eprintln!("tether vm init: {failure}");
            USAGE
        }
    };
    std::process::exit(code)
}

/// What the host passes on the command line.
pub(super) struct Options {
    /// The VM's disk directory.
    disk: PathBuf,
    /// Scratch directory for overlay work dirs (recreated here).
    scratch: PathBuf,
    /// The VM's hostname.
    hostname: String,
    /// The control socket to the host.
    control: OwnedFd,
}

impl Options {
    fn parse(args: &[OsString]) -> Step<Options> {
        let (mut disk, mut scratch, mut hostname, mut fd) = (None, None, None, None);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let slot = match arg.to_str() {
                Some("--vm-disk") => &mut disk,
                Some("--vm-scratch") => &mut scratch,
                Some("--vm-hostname") => &mut hostname,
                Some("--vm-ctl-fd") => &mut fd,
                _ => continue,
            };
            *slot = args.next().cloned();
        }
        let missing = |name: &str| {
            Failure(format!(
                "missing {name}; this program is started by the tether simulator"
            ))
        };
        let fd: RawFd = fd
            .and_then(|fd| fd.to_str().and_then(|fd| fd.parse().ok()))
            .ok_or_else(|| missing("--vm-ctl-fd <fd>"))?;
        Ok(Options {
            disk: disk.ok_or_else(|| missing("--vm-disk <dir>"))?.into(),
            scratch: scratch.ok_or_else(|| missing("--vm-scratch <dir>"))?.into(),
            hostname: hostname
                .and_then(|h| h.into_string().ok())
                .ok_or_else(|| missing("--vm-hostname <name>"))?,
            control: adopt_control_fd(fd)?,
        })
    }
}

/// Takes ownership of the inherited control socket, and marks every other inherited
/// descriptor close-on-exec so nothing of the host's leaks into the VM's processes.
fn adopt_control_fd(fd: RawFd) -> Step<OwnedFd> {
    // SAFETY: only reads the descriptor's flags.
    fcntl(
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        FcntlArg::F_GETFD,
    )
    .step(|| format!("control socket fd {fd} is not open"))?;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags; it closes nothing.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    // SAFETY: the host passed this descriptor to us; nothing else in this process owns it.
    let control = unsafe { OwnedFd::from_raw_fd(fd) };
    fcntl(control.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))
        .step(|| "marking the control socket close-on-exec")?;
    Ok(control)
}

/// The outer process: prepare, enter the namespaces, fork PID 1, supervise it.
fn outer(options: Options) -> i32 {
    umask(Mode::from_bits_truncate(0o022));
    let root_user = nix::unistd::geteuid().is_root();
    let entered = prepare::run(&options).and_then(|()| {
        userns::enter(
            &IdMap::outer(root_user),
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID,
        )
    });
    if let Err(failure) = entered {
        return report(&options, failure);
    }
    let signals = supervised_signals();
    if let Err(error) = signals.thread_block() {
        return report(
            &options,
            Failure(format!("blocking SIGTERM and SIGCHLD: {error}")),
        );
    }
    // SAFETY: this process is single-threaded (the init never starts threads).
    match unsafe { fork() } {
        Err(error) => report(
            &options,
            Failure(format!("forking the VM's PID 1: {error}")),
        ),
        Ok(ForkResult::Child) => serve::pid1(options, root_user),
        Ok(ForkResult::Parent { child }) => {
            drop(options.control);
            supervise(child, &signals)
        }
    }
}

fn supervised_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGCHLD);
    signals
}

/// Waits for PID 1; SIGTERM kills it (and with it the whole pid namespace). Returns PID 1's
/// exit code once it has been reaped, which happens only after every process of its
/// namespace is gone.
fn supervise(pid1: Pid, signals: &SigSet) -> i32 {
    loop {
        if let Ok(Signal::SIGTERM) = signals.wait() {
            let _ = kill(pid1, Signal::SIGKILL);
        }
        match waitpid(pid1, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, signal, _)) => return 128 + signal as i32,
            Err(nix::errno::Errno::ECHILD) => return BOOT_FAILED,
            _ => {}
        }
    }
}

/// Tells the host why the VM could not start; returns the exit code.
fn report(options: &Options, failure: Failure) -> i32 {
    let event = Event::BootFailed {
        message: failure.0.clone(),
    };
    let sent = serde_json::to_vec(&event)
        .ok()
        .and_then(|bytes| protocol::send(options.control.as_fd(), &bytes, &[]).ok());
    if sent.is_none() {
        eprintln!("tether vm init: {}", failure.0);
    }
    BOOT_FAILED
}

/// A boot step that failed, with what was being done.
#[derive(Debug)]
pub(super) struct Failure(pub(super) String);

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of a boot step.
pub(super) type Step<T> = Result<T, Failure>;

/// Attaches "what was being done" to an error.
pub(super) trait StepExt<T> {
    /// Maps the error to a [`Failure`] saying `what` failed.
    fn step<S: Into<String>>(self, what: impl FnOnce() -> S) -> Step<T>;
}

impl<T, E: Display> StepExt<T> for Result<T, E> {
    fn step<S: Into<String>>(self, what: impl FnOnce() -> S) -> Step<T> {
        self.map_err(|error| Failure(format!("{}: {error}", what().into())))
    }
}
