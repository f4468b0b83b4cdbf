//! The command line: every command and flag, with its help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod account;
pub(crate) mod swarm;
mod tunnel;
mod vm;

pub(crate) use account::{
    DomainCommand, EnvCommand, RepoCommand, RepoForkArgs, TagCommand, TagCreateArgs, TagLsArgs,
};
pub(crate) use swarm::{SwarmArgs, SwarmCommand};
pub(crate) use tunnel::{ForwardSpec, TunnelArgs};
pub(crate) use vm::{
    AttachArgs, BranchArgs, CommitArgs, LabelArgs, LogsArgs, NewArgs, PublishArgs, RestoreArgs,
    VmArgs, VmCommand,
};

/// tether: run a coding agent's tools on Vers VMs, or on a local Vers simulator.
///
/// With no Vers API key configured (VERS_API_KEY, or apiKey in ~/.versrc), tether starts and
/// uses a local simulator (its VMs persist in ~/.local/share/tether/sim); set
/// TETHER_NO_AUTO_SIM=1 to turn that off. VM arguments take a full id or a unique prefix.
#[derive(Debug, Parser)]
#[command(
    name = "tether",
    version,
    about,
    long_about,
    propagate_version = true,
    after_long_help = EXIT_CODES
)]
pub(crate) struct Cli {
    /// Print machine-readable JSON on stdout (errors too, as {"error": {...}}).
    #[arg(long, global = true)]
    pub json: bool,

    /// Show progress on stderr for long waits even when stderr is not a terminal.
    #[arg(long, global = true)]
    pub progress: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, as `--help` shows them.
pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    not found (VM, commit, file, tag, repository, domain, variable, label, exec
       run, or no id starts with the prefix given)
  2    usage or internal error (bad arguments, ambiguous prefix, no default VM, a tag
       or name taken, a disk shrink)
  3    authentication (no Vers API key, or the key was rejected)
  4    unavailable (the API, the simulator or the VM could not be reached in time)
  exec passes the remote command's code through: 124 when --timeout killed it,
  128+N when signal N killed it (130 after Ctrl-C); exec's own failures use 1-4.
  swarm wait (and start --wait): 5 when some worker failed, timed out or was stopped,
  6 when the wait timed out with workers still running.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, list, branch, commit, restore, label, pause, resume and delete VMs; commits,
    /// lineage, disk size, exec logs.
    Vm(VmArgs),
    /// Run a command on a VM (the default VM if none is given), streaming its output.
    ///
    /// One CMD argument is a shell command line (`tether exec -- 'cd /src && make'`); several
    /// are quoted and joined, so each stays one argument. The command gets the account's
    /// `tether env` variables the VM was made with and the -e variables, never this machine's
    /// environment. Stdin is forwarded when it is not a terminal. Exits with the remote exit
    /// code.
    ///
    /// By default the command runs over the VM's SSH-in-TLS connection, and Ctrl-C kills the
    /// remote process group. With --api it runs through the Vers API's exec stream under an
    /// exec id of tether's choosing: when the connection drops, tether says "connection lost,
    /// re-attaching…" on stderr and rejoins the run where it left off (retrying for up to a
    /// minute), so the output arrives complete and in order and the exit code is the
    /// command's. With --api, stdin is read to its end first and sent as text, and Ctrl-C
    /// stops only tether: the command goes on in the VM (`tether vm attach VM EXEC_ID`
    /// rejoins it).
    #[command(after_long_help = EXIT_CODES)]
    Exec(ExecArgs),
    /// Tags: names for commits (`name` or `repo:tag`) that can be moved; branch or restore by them.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Repositories: named groups of tags, private or public; public ones of others, forks.
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Environment variables the account puts into every VM created from now on.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Custom domains routed to VMs.
    #[command(subcommand)]
    Domain(DomainCommand),
    /// Show the account behind the API key: organisation, key, API URL and version.
    Whoami,
    /// Branch a VM into N workers, run a command or a pi agent on each, gather, keep the best.
    Swarm(SwarmArgs),
    /// Copy files or directory trees between this machine and VMs, or between two VMs.
    ///
    /// A VM path is vm:<id>:<path> (id: full or a unique prefix; empty for the default VM,
    /// vm::<path>); anything else is a local path. Like cp: when DST is an existing directory
    /// the source is copied into it.
    Cp(CpArgs),
    /// Forward ports on this machine (127.0.0.1 only) to ports on a VM, until Ctrl-C.
    ///
    /// Like `ssh -L`: each connection to a local port is carried to HOST:PORT as the VM sees it
    /// (default host localhost, the VM itself), over the VM's one SSH-in-TLS connection. Prints
    /// one line per forward (`127.0.0.1:54321 -> VM <id>:3000`; a JSON object each with
    /// --json), then serves until Ctrl-C or SIGTERM; a failed connection is reported on stderr
    /// and the tunnel goes on. Local ports listen on 127.0.0.1 only, never on other interfaces.
    /// A local port already in use is an error (exit 2).
    Tunnel(TunnelArgs),
    /// Make a VM the default for commands that take an optional VM.
    Use(UseArgs),
    /// Clear the default VM (vers-cli's .vers/HEAD is ignored until the next `tether use`).
    Local,
    /// Show which API is in use and the default VM.
    Status,
    /// Run a local, Vers-compatible simulator until SIGTERM or Ctrl-C.
    ///
    /// The first stdout line is one JSON object: vers_url, api_key, ssh_gateway, vm_domain,
    /// ca_cert, data_dir, backend. Logs go to stderr (RUST_LOG=tether_sim=debug for more).
    Sim(SimArgs),
    /// Serve tether's tools over MCP on stdio (for Claude Code, Codex, Cursor, …).
    ///
    /// VM tools (create_vm, vm_use, vm_branch, …), pi-style bash/read/edit/write/ls/find/grep
    /// routed to the active target, and background processes. Logs go to stderr.
    Mcp,
    /// Serve the pi package's sidecar protocol (JSON-RPC over stdio; see crates/serve/README.md).
    ///
    /// Started by the pi package in `pi/`; not meant to be run by hand. Logs go to stderr.
    Serve,
    /// Print a shell completion script.
    ///
    /// E.g. `tether completion bash > /etc/bash_completion.d/tether`.
    Completion(CompletionArgs),
}

