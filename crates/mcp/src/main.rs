//! `tether-mcp-server`: the MCP server on stdio, until `tether mcp` runs it from the main
//! binary. Logs go to stderr (`RUST_LOG` filters them).

use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("tether-mcp-server: could not start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let served = runtime.block_on(async {
        let mut options = tether_mcp::McpOptions::from_env()?;
        // This binary cannot run the simulator itself; the `tether` binary beside it can.
        if let Some(tether) = options.tether_exe.parent().map(|dir| dir.join("tether")) {
            options.tether_exe = tether;
        }
        tether_mcp::serve_stdio(options).await
    });
    runtime.shutdown_background();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tether-mcp-server: {e}");
            ExitCode::from(2)
        }
    }
}
