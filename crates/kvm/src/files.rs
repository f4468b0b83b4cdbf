//! File operations on the guest, one round trip each (a read: one per MiB).

use crate::agent::{AgentClient, next_reply};
use crate::error::KvmError;
use tether_guest_proto::{DirEntry, Event, FileStat, Request};

impl AgentClient {
    /// The whole contents of `path`.
    pub async fn read_file(&self, path: &str) -> Result<Vec<u8>, KvmError> {
        let (id, mut events) = self.open_route()?;
        self.send(
            &Request::ReadFile {
                id,
                path: path.into(),
            },
            &[],
        )?;
        let mut contents = Vec::new();
        loop {
            match next_reply(&mut events, "the guest to read a file").await? {
                (Event::Data { .. }, chunk) => contents.extend_from_slice(&chunk),
                (Event::Done { .. }, _) => break,
                (other, _) => return Err(self.unexpected(id, other)),
            }
        }
        self.close_route(id);
        Ok(contents)
    }

    /// Replaces `path` with `contents` atomically (a new file gets `mode`).
    pub async fn write_file(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), KvmError> {
        let (id, mut events) = self.open_route()?;
        self.send(
            &Request::WriteFile {
                id,
                path: path.into(),
                mode,
            },
            contents,
        )?;
        let result = match next_reply(&mut events, "the guest to write a file").await? {
            (Event::Done { .. }, _) => Ok(()),
            (other, _) => Err(self.unexpected(id, other)),
        };
        self.close_route(id);
        result
    }

    /// What `path` is (a final symlink not followed).
    pub async fn stat(&self, path: &str) -> Result<FileStat, KvmError> {
        let (id, mut events) = self.open_route()?;
        self.send(
            &Request::Stat {
                id,
                path: path.into(),
            },
            &[],
        )?;
        let result = match next_reply(&mut events, "the guest to stat a path").await? {
            (Event::Stat { stat, .. }, _) => Ok(stat),
            (other, _) => Err(self.unexpected(id, other)),
        };
        self.close_route(id);
        result
    }

    /// The entries of directory `path`.
    pub async fn read_dir(&self, path: &str) -> Result<Vec<DirEntry>, KvmError> {
        let (id, mut events) = self.open_route()?;
        self.send(
            &Request::ReadDir {
                id,
                path: path.into(),
            },
            &[],
        )?;
        let result = match next_reply(&mut events, "the guest to list a directory").await? {
            (Event::Entries { entries, .. }, _) => Ok(entries),
            (other, _) => Err(self.unexpected(id, other)),
        };
        self.close_route(id);
        result
    }
}