/// Options of `tether exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The VM (full id or unique prefix) [default: the default VM].
    #[arg(value_name = "VM")]
    pub vm: Option<String>,

    /// Kill the command (its whole process group) after this many seconds; exit code 124.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<std::time::Duration>,

    /// Working directory in the VM [default: the login directory].
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,

    /// Set an environment variable for the command (repeatable).
    #[arg(short = 'e', long = "env", value_name = "K=V", value_parser = parse_env)]
    pub env: Vec<(String, String)>,

    /// Run through the Vers API's exec stream and re-attach after a dropped connection
    /// (see above).
    #[arg(long)]
    pub api: bool,

    /// The command, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Options of `tether cp`.
#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// Source: a local path or vm:<id>:<path>.
    pub src: String,
    /// Destination: a local path or vm:<id>:<path>.
    pub dst: String,
    /// Copy a directory tree.
    #[arg(short = 'r', long)]
    pub recursive: bool,
}

/// Options of `tether use`.
#[derive(Debug, Args)]
pub(crate) struct UseArgs {
    /// The VM (full id or unique prefix).
    pub vm: String,
}

/// Options of `tether completion`.
#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// Options of `tether sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// Address of the HTTP API (plain HTTP: keep it on loopback); port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Address of the SSH-over-TLS gateway [default: the API's IP, a free port].
    #[arg(long, value_name = "ADDR")]
    pub gateway_listen: Option<SocketAddr>,

    /// Data directory: state, VM disks, commits, CA [default: $XDG_DATA_HOME/tether/sim, or
    /// ~/.local/share/tether/sim].
    #[arg(long = "data", value_name = "DIR", global = true)]
    pub data: Option<PathBuf>,

    /// API key to require [default: the key stored in the data directory, made on first start].
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,

    /// What runs the VMs.
    #[arg(long, value_enum, value_name = "BACKEND", default_value_t = SimBackend::Auto)]
    pub backend: SimBackend,

    /// Instead of serving: manage the data directory's API keys.
    #[command(subcommand)]
    pub command: Option<SimCommand>,
}

