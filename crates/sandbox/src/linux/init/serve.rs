//! PID 1 of the VM: finishes the boot, then serves the host's requests until the host goes
//! away (end of the control socket) or kills it. As the pid namespace's init it reaps every
//! orphan; it reports exits only of the processes it spawned.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::CloneFlags;
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::prctl;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, sethostname};

use super::userns::{self, IdMap};
use super::{Options, Step, StepExt, exec, mounts, report};
use crate::linux::protocol::{self, Event, Outcome, Request, WireStatus};

/// Size of the receive buffer (requests carry argv and env).
const RECEIVE_BUFFER: usize = protocol::SOCKET_BUFFER;
/// Largest kernel pseudo-file read for the host.
const MAX_PSEUDO_FILE: u64 = 16 << 20;
/// Most rounds of "stop everything, look for newcomers" a pause makes.
const MAX_FREEZE_ROUNDS: usize = 16;
/// How long a pause waits for every process to reach the stopped state (one in an
/// uninterruptible wait stops when it returns, and cannot run user code before).
const STOP_DEADLINE: Duration = Duration::from_secs(2);
/// How often a pause looks whether every process has stopped.
const STOP_POLL: Duration = Duration::from_millis(1);

/// PID 1's whole life; never returns.
pub(super) fn pid1(options: Options, root_user: bool) -> ! {
    let code = match boot(&options, root_user) {
        Ok(init) => init.serve(),
        Err(failure) => report(&options, failure),
    };
    std::process::exit(code)
}

/// Everything from the fork to "ready".
fn boot(options: &Options, root_user: bool) -> Step<Init> {
    prctl::set_pdeathsig(Signal::SIGKILL).step(|| "setting the parent-death signal")?;
    mounts::build_root(&options.disk, &options.scratch, root_user)?;
    let also = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    userns::enter(&IdMap::inner(root_user), also)?;
    sethostname(&options.hostname)
        .step(|| format!("setting the hostname {:?}", options.hostname))?;
    // Not dumpable: processes of the VM cannot ptrace the init or open its /proc entries
    // (its control socket leads to the host).
    prctl::set_dumpable(false).step(|| "making the init non-dumpable")?;
    let signals = SignalFd::with_flags(&sigchld(), SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .step(|| "creating the SIGCHLD signalfd")?;
    let control = options
        .control
        .try_clone()
        .step(|| "duplicating the control socket")?;
    let init = Init {
        control,
        signals,
        children: HashSet::new(),
        paused: false,
        buffer: vec![0; RECEIVE_BUFFER],
    };
    let root = open(
        "/",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| "opening /")?;
    init.send(&Event::Ready, &[root.as_raw_fd()])
        .step(|| "telling the host the VM is ready")?;
    Ok(init)
}

fn sigchld() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set
}

/// PID 1's state.
struct Init {
    control: OwnedFd,
    signals: SignalFd,
    /// Processes spawned for the host and not yet reported.
    children: HashSet<i32>,
    paused: bool,
    buffer: Vec<u8>,
}

impl Init {
    /// The request loop; returns the exit code.
    fn serve(mut self) -> i32 {
        loop {
            let (control, signals) = match self.wait() {
                Ok(ready) => ready,
                Err(Errno::EINTR) => continue,
                Err(_) => return 1,
            };
            if signals {
                self.reap();
            }
            if control {
                match protocol::recv(self.control.as_fd(), &mut self.buffer) {
                    Ok(Some((len, fds))) => self.handle(len, fds),
                    Ok(None) => return 0, // the host is gone: so is the VM
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    Err(_) => return 1,
                }
            }
        }
    }

    /// Blocks until the control socket or the signalfd is readable.
    fn wait(&self) -> nix::Result<(bool, bool)> {
        let mut fds = [
            PollFd::new(self.control.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
        ];
        poll(&mut fds, PollTimeout::NONE)?;
        let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        Ok((ready(&fds[0]), ready(&fds[1])))
    }

    fn handle(&mut self, len: usize, fds: Vec<OwnedFd>) {
        let request = match serde_json::from_slice::<Request>(&self.buffer[..len]) {
            Ok(request) => request,
            Err(error) => {
                eprintln!("tether vm init: ignoring a malformed request: {error}");
                return;
            }
        };
        let (id, outcome, reply_fds) = self.answer(request, fds);
        let raw: Vec<RawFd> = reply_fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let _ = self.send(&Event::Reply { id, outcome }, &raw);
    }

    fn answer(&mut self, request: Request, fds: Vec<OwnedFd>) -> (u64, Outcome, Vec<OwnedFd>) {
        match request {
            Request::Spawn { id, .. } if self.paused => (id, Outcome::Paused, vec![]),
            Request::Spawn {
                id,
                argv,
                env,
                cwd,
                pty,
            } => match exec::spawn(&argv, &env, &cwd, pty, fds) {
                Ok(spawned) => {
                    self.children.insert(spawned.pid);
                    (
                        id,
                        Outcome::Spawned { pid: spawned.pid },
                        spawned.master.into_iter().collect(),
                    )
                }
                Err((errno, step)) => (
                    id,
                    Outcome::Failed {
                        errno: errno as i32,
                        step: step.into(),
                    },
                    vec![],
                ),
            },
            Request::Signal { id, pgid, signal } => (id, done(signal_group(pgid, signal)), vec![]),
            Request::Pause { id } => {
                self.paused = true;
                (id, done(freeze()), vec![])
            }
            Request::Open { id, path } => match open_for_host(&path) {
                Ok(file) => (id, Outcome::Opened, vec![file]),
                Err(errno) => (
                    id,
                    Outcome::Failed {
                        errno: errno as i32,
                        step: "open".into(),
                    },
                    vec![],
                ),
            },
            Request::Resume { id } => {
                self.paused = false;
                (
                    id,
                    done(kill(Pid::from_raw(-1), Signal::SIGCONT).or_else(no_process)),
                    vec![],
                )
            }
        }
    }

    /// Reaps every exited process; reports the ones spawned for the host.
    fn reap(&mut self) {
        while let Ok(Some(_)) = self.signals.read_signal() {}
        loop {
            let (pid, status) = match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, WireStatus::Code { code }),
                Ok(WaitStatus::Signaled(pid, signal, core_dumped)) => (
                    pid,
                    WireStatus::Signal {
                        signal: signal as i32,
                        core_dumped,
                    },
                ),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if self.children.remove(&pid.as_raw()) {
                let _ = self.send(
                    &Event::Exited {
                        pid: pid.as_raw(),
                        status,
                    },
                    &[],
                );
            }
        }
    }

