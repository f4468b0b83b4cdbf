//! Swarm records: what tether keeps about a swarm on this machine (`<state>/swarms/<id>.json`),
//! so any tether process (the CLI, pi's sidecar, the MCP server) can follow, gather, keep and
//! stop a swarm another one started. How workers are doing lives on the workers themselves.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::status::WorkerState;
use crate::{SwarmError, Task};

/// One swarm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SwarmRecord {
    /// Its id (`sw-…`).
    pub id: String,
    /// When it started (UTC, RFC 3339).
    pub created: String,
    /// The API it lives on ([`tether_router::Router::api_identity`]).
    pub api: String,
    /// What was branched.
    pub source: Source,
    /// What each worker runs.
    pub task: Task,
    /// Each task's time limit in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<f64>,
    /// The directory tasks run in, when not the VM's home (follow-up runs start there too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The workers, by index.
    pub workers: Vec<WorkerRecord>,
}

/// What a swarm branched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Source {
    /// A VM.
    Vm(String),
    /// A commit.
    Commit(String),
}

impl Source {
    /// The VM or commit id.
    pub fn id(&self) -> &str {
        match self {
            Source::Vm(id) | Source::Commit(id) => id,
        }
    }

    /// `VM <id>` or `commit <id>`.
    pub fn describe(&self) -> String {
        match self {
            Source::Vm(id) => format!("VM {id}"),
            Source::Commit(id) => format!("commit {id}"),
        }
    }
}

/// What became of a worker's VM.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Part of the swarm.
    #[default]
    Active,
    /// Kept by `swarm_keep`: no longer deleted with the swarm.
    Kept,
    /// Deleted.
    Deleted,
}

/// One worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerRecord {
    /// Its index (0..N-1), also its `TETHER_WORKER`.
    pub index: u32,
    /// Its VM (a full id).
    pub vm_id: String,
    /// Its task's background process on the VM, once started (an agent's current run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// An agent's earlier runs' processes, oldest first (a follow-up message starts a new run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
    /// The VM's home (where tether keeps the process), once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// Why its task could not be started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_error: Option<String>,
    /// What became of its VM.
    #[serde(default)]
    pub disposition: Disposition,
    /// How it ended, once it did (not looked up again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<WorkerState>,
}

impl WorkerRecord {
    /// Worker `index` on VM `vm_id`, its task not started yet.
    pub fn new(index: u32, vm_id: impl Into<String>) -> WorkerRecord {
        WorkerRecord {
            index,
            vm_id: vm_id.into(),
            process: None,
            runs: Vec::new(),
            home: None,
            start_error: None,
            disposition: Disposition::Active,
            ended: None,
        }
    }
}

/// Where swarm records live.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// Records in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Holds the store's lock (a file lock, so other tether processes wait too) until the
    /// returned file is dropped: take it around every load-change-save.
    pub fn lock(&self) -> Result<std::fs::File, SwarmError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| SwarmError::StateIo {
            action: "create",
            path: self.dir.clone(),
            source,
        })?;
        let path = self.dir.join(".lock");
        let io = |source| SwarmError::StateIo {
            action: "lock",
            path: path.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(file)
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Saves `record` (atomically: a reader sees the old or the new one, whole).
    pub fn save(&self, record: &SwarmRecord) -> Result<(), SwarmError> {
        let io = |action, path: &Path| {
            let path = path.to_owned();
            move |source| SwarmError::StateIo {
                action,
                path,
                source,
            }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let path = self.path(&record.id);
        let text = serde_json::to_vec_pretty(record).map_err(|e| SwarmError::StateFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io("write", &path))?;
        tmp.write_all(&text).map_err(io("write", &path))?;
        tmp.persist(&path)
            .map_err(|e| io("write", &path)(e.error))?;
        Ok(())
    }

    /// The record of swarm `id`, if there is one.
    pub fn load(&self, id: &str) -> Result<Option<SwarmRecord>, SwarmError> {
        let valid = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Ok(None);
        }
        let path = self.path(id);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(SwarmError::StateIo {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| SwarmError::StateFile {
                path,
                reason: e.to_string(),
            })
    }

    /// Every readable record of `api`, newest first (damaged files are skipped with a warning).
    pub fn list(&self, api: &str) -> Result<Vec<SwarmRecord>, SwarmError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SwarmError::StateIo {
                    action: "list",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut records = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            match self.load(id) {
                Ok(Some(record)) if record.api == api => records.push(record),
                Ok(_) => {}
                Err(e) => tracing::warn!("skipping a swarm record: {e}"),
            }
        }
        records.sort_by(|a, b| (&b.created, &b.id).cmp(&(&a.created, &a.id)));
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(id: &str, created: &str, api: &str) -> SwarmRecord {
        SwarmRecord {
            id: id.into(),
            created: created.into(),
            api: api.into(),
            source: Source::Vm("vm-1".into()),
            task: Task::Command {
                command: "true".into(),
            },
            timeout_secs: Some(2.5),
            cwd: None,
            workers: vec![WorkerRecord {
                index: 0,
                vm_id: "vm-2".into(),
                process: Some("bg-1".into()),
                runs: vec!["bg-0".into()],
                home: Some("/root".into()),
                start_error: None,
                disposition: Disposition::Kept,
                ended: Some(WorkerState::Done),
            }],
        }
    }

    #[test]
    fn records_round_trip_and_list_per_api_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("swarms"));
        assert!(store.list("a").unwrap().is_empty());
        let old = record("sw-1", "2026-01-01T00:00:00Z", "a");
        let new = record("sw-2", "2026-01-02T00:00:00Z", "a");
        let other = record("sw-3", "2026-01-03T00:00:00Z", "b");
        for r in [&old, &new, &other] {
            store.save(r).unwrap();
        }
        assert_eq!(store.load("sw-1").unwrap().unwrap(), old);
        let ids: Vec<String> = store.list("a").unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["sw-2", "sw-1"]);
        assert!(store.load("../sw-1").unwrap().is_none());
        assert!(store.load("sw-9").unwrap().is_none());
        std::fs::write(store.dir().join("sw-4.json"), b"{").unwrap();
        assert!(
            store
                .load("sw-4")
                .unwrap_err()
                .to_string()
                .contains("damaged")
        );
        assert_eq!(store.list("a").unwrap().len(), 2);
    }
}
