//! Tests of the Vers client: configuration, Vers's reply quirks (against a fake that answers
//! like Vers), HTTPS trust, and the whole API against the real simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod catalog;
mod config;
mod fake;
mod quirks;
mod sim;
mod tls;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tether_vers::{StaticEnv, VersClient};

/// How long any one step may take before the test fails naming it.
pub const STEP: Duration = Duration::from_secs(60);

/// Awaits `future` for at most `deadline`, panicking with `what` if it takes longer.
pub async fn within<T>(deadline: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(deadline, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {deadline:?} waiting for {what}"),
    }
}

/// A client for the API at `url`, with `key` in `VERS_API_KEY` (if given) and `home` as the
/// home directory (default: one with no `.versrc`).
pub fn client_for(url: &str, key: Option<&str>, home: Option<&Path>) -> VersClient {
    let home = home.map_or_else(|| "/nonexistent-home".into(), Path::to_path_buf);
    let mut env = StaticEnv::new(Some(home)).with("VERS_URL", url);
    if let Some(key) = key {
        env = env.with("VERS_API_KEY", key);
    }
    VersClient::with_source(Arc::new(env))
}

/// `text` with each `(from, to)` replaced, for snapshots free of ports and temp paths.
pub fn redact(text: &str, pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
}
