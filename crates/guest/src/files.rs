//! File operations: whole-file read and atomic write, stat, readdir.

use crate::outbox::Outbox;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use tether_guest_proto::{DirEntry, ErrorKind, Event, FileKind, FileStat};

/// File contents are sent in chunks of at most this many bytes.
const CHUNK: usize = 1 << 20;

/// A file request, answered on its own thread so a slow disk never stalls the channel.
pub(crate) enum FileOp {
    Read {
        path: String,
    },
    Write {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    Stat {
        path: String,
    },
    ReadDir {
        path: String,
    },
}

pub(crate) fn spawn(outbox: Outbox, id: u64, op: FileOp) {
    std::thread::spawn(move || {
        let (path, result) = match op {
            FileOp::Read { path } => {
                let result = read(&outbox, id, &path);
                (path, result)
            }
            FileOp::Write { path, mode, data } => {
                let result = write(&path, mode, &data).map(|()| Event::Done { id });
                (path, result)
            }
            FileOp::Stat { path } => {
                let result = stat(&path).map(|stat| Event::Stat { id, stat });
                (path, result)
            }
            FileOp::ReadDir { path } => {
                let result = read_dir(&path).map(|entries| Event::Entries { id, entries });
                (path, result)
            }
        };
        match result {
            Ok(event) => outbox.send(&event, &[]),
            Err(e) => outbox.send(&failed(id, &path, &e), &[]),
        }
    });
}

fn read(outbox: &Outbox, id: u64, path: &str) -> io::Result<Event> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(Event::Done { id });
        }
        outbox.send(&Event::Data { id }, &buf[..n]);
    }
}

/// Writes beside the target, then renames over it, so readers see old or new, never half.
fn write(path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
    let target = Path::new(path);
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    let temp = target.with_file_name(format!(".{}.tether-tmp", name.to_string_lossy()));
    let mode = fs::metadata(target)
        .map(|m| m.mode() & 0o7777)
        .unwrap_or(mode);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temp)?;
    let written = file.write_all(data).and_then(|()| file.sync_data());
    if let Err(e) = written.and_then(|()| fs::rename(&temp, target)) {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    Ok(())
}

fn stat(path: &str) -> io::Result<FileStat> {
    let meta = fs::symlink_metadata(path)?;
    Ok(FileStat {
        kind: kind_of(meta.file_type()),
        size: meta.len(),
        mode: meta.mode() & 0o7777,
        mtime: meta.mtime(),
    })
}

fn read_dir(path: &str) -> io::Result<Vec<DirEntry>> {
    fs::read_dir(path)?
        .map(|entry| {
            let entry = entry?;
            Ok(DirEntry {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind: kind_of(entry.file_type()?),
            })
        })
        .collect()
}

fn kind_of(file_type: fs::FileType) -> FileKind {
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

fn failed(id: u64, path: &str, e: &io::Error) -> Event {
    let kind = match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        io::ErrorKind::InvalidInput
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::IsADirectory => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    };
    Event::Failed {
        id,
        kind,
        message: format!("{path}: {e}"),
    }
}
