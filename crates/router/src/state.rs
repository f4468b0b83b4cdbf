//! tether's own state directory: pinned host keys, the default VM, the embedded simulator's
//! record and log. Created 0700; files holding secrets are written 0600.

use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::RouterError;

/// The state directory: `$XDG_STATE_HOME/tether`, else `~/.local/state/tether`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory named by the process environment.
    pub fn locate() -> Result<StateDir, RouterError> {
        StateDir::from_env(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"))
    }

    /// The state directory for these values of `XDG_STATE_HOME` and `HOME`.
    pub fn from_env(
        xdg_state_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Result<StateDir, RouterError> {
        let base = match xdg_state_home.filter(|dir| !dir.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match home.filter(|dir| !dir.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/state"),
                None => return Err(RouterError::NoStateDir),
            },
        };
        Ok(StateDir::at(base.join("tether")))
    }

    /// The state directory at `root` (tests, embedding).
    pub fn at(root: impl Into<PathBuf>) -> StateDir {
        StateDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where SSH host keys are pinned.
    pub fn known_hosts(&self) -> PathBuf {
        self.root.join("known_hosts")
    }

    /// Creates the directory (and its parents) if missing and makes it 0700.
    pub fn ensure(&self) -> Result<(), RouterError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| self.io("create", &self.root, e))?;
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| self.io("set the permissions of", &self.root, e))
    }

    /// Replaces `name` with `bytes` atomically, mode 0600.
    pub(crate) fn write_private(&self, name: &str, bytes: &[u8]) -> Result<(), RouterError> {
        self.ensure()?;
        let path = self.root.join(name);
        let temp = self
            .root
            .join(format!(".{name}.{}.tmp", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(self.io("write", &path, e));
        }
        Ok(())
    }

    /// The content of `name`, or `None` if it does not exist.
    pub(crate) fn read(&self, name: &str) -> Result<Option<Vec<u8>>, RouterError> {
        let path = self.root.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("read", &path, e)),
        }
    }

    pub(crate) fn io(
        &self,
        action: &'static str,
        path: &Path,
        source: std::io::Error,
    ) -> RouterError {
        RouterError::StateIo {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_state_dir_follows_xdg_then_home() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            StateDir::from_env(xdg.map(Into::into), home.map(Into::into))
                .map(|d| d.root().to_path_buf())
        };
        assert_eq!(
            dir(Some("/x"), Some("/h")).unwrap(),
            PathBuf::from("/x/tether")
        );
        assert_eq!(
            dir(Some(""), Some("/h")).unwrap(),
            PathBuf::from("/h/.local/state/tether")
        );
        assert!(matches!(dir(None, None), Err(RouterError::NoStateDir)));
    }

    #[test]
    fn private_files_are_0600_in_a_0700_dir() {
        let temp = tempfile::tempdir().unwrap();
        let state = StateDir::at(temp.path().join("a/tether"));
        state.write_private("secret.json", b"{}").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(state.root()), 0o700);
        assert_eq!(mode(&state.root().join("secret.json")), 0o600);
        assert_eq!(state.read("secret.json").unwrap().unwrap(), b"{}");
        assert_eq!(state.read("missing").unwrap(), None);
    }
}
