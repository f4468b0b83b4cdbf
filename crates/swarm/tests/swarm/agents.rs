//! Agent workers: a real pi on each branch, driven by a scripted model. One finishes and is
//! done; the other's pi is killed mid-task and shows as failed, never "working". Messages sent
//! to an agent: steered in, followed up, and continued in a new run after it has ended.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tether_swarm::{
    AgentTask, Limits, SendMode, Sent, SwarmSpec, Swarms, Task, WorkerState, tools,
};
use tether_testkit::{MockLlm, PiInstall, Turn, within};
use tether_tools::Window;

use crate::common::{Rig, STEP, quiet};

/// The pi version CI installs.
const PI_VERSION: &str = "0.73.1";
/// Where the test puts pi on the source VM (an image would have it installed).
const PI_ON_VM: &str = "/opt/pi/node_modules";

/// Which worker a model request came from (the prompt names it).
pub(crate) fn worker_of(turn: &Turn) -> Option<u32> {
    let text = turn.user_text();
    (0..2).find(|i| text.contains(&format!("You are worker {i}.")))
}

/// The next model request; if none comes in time, what the workers were doing.
pub(crate) async fn next_turn(llm: &mut MockLlm, rig: &Rig, swarm: &str) -> anyhow::Result<Turn> {
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

/// The pi to test with, or `None` (printing why) when it is not installed here.
pub(crate) fn pi_here() -> Option<PiInstall> {
    PiInstall::find(PI_VERSION)
        .map_err(|why| eprintln!("skipped: {why}"))
        .ok()
}

/// A simulator, a scripted model, and pi on the source VM; the command that starts pi there.
async fn with_pi(install: &PiInstall) -> anyhow::Result<(Rig, MockLlm, String)> {
    let rig = Rig::start(Limits::default()).await?;
    let llm = MockLlm::start().await?;
    let pi = install_pi(&rig, install).await?;
    let source = rig.swarms.router().target(&rig.source).await?;
    source.mkdir_all("/root/.pi/agent").await?;
    let models = llm.models_json().to_string();
    source
        .write_file("/root/.pi/agent/models.json", models.as_bytes())
        .await?;
    Ok((rig, llm, pi))
}

/// Puts pi on the source VM (the workers inherit it by branching; [`with_pi`] adds a
/// models.json pointing at the scripted model); the command that starts pi there.
pub(crate) async fn install_pi(rig: &Rig, install: &PiInstall) -> anyhow::Result<String> {
    let modules = install
        .cli
        .ancestors()
        .find(|p| p.ends_with("node_modules"))
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("no node_modules above {}", install.cli.display()))?;
    let relative = install.cli.strip_prefix(&modules)?.display().to_string();
    let source = rig.swarms.router().target(&rig.source).await?;
    tether_target::upload_tree(&modules.display().to_string(), source.as_ref(), PI_ON_VM).await?;
    // VMs see this machine's /usr; a node installed elsewhere goes along with pi.
    if !install.node.starts_with("/usr") {
        let node = install.node.display().to_string();
        tether_target::upload_file(&node, source.as_ref(), "/usr/local/bin/node").await?;
        rig.sh(&rig.source, "chmod 755 /usr/local/bin/node").await?;
    }
    Ok(format!("node {PI_ON_VM}/{relative}"))
}

