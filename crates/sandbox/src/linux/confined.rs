//! Path resolution confined to a VM's root: every lookup is `openat2` from the root's
//! descriptor with `RESOLVE_IN_ROOT` (absolute symlinks and `..` stop at the VM's `/`) and
//! `RESOLVE_NO_MAGICLINKS` (no `/proc/N/root`-style jumps). Kernel pseudo-files are not read
//! here (this side has the host's privileges and namespaces: `/proc/kcore` must stay out of
//! reach, `/proc/sys/kernel/hostname` must say the VM's name) but by the VM's init, as the
//! VM's root would. Writes go through a temp file and `renameat` in the target's directory.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat, renameat};
use nix::sys::stat::{FileStat as Stat, Mode, fchmod, fstat, fstatat, mkdirat};
use nix::sys::statfs::fstatfs;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};

use crate::{FileStat, Result, SandboxError};

/// Symlinks followed at most while resolving a write's target (as the kernel's limit).
const MAX_SYMLINKS: usize = 40;
/// Retries of a lookup the kernel aborted because of a concurrent rename.
const MAX_RETRIES: usize = 8;
/// Filesystem magics that are windows into the kernel, read only with the VM's privileges.
const PSEUDO_FILESYSTEMS: [i64; 8] = [
    0x9fa0,     // proc
    0x62656572, // sysfs
    0x27e0eb,   // cgroup
    0x63677270, // cgroup2
    0x64626720, // debugfs
    0x74726163, // tracefs
    0x73636673, // securityfs
    0xcafe4a11, // bpf
];

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What [`read`] found.
pub(crate) enum ReadOutcome {
    /// The file's content.
    Content(Vec<u8>),
    /// A kernel pseudo-file: the VM's init must open it, with the VM's privileges.
    PseudoFile,
}

/// Reads a regular file on a real filesystem.
pub(crate) fn read(root: &OwnedFd, path: &str) -> Result<ReadOutcome> {
    let fd =
        open_in(root, relative(path)?, OFlag::O_PATH).map_err(|e| error(path, e, "opening"))?;
    check_regular(&fd, path)?;
    if is_pseudo(&fd) {
        return Ok(ReadOutcome::PseudoFile);
    }
    // Reopen the inode just checked (never the path again, which could have changed).
    let reopened = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let file = nix::fcntl::open(reopened.as_str(), flags, Mode::empty())
        .map_err(|e| error(path, e, "opening"))?;
    read_opened(file, path).map(ReadOutcome::Content)
}

/// Reads a file opened for reading (by [`read`], or the copy the VM's init made).
pub(crate) fn read_opened(file: OwnedFd, path: &str) -> Result<Vec<u8>> {
    let size = check_regular(&file, path)?;
    let mut content = Vec::with_capacity(size);
    std::fs::File::from(file)
        .read_to_end(&mut content)
        .map_err(|e| SandboxError::io(format!("reading {path} in the VM"), e))?;
    Ok(content)
}

/// Fails unless `fd` is a regular file; returns its size.
fn check_regular(fd: &OwnedFd, path: &str) -> Result<usize> {
    let stat = fstat(fd).map_err(|e| error(path, e, "inspecting"))?;
    if is_dir(&stat) {
        return Err(SandboxError::IsDirectory {
            path: path.to_owned(),
        });
    }
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(bad(
            path,
            "not a regular file; read it with a command instead",
        ));
    }
    Ok(usize::try_from(stat.st_size).unwrap_or(0))
}

/// Metadata, following symlinks inside the VM.
pub(crate) fn stat(root: &OwnedFd, path: &str) -> Result<FileStat> {
    let fd =
        open_in(root, relative(path)?, OFlag::O_PATH).map_err(|e| error(path, e, "opening"))?;
    let stat = fstat(&fd).map_err(|e| error(path, e, "inspecting"))?;
    Ok(FileStat {
        size: u64::try_from(stat.st_size).unwrap_or(0),
        mode: stat.st_mode,
        is_dir: is_dir(&stat),
    })
}

/// Replaces the file at `path` (after following symlinks inside the VM) atomically.
pub(crate) fn write(
    root: &OwnedFd,
    path: &str,
    content: &[u8],
    mode: Option<u32>,
    create_dirs: bool,
) -> Result<()> {
    let (dir, name) = resolve_target(root, path, create_dirs)?;
    let existing = match fstatat(&dir, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) if is_dir(&stat) => {
            return Err(SandboxError::IsDirectory {
                path: path.to_owned(),
            });
        }
        Ok(stat) => Some(stat),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(error(path, e, "inspecting")),
    };
    let mode = mode.unwrap_or_else(|| existing.map_or(0o644, |stat| stat.st_mode & 0o7777));
    let temp = format!(
        ".{name}.tether-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let written = write_temp(&dir, &temp, content, mode, existing.as_ref())
        .and_then(|()| renameat(&dir, temp.as_str(), &dir, name.as_str()));
    if let Err(e) = written {
        let _ = unlinkat(&dir, temp.as_str(), UnlinkatFlags::NoRemoveDir);
        return Err(error(path, e, "writing"));
    }
    Ok(())
}

