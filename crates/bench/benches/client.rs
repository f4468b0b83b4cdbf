//! Client-core benchmark: prints Markdown tables comparing tether's warm path with the tutorial's
//! per-call `ssh` and an OpenSSH ControlMaster, on loopback and at an emulated 20 ms RTT.
//!
//! Run: `cargo build --release -p tether && cargo bench -p tether-bench`
//! (`TETHER_BENCH_QUICK=1` for a short run that only checks every path works).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use tether_bench::{Plan, markdown, run};

fn main() -> anyhow::Result<()> {
    let plan = if std::env::var_os("TETHER_BENCH_QUICK").is_some_and(|v| v == "1") {
        Plan::quick()
    } else {
        Plan::full()
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let results = runtime.block_on(run(&plan))?;
    print!("{}", markdown(&results, &plan));
    Ok(())
}
