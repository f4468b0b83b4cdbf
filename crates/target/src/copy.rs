//! Copying files and directory trees between any two targets, streamed: upload (local →
//! remote), download (remote → local) and VM → VM are the same operation.

use crate::{FileKind, LocalTarget, Target, TargetError};

/// Bytes buffered between the reading and the writing side of a copy.
const PIPE_BUFFER: usize = 256 * 1024;

/// Copies the file `from_path` on `from` to `to_path` on `to` (atomically replaced there, see
/// [`Target::write_from`]); returns the bytes copied. Nothing is held in memory whole.
pub async fn copy_file(
    from: &dyn Target,
    from_path: &str,
    to: &dyn Target,
    to_path: &str,
) -> Result<u64, TargetError> {
    let meta = from.stat(from_path).await?;
    if meta.kind == FileKind::Dir {
        return Err(TargetError::IsADirectory {
            path: from_path.into(),
        });
    }
    let (mut tx, mut rx) = tokio::io::duplex(PIPE_BUFFER);
    let reading = async move { from.read_to(from_path, &mut tx).await };
    let writing = async move { to.write_from(to_path, &mut rx, meta.size).await };
    let (read, written) = tokio::join!(reading, writing);
    settle(read, written).map(|(n, ())| n)
}

/// Copies the directory tree `from_dir` on `from` into `to_dir` on `to` (created if missing;
/// existing files there are overwritten, others kept), as a tar stream.
pub async fn copy_tree(
    from: &dyn Target,
    from_dir: &str,
    to: &dyn Target,
    to_dir: &str,
) -> Result<(), TargetError> {
    // Checked first, so a missing source creates nothing at the destination.
    if from.stat(from_dir).await?.kind != FileKind::Dir {
        return Err(TargetError::NotADirectory {
            path: from_dir.into(),
        });
    }
    let (mut tx, mut rx) = tokio::io::duplex(PIPE_BUFFER);
    let reading = async move { from.pack_tree(from_dir, &mut tx).await };
    let writing = async move { to.unpack_tree(to_dir, &mut rx).await };
    let (read, written) = tokio::join!(reading, writing);
    settle(read.map(|()| 0), written).map(drop)
}

/// Uploads the local file `local` to `remote` on `target`.
pub async fn upload_file(
    local: &str,
    target: &dyn Target,
    remote: &str,
) -> Result<u64, TargetError> {
    copy_file(&LocalTarget, local, target, remote).await
}

/// Downloads `remote` on `target` to the local file `local`.
pub async fn download_file(
    target: &dyn Target,
    remote: &str,
    local: &str,
) -> Result<u64, TargetError> {
    copy_file(target, remote, &LocalTarget, local).await
}

/// Uploads the local directory tree `local` into `remote` on `target`.
pub async fn upload_tree(
    local: &str,
    target: &dyn Target,
    remote: &str,
) -> Result<(), TargetError> {
    copy_tree(&LocalTarget, local, target, remote).await
}

/// Downloads the directory tree `remote` on `target` into the local directory `local`.
pub async fn download_tree(
    target: &dyn Target,
    remote: &str,
    local: &str,
) -> Result<(), TargetError> {
    copy_tree(target, remote, &LocalTarget, local).await
}

/// The result of a copy from both sides' results. When both failed, the reading side's error
/// is the cause unless it only failed because the writing side stopped taking bytes.
fn settle<T, U>(
    read: Result<T, TargetError>,
    written: Result<U, TargetError>,
) -> Result<(T, U), TargetError> {
    match (read, written) {
        (Ok(read), Ok(written)) => Ok((read, written)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(read), Err(written)) if is_broken_pipe(&read) => Err(written),
        (Err(read), Err(_)) => Err(read),
    }
}

fn is_broken_pipe(error: &TargetError) -> bool {
    matches!(
        error,
        TargetError::Io { .. }
            | TargetError::Transport(tether_transport::TransportError::LocalIo { .. })
    )
}
