//! The data directory: where everything lives, who owns it, and the lock that keeps a second
//! simulator out.
//!
//! ```text
//! DATA/sim.db        state (SQLite, 0600): accounts, VMs, commits, tags, repositories, …
//! DATA/sim.lock      held while a simulator runs on DATA
//! DATA/ca.pem        the CA clients trust (ca.key beside it, 0600)
//! DATA/vms/<id>      a VM's disk
//! DATA/commits/<id>  a commit's disk snapshot
//! ```

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::db::{Db, Identity};
use crate::error::SimError;
use crate::keys::new_api_key;
use crate::registry::now;

/// Paths inside the data directory.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout under the data directory `root`.
    pub fn new(root: PathBuf) -> Layout {
        Layout { root }
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state database.
    pub fn db(&self) -> PathBuf {
        self.root.join("sim.db")
    }

    /// The lock file.
    fn lock(&self) -> PathBuf {
        self.root.join("sim.lock")
    }

    /// Directory of VM disks.
    pub fn vms(&self) -> PathBuf {
        self.root.join("vms")
    }

    /// Directory of commit snapshots.
    pub fn commits(&self) -> PathBuf {
        self.root.join("commits")
    }

    /// A VM's disk.
    pub fn vm_disk(&self, vm_id: &str) -> PathBuf {
        self.vms().join(vm_id)
    }

    /// A commit's disk snapshot.
    pub fn commit_disk(&self, commit_id: &str) -> PathBuf {
        self.commits().join(commit_id)
    }
}

/// An opened data directory: its layout, its database, its first account.
pub(crate) struct DataDir {
    pub layout: Layout,
    pub db: Arc<Db>,
    /// The first account (its key is printed on every start).
    pub identity: Identity,
    /// Held (locked) until the simulator stops.
    pub lock: File,
}

impl DataDir {
    /// Creates (if needed), locks and opens the data directory at `path`.
    pub fn open(path: &Path) -> Result<DataDir, SimError> {
        std::fs::create_dir_all(path).map_err(io("create", path))?;
        let root = std::fs::canonicalize(path).map_err(io("resolve", path))?;
        let layout = Layout::new(root);
        let lock = lock(&layout)?;
        for dir in [layout.vms(), layout.commits()] {
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        }
        let (db, identity) = open_db(&layout)?;
        Ok(DataDir {
            layout,
            db: Arc::new(db),
            identity,
            lock,
        })
    }
}

/// Opens the database of the data directory at `path` without taking its lock, for another
/// process (`tether sim key add`) while a simulator may run on it.
pub(crate) fn open_shared(path: &Path) -> Result<Db, SimError> {
    let root = match std::fs::canonicalize(path) {
        Ok(root) => root,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(SimError::NoDataDir {
                path: path.to_path_buf(),
            });
        }
        Err(err) => return Err(io("resolve", path)(err)),
    };
    let layout = Layout::new(root);
    let db_path = layout.db();
    if !db_path.exists() {
        return Err(SimError::NoDataDir {
            path: layout.root().to_path_buf(),
        });
    }
    open_db(&layout).map(|(db, _)| db)
}

/// Opens (migrating) the database and makes sure its first account exists.
fn open_db(layout: &Layout) -> Result<(Db, Identity), SimError> {
    let database = |source| SimError::Database {
        path: layout.db(),
        source,
    };
    let db = Db::open(&layout.db()).map_err(database)?;
    let identity = db.ensure_identity(new_api_key, &now()).map_err(database)?;
    Ok((db, identity))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SimError {
    let path = path.to_path_buf();
    move |source| SimError::DataDir {
        action,
        path,
        source,
    }
}

/// Takes the data directory's lock, or says who holds it.
fn lock(layout: &Layout) -> Result<File, SimError> {
    let path = layout.lock();
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(SimError::InUse {
            path: layout.root().to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(io("lock", &path)(source)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_data_dir_keeps_its_identity_and_admits_one_simulator_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(&dir.path().join("data")).unwrap();
        assert!(first.identity.api_key.starts_with(&first.identity.owner_id));
        assert!(first.layout.vms().is_dir() && first.layout.commits().is_dir());
        let second = DataDir::open(&dir.path().join("data"));
        assert!(
            matches!(second, Err(SimError::InUse { .. })),
            "a second simulator got in"
        );
        let identity = first.identity.clone();
        let shared = open_shared(&dir.path().join("data")).unwrap();
        assert!(
            shared
                .account_by_secret(&identity.api_key)
                .unwrap()
                .is_some()
        );
        drop(first);
        let again = DataDir::open(&dir.path().join("data")).unwrap();
        assert_eq!(again.identity, identity);
        let missing = open_shared(dir.path()).err().unwrap();
        assert!(matches!(missing, SimError::NoDataDir { .. }), "{missing}");
    }
}
