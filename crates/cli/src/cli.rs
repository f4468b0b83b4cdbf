//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// tether: run a coding agent's tools on Vers VMs, or on a local Vers simulator.
#[derive(Debug, Parser)]
#[command(name = "tether", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a local, Vers-compatible simulator until SIGTERM or Ctrl-C.
    ///
    /// The first stdout line is one JSON object: vers_url, api_key, ssh_gateway, vm_domain,
    /// ca_cert, data_dir. Logs go to stderr (RUST_LOG=tether_sim=debug for more).
    Sim(SimArgs),
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
    #[arg(long = "data", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// API key to require [default: the key stored in the data directory, made on first start].
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
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
        let Command::Sim(args) = cli.command;
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
}
