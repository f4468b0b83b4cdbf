//! Starting a process for the host: fork, then in the child a new session, the stdio (pipes
//! passed by the host, or a terminal allocated here, inside the VM's devpts), the working
//! directory, and `execve` along `PATH` from the command's own environment. A close-on-exec
//! pipe tells the parent whether the exec happened or which step failed and why.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, chdir, execve, fork, pipe2, setsid};

use crate::linux::protocol::WindowSize;
use crate::linux::tty;

/// `PATH` when the command's environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A started process.
pub(super) struct Spawned {
    /// Its pid.
    pub(super) pid: i32,
    /// The terminal's master side, for the host.
    pub(super) master: Option<OwnedFd>,
}

/// The step that failed, for the host's error message (its index in [`Stage::ALL`] goes
/// through the status pipe).
#[derive(Clone, Copy)]
#[repr(u8)]
enum Stage {
    Arguments,
    Terminal,
    Session,
    Stdio,
    WorkingDirectory,
    Exec,
}

impl Stage {
    const ALL: [Stage; 6] = [
        Stage::Arguments,
        Stage::Terminal,
        Stage::Session,
        Stage::Stdio,
        Stage::WorkingDirectory,
        Stage::Exec,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Arguments => "arguments",
            Stage::Terminal => "pty",
            Stage::Session => "setsid",
            Stage::Stdio => "stdio",
            Stage::WorkingDirectory => "chdir",
            Stage::Exec => "exec",
        }
    }
}

/// How the child's stdio is set up.
enum ChildStdio {
    /// stdin, stdout, stderr.
    Pipes([OwnedFd; 3]),
    /// The terminal's slave device.
    Terminal(CString),
}

/// Everything the child needs, prepared before the fork.
struct Prepared {
    argv: Vec<CString>,
    env: Vec<CString>,
    cwd: CString,
    programs: Vec<CString>,
}

/// Starts `argv` in a new session; returns its pid, or the errno and the step that failed.
pub(super) fn spawn(
    argv: &[String],
    env: &[(String, String)],
    cwd: &str,
    pty: Option<WindowSize>,
    fds: Vec<OwnedFd>,
) -> Result<Spawned, (Errno, &'static str)> {
    let fail = |stage: Stage| move |errno: Errno| (errno, stage.name());
    let prepared = Prepared::new(argv, env, cwd).map_err(fail(Stage::Arguments))?;
    let (stdio, master) = match pty {
        Some(size) => {
            let (master, slave) = open_terminal(size).map_err(fail(Stage::Terminal))?;
            (ChildStdio::Terminal(slave), Some(master))
        }
        None => {
            let fds: [OwnedFd; 3] = fds
                .try_into()
                .map_err(|_| (Errno::EINVAL, Stage::Stdio.name()))?;
            (ChildStdio::Pipes(fds), None)
        }
    };
    let (status_read, status_write) = pipe2(OFlag::O_CLOEXEC).map_err(fail(Stage::Arguments))?;
    // SAFETY: the init is single-threaded; the child only runs `exec_child`.
    match unsafe { fork() }.map_err(fail(Stage::Arguments))? {
        ForkResult::Child => {
            drop(status_read);
            exec_child(&prepared, &stdio, status_write)
        }
        ForkResult::Parent { child } => {
            drop((status_write, stdio));
            match read_failure(status_read) {
                None => Ok(Spawned {
                    pid: child.as_raw(),
                    master,
                }),
                Some((errno, stage)) => {
                    let _ = waitpid(child, None);
                    Err((errno, stage.name()))
                }
            }
        }
    }
}

impl Prepared {
    fn new(argv: &[String], env: &[(String, String)], cwd: &str) -> nix::Result<Prepared> {
        let program = argv.first().ok_or(Errno::EINVAL)?;
        let c = |s: &str| CString::new(s).map_err(|_| Errno::EINVAL);
        Ok(Prepared {
            argv: argv.iter().map(|a| c(a)).collect::<nix::Result<_>>()?,
            env: env
                .iter()
                .map(|(k, v)| c(&format!("{k}={v}")))
                .collect::<nix::Result<_>>()?,
            cwd: c(cwd)?,
            programs: candidates(program, env)
                .iter()
                .map(|p| c(p))
                .collect::<nix::Result<_>>()?,
        })
    }
}