fn write_temp(
    dir: &OwnedFd,
    temp: &str,
    content: &[u8],
    mode: u32,
    existing: Option<&Stat>,
) -> nix::Result<()> {
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir, temp, flags, Mode::from_bits_truncate(0o600))?;
    if let Some(stat) = existing {
        let _ = fchown(
            &fd,
            Some(Uid::from_raw(stat.st_uid)),
            Some(Gid::from_raw(stat.st_gid)),
        );
    }
    fchmod(&fd, Mode::from_bits_truncate(mode))?;
    std::fs::File::from(fd)
        .write_all(content)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// The directory that holds the file `path` names once symlinks in its last component are
/// followed (inside the VM), and the file's name in it.
fn resolve_target(root: &OwnedFd, path: &str, create_dirs: bool) -> Result<(OwnedFd, String)> {
    let mut current = relative(path)?.to_owned();
    for _ in 0..MAX_SYMLINKS {
        let (parent, name) = split_last(&current);
        if matches!(name, "" | "." | "..") {
            return Err(SandboxError::IsDirectory {
                path: path.to_owned(),
            });
        }
        let dir = open_dir(root, parent, create_dirs)
            .map_err(|e| error(path, e, "opening the directory of"))?;
        match readlinkat(&dir, name) {
            Ok(target) => {
                let target = target.to_string_lossy();
                current = match target.strip_prefix('/') {
                    Some(absolute) => absolute.to_owned(),
                    None => format!("{parent}/{target}"),
                };
            }
            Err(Errno::EINVAL | Errno::ENOENT) => return Ok((dir, name.to_owned())),
            Err(e) => return Err(error(path, e, "resolving")),
        }
    }
    Err(bad(path, "too many levels of symbolic links"))
}

/// Opens directory `rel`, creating missing components (0o755) if asked.
fn open_dir(root: &OwnedFd, rel: &str, create: bool) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    match open_in(root, rel, flags) {
        Err(Errno::ENOENT) if create => {}
        other => return other,
    }
    let parts: Vec<&str> = rel.split('/').filter(|part| !part.is_empty()).collect();
    for depth in 0..parts.len() {
        let prefix = parts[..=depth].join("/");
        match open_in(root, &prefix, flags) {
            Err(Errno::ENOENT) => {
                let above = open_in(root, &parts[..depth].join("/"), flags)?;
                match mkdirat(&above, parts[depth], Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(e),
                }
            }
            other => drop(other?),
        }
    }
    open_in(root, rel, flags)
}

/// `openat2(root, rel, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`, retried on `EAGAIN`.
fn open_in(root: &OwnedFd, rel: &str, flags: OFlag) -> nix::Result<OwnedFd> {
    let rel = if rel.is_empty() { "." } else { rel };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut result = openat2(root.as_fd(), rel, how);
    for _ in 0..MAX_RETRIES {
        if !matches!(result, Err(Errno::EAGAIN)) {
            break;
        }
        result = openat2(root.as_fd(), rel, how);
    }
    result
}

/// `path` without its leading `/`, after checking it is absolute and has no NUL.
fn relative(path: &str) -> Result<&str> {
    if path.contains('\0') {
        return Err(bad(path, "contains a NUL byte"));
    }
    match path.strip_prefix('/') {
        Some(rest) => Ok(rest.trim_start_matches('/')),
        None => Err(bad(path, "must be absolute (start with /)")),
    }
}

/// `("a/b", "c")` for `"a/b/c"`, `("", "c")` for `"c"`; trailing slashes are ignored.
fn split_last(path: &str) -> (&str, &str) {
    let path = path.trim_end_matches('/');
    match path.rfind('/') {
        Some(at) => (&path[..at], &path[at + 1..]),
        None => ("", path),
    }
}

fn is_dir(stat: &Stat) -> bool {
    stat.st_mode & libc::S_IFMT == libc::S_IFDIR
}

// `f_type`'s width differs between architectures.
#[allow(clippy::unnecessary_cast)]
fn is_pseudo(fd: &OwnedFd) -> bool {
    fstatfs(fd).map_or(true, |fs| {
        PSEUDO_FILESYSTEMS.contains(&(fs.filesystem_type().0 as i64))
    })
}

fn bad(path: &str, reason: &str) -> SandboxError {
    SandboxError::BadPath {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

pub(crate) fn error(path: &str, errno: Errno, doing: &str) -> SandboxError {
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => SandboxError::NotFound {
            path: path.to_owned(),
        },
        Errno::EISDIR => SandboxError::IsDirectory {
            path: path.to_owned(),
        },
        Errno::ELOOP => bad(path, "too many levels of symbolic links"),
        Errno::EXDEV => bad(path, "leads outside the VM's root"),
        other => SandboxError::io(format!("{doing} {path} in the VM"), other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_must_be_absolute_and_free_of_nul() {
        assert_eq!(relative("//etc/hosts").ok(), Some("etc/hosts"));
        assert!(matches!(relative("etc"), Err(SandboxError::BadPath { .. })));
        assert!(matches!(
            relative("/a\0b"),
            Err(SandboxError::BadPath { .. })
        ));
    }

    #[test]
    fn the_last_component_is_split_off() {
        assert_eq!(split_last("a/b/c"), ("a/b", "c"));
        assert_eq!(split_last("c"), ("", "c"));
        assert_eq!(split_last("a/b/"), ("a", "b"));
    }
}
