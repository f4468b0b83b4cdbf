//! The sidecar's wire protocol, spoken to the real `tether-serve` program against the real
//! simulator (no pi needed).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod files;
mod lifecycle;
mod protocol;
mod swarm;
