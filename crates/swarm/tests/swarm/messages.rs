//! A message that reaches an agent worker just as its driver is exiting: the driver no longer
//! takes it, so `send` sees the process end with the message still waiting and starts a
//! follow-up run that does; and two tether processes sending to an ended agent at once, which
//! start one follow-up run between them. Scripted stand-ins for pi (RPC lines in bash) keep it
//! fast.

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

/// Starts a one-agent swarm whose "pi" is `script` (put on the source VM at `path`); `None`
/// (saying why) when the VMs have no node to run the driver.
async fn one_agent_on(
    rig: &Rig,
    path: &str,
    script: &str,
    timeout: Duration,
) -> anyhow::Result<Option<String>> {
    if rig
        .sh(&rig.source, "command -v node || true")
        .await?
        .trim()
        .is_empty()
    {
        eprintln!("skipped: node is not installed where the simulator's VMs see it");
        return Ok(None);
    }
    let source = rig.swarms.router().target(&rig.source).await?;
    source.write_file(path, script.as_bytes()).await?;
    rig.sh(&rig.source, &format!("chmod 755 {path}")).await?;
    let spec = SwarmSpec {
        source: rig.source.clone(),
        count: 1,
        task: Task::Agent(AgentTask {
            prompt: "go".into(),
            pi: Some(path.into()),
            ..AgentTask::default()
        }),
        timeout: Some(timeout),
        env: Vec::new(),
        cwd: None,
        pi_dir: None,
    };
    Ok(Some(rig.swarms.start(spec, &quiet).await?.swarm_id))
}

#[tokio::test]
async fn a_message_left_as_the_driver_exits_starts_a_follow_up_run() {
    within(STEP * 2, "a message racing the driver's exit", async {
        let rig = Rig::start(Limits::default()).await?;
        let Some(id) = one_agent_on(&rig, "/opt/slow-pi", SLOW_EXITING_PI, STEP).await? else {
            return Ok(());
        };
        let s = &rig.swarms;

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

/// A "pi" that ends each prompt's agent only when the test lets it (`$HOME/release`, taken).
const GATED_PI: &str = r#"#!/bin/bash
release="${HOME:-/root}/release"
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
  case "$line" in
    *'"type":"prompt"'*)
      echo "{\"type\":\"response\",\"id\":\"$id\",\"command\":\"prompt\",\"success\":true}"
      echo '{"type":"agent_start"}'
      until rm "$release" 2>/dev/null; do sleep 0.05; done
      echo '{"type":"agent_end","messages":[{"role":"assistant","content":[{"type":"text","text":"ok"}],"stopReason":"stop"}]}' ;;
    *'"type":"get_state"'*)
      echo "{\"type\":\"response\",\"id\":\"$id\",\"command\":\"get_state\",\"success\":true,\"data\":{}}" ;;
  esac
done
"#;

#[tokio::test]
async fn two_processes_sending_to_an_ended_agent_at_once_start_one_run() {
    within(STEP * 2, "two sends racing to an ended agent", async {
        let rig = Rig::start(Limits::default()).await?;
        let Some(id) = one_agent_on(&rig, "/opt/gated-pi", GATED_PI, STEP * 2).await? else {
            return Ok(());
        };
        let s = &rig.swarms;
        let vm = s.status(Some(&id)).await?.workers[0].vm_id.clone();
        rig.sh(&vm, "touch \"$HOME/release\"").await?;
        let first = s.wait(Some(&id), STEP, &mut |_| {}, None).await?;
        assert_eq!(first.status.workers[0].state, WorkerState::Done);

        // Two tether processes (two Swarms, each with its own lock) send at the same moment.
        let other = rig.fresh();
        let (a, b) = tokio::join!(
            s.send(Some(&id), &[], "from a", SendMode::FollowUp, &[]),
            other.send(Some(&id), &[], "from b", SendMode::FollowUp, &[]),
        );
        let (a, b) = (a?, b?);
        let started = |outcome: &tether_swarm::SendOutcome| match &outcome.workers[0].2 {
            Sent::Started { run, process } => Some((*run, process.clone())),
            _ => None,
        };
        let (ran_a, ran_b) = (started(&a), started(&b));
        assert!(ran_a.is_some(), "{:?}", a.lines());
        assert_eq!(
            ran_a,
            ran_b,
            "one run for both: {:?} / {:?}",
            a.lines(),
            b.lines()
        );
        let runs = rig
            .sh(
                &vm,
                "grep -lx tether-swarm-follow-up \"$HOME\"/.tether/bg/*/name | wc -l",
            )
            .await?;
        assert_eq!(runs.trim(), "1", "follow-up runs started");

        // The one run answers both messages (as one prompt or two), then is done.
        let done = within(STEP, "the follow-up run to finish", async {
            loop {
                rig.sh(&vm, "[ -e \"$HOME/release\" ] || touch \"$HOME/release\"")
                    .await?;
                let gathered = s
                    .wait(Some(&id), Duration::from_secs(1), &mut |_| {}, None)
                    .await?;
                if gathered.status.finished {
                    return anyhow::Ok(gathered.status);
                }
            }
        })
        .await?;
        assert_eq!(done.workers[0].state, WorkerState::Done, "{}", done.text());
        let (_, worker, logs) = s
            .read(Some(&id), "0", Window::From(0), 4000, Duration::ZERO)
            .await?;
        let transcript = String::from_utf8_lossy(&logs.bytes).into_owned();
        assert!(
            transcript.contains("» follow-up: from a")
                && transcript.contains("» follow-up: from b"),
            "{transcript}"
        );
        assert_eq!(worker.runs.len(), 1, "run 1 kept once: {:?}", worker.runs);
        s.stop(Some(&id), true).await?;
        Ok(())
    })
    .await
    .unwrap();
}
