//! Swarms: a source VM (or commit) branched into N workers in one API call, one task per
//! worker — a shell command or a pi agent — run as background processes, gathered, and the
//! best kept.
//!
//! - [`Swarms::start`] validates the request ([`Limits`]), resolves the source, makes all the
//!   branches with one `count` call, saves a [`SwarmRecord`] at once (so no VM is lost track of)
//!   and starts each worker's task as a background process — `limits.concurrency` workers at a
//!   time. A command gets `TETHER_WORKER` (0..N-1) and `TETHER_SWARM`; an agent runs pi in RPC
//!   mode through tether's driver ([`agent::DRIVER`]); credentials reach workers only through
//!   [`SwarmSpec::env`]; an agent task may ask for the local pi configuration to be copied to
//!   each worker ([`pi_config`]). A timeout is enforced on the worker itself, so it holds when nobody
//!   is watching.
//! - [`Swarms::status`] / [`Swarms::wait`] look at the unfinished workers in parallel; the
//!   state comes from the process (exit code, signal, timeout, gone) and, for agents, from pi's
//!   own events — a worker whose pi died is failed, never "working".
//! - [`Swarms::send`] sends agent workers a message: a working agent gets it as a steer or a
//!   follow-up; one that has ended gets a follow-up run continuing its pi session.
//! - [`Swarms::read`] pages through one worker's output (an agent's current run); [`Swarms::keep`] keeps the chosen
//!   workers and deletes the other VMs; [`Swarms::stop`] stops every running worker (and with
//!   `delete`, deletes the VMs not kept). The source is never touched.
//!
//! Records live in tether's state directory, so the CLI, pi's sidecar and the MCP server see
//! the same swarms.

pub mod agent;
mod error;
pub mod pi_config;
mod record;
mod spec;
mod status;
mod swarm;
pub mod tools;

pub use error::SwarmError;
pub use record::{Disposition, Source, Store, SwarmRecord, WorkerRecord};
pub use spec::{
    AgentTask, CONCURRENCY_VAR, DEFAULT_CONCURRENCY, DEFAULT_MAX_WORKERS, Limits, MAX_WORKERS_VAR,
    SWARM_VAR, SwarmSpec, Task, WORKER_PLACEHOLDER, WORKER_VAR, seconds,
};
pub use status::{AgentProgress, Counts, SwarmStatus, WorkerState, WorkerStatus};
pub use swarm::{
    Gathered, KeepOutcome, SendMode, SendOutcome, Sent, StartProgress, Swarms, TAIL_BYTES,
    TAIL_LINES,
};
