//! End-to-end tests of `tether sim`: the real binary, real HTTP, real TLS, real SSH.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bad_input;
mod concurrency;
mod isolation;
mod lifecycle;
mod persistence;
mod tutorial;

use tether_testkit::Sim;

/// Starts a fresh simulator from the binary under test.
pub async fn sim() -> Sim {
    Sim::start(env!("CARGO_BIN_EXE_tether"))
        .await
        .expect("tether sim starts")
}