/// Values of `tether sim --backend`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SimBackend {
    /// The best backend this machine has (today: namespaces).
    Auto,
    /// Linux-namespace sandboxes: user, mount, pid, uts and ipc namespaces with their own root.
    Namespaces,
}

/// Subcommands of `tether sim`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SimCommand {
    /// API keys of the simulator's accounts.
    #[command(subcommand)]
    Key(SimKeyCommand),
}

/// `tether sim key …`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum SimKeyCommand {
    /// Make another API key and print it as JSON (api_key, key_id, org_id, org_name, label).
    ///
    /// Without --org the key gets an organisation of its own: a second owner, who sees only
    /// public repositories and commits of the others. It works at once, also while a
    /// simulator runs on the same data directory.
    Add {
        /// Organisation to join (made if missing) [default: a new one].
        #[arg(long, value_name = "NAME")]
        org: Option<String>,
        /// Label shown by GET /api/v1/whoami.
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
}

/// Seconds, possibly fractional, more than zero.
pub(crate) fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs.is_finite()) {
        return Err("give a positive number of seconds (omit --timeout for no limit)".into());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `K=V`, with a non-empty K.
pub(crate) fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !name.contains('\0') => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not K=V")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sim_takes_addresses_a_data_dir_and_a_key() {
        let cli = Cli::try_parse_from([
            "tether",
            "sim",
            "--data",
            "/d",
            "--gateway-listen",
            "127.0.0.1:4443",
        ])
        .unwrap();
        let Command::Sim(args) = cli.command else {
            panic!("not sim")
        };
        assert_eq!(args.listen, "127.0.0.1:0".parse().unwrap());
        assert_eq!(args.gateway_listen, Some("127.0.0.1:4443".parse().unwrap()));
        assert_eq!(args.data, Some(PathBuf::from("/d")));
        assert_eq!(args.api_key, None);
        let bad = Cli::try_parse_from(["tether", "sim", "--listen", "localhost"]).unwrap_err();
        assert!(
            bad.to_string()
                .contains("invalid value 'localhost' for '--listen <ADDR>'"),
            "{bad}"
        );
    }

    #[test]
    fn exec_takes_an_optional_vm_and_the_command_after_dashes() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["tether", "exec"], args].concat()).unwrap();
            let Command::Exec(exec) = cli.command else {
                panic!("not exec")
            };
            exec
        };
        let exec = parse(&["--", "echo", "hi"]);
        assert_eq!(
            (exec.vm, exec.command),
            (None, vec!["echo".into(), "hi".into()])
        );
        let exec = parse(&["4c1e", "--timeout", "1.5", "-e", "A=b=c", "--", "env"]);
        assert_eq!(exec.vm.as_deref(), Some("4c1e"));
        assert_eq!(exec.timeout, Some(std::time::Duration::from_millis(1500)));
        assert_eq!(exec.env, vec![("A".into(), "b=c".into())]);
        assert!(Cli::try_parse_from(["tether", "exec", "--timeout", "0", "--", "x"]).is_err());
        assert!(Cli::try_parse_from(["tether", "exec", "-e", "=x", "--", "x"]).is_err());
        assert!(Cli::try_parse_from(["tether", "exec", "vm"]).is_err());
        assert!(parse(&["--api", "--", "x"]).api);
    }

    #[test]
    fn by_tag_or_by_id_but_not_both_and_move_needs_a_tag() {
        let ok = |args: &[&str]| Cli::try_parse_from([&["tether", "vm"], args].concat()).is_ok();
        assert!(ok(&["branch", "--tag", "app:v1"]));
        assert!(ok(&["branch", "4c1e"]));
        assert!(!ok(&["branch"]));
        assert!(!ok(&["branch", "4c1e", "--tag", "base"]));
        assert!(ok(&["restore", "--tag", "org/app:v1"]));
        assert!(!ok(&["restore"]));
        assert!(ok(&["commit", "4c1e", "--tag", "base", "--move"]));
        assert!(!ok(&["commit", "4c1e", "--move"]));
        assert!(!ok(&["logs", "4c1e", "-f"]));
        assert!(ok(&["logs", "4c1e", "--exec", "id", "-f"]));
        assert!(!ok(&["disk", "4c1e", "0"]));
    }
}
