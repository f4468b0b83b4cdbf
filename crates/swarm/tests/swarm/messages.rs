//! A message that reaches an agent worker just as its driver is exiting: the driver no longer
//! takes it, so `send` sees the process end with the message still waiting and starts a
//! follow-up run that does. A scripted stand-in for pi (RPC lines in bash) keeps it fast.

use std::time::Duration;

use tether_swarm::{AgentTask, Limits, SendMode, Sent, SwarmSpec, Task, WorkerState};
use tether_testkit::within;
use tether_tools::Window;

use crate::common::{Rig, STEP, quiet};

/// A "pi" that answers each prompt at once with "ok" and, once its stdin closes, takes a while
/// to exit — the window in which the driver has finished but is still running.
const SLOW_EXITING_PI: &str = r#"#!/bin/bash
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
  case "$line" in
    *'"type":"prompt"'*)
      echo "{\"type\":\"response\",\"id\":\"$id\",\"command\":\"prompt\",\"success\":true}"
      echo '{"type":"agent_start"}'
      echo '{"type":"agent_end","messages":[{"role":"assistant","content":[{"type":"text","text":"ok"}],"stopReason":"stop"}]}' ;;
    *'"type":"get_state"'*)
      echo "{\"type\":\"response\",\"id\":\"$id\",\"command\":\"get_state\",\"success\":true,\"data\":{}}" ;;
  esac
done
sleep 3
"#;

#[tokio::test]
async fn a_message_left_as_the_driver_exits_starts_a_follow_up_run() {
    within(STEP * 2, "a message racing the driver's exit", async {
        let rig = Rig::start(Limits::default()).await?;
        if rig
            .sh(&rig.source, "command -v node || true")
            .await?
            .trim()
            .is_empty()
        {
            eprintln!("skipped: node is not installed where the simulator's VMs see it");
            return Ok(());
        }
        let source = rig.swarms.router().target(&rig.source).await?;
        source
            .write_file("/opt/slow-pi", SLOW_EXITING_PI.as_bytes())
            .await?;
        rig.sh(&rig.source, "chmod 755 /opt/slow-pi").await?;
        let spec = SwarmSpec {
            source: rig.source.clone(),
            count: 1,
            task: Task::Agent(AgentTask {
                prompt: "go".into(),
                pi: Some("/opt/slow-pi".into()),
                ..AgentTask::default()
            }),
            timeout: Some(STEP),
            env: Vec::new(),
            cwd: None,
            pi_dir: None,
        };
        let s = &rig.swarms;
        let id = s.start(spec, &quiet).await?.swarm_id;

        // The driver has finished (its agent is done) but waits for "pi" to exit.
        within(STEP, "the driver to finish", async {
            loop {
                let status = s.status(Some(&id)).await?;
                let w = &status.workers[0];
                let phase = w.agent.as_ref().map(|a| a.phase.as_str());
                match (&w.state, phase) {
                    (WorkerState::Running, Some("done")) => return Ok(()),
                    (WorkerState::Running, _) => {}
                    _ => anyhow::bail!("the driver ended before the test could send: {}", w.line()),
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await?;
        let sent = s
            .send(Some(&id), &[], "more", SendMode::FollowUp, &[])
            .await?;
        assert!(
            matches!(sent.workers[0].2, Sent::Started { run: 2, .. }),
            "{:?}",
            sent.lines()
        );

        let gathered = s.wait(Some(&id), STEP, &mut |_| {}, None).await?;
        let w0 = &gathered.status.workers[0];
        assert_eq!(w0.state, WorkerState::Done, "{}", w0.line());
        let (_, worker, logs) = s
            .read(Some(&id), "0", Window::From(0), 4000, Duration::ZERO)
            .await?;
        // (this "pi" streams no text: its answer is only in result.txt)
        assert_eq!(String::from_utf8_lossy(&logs.bytes), "» follow-up: more\n");
        let result = format!("cat \"$HOME/.tether/swarm/{id}/result.txt\"");
        assert_eq!(rig.sh(&w0.vm_id, &result).await?, "ok");
        assert_eq!(worker.runs.len(), 1);
        let inbox = format!("ls -A \"$HOME/.tether/swarm/{id}/inbox\" | grep -c json || true");
        assert_eq!(rig.sh(&w0.vm_id, &inbox).await?.trim(), "0");
        s.stop(Some(&id), true).await?;
        Ok(())
    })
    .await
    .unwrap();
}
