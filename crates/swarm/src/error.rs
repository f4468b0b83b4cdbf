//! [`SwarmError`]: what can go wrong with a swarm, in words that say what to do next.

use std::path::PathBuf;

use tether_router::{ErrorKind, RouterError};
use tether_tools::ToolError;
use tether_vers::VersError;

/// A swarm operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The requested worker count is 0 or above the limit.
    #[error(
        "count must be from 1 to {max}, not {count}{}",
        if *count > u64::from(*max) { "; raise TETHER_SWARM_MAX_WORKERS to allow more" } else { "" }
    )]
    BadCount {
        /// What was asked for.
        count: u64,
        /// The configured limit.
        max: u32,
    },
    /// The request is malformed in another way.
    #[error("{reason}")]
    BadRequest {
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The source is neither a VM nor a commit.
    #[error(
        "{query:?} is neither a VM nor a commit id (or a unique prefix of one); list them with vm_list / `tether vm ls` and `tether vm commits`"
    )]
    UnknownSource {
        /// What was given.
        query: String,
    },
    /// No swarm has that id.
    #[error("there is no swarm {id:?}; {}", known_hint(known))]
    NoSuchSwarm {
        /// What was given.
        id: String,
        /// The swarms that exist (newest first).
        known: Vec<String>,
    },
    /// No swarm has been started yet and none was named.
    #[error(
        "no swarm has been started here yet; start one with swarm_start / `tether swarm start`"
    )]
    NoSwarms,
    /// The swarm has no such worker.
    #[error(
        "swarm {swarm} has no worker {worker:?}; its workers are 0 to {} (or their VM ids)",
        count.saturating_sub(1)
    )]
    NoSuchWorker {
        /// The swarm.
        swarm: String,
        /// What was given.
        worker: String,
        /// How many workers it has.
        count: usize,
    },
    /// A message was sent to a swarm of commands.
    #[error(
        "swarm {swarm} runs a command on each worker, not an agent: there is nobody to send a message to; run commands with bash on a worker's VM (vm_exec; swarm_status lists them)"
    )]
    CommandSwarm {
        /// The swarm.
        swarm: String,
    },
    /// A message was sent to a worker that runs a command.
    #[error(
        "worker {index} of swarm {swarm} runs a command, not an agent; run commands with bash on its VM {vm_id} (vm_exec, or vm_use it)"
    )]
    CommandWorker {
        /// The swarm.
        swarm: String,
        /// The worker.
        index: u32,
        /// Its VM.
        vm_id: String,
    },
    /// The worker's VM was deleted.
    #[error(
        "worker {index} of swarm {swarm} (VM {vm_id}) was deleted; its output is gone (swarm_status lists the workers left)"
    )]
    WorkerDeleted {
        /// The swarm.
        swarm: String,
        /// The worker.
        index: u32,
        /// Its VM.
        vm_id: String,
    },
    /// The worker never started its task.
    #[error("worker {index} of swarm {swarm} (VM {vm_id}) did not start: {reason}")]
    WorkerNotStarted {
        /// The swarm.
        swarm: String,
        /// The worker.
        index: u32,
        /// Its VM.
        vm_id: String,
        /// Why.
        reason: String,
    },
    /// The local pi configuration to copy to agent workers is not there.
    #[error(
        "there is no pi config at {}: set PI_CODING_AGENT_DIR to your pi agent directory, or start without piConfig (--pi-config)",
        path.display()
    )]
    NoPiConfig {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The local pi configuration is too big to copy to every worker.
    #[error(
        "your pi config at {} is {size} ({biggest}); at most {max} is copied to workers: move what the agents do not need out of it (or put it on the source VM instead), or start without piConfig (--pi-config)",
        path.display()
    )]
    PiConfigTooBig {
        /// The local pi agent directory.
        path: PathBuf,
        /// How big the selection is, for people.
        size: String,
        /// The limit, for people.
        max: String,
        /// Its biggest parts with their sizes.
        biggest: String,
    },
    /// The local pi configuration could not be read (or staged).
    #[error(
        "could not read the pi config at {}: {source}; check its permissions, or start without piConfig (--pi-config)",
        path.display()
    )]
    PiConfigRead {
        /// The local pi agent directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The pi configuration could not be copied to a worker.
    #[error("could not copy the pi config at {} to {to} on the worker: {source}", from.display())]
    PiConfigUpload {
        /// The local pi agent directory.
        from: PathBuf,
        /// Where it was going on the worker.
        to: String,
        /// The cause.
        #[source]
        source: Box<tether_target::TargetError>,
    },
    /// A swarm record could not be read or written.
    #[error("could not {action} {}: {source}; check the permissions of tether's state directory", path.display())]
    StateIo {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A swarm record is damaged.
    #[error("{} is damaged ({reason}); delete it (its VMs stay: delete them with vm_delete)", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Routing failed (the API, a VM's access).
    #[error(transparent)]
    Router(Box<RouterError>),
    /// A Vers API call failed.
    #[error(transparent)]
    Vers(Box<VersError>),
    /// A tool (a background process on a worker) failed.
    #[error(transparent)]
    Tool(Box<ToolError>),
}

impl From<RouterError> for SwarmError {
    fn from(err: RouterError) -> SwarmError {
        SwarmError::Router(Box::new(err))
    }
}

impl From<VersError> for SwarmError {
    fn from(err: VersError) -> SwarmError {
        SwarmError::Vers(Box::new(err))
    }
}

impl From<ToolError> for SwarmError {
    fn from(err: ToolError) -> SwarmError {
        SwarmError::Tool(Box::new(err))
    }
}

fn known_hint(known: &[String]) -> String {
    if known.is_empty() {
        "no swarms have been started here yet".to_owned()
    } else {
        let shown: Vec<&str> = known.iter().take(10).map(String::as_str).collect();
        format!(
            "the swarms are: {} (swarm_status lists them)",
            shown.join(", ")
        )
    }
}

impl SwarmError {
    /// What kind of failure this is (for exit codes and protocol error codes).
    pub fn kind(&self) -> ErrorKind {
        match self {
            SwarmError::BadCount { .. }
            | SwarmError::BadRequest { .. }
            | SwarmError::CommandSwarm { .. }
            | SwarmError::CommandWorker { .. }
            | SwarmError::PiConfigTooBig { .. } => ErrorKind::Usage,
            SwarmError::UnknownSource { .. }
            | SwarmError::NoSuchSwarm { .. }
            | SwarmError::NoSwarms
            | SwarmError::NoSuchWorker { .. }
            | SwarmError::WorkerDeleted { .. }
            | SwarmError::NoPiConfig { .. } => ErrorKind::NotFound,
            SwarmError::WorkerNotStarted { .. }
            | SwarmError::PiConfigRead { .. }
            | SwarmError::StateIo { .. }
            | SwarmError::StateFile { .. } => ErrorKind::Internal,
            SwarmError::Router(e) => ErrorKind::of(e.as_ref()),
            SwarmError::Vers(e) => ErrorKind::of(e.as_ref()),
            SwarmError::PiConfigUpload { source, .. } => ErrorKind::of(source.as_ref()),
            SwarmError::Tool(e) => match e.as_ref() {
                ToolError::Target(t) => ErrorKind::of(t),
                other => ErrorKind::of(other),
            },
        }
    }
}
