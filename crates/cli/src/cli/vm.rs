//! `tether vm …`: the VM lifecycle commands.

use clap::{Args, Subcommand};

/// Options of `tether vm`.
#[derive(Debug, Args)]
pub(crate) struct VmArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: VmCommand,
}

/// The VM subcommands. VM and COMMIT take a full id or a unique prefix.
#[derive(Debug, Subcommand)]
pub(crate) enum VmCommand {
    /// Create a VM; prints its id once it has booted.
    New(NewArgs),
    /// List VMs with their labels (`*` marks the default VM).
    Ls(LsArgs),
    /// Show a VM's state and metadata (lineage, address).
    Info(VmArg),
    /// Delete VMs.
    Rm(RmArgs),
    /// Make copies of a VM (running, with its memory and disk), or new VMs from the commit a
    /// tag points at (--tag); prints their ids.
    Branch(BranchArgs),
    /// Snapshot a VM's disk as a commit; prints the commit id. --tag names it.
    Commit(CommitArgs),
    /// Create a VM from a commit, or from the commit a tag points at now (--tag); prints its id.
    Restore(RestoreArgs),
    /// Pause a VM (every process frozen; commands resume it automatically).
    Pause(VmArg),
    /// Resume a paused VM.
    Resume(VmArg),
    /// List the account's commits (every account's public ones with --public).
    Commits(CommitsArgs),
    /// Show a commit's lineage: the commit, then the commit its VM came from, and so on.
    Parents(CommitArg),
    /// Make a commit public (any account may restore and branch it); optionally rename it.
    Publish(PublishArgs),
    /// Make a commit private again.
    Unpublish(CommitArg),
    /// Delete a commit (refused while VMs still descend from it; tags on it stay, dangling).
    CommitRm(CommitArg),
    /// Set, replace or remove a VM's labels; prints the labels it has then.
    Label(LabelArgs),
    /// Grow a VM's disk to SIZE MiB (a disk never shrinks).
    Disk(DiskArgs),
    /// Print a VM's exec log: the output of the commands run through the API, in order.
    Logs(LogsArgs),
    /// Rejoin a command run through the API (`tether exec --api`), running or finished:
    /// print its output from the start (or after --cursor) to its end; exit with its code.
    Attach(AttachArgs),
}

/// Options of `tether vm ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Only VMs with this label (repeatable: all must match).
    #[arg(long = "label", value_name = "K=V", value_parser = crate::cli::parse_env)]
    pub labels: Vec<(String, String)>,
}

/// One commit.
#[derive(Debug, Args)]
pub(crate) struct CommitArg {
    /// The commit (full id or unique prefix).
    pub commit: String,
}

/// Options of `tether vm commits`.
#[derive(Debug, Args)]
pub(crate) struct CommitsArgs {
    /// List every account's public commits instead of the account's own.
    #[arg(long)]
    pub public: bool,
}

/// Options of `tether vm publish`.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The commit (full id or unique prefix).
    pub commit: String,
    /// A new name for the commit.
    #[arg(long)]
    pub name: Option<String>,
    /// A new description for the commit.
    #[arg(long)]
    pub description: Option<String>,
}

/// Options of `tether vm label`.
#[derive(Debug, Args)]
pub(crate) struct LabelArgs {
    /// The VM (full id or unique prefix).
    pub vm: String,
    /// Labels to set (others are kept unless --replace).
    #[arg(value_name = "K=V", value_parser = crate::cli::parse_env)]
    pub labels: Vec<(String, String)>,
    /// Make the K=V labels the VM's only ones.
    #[arg(long)]
    pub replace: bool,
    /// Remove this label (repeatable; done after setting).
    #[arg(long = "rm", value_name = "NAME")]
    pub remove: Vec<String>,
}

