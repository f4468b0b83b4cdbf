//! The swarm tools through a real pi: advertised as tether's other front ends define them,
//! start → wait (with live partial results) → keep, and the workers widget in RPC mode.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use tether_swarm::tools;
use tether_testkit::within;

use crate::harness::{Rig, Turn, advertised_like};
use crate::rig;

/// The whole of one test (each model request and pi event also has its own deadline).
const TEST_DEADLINE: Duration = Duration::from_secs(300);

const WIDGET: &str = "tether-swarm";

/// Each swarm tool pi advertises has the description and argument names, required ones and
/// descriptions of `tether_swarm::tools` (what the MCP server and the CLI use).
fn advertised_like_tether_swarm(turn: &Turn) {
    advertised_like(
        turn,
        &[
            (
                "swarm_start",
                tools::START,
                schemars::schema_for!(tools::StartArgs),
            ),
            (
                "swarm_status",
                tools::STATUS,
                schemars::schema_for!(tools::StatusArgs),
            ),
            (
                "swarm_wait",
                tools::WAIT,
                schemars::schema_for!(tools::WaitArgs),
            ),
            (
                "swarm_read",
                tools::READ,
                schemars::schema_for!(tools::ReadArgs),
            ),
            (
                "swarm_send",
                tools::SEND,
                schemars::schema_for!(tools::SendArgs),
            ),
            (
                "swarm_keep",
                tools::KEEP,
                schemars::schema_for!(tools::KeepArgs),
            ),
            (
                "swarm_stop",
                tools::STOP,
                schemars::schema_for!(tools::StopArgs),
            ),
        ],
    );
}

