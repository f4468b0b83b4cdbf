//! VM disks: a `root/` tree, overlay upper layers in `upper/`, and a marker file.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::tree;
use crate::{Result, SandboxError};

/// The marker file that makes a directory a disk.
pub(crate) const MARKER: &str = "tether-disk";
/// The VM's root tree inside a disk.
pub(crate) const ROOT: &str = "root";
/// The overlay upper layers inside a disk.
pub(crate) const UPPER: &str = "upper";
/// The marker's content (the layout version).
const MARKER_CONTENT: &str = "tether VM disk, layout 1\n";
/// How long copying a disk may take.
pub(crate) const COPY_DEADLINE: Duration = Duration::from_secs(600);

/// Host system directories a VM sees (read-only below its own changes) when they are real
/// directories; when they are symlinks (usrmerge), the VM gets the same symlink.
const SYSTEM_DIRS: [&str; 9] = [
    "usr", "etc", "var", "bin", "sbin", "lib", "lib32", "lib64", "libx32",
];

/// The VM's own top-level directories and their modes (`dev`, `proc`, `sys`, `run` are
/// mount points).
const VM_DIRS: [(&str, u32); 11] = [
    ("root", 0o700),
    ("home", 0o755),
    ("tmp", 0o1777),
    ("opt", 0o755),
    ("srv", 0o755),
    ("mnt", 0o755),
    ("media", 0o755),
    ("dev", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("run", 0o755),
];

/// Files copied from the host's `/etc/skel` into the VM's `/root`.
const SKELETON: [&str; 2] = [".bashrc", ".profile"];

/// Whether `name` is one of the system directories overlaid from the host.
pub(crate) fn is_system_dir(name: &str) -> bool {
    SYSTEM_DIRS.contains(&name)
}

/// Where a running VM keeps its overlay work directories: `<disk>.scratch` next to the disk
/// (same filesystem as the upper layers, as overlayfs requires).
pub(crate) fn scratch_path(disk: &Path) -> PathBuf {
    let mut name = disk
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "disk".into());
    name.push(".scratch");
    disk.with_file_name(name)
}

/// Fails unless `disk` was made by [`create_disk`].
pub(crate) fn check(disk: &Path) -> Result<()> {
    if disk.join(MARKER).is_file() {
        return Ok(());
    }
    let error = io::Error::new(
        io::ErrorKind::NotFound,
        format!("no {MARKER} marker; make disks with create_disk"),
    );
    Err(SandboxError::io(
        format!("{} is not a VM disk", disk.display()),
        error,
    ))
}

pub(crate) fn create_disk(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_ok() {
        let error = io::Error::new(
            io::ErrorKind::AlreadyExists,
            "pick a path that does not exist",
        );
        return Err(SandboxError::io(
            format!("creating the disk {}", path.display()),
            error,
        ));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| SandboxError::io(format!("creating {}", parent.display()), e))?;
    }
    std::fs::create_dir(path)
        .map_err(|e| SandboxError::io(format!("creating the disk {}", path.display()), e))?;
    let laid_out = lay_out(path);
    if laid_out.is_err() {
        let _ = tree::remove_tree(path);
    }
    laid_out.map_err(|e| SandboxError::io(format!("laying out the disk {}", path.display()), e))
}

fn lay_out(disk: &Path) -> io::Result<()> {
    let (root, upper) = (disk.join(ROOT), disk.join(UPPER));
    mkdir(&root, 0o755)?;
    mkdir(&upper, 0o755)?;
    for (name, mode) in VM_DIRS {
        mkdir(&root.join(name), mode)?;
    }
    for name in SYSTEM_DIRS {
        let host = Path::new("/").join(name);
        match host.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => {
                std::os::unix::fs::symlink(host.read_link()?, root.join(name))?
            }
            Ok(meta) if meta.is_dir() => {
                mkdir(&root.join(name), 0o755)?;
                mkdir(&upper.join(name), 0o755)?;
            }
            _ => {}
        }
    }
    for name in SKELETON {
        let _ = std::fs::copy(
            Path::new("/etc/skel").join(name),
            root.join("root").join(name),
        );
    }
    std::fs::write(disk.join(MARKER), MARKER_CONTENT)
}

fn mkdir(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::create_dir(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

pub(crate) async fn copy_disk(src: &Path, dst: &Path) -> Result<()> {
    check(src)?;
    if dst.symlink_metadata().is_ok() {
        let error = io::Error::new(
            io::ErrorKind::AlreadyExists,
            "pick a path that does not exist",
        );
        return Err(SandboxError::io(
            format!("copying a disk to {}", dst.display()),
            error,
        ));
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| SandboxError::io(format!("creating {}", parent.display()), e))?;
    }
    let copied = run_cp(src, dst).await;
    if copied.is_err() {
        let dst = dst.to_owned();
        let _ = tokio::task::spawn_blocking(move || tree::remove_tree(&dst)).await;
    }
    copied.map_err(|e| {
        SandboxError::io(
            format!("copying the disk {} to {}", src.display(), dst.display()),
            e,
        )
    })
}

/// `cp -a --reflink=auto`: keeps owners, modes, xattrs (overlay opaque markers) and
/// whiteouts, and shares blocks where the filesystem can.
async fn run_cp(src: &Path, dst: &Path) -> io::Result<()> {
    let child = tokio::process::Command::new("cp")
        .args(["-a", "--reflink=auto", "--no-target-directory", "--"])
        .arg(src)
        .arg(dst)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let output = tokio::time::timeout(COPY_DEADLINE, child.wait_with_output())
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("cp took longer than {COPY_DEADLINE:?}"),
            )
        })??;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(io::Error::other(format!(
        "cp failed ({}): {}",
        output.status,
        stderr.trim()
    )))
}

pub(crate) async fn remove_disk(path: &Path) -> Result<()> {
    let (disk, scratch) = (path.to_owned(), scratch_path(path));
    let removed = tokio::task::spawn_blocking(move || {
        tree::remove_tree(&scratch).and_then(|()| tree::remove_tree(&disk))
    })
    .await
    .map_err(io::Error::other)
    .and_then(|result| result);
    removed.map_err(|e| SandboxError::io(format!("removing the disk {}", path.display()), e))
}

pub(crate) async fn disk_usage(path: &Path) -> Result<u64> {
    let disk = path.to_owned();
    tokio::task::spawn_blocking(move || tree::usage(&disk))
        .await
        .map_err(io::Error::other)
        .and_then(|result| result)
        .map_err(|e| SandboxError::io(format!("measuring the disk {}", path.display()), e))
}
