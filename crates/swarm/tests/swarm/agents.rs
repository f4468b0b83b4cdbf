//! Agent workers: a real pi on each branch, driven by a scripted model. One finishes and is
//! done; the other's pi is killed mid-task and shows as failed, never "working".

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tether_swarm::{AgentTask, Limits, SwarmSpec, Task, WorkerState};
use tether_testkit::{MockLlm, PiInstall, Turn, within};
use tether_tools::Window;

use crate::common::{Rig, STEP, quiet};

/// The pi version CI installs.
const PI_VERSION: &str = "0.73.1";
/// Where the test puts pi on the source VM (an image would have it installed).
const PI_ON_VM: &str = "/opt/pi/node_modules";

/// Which worker a model request came from (the prompt names it).
fn worker_of(turn: &Turn) -> Option<u32> {
    let text = turn.user_text();
    (0..2).find(|i| text.contains(&format!("You are worker {i}.")))
}

/// The next model request; if none comes in time, what the workers were doing.
async fn next_turn(llm: &mut MockLlm, rig: &Rig, swarm: &str) -> anyhow::Result<Turn> {
    match llm.next().await {
        Ok(turn) => Ok(turn),
        Err(e) => {
            let status = rig.swarms.status(Some(swarm)).await?;
            let mut report = format!("{e}\n{}", status.text());
            for w in &status.workers {
                let read = rig
                    .swarms
                    .read(
                        Some(swarm),
                        &w.index.to_string(),
                        Window::Tail(20),
                        4000,
                        Duration::ZERO,
                    )
                    .await;
                if let Ok((_, _, logs)) = read {
                    report.push_str(&format!(
                        "\n--- worker {} output:\n{}",
                        w.index,
                        String::from_utf8_lossy(&logs.bytes)
                    ));
                }
            }
            anyhow::bail!(report)
        }
    }
}

#[tokio::test]
async fn two_agents_one_done_one_killed_mid_task_is_failed() {
    let install = match PiInstall::find(PI_VERSION) {
        Ok(install) => install,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    within(STEP * 3, "an agent swarm", async {
        let rig = Rig::start(Limits::default()).await?;
        let mut llm = MockLlm::start().await?;

        // The source VM gets pi and a models.json pointing at the scripted model; the
        // workers inherit both by branching.
        let modules = install
            .cli
            .ancestors()
            .find(|p| p.ends_with("node_modules"))
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow::anyhow!("no node_modules above {}", install.cli.display()))?;
        let relative = install.cli.strip_prefix(&modules)?.display().to_string();
        let source = rig.swarms.router().target(&rig.source).await?;
        tether_target::upload_tree(&modules.display().to_string(), source.as_ref(), PI_ON_VM)
            .await?;
        // VMs see this machine's /usr; a node installed elsewhere goes along with pi.
        if !install.node.starts_with("/usr") {
            let node = install.node.display().to_string();
            tether_target::upload_file(&node, source.as_ref(), "/usr/local/bin/node").await?;
            rig.sh(&rig.source, "chmod 755 /usr/local/bin/node").await?;
        }
        source.mkdir_all("/root/.pi/agent").await?;
        let models = llm.models_json().to_string();
        source
            .write_file("/root/.pi/agent/models.json", models.as_bytes())
            .await?;

        let spec = SwarmSpec {
            source: rig.source.clone(),
            count: 2,
            // One prompt per worker; `{worker}` still becomes the index.
            task: Task::Agent(AgentTask {
                pi: Some(format!("node {PI_ON_VM}/{relative}")),
                provider: Some("mock".into()),
                model: Some("mock-1".into()),
                args: vec!["-ne".into(), "-nc".into()],
                ..AgentTask::per_worker(vec![
                    "You are worker {worker}. Write your answer to answer.txt.".into(),
                    "You are worker {worker}. Try the other way; write answer.txt.".into(),
                ])
            }),
            timeout: Some(Duration::from_secs(300)),
            env: vec![
                ("PI_OFFLINE".into(), "1".into()),
                ("PI_TELEMETRY".into(), "0".into()),
            ],
            cwd: None,
        };
        let started = rig.swarms.start(spec, &quiet).await?;
        let id = started.swarm_id.clone();
        assert!(
            started.workers.iter().all(|w| w.state == WorkerState::Running),
            "{}",
            started.text()
        );

        // Both agents ask the model; worker 0 gets a tool call, worker 1 is left waiting.
        let (mut zero, mut one) = (None, None);
        while zero.is_none() || one.is_none() {
            let turn = next_turn(&mut llm, &rig, &id).await?;
            match worker_of(&turn) {
                Some(0) => zero = Some(turn),
                Some(1) => one = Some(turn),
                _ => anyhow::bail!("a request from no worker: {}", turn.user_text()),
            }
        }
        let status = rig.swarms.status(Some(&id)).await?;
        for w in &status.workers {
            assert_eq!(w.state, WorkerState::Running, "{}", w.line());
            let agent = w.agent.clone().unwrap_or_default();
            assert_eq!(agent.phase, "working", "{}", w.line());
        }

        // Worker 1's pi dies mid-task: its worker is failed, not working.
        let w1 = &status.workers[1].vm_id;
        let state_file = format!("\"$HOME/.tether/swarm/{id}/agent-state.json\"");
        let kill = format!(
            "pid=$(sed -n 's/.*\"piPid\":\\([0-9]*\\).*/\\1/p' {state_file}); kill -KILL \"$pid\" && echo killed $pid"
        );
        let killed = rig.sh(w1, &kill).await?;
        assert!(killed.starts_with("killed "), "{killed}");
        drop(one);

        // Worker 0 runs its tool, then answers.
        if let Some(turn) = zero.take() {
            turn.tool("bash", json!({"command": "echo answer-0 > answer.txt && echo written"}));
        }
        let turn = next_turn(&mut llm, &rig, &id).await?;
        assert_eq!(worker_of(&turn), Some(0), "only worker 0 is still asking");
        assert!(turn.tool_result()?.contains("written"));
        turn.text("worker 0 finished: the answer is in answer.txt");

        let gathered = rig.swarms.wait(Some(&id), STEP, &mut |_| {}, None).await?;
        let status = gathered.status;
        assert!(status.finished, "{}", status.text());
        let w0 = &status.workers[0];
        assert_eq!(w0.state, WorkerState::Done, "{}", w0.line());
        let tail = w0.tail.clone().unwrap_or_default();
        assert!(tail.contains("▸ bash"), "{tail}");
        assert!(tail.contains("worker 0 finished"), "{tail}");
        assert_eq!(rig.sh(&w0.vm_id, "cat answer.txt").await?.trim(), "answer-0");
        match &status.workers[1].state {
            WorkerState::Failed { exit_code, reason } => {
                assert_eq!(*exit_code, Some(2));
                assert!(reason.contains("SIGKILL"), "{reason}");
            }
            other => anyhow::bail!("worker 1 is {other:?}, not failed"),
        }

        // A fresh look (another process) agrees, and nothing keeps running on worker 1.
        let again = rig.fresh().status(Some(&id)).await?;
        assert_eq!(again.counts.done, 1);
        assert_eq!(again.counts.failed, 1);
        let left = rig.sh(w1, "ps -eo args | grep -c '[c]li.js' || true").await?;
        assert_eq!(left.trim(), "0");
        rig.swarms.stop(Some(&id), true).await?;
        Ok(())
    })
    .await
    .unwrap();
}