/// The lines of each `setWidget` pi was asked for under `key` (`None`: cleared).
fn widgets(seen: &[Value], key: &str) -> Vec<Option<Vec<String>>> {
    seen.iter()
        .filter(|e| e["type"] == "extension_ui_request" && e["method"] == "setWidget")
        .filter(|e| e["widgetKey"] == key)
        .map(|e| {
            e["widgetLines"].as_array().map(|lines| {
                lines
                    .iter()
                    .map(|l| l.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
        })
        .collect()
}

#[tokio::test]
async fn the_model_starts_waits_for_and_keeps_a_swarm() {
    let rig = rig!();
    within(TEST_DEADLINE, "a swarm through pi", swarm(rig))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_model_starts_waits_for_and_keeps_a_swarm_on_pi_0_87() {
    let rig = rig!("0.87.1");
    within(TEST_DEADLINE, "a swarm through pi 0.87", swarm(rig))
        .await
        .unwrap();
}

async fn swarm(mut rig: Rig) -> anyhow::Result<()> {
    let source = rig.sim.api().new_vm().await?;
    let mut pi = rig.pi().await?;
    pi.prompt("try it three ways at once").await?;
    let turn = rig.llm.next().await?;
    advertised_like_tether_swarm(&turn);
    let command = "echo \"worker $TETHER_WORKER says hi\"";
    turn.tool(
        "swarm_start",
        json!({"source": &source[..8], "count": 2, "command": command}),
    );

    let turn = rig.llm.next().await?;
    let started = turn.tool_result()?;
    let head = started.lines().next().unwrap_or_default();
    let swarm = head
        .strip_prefix("Swarm ")
        .and_then(|rest| rest.split(':').next())
        .unwrap_or_else(|| panic!("{started}"))
        .to_owned();
    assert_eq!(
        head,
        format!(
            "Swarm {swarm}: branched VM {source} into 2 worker(s), each running the command in the background:"
        )
    );
    let workers: Vec<String> = started
        .lines()
        .filter_map(|l| l.strip_prefix("worker "))
        .map(|l| l.split("VM ").nth(1).unwrap_or_default().to_owned())
        .collect();
    assert_eq!(workers.len(), 2, "{started}");
    assert!(workers.iter().all(|id| id.len() == 36), "{workers:?}");
    turn.tool("swarm_wait", json!({"timeout": 120}));

    let turn = rig.llm.next().await?;
    let waited = turn.tool_result()?;
    assert!(
        waited.starts_with(&format!("All workers of swarm {swarm} finished after "))
            && waited.contains("s: 2 worker(s): 2 done.\n"),
        "{waited}"
    );
    for (index, vm) in workers.iter().enumerate() {
        assert!(
            waited.contains(&format!(
                "worker {index} (VM {vm}) done (exit 0), 17 bytes of output\n  | worker {index} says hi\n"
            )),
            "{waited}"
        );
    }
    turn.tool("swarm_keep", json!({"workers": [1]}));

    let turn = rig.llm.next().await?;
    assert_eq!(
        turn.tool_result()?,
        format!(
            "Swarm {swarm}: kept worker 1 (VM {}); vm_use a kept VM to work there.\nDeleted 1 worker VM(s): {}\nVM {source} was not touched.",
            workers[1], workers[0]
        )
    );
    turn.text("kept the second");
    pi.agent_end().await?;
    let vms: BTreeSet<String> = rig.sim.api().vm_ids().await?.into_iter().collect();
    assert_eq!(vms, BTreeSet::from([source.clone(), workers[1].clone()]));

    let ends = pi.tool_ends();
    assert!(ends.iter().all(|e| !e.is_error), "{ends:?}");
    let wait_end = ends.iter().find(|e| e.name == "swarm_wait").unwrap();
    assert_eq!(wait_end.result["details"]["counts"]["done"], 2);
    // swarm_wait streamed the swarm's state while it waited.
    let partial = pi
        .seen
        .iter()
        .filter(|e| e["type"] == "tool_execution_update" && e["toolName"] == "swarm_wait")
        .map(|e| &e["partialResult"])
        .next_back()
        .unwrap_or_else(|| panic!("no partial result of swarm_wait"));
    assert_eq!(partial["details"]["swarmId"], swarm.as_str());
    assert!(
        partial["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with(&format!("swarm {swarm} (command from VM {source}"))),
        "{partial}"
    );

    // The widget listed the workers while they ran and was cleared when they were done.
    let shown = widgets(&pi.seen, WIDGET);
    let first = shown
        .first()
        .cloned()
        .flatten()
        .unwrap_or_else(|| panic!("no {WIDGET} widget: {shown:?}"));
    assert_eq!(
        first,
        [
            format!("swarm {swarm} (command): 2 worker(s): 2 running"),
            format!("⟳ 0  {}  running", &workers[0][..12]),
            format!("⟳ 1  {}  running", &workers[1][..12]),
        ]
    );
    assert_eq!(shown.last(), Some(&None), "cleared at the end: {shown:?}");
    pi.quit().await?;
    Ok(())
}

#[tokio::test]
async fn the_widget_follows_a_running_swarm_and_an_aborted_wait_stops_waiting() {
    let rig = rig!();
    within(TEST_DEADLINE, "a long swarm through pi", long_swarm(rig))
        .await
        .unwrap();
}

async fn long_swarm(mut rig: Rig) -> anyhow::Result<()> {
    let source = rig.sim.api().new_vm().await?;
    let mut pi = rig.pi().await?;
    pi.prompt("start something long").await?;
    let turn = rig.llm.next().await?;
    turn.tool(
        "swarm_start",
        json!({"source": source, "count": 1, "command": "echo started; exec sleep 600"}),
    );
    let turn = rig.llm.next().await?;
    let swarm = turn.tool_result()?["Swarm ".len()..]
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    // While the model thinks, the widget is refreshed from swarm/status.
    let heading = format!("swarm {swarm} (command): 1 worker(s): 1 running");
    let refreshed = |seen: &[Value]| {
        let shown = widgets(seen, WIDGET);
        shown.len() >= 2
            && shown
                .iter()
                .all(|w| w.as_ref().is_some_and(|l| l[0] == heading))
    };
    while !refreshed(&pi.seen) {
        pi.until("a refresh of the swarm widget", |e| {
            e["widgetKey"] == WIDGET
        })
        .await?;
    }
    turn.tool("swarm_wait", json!({"timeout": 600}));
    pi.until("swarm_wait's first partial result", |e| {
        e["type"] == "tool_execution_update" && e["toolName"] == "swarm_wait"
    })
    .await?;
    pi.send(json!({"type": "abort"})).await?;
    let end = pi
        .until("the aborted swarm_wait", |e| {
            e["type"] == "tool_execution_end"
        })
        .await?;
    assert_eq!(end["isError"], true, "{end}");
    assert_eq!(
        end["result"]["content"][0]["text"],
        "aborted: stopped waiting; the workers go on (swarm_status shows them)"
    );
    pi.agent_end().await?;

    pi.prompt("stop it").await?;
    let turn = rig.llm.next().await?;
    turn.tool("swarm_stop", json!({"swarm": swarm, "delete": true}));
    let turn = rig.llm.next().await?;
    let stopped = turn.tool_result()?;
    assert!(
        stopped.contains(": 1 worker(s): 1 stopped\n")
            && stopped.contains("Deleted 1 worker VM(s): "),
        "{stopped}"
    );
    turn.text("stopped");
    pi.agent_end().await?;
    assert_eq!(widgets(&pi.seen, WIDGET).last(), Some(&None), "cleared");
    assert_eq!(rig.sim.api().vm_ids().await?, [source]);
    pi.quit().await?;
    Ok(())
}
