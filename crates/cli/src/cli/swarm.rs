//! `tether swarm …`: branch a VM into workers, run a task on each, gather, keep the best.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::{parse_env, parse_seconds};

/// Options of `tether swarm`.
#[derive(Debug, Args)]
pub(crate) struct SwarmArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SwarmCommand,
}

/// The swarm subcommands. SWARM is a swarm id or a unique prefix [default: the newest swarm].
#[derive(Debug, Subcommand)]
pub(crate) enum SwarmCommand {
    /// Branch a VM (or commit) into N workers and start a command, or a pi agent, on each.
    ///
    /// A command runs with TETHER_WORKER=0..N-1 and TETHER_SWARM in its environment; -e adds
    /// variables (nothing else from this machine reaches a worker). With --prompt each worker
    /// runs pi in RPC mode on the VM ({worker} in the prompt becomes the index). Workers run
    /// in the background: they go on if this command ends.
    #[command(after_long_help = super::EXIT_CODES)]
    Start(StartArgs),
    /// List the swarms started on this API, newest first.
    Ls,
    /// Show each worker's state.
    Status(SwarmRef),
    /// Wait until every worker finished (or --timeout), showing live progress, then print
    /// each worker's state, exit code and the end of its output.
    ///
    /// Exits 0 when every worker is done (exit 0), 5 when all finished but some did not
    /// succeed, 6 when the timeout passed with workers still running.
    Wait(WaitArgs),
    /// Print one worker's output.
    Read(ReadArgs),
    /// Send agent workers a further message (default: every agent worker).
    ///
    /// A working agent gets it once it has finished what it is doing (--steer: before its next
    /// model call). An agent that has ended continues its pi session with the message in a new
    /// run and is working again; that run gets TETHER_WORKER, TETHER_SWARM and the -e
    /// variables given here, not the ones given to `swarm start` (tether does not keep them).
    Send(SendArgs),
    /// Keep the given workers (indexes or VM ids) and delete every other worker's VM.
    ///
    /// The source VM is never touched. Kept workers go on running.
    Keep(KeepArgs),
    /// Stop every running worker (TERM, then KILL); --delete also deletes the VMs not kept.
    Stop(StopArgs),
}

/// A swarm, or the newest.
#[derive(Debug, Args)]
pub(crate) struct SwarmRef {
    /// The swarm (id or unique prefix) [default: the newest swarm].
    #[arg(value_name = "SWARM")]
    pub swarm: Option<String>,
}

/// Options of `tether swarm start`.
#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    /// The VM or commit to branch (full id or unique prefix) [default: the default VM].
    #[arg(long = "from", value_name = "VM|COMMIT")]
    pub source: Option<String>,

    /// How many workers.
    #[arg(short = 'n', long, value_name = "N")]
    pub count: u64,

    /// Stop each worker's task after this many seconds (it is reported as timed out).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Set an environment variable for every worker (repeatable).
    #[arg(short = 'e', long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,

    /// Working directory on the workers [default: the VM's home].
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,

    /// Run a pi agent with this task on each worker instead of a command; repeat it to give
    /// each worker its own task (as many as -n).
    #[arg(long, value_name = "TEXT", conflicts_with = "command")]
    pub prompt: Vec<String>,

    /// Agents: pi's --provider.
    #[arg(long, requires = "prompt")]
    pub provider: Option<String>,

    /// Agents: pi's --model.
    #[arg(long, requires = "prompt")]
    pub model: Option<String>,

    /// Agents: how to start pi on the VM [default: pi].
    #[arg(long, value_name = "CMD", requires = "prompt")]
    pub pi: Option<String>,

    /// Agents: another pi argument (repeatable).
    #[arg(
        long = "pi-arg",
        value_name = "ARG",
        requires = "prompt",
        allow_hyphen_values = true
    )]
    pub pi_args: Vec<String>,

    /// Agents: copy this machine's pi configuration ($PI_CODING_AGENT_DIR or ~/.pi/agent:
    /// settings.json, models.json, AGENTS.md, SYSTEM.md, APPEND_SYSTEM.md, keybindings.json,
    /// skills/, prompts/, extensions/, themes/; at most 16 MiB) to ~/.pi/agent on every worker.
    /// Never auth.json or sessions: credentials go with -e only (models.json can hold API keys
    /// and is copied as it is).
    #[arg(long, requires = "prompt")]
    pub pi_config: bool,

    /// Then wait for the results, as `tether swarm wait` does (SECS as its --timeout).
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "3600", value_parser = parse_seconds)]
    pub wait: Option<Duration>,

    /// The command each worker runs, after `--` (one argument is a shell command line).
    #[arg(last = true, value_name = "CMD", required_unless_present = "prompt")]
    pub command: Vec<String>,
}

/// Options of `tether swarm wait`.
#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// The swarm (id or unique prefix) [default: the newest swarm].
    #[arg(value_name = "SWARM")]
    pub swarm: Option<String>,

    /// Stop waiting after this many seconds (the workers go on).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "3600")]
    pub timeout: Duration,
}

/// Options of `tether swarm read`.
#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    /// The worker: its index or its VM id (or a unique prefix).
    #[arg(value_name = "WORKER")]
    pub worker: String,

    /// The swarm (id or unique prefix) [default: the newest swarm].
    #[arg(short, long, value_name = "SWARM")]
    pub swarm: Option<String>,

    /// Print only the last N lines.
    #[arg(long, value_name = "N", conflicts_with_all = ["offset", "follow"])]
    pub tail: Option<u64>,

    /// Start at this byte offset.
    #[arg(long, value_name = "BYTES")]
    pub offset: Option<u64>,

    /// Keep printing new output until the worker finishes.
    #[arg(short, long)]
    pub follow: bool,
}

/// Options of `tether swarm send`.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The message: a further task, a correction, a question.
    #[arg(value_name = "MESSAGE")]
    pub message: String,

    /// The swarm (id or unique prefix) [default: the newest swarm].
    #[arg(short, long, value_name = "SWARM")]
    pub swarm: Option<String>,

    /// A worker to send to: its index or VM id (repeatable) [default: every agent worker].
    #[arg(short, long = "worker", value_name = "WORKER")]
    pub workers: Vec<String>,

    /// Steer: the working agent gets the message before its next model call, not after it
    /// has finished.
    #[arg(long)]
    pub steer: bool,

    /// Set an environment variable for a follow-up run (repeatable).
    #[arg(short = 'e', long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

/// Options of `tether swarm keep`.
#[derive(Debug, Args)]
pub(crate) struct KeepArgs {
    /// The workers to keep: indexes or VM ids.
    #[arg(value_name = "WORKER", required_unless_present = "none")]
    pub workers: Vec<String>,

    /// Keep no worker: delete every worker VM.
    #[arg(long, conflicts_with = "workers")]
    pub none: bool,

    /// The swarm (id or unique prefix) [default: the newest swarm].
    #[arg(short, long, value_name = "SWARM")]
    pub swarm: Option<String>,
}

/// Options of `tether swarm stop`.
#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    /// The swarm (id or unique prefix) [default: the newest swarm].
    #[arg(value_name = "SWARM")]
    pub swarm: Option<String>,

    /// Also delete every worker VM that was not kept.
    #[arg(long)]
    pub delete: bool,
}
