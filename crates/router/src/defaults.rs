//! The default VM: chosen with `tether use`, cleared with `tether local`, kept per Vers API in
//! `STATE/active.json`; when tether has none, vers-cli's `.vers/HEAD` (the nearest one from the
//! working directory up) names it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{RouterError, StateDir};

/// The file that keeps the default VM.
const ACTIVE: &str = "active.json";
/// vers-cli's HEAD file, relative to a project directory.
pub const VERS_HEAD: &str = ".vers/HEAD";

/// What `active.json` holds: the choice, and the API it was made for (a VM id of the
/// simulator means nothing to Vers, and the other way round).
#[derive(Debug, Serialize, Deserialize)]
struct ActiveFile {
    api: String,
    vm_id: Option<String>,
}

/// Where the default VM comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActiveVm {
    /// Chosen with `tether use`, kept in `file`.
    Chosen {
        /// The VM.
        vm_id: String,
        /// tether's `active.json`.
        file: PathBuf,
    },
    /// `tether local`: no default VM, and `.vers/HEAD` is ignored.
    Local {
        /// tether's `active.json`.
        file: PathBuf,
    },
    /// Named by vers-cli's `.vers/HEAD`.
    VersHead {
        /// The VM.
        vm_id: String,
        /// The HEAD file.
        file: PathBuf,
    },
    /// Nothing chosen.
    Unset,
}

impl ActiveVm {
    /// The default VM's id, if there is one.
    pub fn vm_id(&self) -> Option<&str> {
        match self {
            ActiveVm::Chosen { vm_id, .. } | ActiveVm::VersHead { vm_id, .. } => Some(vm_id),
            ActiveVm::Local { .. } | ActiveVm::Unset => None,
        }
    }

    /// The default VM's id, or the error that says how to choose one.
    pub fn require(&self) -> Result<&str, RouterError> {
        self.vm_id().ok_or(RouterError::NoDefaultVm {
            local: matches!(self, ActiveVm::Local { .. }),
        })
    }
}

/// The default VM for one Vers API.
#[derive(Clone, Debug)]
pub struct Defaults {
    state: StateDir,
    api: String,
}

impl Defaults {
    /// The default VM kept in `state` for the API named `api` (its URL, or another stable name).
    pub fn new(state: StateDir, api: impl Into<String>) -> Defaults {
        Defaults {
            state,
            api: api.into(),
        }
    }

    /// The default VM as seen from the working directory `cwd`.
    pub fn active(&self, cwd: &Path) -> Result<ActiveVm, RouterError> {
        let file = self.state.root().join(ACTIVE);
        match self.read()? {
            Some(Some(vm_id)) => Ok(ActiveVm::Chosen { vm_id, file }),
            Some(None) => Ok(ActiveVm::Local { file }),
            None => Ok(
                find_vers_head(cwd).map_or(ActiveVm::Unset, |(vm_id, file)| ActiveVm::VersHead {
                    vm_id,
                    file,
                }),
            ),
        }
    }

    /// Makes `vm_id` the default VM (`tether use`).
    pub fn choose(&self, vm_id: &str) -> Result<(), RouterError> {
        self.write(Some(vm_id.to_owned()))
    }

    /// Clears the default VM (`tether local`); `.vers/HEAD` is ignored until the next `use`.
    pub fn go_local(&self) -> Result<(), RouterError> {
        self.write(None)
    }

    /// Clears the default VM if it is `vm_id` (which was deleted); returns whether it was.
    pub fn forget(&self, vm_id: &str) -> Result<bool, RouterError> {
        if self.read()?.flatten().as_deref() != Some(vm_id) {
            return Ok(false);
        }
        let path = self.state.root().join(ACTIVE);
        std::fs::remove_file(&path).map_err(|e| self.state.io("remove", &path, e))?;
        Ok(true)
    }

    /// `Some(choice)` if a choice was made for this API, `None` if none was.
    fn read(&self) -> Result<Option<Option<String>>, RouterError> {
        let Some(bytes) = self.state.read(ACTIVE)? else {
            return Ok(None);
        };
        let file: ActiveFile =
            serde_json::from_slice(&bytes).map_err(|e| RouterError::StateFile {
                path: self.state.root().join(ACTIVE),
                reason: e.to_string(),
            })?;
        Ok((file.api == self.api).then_some(file.vm_id))
    }

    fn write(&self, vm_id: Option<String>) -> Result<(), RouterError> {
        let file = ActiveFile {
            api: self.api.clone(),
            vm_id,
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| RouterError::StateFile {
            path: self.state.root().join(ACTIVE),
            reason: e.to_string(),
        })?;
        self.state.write_private(ACTIVE, &json)
    }
}

/// The VM id in the nearest `.vers/HEAD` from `cwd` upwards, and that file.
pub fn find_vers_head(cwd: &Path) -> Option<(String, PathBuf)> {
    cwd.ancestors().find_map(|dir| {
        let file = dir.join(VERS_HEAD);
        let text = std::fs::read_to_string(&file).ok()?;
        let vm_id = text.trim();
        (!vm_id.is_empty()).then(|| (vm_id.to_owned(), file))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn use_local_and_vers_head() {
        let temp = tempfile::tempdir().unwrap();
        let project = temp.path().join("project");
        std::fs::create_dir_all(project.join(".vers")).unwrap();
        std::fs::create_dir_all(project.join("src/deep")).unwrap();
        std::fs::write(project.join(".vers/HEAD"), "vm-from-head\n").unwrap();
        let state = StateDir::at(temp.path().join("state"));
        let defaults = Defaults::new(state.clone(), "http://a/api/v1");
        let cwd = project.join("src/deep");
        let head = project.join(".vers/HEAD");

        let from_head = ActiveVm::VersHead {
            vm_id: "vm-from-head".into(),
            file: head,
        };
        assert_eq!(defaults.active(&cwd).unwrap(), from_head);
        assert_eq!(defaults.active(temp.path()).unwrap(), ActiveVm::Unset);

        defaults.choose("vm-1").unwrap();
        let file = state.root().join(ACTIVE);
        assert_eq!(
            defaults.active(&cwd).unwrap(),
            ActiveVm::Chosen {
                vm_id: "vm-1".into(),
                file: file.clone()
            }
        );
        let other_api = Defaults::new(state.clone(), "http://b/api/v1");
        assert_eq!(other_api.active(&cwd).unwrap(), from_head);

        defaults.go_local().unwrap();
        let local = defaults.active(&cwd).unwrap();
        assert_eq!(local, ActiveVm::Local { file });
        assert!(matches!(
            local.require(),
            Err(RouterError::NoDefaultVm { local: true })
        ));

        defaults.choose("vm-2").unwrap();
        assert!(!defaults.forget("vm-1").unwrap());
        assert!(defaults.forget("vm-2").unwrap());
        assert_eq!(defaults.active(&cwd).unwrap(), from_head);
    }
}