/// Options of `tether vm disk`.
#[derive(Debug, Args)]
pub(crate) struct DiskArgs {
    /// The VM (full id or unique prefix).
    pub vm: String,
    /// The new disk size in MiB, larger than the current one.
    #[arg(value_name = "SIZE_MIB", value_parser = clap::value_parser!(u32).range(1..))]
    pub size_mib: u32,
}

/// Options of `tether vm logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The VM (full id or unique prefix).
    pub vm: String,
    /// Start at this byte offset of the log (the JSON output's next_offset continues a read).
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
    /// Only this run's output (an exec id).
    #[arg(long = "exec", value_name = "ID")]
    pub exec_id: Option<String>,
    /// With --exec: follow the run live to its end, like `tether vm attach`.
    #[arg(short = 'f', long, requires = "exec_id")]
    pub follow: bool,
}

/// Options of `tether vm attach`.
#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// The VM (full id or unique prefix).
    pub vm: String,
    /// The run's exec id (`tether exec --api` prints it on stderr when the connection drops;
    /// `tether vm logs` lists them).
    pub exec_id: String,
    /// Only what comes after this cursor (the position of an event of the run).
    #[arg(long, value_name = "N")]
    pub cursor: Option<u64>,
}

/// One VM.
#[derive(Debug, Args)]
pub(crate) struct VmArg {
    /// The VM (full id or unique prefix).
    pub vm: String,
}

/// Options of `tether vm new`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// Number of vCPUs [default: the API's].
    #[arg(long, value_name = "N")]
    pub vcpus: Option<u32>,
    /// Memory in MiB [default: the API's].
    #[arg(long, value_name = "MiB")]
    pub mem: Option<u32>,
    /// Disk size in MiB [default: the API's].
    #[arg(long, value_name = "MiB")]
    pub disk: Option<u32>,
    /// A label (repeatable).
    #[arg(long = "label", value_name = "K=V", value_parser = crate::cli::parse_env)]
    pub labels: Vec<(String, String)>,
    /// Print the id at once, without waiting for the VM to boot.
    #[arg(long)]
    pub no_wait: bool,
}

/// Options of `tether vm rm`.
#[derive(Debug, Args)]
pub(crate) struct RmArgs {
    /// The VMs (full ids or unique prefixes).
    #[arg(required = true, value_name = "VM")]
    pub vms: Vec<String>,
}

/// Options of `tether vm branch`.
#[derive(Debug, Args)]
pub(crate) struct BranchArgs {
    /// The VM to copy (full id or unique prefix).
    #[arg(required_unless_present = "tag", conflicts_with = "tag")]
    pub vm: Option<String>,
    /// Branch from the commit this tag points at now (`name`, `repo:tag`, `org/repo:tag`).
    #[arg(long, value_name = "NAME")]
    pub tag: Option<String>,
    /// How many copies to make.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Leave the source VM paused afterwards.
    #[arg(long)]
    pub keep_paused: bool,
}

/// Options of `tether vm commit`.
#[derive(Debug, Args)]
pub(crate) struct CommitArgs {
    /// The VM to snapshot (full id or unique prefix).
    pub vm: String,
    /// A name for the commit.
    #[arg(long)]
    pub name: Option<String>,
    /// A description for the commit.
    #[arg(long)]
    pub description: Option<String>,
    /// Leave the VM paused afterwards.
    #[arg(long)]
    pub keep_paused: bool,
    /// Tag the new commit (`name` or `repo:tag`); an error before committing if the tag
    /// exists, unless --move.
    #[arg(long, value_name = "NAME")]
    pub tag: Option<String>,
    /// With --tag: move the tag to the new commit if it exists already.
    #[arg(long = "move", requires = "tag")]
    pub move_tag: bool,
}

/// Options of `tether vm restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The commit (full id or unique prefix).
    #[arg(required_unless_present = "tag", conflicts_with = "tag")]
    pub commit: Option<String>,
    /// Restore the commit this tag points at now (`name`, `repo:tag`, `org/repo:tag`).
    #[arg(long, value_name = "NAME")]
    pub tag: Option<String>,
}