/// Where `execvp` would look for `program`, using the command's `PATH`.
fn candidates(program: &str, env: &[(String, String)]) -> Vec<String> {
    if program.is_empty() {
        return vec![];
    }
    if program.contains('/') {
        return vec![program.to_owned()];
    }
    let path = env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map_or(DEFAULT_PATH, |(_, value)| value.as_str());
    path.split(':')
        .map(|dir| {
            if dir.is_empty() {
                format!("./{program}")
            } else {
                format!("{}/{program}", dir.trim_end_matches('/'))
            }
        })
        .collect()
}

/// Allocates a terminal in the VM's devpts; returns the master and the slave's path.
fn open_terminal(size: WindowSize) -> nix::Result<(OwnedFd, CString)> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let slave = ptsname_r(&master)?;
    let master = OwnedFd::from(master);
    tty::set_window_size(master.as_fd(), size.rows, size.cols)?;
    Ok((master, CString::new(slave).map_err(|_| Errno::EINVAL)?))
}

/// Reads the child's failure report: `None` if it exec'd.
fn read_failure(status: OwnedFd) -> Option<(Errno, Stage)> {
    let mut report = [0u8; 5];
    let mut file = std::fs::File::from(status);
    match file.read_exact(&mut report) {
        Ok(()) => {
            let errno = Errno::from_raw(i32::from_ne_bytes([
                report[0], report[1], report[2], report[3],
            ]));
            let stage = Stage::ALL
                .get(usize::from(report[4]))
                .copied()
                .unwrap_or(Stage::Exec);
            Some((errno, stage))
        }
        Err(_) => None,
    }
}

/// The child after the fork: set up and exec; on failure report and exit 127.
fn exec_child(prepared: &Prepared, stdio: &ChildStdio, status: OwnedFd) -> ! {
    let (errno, stage) = setup_and_exec(prepared, stdio);
    let mut report = [0u8; 5];
    report[..4].copy_from_slice(&(errno as i32).to_ne_bytes());
    report[4] = stage as u8;
    let _ = nix::unistd::write(&status, &report);
    // SAFETY: a forked child leaves without running the parent's exit handlers.
    unsafe { libc::_exit(127) }
}

/// Returns only on failure.
fn setup_and_exec(prepared: &Prepared, stdio: &ChildStdio) -> (Errno, Stage) {
    // The init blocks SIGCHLD and ignores SIGPIPE; a new program starts with neither.
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    // SAFETY: resetting a disposition to the default installs no handler.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
    if let Err(errno) = setsid() {
        return (errno, Stage::Session);
    }
    if let Err(errno) = connect_stdio(stdio) {
        return (errno, Stage::Stdio);
    }
    if let Err(errno) = chdir(prepared.cwd.as_c_str()) {
        return (errno, Stage::WorkingDirectory);
    }
    (exec(prepared), Stage::Exec)
}

fn connect_stdio(stdio: &ChildStdio) -> nix::Result<()> {
    match stdio {
        ChildStdio::Pipes(fds) => {
            for (target, fd) in fds.iter().enumerate() {
                dup_to(fd.as_raw_fd(), target as RawFd)?;
            }
            Ok(())
        }
        ChildStdio::Terminal(path) => {
            // Opening the slave as a session leader without a terminal makes it ours.
            let slave = open(
                path.as_c_str(),
                OFlag::O_RDWR | OFlag::O_CLOEXEC,
                Mode::empty(),
            )?;
            tty::make_controlling(slave.as_fd())?;
            (0..3).try_for_each(|target| dup_to(slave.as_raw_fd(), target))
        }
    }
}

fn dup_to(fd: RawFd, target: RawFd) -> nix::Result<()> {
    // SAFETY: dup2 on descriptors this process owns; `target` is one of 0, 1, 2.
    Errno::result(unsafe { libc::dup2(fd, target) }).map(drop)
}

/// Tries each candidate like `execvp`: the last "interesting" error wins over "not found".
fn exec(prepared: &Prepared) -> Errno {
    let mut error = Errno::ENOENT;
    for program in &prepared.programs {
        let Err(errno) = execve(program.as_c_str(), &prepared.argv, &prepared.env);
        match errno {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => error = Errno::EACCES,
            other => return other,
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_looked_up_on_the_commands_path() {
        let env = vec![("PATH".to_owned(), "/a:/b/:".to_owned())];
        assert_eq!(candidates("ls", &env), ["/a/ls", "/b/ls", "./ls"]);
        assert_eq!(candidates("./run", &env), ["./run"]);
        assert_eq!(candidates("sh", &[])[0], "/usr/local/sbin/sh");
        assert!(candidates("", &env).is_empty());
    }
}
