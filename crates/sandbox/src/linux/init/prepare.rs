//! Host-side preparation, done by the outer process with the host user's credentials before
//! any namespace exists: a fresh scratch directory, and the VM's identity files written
//! straight into the `/etc` overlay's upper layer (so they work even when the VM's root
//! cannot write the host-owned `/etc`).

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat, renameat};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use super::{Failure, Options, Step, StepExt};
use crate::linux::{disk, tree};

/// Marks the `/etc/hosts` line this crate manages.
const HOSTS_MARKER: &str = "# tether vm hostname";

/// Checks the disk, recreates the scratch directory and writes `/etc/hostname` and
/// `/etc/hosts`.
pub(super) fn run(options: &Options) -> Step<()> {
    let disk = &options.disk;
    if !disk.join(disk::MARKER).is_file() {
        return Err(Failure(format!(
            "{} is not a VM disk (no {} marker); make one with create_disk",
            disk.display(),
            disk::MARKER
        )));
    }
    tree::remove_tree(&options.scratch)
        .step(|| format!("removing the stale {}", options.scratch.display()))?;
    let work = options.scratch.join("work");
    std::fs::create_dir_all(&work).step(|| format!("creating {}", work.display()))?;
    let etc = disk.join(disk::UPPER).join("etc");
    if etc.is_dir() {
        write_identity(&etc, &options.hostname).map_err(|failure| {
            Failure(format!(
                "writing the VM's /etc/hostname and /etc/hosts: {failure}"
            ))
        })?;
    }
    Ok(())
}

fn write_identity(etc: &Path, hostname: &str) -> Step<()> {
    let dir = open(
        etc,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("opening {}", etc.display()))?;
    replace(&dir, "hostname", &format!("{hostname}\n"))?;
    let current = read_regular(&dir, "hosts")
        .or_else(|| std::fs::read_to_string("/etc/hosts").ok())
        .unwrap_or_else(|| {
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n".to_owned()
        });
    replace(&dir, "hosts", &hosts_with(&current, hostname))
}

/// `hosts` with the managed line replaced by one for `hostname`.
fn hosts_with(hosts: &str, hostname: &str) -> String {
    let mut out: String = hosts
        .lines()
        .filter(|line| !line.ends_with(HOSTS_MARKER))
        .flat_map(|line| [line, "\n"])
        .collect();
    out.push_str(&format!("127.0.1.1\t{hostname}\t{HOSTS_MARKER}\n"));
    out
}

/// The content of `dir/name` if it is a regular file (never following a symlink).
fn read_regular(dir: &OwnedFd, name: &str) -> Option<String> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = openat(dir.as_fd(), name, flags, Mode::empty()).ok()?;
    let stat = fstat(&fd).ok()?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let mut content = String::new();
    std::fs::File::from(fd).read_to_string(&mut content).ok()?;
    Some(content)
}

/// Atomically replaces `dir/name` (whatever it was: file, symlink, whiteout) with `content`.
fn replace(dir: &OwnedFd, name: &str, content: &str) -> Step<()> {
    let temp = format!(".{name}.tether-new");
    match unlinkat(dir, temp.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(error) => return Err(Failure(format!("removing {temp}: {error}"))),
    }
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(
        dir.as_fd(),
        temp.as_str(),
        flags,
        Mode::from_bits_truncate(0o644),
    )
    .step(|| format!("creating {temp}"))?;
    std::fs::File::from(fd)
        .write_all(content.as_bytes())
        .step(|| format!("writing {temp}"))?;
    renameat(dir, temp.as_str(), dir, name).step(|| format!("renaming {temp} to {name}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managed_hosts_line_is_replaced_not_repeated() {
        let first = hosts_with("127.0.0.1\tlocalhost\n", "vm-a");
        let second = hosts_with(&first, "vm-b");
        assert_eq!(
            second,
            format!("127.0.0.1\tlocalhost\n127.0.1.1\tvm-b\t{HOSTS_MARKER}\n")
        );
    }
}
