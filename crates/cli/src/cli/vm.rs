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
    /// List VMs (`*` marks the default VM).
    Ls,
    /// Show a VM's state and metadata (lineage, address).
    Info(VmArg),
    /// Delete VMs.
    Rm(RmArgs),
    /// Make copies of a VM (running, with its memory and disk); prints their ids.
    Branch(BranchArgs),
    /// Snapshot a VM's disk as a commit; prints the commit id.
    Commit(CommitArgs),
    /// Create a VM from a commit; prints its id.
    Restore(RestoreArgs),
    /// Pause a VM (every process frozen; commands resume it automatically).
    Pause(VmArg),
    /// Resume a paused VM.
    Resume(VmArg),
    /// List commits.
    Commits,
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
    pub vm: String,
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
}

/// Options of `tether vm restore`.
#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The commit (full id or unique prefix).
    pub commit: String,
}
