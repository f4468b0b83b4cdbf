//! Whole-tree operations on the host's view of a disk.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Removes `path` and everything under it; missing is fine. Directories the tree's owner
/// cannot enter (overlayfs leaves `work/work` at mode 000) are opened up first.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) if error.raw_os_error() == Some(libc::ENOTDIR) => std::fs::remove_file(path),
        Err(_) => {
            open_up(path);
            std::fs::remove_dir_all(path)
        }
    }
}

fn open_up(path: &Path) {
    let Ok(meta) = path.symlink_metadata() else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            open_up(&entry.path());
        }
    }
}

/// Bytes allocated to the files under `path` (hard links counted once).
pub(crate) fn usage(path: &Path) -> io::Result<u64> {
    let mut seen = HashSet::new();
    usage_of(path, &mut seen)
}

fn usage_of(path: &Path, seen: &mut HashSet<(u64, u64)>) -> io::Result<u64> {
    let meta = path.symlink_metadata()?;
    if !seen.insert((meta.dev(), meta.ino())) {
        return Ok(0);
    }
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            total += usage_of(&entry?.path(), seen)?;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_locked_directory_is_still_removed() {
        let temp = tempfile::tempdir().unwrap();
        let locked = temp.path().join("a/work");
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::write(locked.join("f"), "x").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        remove_tree(&temp.path().join("a")).unwrap();
        assert!(!temp.path().join("a").exists());
        remove_tree(&temp.path().join("a")).unwrap();
    }

    #[test]
    fn usage_counts_hard_links_once() {
        let temp = tempfile::tempdir().unwrap();
        std::fs::write(temp.path().join("f"), vec![1u8; 64 * 1024]).unwrap();
        let single = usage(temp.path()).unwrap();
        std::fs::hard_link(temp.path().join("f"), temp.path().join("g")).unwrap();
        assert_eq!(usage(temp.path()).unwrap(), single);
        assert!(single >= 64 * 1024);
    }
}
