//! End-to-end tests: a real pi (installed by `pi/scripts/install-pi.sh`) with the tether
//! package, driven by a scripted model, against the real simulator. Each test skips, saying
//! why, when pi or node is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod background;
mod embedded;
mod errors;
mod harness;
mod parity;
mod session;
mod swarm;
mod tools;
mod tunnel;
mod vers_tools;
mod walkthrough;
