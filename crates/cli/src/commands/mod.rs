//! One module per subcommand. Each returns the process exit code or an error that
//! [`crate::report`] turns into one.

mod account;
mod commits;
mod completion;
mod cp;
mod defaults;
mod exec;
mod exec_api;
mod logs;
mod mcp;
mod repos;
mod serve;
mod sim;
mod swarm;
mod tags;
mod tunnel;
mod vm;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tether_router::{Router, RouterOptions};

use crate::cli::{Cli, Command};
use crate::output::Out;
use crate::progress::StderrProgress;
use crate::report;

/// What every command needs: how to print, how to show progress, where it runs.
pub(crate) struct Ctx {
    /// Results on stdout.
    pub out: Out,
    /// Progress on stderr.
    pub progress: Arc<StderrProgress>,
    /// The working directory (for `.vers/HEAD`).
    pub cwd: PathBuf,
}

impl Ctx {
    /// The router: Vers, or the local simulator (said once on stderr).
    pub async fn router(&self) -> anyhow::Result<Router> {
        let options = RouterOptions::from_env(self.progress.clone())?;
        let router = Router::connect(options).await?;
        if let Some(notice) = router.notice() {
            eprintln!("tether: {notice}");
        }
        Ok(router)
    }
}

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> ExitCode {
    let Cli {
        json,
        progress,
        command,
    } = cli;
    let result = match command {
        Command::Sim(args) => sim::run(args).map(|()| 0),
        Command::Completion(args) => completion::run(&args).map(|()| 0),
        Command::Mcp => mcp::run().map(|()| 0),
        Command::Serve => serve::run().map(|()| 0),
        command => run_async(command, json, progress),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => report::failure(&err, json),
    }
}

/// Runs an API command on a fresh runtime.
fn run_async(command: Command, json: bool, progress: bool) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Runtime::new().context("could not start the async runtime")?;
    let ctx = Ctx {
        out: Out { json },
        progress: Arc::new(StderrProgress::new(progress)),
        cwd: std::env::current_dir().context("the working directory is not accessible")?,
    };
    let result = runtime.block_on(dispatch(&ctx, command));
    // A forwarded stdin may still be blocked in a read: do not wait for it.
    runtime.shutdown_background();
    result
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Vm(args) => vm::run(ctx, args.command).await,
        Command::Exec(args) => exec::run(ctx, args).await,
        Command::Tag(command) => tags::run(ctx, command).await.map(|()| 0),
        Command::Repo(command) => repos::run(ctx, command).await.map(|()| 0),
        Command::Env(command) => account::env(ctx, command).await.map(|()| 0),
        Command::Domain(command) => account::domain(ctx, command).await.map(|()| 0),
        Command::Whoami => account::whoami(ctx).await.map(|()| 0),
        Command::Swarm(args) => swarm::run(ctx, args.command).await,
        Command::Cp(args) => cp::run(ctx, args).await.map(|()| 0),
        Command::Tunnel(args) => tunnel::run(ctx, args).await,
        Command::Use(args) => defaults::use_vm(ctx, &args.vm).await.map(|()| 0),
        Command::Local => defaults::local(ctx).await.map(|()| 0),
        Command::Status => defaults::status(ctx).await.map(|()| 0),
        Command::Sim(_) | Command::Completion(_) | Command::Mcp | Command::Serve => Ok(0),
    }
}
