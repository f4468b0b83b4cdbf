//! The local pi configuration, copied to agent workers when a swarm asks for it
//! ([`AgentTask::pi_config`](crate::AgentTask::pi_config)): which files are taken from the
//! local pi agent directory, staged once per swarm start, and unpacked into each worker's
//! `~/.pi/agent` (files of the same name replaced, others kept).
//!
//! Only what configures the agent is taken ([`SELECTED`]); never `auth.json` (credentials
//! reach workers only through the swarm's `env`), `sessions/`, `bin/` or anything else.
//! Symlinks are followed (a dangling one is skipped), so the copy holds no links.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use tether_target::Target;

use crate::SwarmError;

/// The environment variable that names pi's agent directory (as pi reads it).
pub const AGENT_DIR_VAR: &str = "PI_CODING_AGENT_DIR";
/// What is copied from the local pi agent directory, when it exists there.
pub const SELECTED: [&str; 10] = [
    "settings.json",
    "models.json",
    "AGENTS.md",
    "SYSTEM.md",
    "APPEND_SYSTEM.md",
    "keybindings.json",
    "skills",
    "prompts",
    "extensions",
    "themes",
];
/// The most bytes of configuration copied to workers.
pub const MAX_BYTES: u64 = 16 << 20;
/// Where the configuration goes on a worker, under its home.
const ON_WORKER: &str = ".pi/agent";

/// The local pi agent directory: `$PI_CODING_AGENT_DIR` (`~` expanded, as pi does), else
/// `~/.pi/agent`.
pub fn local_dir() -> Result<PathBuf, SwarmError> {
    local_dir_from(std::env::var_os(AGENT_DIR_VAR), std::env::var_os("HOME"))
}

/// [`local_dir`] from the values of `PI_CODING_AGENT_DIR` and `HOME`.
pub fn local_dir_from(
    agent_dir: Option<OsString>,
    home: Option<OsString>,
) -> Result<PathBuf, SwarmError> {
    let home = home.filter(|h| !h.is_empty()).map(PathBuf::from);
    let no_home = || SwarmError::BadRequest {
        reason: format!(
            "HOME is not set, so there is no ~/.pi/agent to copy the pi config from; set {AGENT_DIR_VAR} to your pi agent directory, or start without piConfig"
        ),
    };
    match agent_dir.filter(|d| !d.is_empty()) {
        None => Ok(home.ok_or_else(no_home)?.join(ON_WORKER)),
        Some(dir) => match dir.to_str().and_then(|d| d.strip_prefix('~')) {
            Some("") => home.ok_or_else(no_home),
            Some(rest) if rest.starts_with('/') => {
                Ok(home.ok_or_else(no_home)?.join(rest.trim_start_matches('/')))
            }
            _ => Ok(PathBuf::from(dir)),
        },
    }
}

/// The selection from a local pi agent directory, copied to a private temporary directory
/// (removed when dropped).
#[derive(Debug)]
pub struct Staged {
    dir: TempDir,
    from: PathBuf,
    bytes: u64,
}

impl Staged {
    /// Copies what [`SELECTED`] names from `from` (whatever of it exists), refusing more than
    /// `max_bytes` in all.
    pub fn stage(from: &Path, max_bytes: u64) -> Result<Staged, SwarmError> {
        let read = |source| SwarmError::PiConfigRead {
            path: from.to_owned(),
            source,
        };
        match std::fs::metadata(from) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(missing(from)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing(from)),
            Err(e) => return Err(read(e)),
        }
        let dir = tempfile::Builder::new()
            .prefix("tether-pi-config-")
            .tempdir()
            .map_err(read)?;
        if dir.path().to_str().is_none() {
            let why = "the temporary directory's path is not UTF-8; set TMPDIR to one that is";
            return Err(read(std::io::Error::other(why)));
        }
        let mut copy = Copy {
            root: std::fs::canonicalize(from).map_err(read)?,
            max_bytes,
            bytes: 0,
            entered: HashSet::new(),
        };
        let mut sizes = Vec::new();
        for name in SELECTED {
            let before = copy.bytes;
            copy.entry(&from.join(name), &dir.path().join(name))?;
            sizes.push((name, copy.bytes - before));
        }
        if copy.bytes > max_bytes {
            return Err(too_big(from, copy.bytes, max_bytes, sizes));
        }
        Ok(Staged {
            dir,
            from: from.to_owned(),
            bytes: copy.bytes,
        })
    }

    /// The staged copy.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// How many bytes of files it holds.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Unpacks the copy into `~/.pi/agent` on `target`, whose home is `home`.
    pub(crate) async fn upload(&self, target: &dyn Target, home: &str) -> Result<(), SwarmError> {
        let to = format!("{}/{ON_WORKER}", home.trim_end_matches('/'));
        let fail = |source| SwarmError::PiConfigUpload {
            from: self.from.clone(),
            to: to.clone(),
            source: Box::new(source),
        };
        // UTF-8: checked when staged.
        let staged = self.path().to_string_lossy();
        tether_target::upload_tree(&staged, target, &to)
            .await
            .map_err(fail)
    }
}

