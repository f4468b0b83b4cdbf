//! `tether-serve`: the JSON-RPC sidecar of the pi package as its own program (the same server
//! as `tether serve`). Logs go to stderr, filtered by `RUST_LOG` (default `warn`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use tether_router::{Progress, RouterError, RouterOptions};
use tracing_subscriber::EnvFilter;

/// The variable naming the `tether` executable that runs the embedded simulator.
const TETHER_EXE: &str = "TETHER_EXE";

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("tether-serve: could not start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(tether_serve::serve_stdio(Arc::new(options)));
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tether-serve: {err}");
            ExitCode::from(2)
        }
    }
}

/// The router's options from the environment, with the simulator run by `tether` (from
/// `TETHER_EXE`, else beside this program) rather than by this program.
#[allow(clippy::result_large_err)] // the shape of `RouterOptions::from_env`, which it wraps
fn options(progress: Arc<dyn Progress>) -> Result<RouterOptions, RouterError> {
    let mut options = RouterOptions::from_env(progress)?;
    let beside = options.tether_exe.with_file_name("tether");
    options.tether_exe = std::env::var_os(TETHER_EXE)
        .map(PathBuf::from)
        .unwrap_or(beside);
    Ok(options)
}
