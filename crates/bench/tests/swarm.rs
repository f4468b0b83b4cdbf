//! Keeps the swarm scenario from rotting: its smallest run (2 workers, 1 run of each side)
//! against the simulator, checked for shape only — no timing is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tether_bench::{SwarmPlan, run_swarm, swarm_markdown};
use tether_testkit::within;

#[tokio::test]
async fn the_swarm_scenario_runs_both_sides_and_reports_them() {
    let plan = SwarmPlan::tiny();
    let results = within(Duration::from_secs(120), "the tiny swarm scenario", async {
        run_swarm(&plan).await
    })
    .await
    .unwrap();
    assert_eq!(results.workers, 2);
    assert_eq!(results.workloads.len(), plan.workloads.len());
    for side in &results.workloads {
        assert_eq!((side.swarm.len(), side.serial.len()), (1, 1), "{side:?}");
        for t in side.swarm.iter().chain(&side.serial) {
            assert!(t.running <= t.gathered && t.branching <= t.running, "{t:?}");
        }
    }
    let report = swarm_markdown(&results, &plan);
    for row in [
        "all 2 running",
        "all 2 gathered",
        "swarm: the one branch call",
    ] {
        assert!(report.contains(row), "{report}");
    }
}
