//! Client-core benchmark: prints Markdown tables comparing tether's warm path with the tutorial's
//! per-call `ssh` and an OpenSSH ControlMaster, on loopback and at an emulated 20 ms RTT.
//!
//! Run: `cargo build --release -p tether && cargo bench -p tether-bench`
//! (`TETHER_BENCH_QUICK=1` for a short run that only checks every path works).
//!
//! `cargo bench -p tether-bench -- swarm [--runs N] [--workers N]` runs the swarm scenario
//! instead: 32 workers started by one swarm against the same tasks one VM at a time.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use anyhow::{Context, bail};
use tether_bench::{Plan, SwarmPlan, markdown, run, run_swarm, swarm_markdown};

fn main() -> anyhow::Result<()> {
    let quick = std::env::var_os("TETHER_BENCH_QUICK").is_some_and(|v| v == "1");
    // `cargo bench` passes `--bench`; anything after `--` follows it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    match args.split_first() {
        None => {
            let plan = if quick { Plan::quick() } else { Plan::full() };
            let results = runtime.block_on(run(&plan))?;
            print!("{}", markdown(&results, &plan));
        }
        Some((scenario, options)) if scenario == "swarm" => {
            let mut plan = if quick {
                SwarmPlan::quick()
            } else {
                SwarmPlan::full()
            };
            let mut options = options.iter();
            while let Some(option) = options.next() {
                let value = options.next();
                let number = || -> anyhow::Result<usize> {
                    let value = value.with_context(|| format!("{option} needs a number"))?;
                    value
                        .parse()
                        .with_context(|| format!("{option} {value}: not a number"))
                };
                match option.as_str() {
                    "--runs" => plan.runs = number()?,
                    "--workers" => plan.workers = u32::try_from(number()?)?,
                    _ => bail!("unknown option {option:?}; swarm takes --runs N and --workers N"),
                }
            }
            let results = runtime.block_on(run_swarm(&plan))?;
            print!("{}", swarm_markdown(&results, &plan));
        }
        Some((other, _)) => {
            bail!("unknown scenario {other:?}; run without one (client), or with `swarm`")
        }
    }
    Ok(())
}
