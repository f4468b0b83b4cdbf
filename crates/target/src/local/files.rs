//! Local file operations, with the same preconditions, in the same order, as the remote
//! snippets in [`crate::script`], so both give the same errors.

use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::unistd::AccessFlags;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::script::{ancestors, parent_of};
use crate::{DirEntry, FileKind, Metadata, Sink, Source, TargetError};

/// Tells temporary file names of one process apart.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `[ -e path ]`: follows symlinks; a path that cannot be reached counts as missing.
async fn exists(path: &Path) -> Option<std::fs::Metadata> {
    tokio::fs::metadata(path).await.ok()
}

fn may(path: &Path, flags: AccessFlags) -> bool {
    nix::unistd::access(path, flags).is_ok()
}

fn io(what: &str, path: &str, source: std::io::Error) -> TargetError {
    TargetError::io(format!("{what} {path}"), source)
}

/// Bytes moved per hop when copying local files (each `tokio::fs` operation is a trip to a
/// blocking thread, so small hops dominate large transfers).
const COPY_BUFFER: usize = 1 << 20;

pub(crate) async fn read_to(path: &str, sink: Sink<'_>) -> Result<u64, TargetError> {
    let p = Path::new(path);
    let meta = exists(p)
        .await
        .ok_or_else(|| TargetError::NotFound { path: path.into() })?;
    if meta.is_dir() {
        return Err(TargetError::IsADirectory { path: path.into() });
    }
    if !may(p, AccessFlags::R_OK) {
        return Err(TargetError::PermissionDenied { path: path.into() });
    }
    let file = tokio::fs::File::open(p)
        .await
        .map_err(|e| io("opening", path, e))?;
    // Large buffered hops: each tokio::fs read is a trip to a blocking thread.
    let mut file = tokio::io::BufReader::with_capacity(COPY_BUFFER, file);
    let copied = tokio::io::copy_buf(&mut file, sink)
        .await
        .map_err(|e| io("reading", path, e))?;
    sink.flush().await.map_err(|e| io("reading", path, e))?;
    Ok(copied)
}

/// Where a write really goes: through a symlink to its target.
async fn write_destination(path: &str) -> (PathBuf, PathBuf) {
    let p = Path::new(path);
    let is_link = tokio::fs::symlink_metadata(p)
        .await
        .is_ok_and(|m| m.file_type().is_symlink());
    if is_link && let Ok(real) = tokio::fs::canonicalize(p).await {
        let dir = real
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        return (real, dir);
    }
    (p.to_path_buf(), PathBuf::from(parent_of(path)))
}

pub(crate) async fn write_from(
    path: &str,
    source: Source<'_>,
    len: u64,
) -> Result<(), TargetError> {
    let (file, dir) = write_destination(path).await;
    let existing = exists(&file).await;
    if existing.as_ref().is_some_and(std::fs::Metadata::is_dir) {
        return Err(TargetError::IsADirectory { path: path.into() });
    }
    match exists(&dir).await {
        None => {
            return Err(TargetError::ParentMissing {
                path: path.into(),
                parent: parent_of(path),
            });
        }
        Some(meta) if !meta.is_dir() => {
            return Err(TargetError::NotADirectory { path: path.into() });
        }
        Some(_) => {}
    }
    if existing.is_some() && !may(&file, AccessFlags::W_OK) {
        return Err(TargetError::PermissionDenied { path: path.into() });
    }
    let mut temp = TempFile::create(&dir, path).await?;
    if let Some(meta) = &existing {
        let mode = std::fs::Permissions::from_mode(meta.mode() & 0o7777);
        tokio::fs::set_permissions(&temp.path, mode)
            .await
            .map_err(|e| io("writing", path, e))?;
        let _ = std::os::unix::fs::chown(&temp.path, Some(meta.uid()), Some(meta.gid()));
    }
    let got = temp
        .fill(source, len)
        .await
        .map_err(|e| io("writing", path, e))?;
    if got != len {
        return Err(TargetError::Truncated {
            path: path.into(),
            expected: len,
            got,
        });
    }
    temp.commit(&file).await.map_err(|e| io("writing", path, e))
}

/// A temporary file beside the destination, removed unless committed.
struct TempFile {
    path: PathBuf,
    file: Option<tokio::fs::File>,
}

