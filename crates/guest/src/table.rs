//! The running commands: by host id and by pid, shared by the dispatcher and the reaper.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::mpsc::Sender;
use std::sync::{Condvar, Mutex, MutexGuard};

/// What the agent holds for a running command.
pub(crate) struct Entry {
    /// Its pid, also its process group id (it runs in its own session).
    pub(crate) pid: i32,
    /// Feeds its stdin writer thread; `None` closes stdin.
    pub(crate) stdin: Sender<Option<Vec<u8>>>,
    /// The pty master, for resizes.
    pub(crate) pty: Option<OwnedFd>,
}

#[derive(Default)]
pub(crate) struct Commands {
    by_id: HashMap<u64, Entry>,
    by_pid: HashMap<i32, u64>,
    /// Bumped on every spawn, so the reaper can sleep while there are no children.
    spawns: u64,
}

impl Commands {
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.by_id.contains_key(&id)
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Entry> {
        self.by_id.get(&id)
    }

    pub(crate) fn insert(&mut self, id: u64, entry: Entry) {
        self.by_pid.insert(entry.pid, id);
        self.by_id.insert(id, entry);
    }

    /// Forgets the command whose process was `pid`; its id, if it was one of ours.
    pub(crate) fn remove_pid(&mut self, pid: i32) -> Option<u64> {
        let id = self.by_pid.remove(&pid)?;
        self.by_id.remove(&id);
        Some(id)
    }

    pub(crate) fn pids(&self) -> Vec<i32> {
        self.by_id.values().map(|e| e.pid).collect()
    }
}

/// [`Commands`] behind a lock, with a condition the reaper waits on while nothing runs.
#[derive(Default)]
pub(crate) struct Table {
    commands: Mutex<Commands>,
    spawned: Condvar,
}

impl Table {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Commands> {
        match self.commands.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Records a spawn (call with the lock held, after inserting).
    pub(crate) fn note_spawn(&self, commands: &mut Commands) {
        commands.spawns += 1;
        self.spawned.notify_all();
    }

    pub(crate) fn spawns(&self) -> u64 {
        self.lock().spawns
    }

    /// Blocks until a spawn after the one counted as `seen`.
    pub(crate) fn wait_for_spawn(&self, seen: u64) {
        let mut guard = self.lock();
        while guard.spawns == seen {
            guard = match self.spawned.wait(guard) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }
}