    fn send(&self, event: &Event, fds: &[RawFd]) -> nix::Result<()> {
        let bytes = serde_json::to_vec(event).map_err(|_| Errno::EINVAL)?;
        protocol::send(self.control.as_fd(), &bytes, fds)
    }
}

fn done(result: nix::Result<()>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(errno) => Outcome::Failed {
            errno: errno as i32,
            step: "signal".into(),
        },
    }
}

/// "No process to signal" is not a failure.
fn no_process(errno: Errno) -> nix::Result<()> {
    if errno == Errno::ESRCH {
        Ok(())
    } else {
        Err(errno)
    }
}

fn signal_group(pgid: i32, signal: i32) -> nix::Result<()> {
    let signal = Signal::try_from(signal)?;
    if pgid <= 1 {
        return Err(Errno::EINVAL);
    }
    kill(Pid::from_raw(-pgid), signal).or_else(no_process)
}

/// Reads a regular file for the host as the VM's root would: PID 1's credentials decide what
/// may be opened (`/proc/kcore`, other processes' `/proc` entries), and PID 1's namespaces
/// what namespace-dependent files say (`/proc/sys/kernel/hostname`). Resolution happens in
/// PID 1's root, the VM's. The content goes back in a memfd, so its size is not bound by the
/// socket's.
fn open_for_host(path: &str) -> nix::Result<OwnedFd> {
    if !path.starts_with('/') {
        return Err(Errno::EINVAL);
    }
    let found = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
    let stat = nix::sys::stat::fstat(&found)?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::EINVAL); // never open a FIFO or a device here: it could block PID 1
    }
    let reopen = format!("/proc/self/fd/{}", found.as_raw_fd());
    let file = open(
        reopen.as_str(),
        OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let mut content = Vec::new();
    let read = std::fs::File::from(file)
        .take(MAX_PSEUDO_FILE + 1)
        .read_to_end(&mut content);
    read.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    if content.len() as u64 > MAX_PSEUDO_FILE {
        return Err(Errno::EFBIG);
    }
    let copy = memfd_create("tether-read", MFdFlags::MFD_CLOEXEC)?;
    let mut writer = std::fs::File::from(copy);
    writer
        .write_all(&content)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
    writer.seek(SeekFrom::Start(0)).map_err(|_| Errno::EIO)?;
    Ok(OwnedFd::from(writer))
}

/// Stops every process of the VM but PID 1: `kill(-1, SIGSTOP)` until a look at `/proc`
/// finds no process that was not there before (one forked while the signal went out), then
/// waits until each has actually stopped (a stop is pending until the process next runs).
fn freeze() -> nix::Result<()> {
    let mut seen = HashSet::new();
    for _ in 0..MAX_FREEZE_ROUNDS {
        kill(Pid::from_raw(-1), Signal::SIGSTOP).or_else(no_process)?;
        let now = vm_pids().map_err(|_| Errno::EIO)?;
        if now.is_subset(&seen) {
            break;
        }
        seen.extend(now);
    }
    let deadline = Instant::now() + STOP_DEADLINE;
    while seen.iter().any(|&pid| !is_stopped(pid)) && Instant::now() < deadline {
        std::thread::sleep(STOP_POLL);
    }
    Ok(())
}

/// Whether `pid` is stopped, dead or gone (state `T`, `t`, `Z`, `X` in `/proc/PID/stat`).
fn is_stopped(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].trim_start().chars().next());
    matches!(state, None | Some('T' | 't' | 'Z' | 'X'))
}

/// Pids of the VM's processes other than PID 1.
fn vm_pids() -> std::io::Result<HashSet<i32>> {
    let mut pids = HashSet::new();
    for entry in std::fs::read_dir("/proc")? {
        let name = entry?.file_name();
        match name.to_str().and_then(|name| name.parse::<i32>().ok()) {
            Some(pid) if pid != 1 => drop(pids.insert(pid)),
            _ => {}
        }
    }
    Ok(pids)
}
