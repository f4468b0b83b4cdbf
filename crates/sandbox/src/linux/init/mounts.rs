//! Building the VM's root inside its (still first-level) mount namespace, then pivoting into
//! it. Every mount target is opened with `O_NOFOLLOW` and named through `/proc/self/fd/N`, so
//! nothing on the disk (which the VM controls) can redirect a mount.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::stat::{Mode, fchmod, mkdirat};
use nix::unistd::{chdir, fchdir, pivot_root, symlinkat};

use super::{Failure, Step, StepExt};
use crate::linux::disk;

/// Host device nodes bound into the VM's `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];
/// `/proc` entries made read-only (kernel knobs a VM must not turn).
const PROC_READ_ONLY: [&str; 4] = ["sys", "sysrq-trigger", "irq", "bus"];
/// Symlinks in the VM's `/dev`.
const DEV_LINKS: [(&str, &str); 5] = [
    ("ptmx", "pts/ptmx"),
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Mounts the VM's root tree from `disk` and makes it this process's root.
pub(super) fn build_root(disk: &Path, scratch: &Path, root_user: bool) -> Step<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .step(|| "making the mount tree private")?;
    let root_path = disk.join(disk::ROOT);
    let root = open_dir(&root_path)?;
    bind(&root, &root, MsFlags::empty()).step(|| format!("binding {}", root_path.display()))?;
    let root = open_dir(&root_path)?;
    overlays(&root, disk, scratch)?;
    dev(&root, root_user)?;
    proc(&root)?;
    sys(&root);
    tmpfs(
        &root,
        "run",
        "mode=755",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
    )?;
    let run = open_child(&root, "run")?;
    mkdir(&run, "lock", 0o1777)?;
    pivot(&root)
}

/// One overlay per directory in `disk/upper`: the host's `/<name>` read-only below, the
/// disk's `upper/<name>` above.
fn overlays(root: &OwnedFd, disk: &Path, scratch: &Path) -> Step<()> {
    let upper_dir = disk.join(disk::UPPER);
    let entries =
        std::fs::read_dir(&upper_dir).step(|| format!("listing {}", upper_dir.display()))?;
    for entry in entries {
        let entry = entry.step(|| format!("listing {}", upper_dir.display()))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| Failure("non-UTF-8 overlay name".into()))?;
        if !disk::is_system_dir(&name) {
            continue;
        }
        overlay(
            root,
            &name,
            &upper_dir.join(&name),
            &scratch.join("work").join(&name),
        )?;
    }
    Ok(())
}

