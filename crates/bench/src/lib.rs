//! The client-core benchmark: tether's warm path against the tutorial's per-call `ssh` and an
//! OpenSSH ControlMaster, on loopback and at an emulated 20 ms round trip, in one run.
//!
//! Everything runs against the real simulator (`target/release/tether sim`) and one of its
//! VMs. Measured, each beside its baselines from the same run:
//! - per-command latency of `echo hi` (p50/p95) for tether's pooled connection, a new `ssh`
//!   process per call over a ControlMaster, and the tutorial's design (key fetched over the
//!   API, written 0600, `ssh` with an `openssl s_client` ProxyCommand), with a 1-byte TCP round
//!   trip as the network's floor;
//! - commands per second with 16 in flight on one connection;
//! - 100 MB upload and download, tether's streamed copies against `scp` through the same tunnel.
//!
//! The round-trip time is emulated by [`tether_testkit::Relay`] in front of the gateway and
//! the API (the test kernels have no `netem`). The result is Markdown on stdout, ending with
//! the issue's targets checked.
//!
//! A second scenario, `swarm`, times a swarm of 32 workers ([`tether_swarm::Swarms`]) against
//! the same 32 tasks done one VM at a time: until every task runs, and until every result is
//! in (see [`run_swarm`]).
//!
//! ```text
//! cargo build --release -p tether && cargo bench -p tether-bench
//! TETHER_BENCH_QUICK=1 cargo bench -p tether-bench     # a short run that checks every path
//! cargo bench -p tether-bench -- swarm [--runs N] [--workers N]
//! ```

mod floor;
mod lab;
mod openssh;
mod pipath;
mod report;
mod run;
mod stats;
mod swarm;
mod targets;
mod transfer;
mod warm;

pub use lab::{Lab, Network, tether_binary};
pub use pipath::{PI_VERSION, PiPath};
pub use report::{REPRODUCE, REPRODUCE_SWARM, markdown, swarm_markdown};
pub use run::{Latency, NetworkResults, Plan, Results, Throughput, per_second, run};
pub use stats::Samples;
pub use swarm::{SideBySide, SwarmPlan, SwarmResults, Timing, Workload, run_swarm};
pub use targets::{Check, checks};
pub use transfer::Transfers;
pub use warm::Warm;
