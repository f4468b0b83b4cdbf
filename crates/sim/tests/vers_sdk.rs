//! The official Vers Python SDK (PyPI `vers-sdk` 1.20.0, which nobody here wrote) used against
//! the simulator the way a user would: `vers_sdk_user.py` makes every call it offers that the
//! simulator serves, with two keys of two organisations.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "api_harness.rs"]
mod harness;

use std::process::Stdio;
use std::time::Duration;

use harness::Harness;

/// How long the whole script may take (it boots a handful of VMs).
const DEADLINE: Duration = Duration::from_secs(300);

/// Operations the script reports (its `done(...)` lines).
const OPERATIONS: usize = 70;

/// Whether `python3` can import the SDK; without it the test skips, except in CI.
fn sdk_installed() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import vers_sdk"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "vers-sdk is not installed; .ci/run installs it with pip"
        );
        eprintln!("SKIP: the vers_sdk Python package is missing; `pip install vers-sdk==1.20.0`");
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_vers_python_sdk_works_against_the_simulator() {
    if !sdk_installed() {
        return;
    }
    let Some(h) = Harness::start().await else {
        return;
    };
    let other = tether_sim::add_key(h.data_dir(), None, Some("second owner")).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vers_sdk_user.py");
    let mut command = tokio::process::Command::new("python3");
    command
        .arg(script)
        .env("VERS_BASE_URL", &h.info().vers_url)
        .env("VERS_API_KEY", &h.info().api_key)
        .env("VERS_OTHER_KEY", &other.api_key)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("the SDK script ran longer than {DEADLINE:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK script failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("ok {OPERATIONS} operations")),
        "{stdout}"
    );
}