#[tokio::test]
async fn two_agents_one_done_one_killed_mid_task_is_failed() {
    let Some(install) = pi_here() else { return };
    within(STEP * 3, "an agent swarm", async {
        let (rig, mut llm, pi) = with_pi(&install).await?;
        let spec = SwarmSpec {
            source: rig.source.clone(),
            count: 2,
            // One prompt per worker; `{worker}` still becomes the index.
            task: Task::Agent(AgentTask {
                pi: Some(pi.clone()),
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
            pi_dir: None,
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

/// The texts of a request's last `n` messages as (role, text).
fn last(turn: &Turn, n: usize) -> Vec<(String, String)> {
    let said = turn.conversation();
    said[said.len().saturating_sub(n)..].to_vec()
}

/// Checks that the only worker of swarm `id` is working.
async fn assert_working(swarms: &Swarms, id: &str) -> anyhow::Result<()> {
    let status = swarms.status(Some(id)).await?;
    let state = &status.workers[0].state;
    assert_eq!(state, &WorkerState::Running, "{}", status.text());
    Ok(())
}

fn pair(role: &str, text: &str) -> (String, String) {
    (role.to_owned(), text.to_owned())
}

/// One agent worker gets messages: a steer while it works reaches the model's next request; a
/// follow-up comes once it would have ended, and it is done only after answering it; after it
/// has ended, a message starts a follow-up run that continues the same conversation.
#[tokio::test]
async fn agent_follow_up_messages_steer_follow_and_continue_after_the_end() {
    let Some(install) = pi_here() else { return };
    within(STEP * 3, "messages to an agent worker", async {
        let (rig, mut llm, pi) = with_pi(&install).await?;
        let prompt = "You are worker 0. Remember the number 42.";
        let spec = SwarmSpec {
            source: rig.source.clone(),
            count: 1,
            task: Task::Agent(AgentTask {
                prompt: "You are worker {worker}. Remember the number 42.".into(),
                pi: Some(pi),
                provider: Some("mock".into()),
                model: Some("mock-1".into()),
                args: vec!["-ne".into(), "-nc".into()],
                ..AgentTask::default()
            }),
            timeout: Some(Duration::from_secs(300)),
            env: Vec::new(),
            cwd: None,
            pi_dir: None,
        };
        let id = rig.swarms.start(spec, &quiet).await?.swarm_id;
        let s = &rig.swarms;
        let env = [("PI_OFFLINE".to_owned(), "1".to_owned())];
        let all: &[String] = &[];

        // A steer while the model is asked reaches its next request, after the tool's result.
        let turn = next_turn(&mut llm, &rig, &id).await?;
        assert_eq!(turn.user_text(), prompt);
        let sent = s
            .send(Some(&id), all, "also check the disk", SendMode::Steer, &env)
            .await?;
        assert_eq!(sent.workers[0].2, Sent::Delivered, "{:?}", sent.lines());
        turn.tool("bash", json!({"command": "echo checked"}));
        let turn = next_turn(&mut llm, &rig, &id).await?;
        assert_eq!(
            turn.last_user_text().as_deref(),
            Some("also check the disk")
        );

        // A follow-up comes after the answer that would have ended the agent.
        let zero = ["0".to_owned()];
        let sent = s
            .send(Some(&id), &zero, "then say bye", SendMode::FollowUp, &env)
            .await?;
        assert_eq!(sent.workers[0].2, Sent::Delivered);
        turn.text("the number is 42, the disk is fine");
        let turn = next_turn(&mut llm, &rig, &id).await?;
        let expected = [
            pair("assistant", "the number is 42, the disk is fine"),
            pair("user", "then say bye"),
        ];
        assert_eq!(last(&turn, 2), expected);
        assert_working(s, &id).await?;
        turn.text("bye");
        let gathered = s.wait(Some(&id), STEP, &mut |_| {}, None).await?;
        let w0 = &gathered.status.workers[0];
        assert_eq!(w0.state, WorkerState::Done, "{}", w0.line());
        let tail = w0.tail.clone().unwrap_or_default();
        assert!(tail.contains("» steer: also check the disk"), "{tail}");
        assert!(tail.contains("» follow-up: then say bye"), "{tail}");

        // Done: a message starts a follow-up run that continues the conversation.
        let sent = s
            .send(Some(&id), all, "which number?", SendMode::FollowUp, &env)
            .await?;
        assert!(
            matches!(sent.workers[0].2, Sent::Started { run: 2, .. }),
            "{:?}",
            sent.lines()
        );
        assert_working(s, &id).await?;
        let turn = next_turn(&mut llm, &rig, &id).await?;
        let said = turn.conversation();
        let users: Vec<&str> = said
            .iter()
            .filter(|(r, _)| r == "user")
            .map(|(_, t)| t.as_str())
            .collect();
        assert_eq!(
            users,
            [
                prompt,
                "also check the disk",
                "then say bye",
                "which number?"
            ],
            "{said:?}"
        );
        for answer in ["the number is 42, the disk is fine", "bye"] {
            assert!(said.contains(&pair("assistant", answer)), "{said:?}");
        }
        turn.text("42");
        let gathered = s.wait(Some(&id), STEP, &mut |_| {}, None).await?;
        assert_eq!(gathered.status.workers[0].state, WorkerState::Done);

        // swarm_read reads the new run, and says which it is.
        let read = tools::call(
            s,
            "swarm_read",
            json!({"worker": 0}).as_object().cloned(),
            None,
            &mut |_| {},
            None,
        )
        .await?;
        let text = read.joined_text();
        assert!(text.contains("run 2 of 2"), "{text}");
        assert!(text.contains("» follow-up: which number?\n42"), "{text}");
        assert!(!text.contains("then say bye"), "{text}");
        let record = rig.fresh().find(Some(&id))?;
        assert_eq!(record.workers[0].runs.len(), 1);
        s.stop(Some(&id), true).await?;
        Ok(())
    })
    .await
    .unwrap();
}
