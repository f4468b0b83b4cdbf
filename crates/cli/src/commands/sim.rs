//! `tether sim`: start the simulator, print how to reach it, serve until SIGTERM/SIGINT.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use tether_sandbox::SandboxConfig;
use tether_sim::{BackendChoice, SimConfig, SimInfo};
use tokio::signal::unix::{SignalKind, signal};

use crate::VM_INIT_COMMAND;
use crate::cli::{SimArgs, SimBackend, SimCommand, SimKeyCommand};

/// Runs the simulator on a fresh runtime until a stop signal, then shuts every VM down (or
/// runs a `tether sim key` subcommand).
pub(crate) fn run(args: SimArgs) -> anyhow::Result<()> {
    if let Some(SimCommand::Key(SimKeyCommand::Add { org, label })) = &args.command {
        let data_dir = match &args.data {
            Some(dir) => dir.clone(),
            None => default_data_dir()?,
        };
        let added = tether_sim::add_key(&data_dir, org.as_deref(), label.as_deref())
            .context("could not add an API key")?;
        let line = serde_json::to_string(&added).context("could not encode the key")?;
        println!("{line}");
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    runtime.block_on(serve(args))
}

async fn serve(args: SimArgs) -> anyhow::Result<()> {
    let data_dir = match args.data {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let init_program = std::env::current_exe()
        .context("could not locate the tether executable (VMs run it as their init)")?;
    let sandbox = SandboxConfig {
        init_program,
        init_args: vec![VM_INIT_COMMAND.into()],
    };
    let config = SimConfig {
        listen: args.listen,
        gateway_listen: args.gateway_listen,
        data_dir,
        api_key: args.api_key,
        sandbox,
        backend: backend_choice(args.backend),
    };
    // Listen for signals before starting, so one that arrives during start-up is not lost.
    let mut terminate = signal(SignalKind::terminate()).context("could not listen for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("could not listen for SIGINT")?;
    let sim = tether_sim::start(config)
        .await
        .context("the simulator could not start")?;
    if let Err(err) = print_startup_line(sim.info()) {
        sim.shutdown().await?;
        return Err(err);
    }
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
    }
    sim.shutdown()
        .await
        .context("the simulator did not shut down cleanly")
}

/// The first (and only) stdout line: everything a client needs, as one JSON object.
fn print_startup_line(info: &SimInfo) -> anyhow::Result<()> {
    let line = serde_json::to_string(info).context("could not encode the startup line")?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .context("could not write the startup line to stdout")
}

/// The simulator's name for a `--backend` value.
fn backend_choice(backend: SimBackend) -> BackendChoice {
    match backend {
        SimBackend::Auto => BackendChoice::Auto,
        SimBackend::Namespaces => BackendChoice::Namespaces,
    }
}

/// `$XDG_DATA_HOME/tether/sim`, else `~/.local/share/tether/sim`.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    data_dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
        .context("neither XDG_DATA_HOME nor HOME is set; pass --data DIR")
}

fn data_dir_from(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let base = match xdg_data_home.filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(home.filter(|dir| !dir.is_empty())?).join(".local/share"),
    };
    Some(base.join("tether/sim"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_backend_is_auto_unless_named_and_auto_means_namespaces() {
        use clap::Parser;
        let backend = |argv: &[&str]| match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Sim(args) => backend_choice(args.backend),
            other => panic!("not `tether sim`: {other:?}"),
        };
        assert_eq!(backend(&["tether", "sim"]), BackendChoice::Auto);
        let named = backend(&["tether", "sim", "--backend", "namespaces"]);
        assert_eq!(named, BackendChoice::Namespaces);
        assert_eq!(BackendChoice::Auto.resolve().name(), "namespaces");
    }

    #[test]
    fn the_default_data_dir_follows_xdg_then_home() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            data_dir_from(xdg.map(Into::into), home.map(Into::into))
        };
        assert_eq!(
            dir(Some("/x"), Some("/h")),
            Some(PathBuf::from("/x/tether/sim"))
        );
        assert_eq!(
            dir(Some(""), Some("/h")),
            Some(PathBuf::from("/h/.local/share/tether/sim"))
        );
        assert_eq!(
            dir(None, Some("/h")),
            Some(PathBuf::from("/h/.local/share/tether/sim"))
        );
        assert_eq!(dir(None, None), None);
    }
}