impl TempFile {
    /// Creates `.tether-write.<unique>` in `dir` with mode `0666 & !umask`.
    async fn create(dir: &Path, path: &str) -> Result<TempFile, TargetError> {
        loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!(".tether-write.{}.{n}", std::process::id());
            let candidate = dir.join(name);
            let opened = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o666)
                .open(&candidate)
                .await;
            match opened {
                Ok(file) => {
                    return Ok(TempFile {
                        path: candidate,
                        file: Some(file),
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(_) if !may(dir, AccessFlags::W_OK) => {
                    return Err(TargetError::PermissionDenied { path: path.into() });
                }
                Err(e) => return Err(io("writing", path, e)),
            }
        }
    }

    /// Copies at most `len` bytes of `source` in; returns how many came.
    async fn fill(&mut self, source: Source<'_>, len: u64) -> std::io::Result<u64> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        let mut source = tokio::io::BufReader::with_capacity(COPY_BUFFER, source.take(len));
        let got = tokio::io::copy_buf(&mut source, file).await?;
        file.flush().await?;
        Ok(got)
    }

    async fn commit(mut self, destination: &Path) -> std::io::Result<()> {
        drop(self.file.take());
        tokio::fs::rename(&self.path, destination).await?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub(crate) async fn stat(path: &str) -> Result<Metadata, TargetError> {
    let link = tokio::fs::symlink_metadata(path).await.ok();
    let symlink = link.as_ref().is_some_and(|m| m.file_type().is_symlink());
    let meta = match (exists(Path::new(path)).await, link) {
        (Some(meta), _) => meta,
        (None, Some(link)) if symlink => link,
        _ => return Err(TargetError::NotFound { path: path.into() }),
    };
    Ok(Metadata {
        kind: FileKind::from_mode(meta.mode()),
        size: meta.size(),
        mode: meta.mode() & 0o7777,
        symlink,
    })
}

pub(crate) async fn mkdir_all(path: &str) -> Result<(), TargetError> {
    match exists(Path::new(path)).await {
        Some(meta) if meta.is_dir() => return Ok(()),
        Some(_) => return Err(TargetError::NotADirectory { path: path.into() }),
        None => {}
    }
    let Err(error) = tokio::fs::create_dir_all(path).await else {
        return Ok(());
    };
    for ancestor in ancestors(path) {
        let a = Path::new(&ancestor);
        if let Some(meta) = exists(a).await {
            if !meta.is_dir() {
                return Err(TargetError::NotADirectory { path: path.into() });
            }
            if !may(a, AccessFlags::W_OK) {
                return Err(TargetError::PermissionDenied { path: path.into() });
            }
            break;
        }
    }
    Err(io("creating directory", path, error))
}

/// `[ -e ]`, `[ -d ]`, `cd`: the checks every directory operation starts with.
pub(crate) async fn enter_dir(dir: &str) -> Result<(), TargetError> {
    let p = Path::new(dir);
    match exists(p).await {
        None => Err(TargetError::NotFound { path: dir.into() }),
        Some(meta) if !meta.is_dir() => Err(TargetError::NotADirectory { path: dir.into() }),
        Some(_) if !may(p, AccessFlags::X_OK) => {
            Err(TargetError::PermissionDenied { path: dir.into() })
        }
        Some(_) => Ok(()),
    }
}

pub(crate) async fn read_dir(dir: &str) -> Result<Vec<DirEntry>, TargetError> {
    enter_dir(dir).await?;
    if !may(Path::new(dir), AccessFlags::R_OK) {
        return Err(TargetError::PermissionDenied { path: dir.into() });
    }
    let root = PathBuf::from(dir);
    let listed = tokio::task::spawn_blocking(move || {
        let mut found = Vec::new();
        walk(&root, ".", Some(1), &mut found).map(|()| found)
    });
    let mut entries = match listed.await {
        Ok(Ok(entries)) => entries,
        Ok(Err(e)) => return Err(io("listing", dir, e)),
        Err(e) => return Err(io("listing", dir, std::io::Error::other(e))),
    };
    entries.sort();
    Ok(entries)
}

/// Collects the entries under `root` (named `prefix/...`, or bare when `prefix` is `.`) down
/// to `depth` levels, not following symlinks below `root`. Unreadable subdirectories are
/// skipped, as `find` does.
pub(crate) fn walk(
    root: &Path,
    prefix: &str,
    depth: Option<usize>,
    found: &mut Vec<DirEntry>,
) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if prefix == "." {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = kind_of(&entry.file_type()?);
        let deeper = depth.is_none_or(|d| d > 1);
        if kind == FileKind::Dir && deeper {
            let _ = walk(&entry.path(), &path, depth.map(|d| d - 1), found);
        }
        found.push(DirEntry { path, kind });
    }
    Ok(())
}

fn kind_of(file_type: &std::fs::FileType) -> FileKind {
    if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_dir() {
        FileKind::Dir
    } else if file_type.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}
