//! Finding the `tether` binary a test runs.

use std::path::PathBuf;

use anyhow::Context;

/// The `tether` binary built beside the running test (`target/<profile>/tether`; nextest and
/// `cargo test --workspace` build the workspace's binaries first).
pub fn tether_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("the test binary has no target directory")?;
    let path = dir.join("tether");
    anyhow::ensure!(
        path.exists(),
        "{} is missing; run `cargo build -p tether` first",
        path.display()
    );
    Ok(path)
}