fn overlay(root: &OwnedFd, name: &str, upper: &Path, work: &Path) -> Step<()> {
    std::fs::create_dir_all(work).step(|| format!("creating {}", work.display()))?;
    let (upper, work, target) = (open_dir(upper)?, open_dir(work)?, open_child(root, name)?);
    let options = format!(
        "lowerdir=/{name},upperdir={},workdir={},userxattr",
        fd_path(&upper),
        fd_path(&work)
    );
    mount(
        Some("overlay"),
        fd_path(&target).as_str(),
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .step(|| format!("mounting the overlay of the host's /{name}"))
}

/// A private `/dev`: host device nodes bound in, a devpts of its own, a tmpfs `/dev/shm`.
fn dev(root: &OwnedFd, root_user: bool) -> Step<()> {
    tmpfs(
        root,
        "dev",
        "mode=755,size=1m",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
    )?;
    let dev = open_child(root, "dev")?;
    for name in DEVICES {
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
        drop(
            openat(dev.as_fd(), name, flags, Mode::from_bits_truncate(0o666))
                .step(|| format!("creating /dev/{name}"))?,
        );
        let target = open_path(&dev, name)?;
        let source = format!("/dev/{name}");
        mount(
            Some(source.as_str()),
            fd_path(&target).as_str(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .step(|| format!("binding the host's {source}"))?;
    }
    mkdir(&dev, "pts", 0o755)?;
    let pts_options = if root_user {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    } else {
        "newinstance,ptmxmode=0666,mode=0620"
    };
    let pts = open_child(&dev, "pts")?;
    mount(
        Some("devpts"),
        fd_path(&pts).as_str(),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(pts_options),
    )
    .step(|| "mounting /dev/pts")?;
    for (name, target) in DEV_LINKS {
        symlinkat(target, dev.as_fd(), name).step(|| format!("linking /dev/{name}"))?;
    }
    mkdir(&dev, "shm", 0o1777)?;
    tmpfs(
        &dev,
        "shm",
        "mode=1777",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
    )
}

/// The VM's own `/proc` (its pid namespace), with the kernel knobs read-only.
fn proc(root: &OwnedFd) -> Step<()> {
    let target = open_child(root, "proc")?;
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("proc"),
        fd_path(&target).as_str(),
        Some("proc"),
        flags,
        None::<&str>,
    )
    .step(|| "mounting /proc")?;
    let proc = open_child(root, "proc")?;
    for name in PROC_READ_ONLY {
        match read_only_bind(&proc, name) {
            Err(Errno::ENOENT) => {}
            other => other.step(|| format!("making /proc/{name} read-only"))?,
        }
    }
    Ok(())
}

fn read_only_bind(dir: &OwnedFd, name: &str) -> nix::Result<()> {
    let target = openat(
        dir.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    bind(&target, &target, MsFlags::MS_REC)?;
    let target = openat(
        dir.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mount(
        None::<&str>,
        fd_path(&target).as_str(),
        None::<&str>,
        flags,
        None::<&str>,
    )
}

/// The host's `/sys`, recursively read-only. Best effort: a VM without it still works, so on
/// failure `/sys` stays an empty directory.
fn sys(root: &OwnedFd) {
    let Ok(target) = open_child(root, "sys") else {
        return;
    };
    if bind_path("/sys", &target, MsFlags::MS_REC).is_err() {
        return;
    }
    let made_read_only = open_child(root, "sys")
        .ok()
        .is_some_and(|sys| set_read_only_recursive(&sys).is_ok());
    if !made_read_only {
        let _ = open_child(root, "sys")
            .map(|sys| umount2(fd_path(&sys).as_str(), MntFlags::MNT_DETACH));
    }
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, {RDONLY|NOSUID|NODEV|NOEXEC})`.
fn set_read_only_recursive(dir: &OwnedFd) -> nix::Result<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY_NOSUID_NODEV_NOEXEC: u64 = 0x1 | 0x2 | 0x4 | 0x8;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY_NOSUID_NODEV_NOEXEC,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: the path is a valid C string and `attr` outlives the call with its exact size.
    let result = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dir.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(result).map(drop)
}

/// Makes `root` the process's root and drops the old one.
fn pivot(root: &OwnedFd) -> Step<()> {
    fchdir(root).step(|| "entering the VM's root")?;
    pivot_root(".", ".").step(|| "pivoting into the VM's root")?;
    umount2(".", MntFlags::MNT_DETACH).step(|| "detaching the host's root")?;
    chdir("/").step(|| "entering /")
}

fn tmpfs(dir: &OwnedFd, name: &str, options: &str, flags: MsFlags) -> Step<()> {
    let target = open_child(dir, name)?;
    mount(
        Some("tmpfs"),
        fd_path(&target).as_str(),
        Some("tmpfs"),
        flags,
        Some(options),
    )
    .step(|| format!("mounting a tmpfs on {name}"))
}

fn bind(source: &OwnedFd, target: &OwnedFd, flags: MsFlags) -> nix::Result<()> {
    bind_path(&fd_path(source), target, flags)
}

fn bind_path(source: &str, target: &OwnedFd, flags: MsFlags) -> nix::Result<()> {
    mount(
        Some(source),
        fd_path(target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND | flags,
        None::<&str>,
    )
}

fn mkdir(dir: &OwnedFd, name: &str, mode: u32) -> Step<()> {
    mkdirat(dir.as_fd(), name, Mode::from_bits_truncate(0o700))
        .step(|| format!("creating {name}"))?;
    let created = openat(
        dir.as_fd(),
        name,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("opening {name}"))?;
    fchmod(&created, Mode::from_bits_truncate(mode)).step(|| format!("setting the mode of {name}"))
}

fn open_dir(path: &Path) -> Step<OwnedFd> {
    open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("opening {}", path.display()))
}

/// A directory inside `dir`, never through a symlink; crosses mounts (so it sees what was
/// just mounted there).
fn open_child(dir: &OwnedFd, name: &str) -> Step<OwnedFd> {
    openat(
        dir.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("opening the VM's /{name} (is the disk complete?)"))
}

fn open_path(dir: &OwnedFd, name: &str) -> Step<OwnedFd> {
    openat(
        dir.as_fd(),
        name,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .step(|| format!("opening {name}"))
}

/// The `/proc/self/fd/N` name of an open descriptor.
fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}