fn missing(path: &Path) -> SwarmError {
    SwarmError::NoPiConfig {
        path: path.to_owned(),
    }
}

fn too_big(from: &Path, bytes: u64, max: u64, mut sizes: Vec<(&str, u64)>) -> SwarmError {
    sizes.retain(|(_, n)| *n > 0);
    sizes.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let biggest = sizes
        .iter()
        .take(3)
        .map(|(name, n)| format!("{name} {}", mib(*n)))
        .collect::<Vec<_>>()
        .join(", ");
    SwarmError::PiConfigTooBig {
        path: from.to_owned(),
        size: mib(bytes),
        max: mib(max),
        biggest,
    }
}

/// `n` bytes in MiB, for people.
fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
}

/// A copy in progress.
struct Copy {
    /// The local pi agent directory, resolved.
    root: PathBuf,
    max_bytes: u64,
    /// The bytes of the files seen so far.
    bytes: u64,
    /// The directories being copied, resolved (so a symlink loop ends).
    entered: HashSet<PathBuf>,
}

impl Copy {
    /// Copies `from` (a file, or a directory tree) to `to`, following symlinks and skipping
    /// dangling ones, links back into the rest of the pi directory (`auth.json`, `sessions/`)
    /// and anything that is neither a file nor a directory. Past `max_bytes` it only counts.
    fn entry(&mut self, from: &Path, to: &Path) -> Result<(), SwarmError> {
        let read = |source| SwarmError::PiConfigRead {
            path: from.to_owned(),
            source,
        };
        let meta = match std::fs::metadata(from) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(read(e)),
        };
        let real = std::fs::canonicalize(from).map_err(read)?;
        if !self.selected(&real) {
            return Ok(());
        }
        if meta.is_file() {
            self.bytes += meta.len();
            if self.bytes <= self.max_bytes {
                std::fs::copy(from, to).map_err(read)?;
            }
            return Ok(());
        }
        // Only the directories being copied: a loop ends, a second link to one is copied.
        if !meta.is_dir() || !self.entered.insert(real.clone()) {
            return Ok(());
        }
        if self.bytes <= self.max_bytes {
            std::fs::create_dir(to).map_err(read)?;
        }
        let mut names: Vec<OsString> = std::fs::read_dir(from)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
            .map_err(read)?;
        names.sort();
        for name in names {
            self.entry(&from.join(&name), &to.join(&name))?;
        }
        self.entered.remove(&real);
        Ok(())
    }

    /// Whether `real` (a resolved path) is outside the pi directory or in what is selected.
    fn selected(&self, real: &Path) -> bool {
        match real.strip_prefix(&self.root) {
            Err(_) => true,
            Ok(inside) => inside
                .components()
                .next()
                .is_some_and(|first| SELECTED.iter().any(|s| first.as_os_str() == *s)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Every file under `dir`, relative, sorted, with its contents.
    fn files(dir: &Path) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                assert!(!meta.is_symlink(), "{} is a link", path.display());
                if meta.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir).unwrap().display().to_string();
                    found.push((rel, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        found.sort();
        found
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn pair(path: &str, text: &str) -> (String, String) {
        (path.to_owned(), text.to_owned())
    }

    #[test]
    fn only_the_configuration_is_taken_and_links_are_followed_or_skipped() {
        let local = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let at = |p: &str| local.path().join(p);
        for (path, text) in [
            ("settings.json", "{}"),
            ("models.json", "{\"providers\":{}}"),
            ("AGENTS.md", "be brief"),
            ("APPEND_SYSTEM.md", "and kind"),
            ("skills/review/SKILL.md", "---\nname: review\n---"),
            ("prompts/fix.md", "fix it"),
            ("themes/dark.json", "{}"),
            ("auth.json", "{\"secret\":1}"),
            ("sessions/s1.jsonl", "{}"),
            ("bin/fd", "binary"),
            ("notes.txt", "mine"),
        ] {
            write(&at(path), text);
        }
        write(&elsewhere.path().join("ext/index.ts"), "export {}");
        write(&elsewhere.path().join("KEYS.json"), "{\"k\":1}");
        let link = |target: &Path, at: PathBuf| std::os::unix::fs::symlink(target, at).unwrap();
        link(&elsewhere.path().join("ext"), at("extensions"));
        link(&elsewhere.path().join("KEYS.json"), at("keybindings.json"));
        link(Path::new("/nonexistent/theme.json"), at("themes/gone.json"));
        link(local.path(), at("skills/loop"));
        link(&at("auth.json"), at("skills/creds.json"));
        link(&at("sessions"), at("prompts/sessions"));
        link(&at("AGENTS.md"), at("prompts/agents.md"));
        link(&at("skills/review"), at("skills/also-review"));

        let staged = Staged::stage(local.path(), MAX_BYTES).unwrap();
        assert_eq!(
            files(staged.path()),
            [
                pair("AGENTS.md", "be brief"),
                pair("APPEND_SYSTEM.md", "and kind"),
                pair("extensions/index.ts", "export {}"),
                pair("keybindings.json", "{\"k\":1}"),
                pair("models.json", "{\"providers\":{}}"),
                pair("prompts/agents.md", "be brief"),
                pair("prompts/fix.md", "fix it"),
                pair("settings.json", "{}"),
                pair("skills/also-review/SKILL.md", "---\nname: review\n---"),
                pair("skills/review/SKILL.md", "---\nname: review\n---"),
                pair("themes/dark.json", "{}"),
            ]
        );
        let total: usize = files(staged.path()).iter().map(|(_, t)| t.len()).sum();
        assert_eq!(staged.bytes(), total as u64);
        let kept = staged.path().to_owned();
        drop(staged);
        assert!(!kept.exists(), "the staged copy outlived its owner");
    }

    #[test]
    fn an_empty_dir_stages_nothing_and_a_missing_one_says_where_it_looked() {
        let local = tempfile::tempdir().unwrap();
        let staged = Staged::stage(local.path(), MAX_BYTES).unwrap();
        assert_eq!(files(staged.path()), []);
        let gone = local.path().join("nope");
        let err = Staged::stage(&gone, MAX_BYTES).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "there is no pi config at {}: set PI_CODING_AGENT_DIR to your pi agent directory, or start without piConfig (--pi-config)",
                gone.display()
            )
        );
    }

    #[test]
    fn too_much_is_refused_with_its_size_and_the_biggest_parts() {
        let local = tempfile::tempdir().unwrap();
        write(&local.path().join("AGENTS.md"), &"a".repeat(1 << 20));
        write(
            &local.path().join("extensions/x/big.js"),
            &"b".repeat(3 << 20),
        );
        write(&local.path().join("auth.json"), &"c".repeat(8 << 20));
        let err = Staged::stage(local.path(), 2 << 20).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "your pi config at {} is 4.0 MiB (extensions 3.0 MiB, AGENTS.md 1.0 MiB); at most 2.0 MiB is copied to workers: move what the agents do not need out of it (or put it on the source VM instead), or start without piConfig (--pi-config)",
                local.path().display()
            )
        );
        assert!(Staged::stage(local.path(), 4 << 20).is_ok());
    }

    #[test]
    fn the_local_dir_is_pis_own_choice() {
        let home = Some(OsString::from("/home/me"));
        let dir = |agent: Option<&str>| local_dir_from(agent.map(OsString::from), home.clone());
        assert_eq!(dir(None).unwrap(), Path::new("/home/me/.pi/agent"));
        assert_eq!(dir(Some("")).unwrap(), Path::new("/home/me/.pi/agent"));
        assert_eq!(dir(Some("/etc/pi")).unwrap(), Path::new("/etc/pi"));
        assert_eq!(dir(Some("~/pi")).unwrap(), Path::new("/home/me/pi"));
        assert_eq!(dir(Some("~")).unwrap(), Path::new("/home/me"));
        let err = local_dir_from(None, None).unwrap_err().to_string();
        assert!(err.contains("set PI_CODING_AGENT_DIR"), "{err}");
    }
}
