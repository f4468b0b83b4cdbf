//! Entering a new user namespace: a helper child, still outside it, writes the id maps of
//! the caller (a process cannot give itself more than its own id, so the map has to be
//! written from the parent namespace).

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use nix::fcntl::OFlag;
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getegid, geteuid, getpid, pipe2};

use super::{Failure, Step, StepExt};

/// The uid/gid maps of a user namespace.
pub(super) struct IdMap {
    uid_map: String,
    gid_map: String,
    deny_setgroups: bool,
}

impl IdMap {
    /// The first namespace: as root, every id maps to itself (so `_apt`, `nobody`, … exist
    /// and host-owned system files keep their owners); otherwise the host user becomes root.
    pub(super) fn outer(root_user: bool) -> IdMap {
        if root_user {
            return IdMap::identity();
        }
        IdMap {
            uid_map: format!("0 {} 1\n", geteuid()),
            gid_map: format!("0 {} 1\n", getegid()),
            deny_setgroups: true,
        }
    }

    /// The nested namespace: the same ids as the first one, mapped to themselves.
    pub(super) fn inner(root_user: bool) -> IdMap {
        if root_user {
            return IdMap::identity();
        }
        IdMap {
            uid_map: "0 0 1\n".into(),
            gid_map: "0 0 1\n".into(),
            deny_setgroups: true,
        }
    }

    fn identity() -> IdMap {
        let all = "0 0 4294967295\n".to_owned();
        IdMap {
            uid_map: all.clone(),
            gid_map: all,
            deny_setgroups: false,
        }
    }

    fn write(&self, pid: Pid) -> Step<()> {
        let proc = format!("/proc/{pid}");
        if self.deny_setgroups {
            write_file(&format!("{proc}/setgroups"), "deny")?;
        }
        write_file(&format!("{proc}/uid_map"), &self.uid_map)?;
        write_file(&format!("{proc}/gid_map"), &self.gid_map)
    }
}

fn write_file(path: &str, content: &str) -> Step<()> {
    std::fs::write(path, content).step(|| format!("writing {:?} to {path}", content.trim()))
}

/// Unshares a new user namespace together with `also`, and has its id maps written.
pub(super) fn enter(map: &IdMap, also: CloneFlags) -> Step<()> {
    let (go_read, go_write) = pipe2(OFlag::O_CLOEXEC).step(|| "creating a pipe")?;
    let (result_read, result_write) = pipe2(OFlag::O_CLOEXEC).step(|| "creating a pipe")?;
    let target = getpid();
    // SAFETY: the init is single-threaded; the helper only writes files and exits.
    match unsafe { fork() }.step(|| "forking the id-map helper")? {
        ForkResult::Child => {
            drop((go_write, result_read));
            helper(map, target, go_read, result_write)
        }
        ForkResult::Parent { child } => {
            drop((go_read, result_write));
            let unshared = unshare(CloneFlags::CLONE_NEWUSER | also);
            let mut go = std::fs::File::from(go_write);
            if unshared.is_ok() {
                let _ = go.write_all(b"g");
            }
            drop(go);
            let mut message = String::new();
            let _ = std::fs::File::from(result_read).read_to_string(&mut message);
            let status = waitpid(child, None);
            unshared.step(|| "creating the VM's namespaces (are user namespaces enabled?)")?;
            match (status, message.is_empty()) {
                (Ok(WaitStatus::Exited(_, 0)), true) => Ok(()),
                (_, false) => Err(Failure(message)),
                (status, true) => Err(Failure(format!("the id-map helper failed: {status:?}"))),
            }
        }
    }
}

/// The helper: waits for the parent to unshare, writes its maps, reports, exits.
fn helper(map: &IdMap, target: Pid, go: OwnedFd, result: OwnedFd) -> ! {
    let mut byte = [0u8; 1];
    let outcome = match std::fs::File::from(go).read(&mut byte) {
        Ok(1) => map.write(target),
        _ => Ok(()), // the parent could not unshare; it reports that itself
    };
    let code = match outcome {
        Ok(()) => 0,
        Err(failure) => {
            let _ = std::fs::File::from(result).write_all(failure.0.as_bytes());
            1
        }
    };
    // SAFETY: _exit skips the parent's atexit handlers and buffered output, as a forked
    // child should.
    unsafe { libc::_exit(code) }
}
