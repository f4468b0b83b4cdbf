//! [`Workspace`]: a target with a working directory and a home, where the tools run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tether_target::{ExecOutcome, ExecSpec, LocalTarget, META_TIMEOUT, Stream, Target};
use tokio::sync::OwnedMutexGuard;

use crate::ToolError;

/// Where tools run: a [`Target`], the working directory relative paths resolve against, the
/// home directory `~` stands for, and the environment commands get.
///
/// Cheap to clone; clones share the per-path locks that keep concurrent edits and writes of
/// one file in order.
#[derive(Clone)]
pub struct Workspace {
    target: Arc<dyn Target>,
    cwd: String,
    home: String,
    temp_dir: String,
    env: Vec<(String, String)>,
    locks: Arc<PathLocks>,
}

impl Workspace {
    /// Tools on `target`, in `cwd`, with `~` = `home`. Commands get no extra environment.
    pub fn new(target: Arc<dyn Target>, cwd: impl Into<String>, home: impl Into<String>) -> Self {
        Workspace {
            target,
            cwd: cwd.into(),
            home: home.into(),
            temp_dir: "/tmp".into(),
            env: Vec::new(),
            locks: Arc::default(),
        }
    }

    /// This machine, in this process's working directory, with its home, temporary directory
    /// and whole environment (a local command sees what a shell started here would).
    pub fn local() -> Result<Workspace, ToolError> {
        let cwd = std::env::current_dir().map_err(|source| ToolError::Io {
            context: "reading the working directory",
            source,
        })?;
        let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
        let mut workspace =
            Workspace::new(Arc::new(LocalTarget::new()), cwd.to_string_lossy(), home);
        workspace.temp_dir = std::env::temp_dir().to_string_lossy().into_owned();
        workspace.env = std::env::vars().collect();
        Ok(workspace)
    }

    /// Tools on `target` in its login directory, with its `$HOME`: asks the target once.
    pub async fn discover(target: Arc<dyn Target>) -> Result<Workspace, ToolError> {
        let spec = ExecSpec {
            timeout: Some(META_TIMEOUT),
            ..ExecSpec::shell(r#"printf '%s\0%s' "$PWD" "$HOME""#)
        };
        let mut out = Vec::new();
        let outcome = target
            .exec(
                spec,
                &mut |stream, bytes| {
                    if stream == Stream::Stdout {
                        out.extend_from_slice(bytes);
                    }
                },
                None,
            )
            .await?;
        let text = String::from_utf8_lossy(&out);
        match (outcome, text.split_once('\0')) {
            (ExecOutcome::Exited(0), Some((cwd, home))) if cwd.starts_with('/') => {
                let home = if home.is_empty() { cwd } else { home };
                Ok(Workspace::new(target, cwd, home))
            }
            _ => Err(ToolError::Unexpected {
                target: target.describe(),
                what: "finding the login directory",
                reply: text.chars().take(200).collect(),
            }),
        }
    }

    /// The same workspace in another directory (absolute, or relative to the current one).
    pub fn with_cwd(&self, cwd: &str) -> Workspace {
        Workspace {
            cwd: self.resolve(cwd),
            ..self.clone()
        }
    }

    /// The same workspace with `~` (and `HOME`, when commands get an environment) = `home`.
    pub fn with_home(&self, home: &str) -> Workspace {
        let mut env = self.env.clone();
        for (key, value) in &mut env {
            if key == "HOME" {
                *value = home.to_owned();
            }
        }
        Workspace {
            home: home.to_owned(),
            env,
            ..self.clone()
        }
    }

    /// The target.
    pub fn target(&self) -> &Arc<dyn Target> {
        &self.target
    }

    /// The working directory.
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    /// The home directory (`~`).
    pub fn home(&self) -> &str {
        &self.home
    }

    /// Where a long command's full output is saved.
    pub fn temp_dir(&self) -> &str {
        &self.temp_dir
    }

    /// The environment commands get (empty on a remote target: nothing local leaks).
    pub fn env(&self) -> &[(String, String)] {
        &self.env
    }

    /// `path` as the target sees it: a leading `@` dropped, `~` expanded to the home,
    /// relative paths joined to the working directory and normalised (`.`/`..`).
    pub fn resolve(&self, path: &str) -> String {
        let path = path.strip_prefix('@').unwrap_or(path);
        let expanded = if path == "~" {
            self.home.clone()
        } else if let Some(rest) = path.strip_prefix("~/") {
            format!("{}/{rest}", self.home.trim_end_matches('/'))
        } else {
            path.to_owned()
        };
        if expanded.starts_with('/') {
            expanded
        } else {
            normalize(&format!("{}/{expanded}", self.cwd))
        }
    }

    /// Holds the lock of `path` (resolved) until the guard is dropped: edits and writes of one
    /// file run one at a time.
    pub(crate) async fn lock(&self, path: &str) -> OwnedMutexGuard<()> {
        self.locks.get(path).lock_owned().await
    }
}

/// `/a/./b/../c` → `/a/c`, lexically (symlinks are not looked at).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// One async mutex per path.
#[derive(Default)]
struct PathLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl PathLocks {
    fn get(&self, path: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.locks.lock() {
            Ok(locks) => locks,
            Err(poisoned) => poisoned.into_inner(),
        };
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(path.to_owned()).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> Workspace {
        Workspace::new(Arc::new(LocalTarget::new()), "/work/dir", "/home/me")
    }

    #[test]
    fn paths_resolve_like_pi() {
        let ws = workspace();
        assert_eq!(ws.resolve("a.txt"), "/work/dir/a.txt");
        assert_eq!(ws.resolve("@src/../b.txt"), "/work/dir/b.txt");
        assert_eq!(ws.resolve("./x/./y"), "/work/dir/x/y");
        assert_eq!(ws.resolve("~"), "/home/me");
        assert_eq!(ws.resolve("~/.bashrc"), "/home/me/.bashrc");
        assert_eq!(ws.resolve("/etc/hosts"), "/etc/hosts");
        assert_eq!(ws.resolve("../../../.."), "/");
        assert_eq!(ws.with_cwd("sub").cwd(), "/work/dir/sub");
    }
}
