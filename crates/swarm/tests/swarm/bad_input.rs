//! Bad input: clear errors before anything is made, clear results after; no VM leaked. Messages
//! that no agent can take are refused before anything is written.

use std::path::Path;

use tether_router::ErrorKind;
use tether_swarm::{AgentTask, Limits, SendMode, Task, WorkerState};
use tether_testkit::within;

use crate::common::{Rig, STEP, command, quiet};

/// Small swarms only.
const SMALL: Limits = Limits {
    max_workers: 4,
    concurrency: 4,
};

#[tokio::test]
async fn bad_requests_fail_first_and_quick_exits_are_results() {
    within(STEP * 2, "bad input", async {
        let rig = Rig::start(SMALL).await?;
        let before = rig.vms().await?;
        let s = &rig.swarms;

        let zero = s
            .start(command(&rig.source, 0, "true"), &quiet)
            .await
            .unwrap_err();
        assert_eq!(zero.to_string(), "count must be from 1 to 4, not 0");
        let many = s
            .start(command(&rig.source, 5, "true"), &quiet)
            .await
            .unwrap_err();
        assert!(
            many.to_string().contains("TETHER_SWARM_MAX_WORKERS"),
            "{many}"
        );
        let empty = s
            .start(command(&rig.source, 2, "  "), &quiet)
            .await
            .unwrap_err();
        assert!(empty.to_string().contains("command is empty"), "{empty}");
        for unknown in ["ffffffff", "00000000-0000-4000-8000-000000000000"] {
            let err = s
                .start(command(unknown, 2, "true"), &quiet)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            assert!(
                err.to_string().contains("neither a VM nor a commit"),
                "{err}"
            );
        }
        let none = s.status(None).await.unwrap_err();
        assert!(
            none.to_string().contains("no swarm has been started"),
            "{none}"
        );
        let missing = s.status(Some("sw-nope")).await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        assert_eq!(rig.vms().await?, before, "a refused swarm made VMs");

        // Commands that exit at once are results, not errors.
        let quick = s
            .start(
                command(&rig.source, 2, "[ $TETHER_WORKER = 0 ] || exit 9"),
                &quiet,
            )
            .await?;
        let gathered = s
            .wait(Some(&quick.swarm_id), STEP, &mut |_| {}, None)
            .await?;
        let states: Vec<&WorkerState> = gathered.status.workers.iter().map(|w| &w.state).collect();
        assert_eq!(states[0], &WorkerState::Done);
        assert_eq!(states[1].exit_code(), Some(9));
        let bad_worker = s.read(
            None,
            "7",
            tether_tools::Window::Tail(1),
            10,
            Default::default(),
        );
        let bad_worker = bad_worker.await.unwrap_err().to_string();
        assert!(
            bad_worker.contains("its workers are 0 to 1"),
            "{bad_worker}"
        );
        let keep_none = s.keep(None, &[]).await?;
        assert_eq!(keep_none.deleted.len(), 2);
        assert_eq!(rig.vms().await?, before, "VMs leaked");
        Ok(())
    })
    .await
    .unwrap();
}

/// Messages that cannot go anywhere are refused before anything is written or started: to a
/// command swarm or worker, an unknown or deleted worker, an empty message, a bad variable.
#[tokio::test]
async fn messages_nobody_can_take_are_refused_and_start_nothing() {
    within(STEP * 2, "refused messages", async {
        let rig = Rig::start(SMALL).await?;
        let before = rig.vms().await?;
        let s = &rig.swarms;
        let none: &[String] = &[];
        let followup = SendMode::FollowUp;

        let commands = s.start(command(&rig.source, 1, "true"), &quiet).await?;
        let cid = commands.swarm_id.clone();
        let vm = commands.workers[0].vm_id.clone();
        let err = s.send(Some(&cid), none, "hi", followup, &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
        assert!(err.to_string().contains("runs a command on each worker, not an agent"), "{err}");
        let err = s.send(Some(&cid), &["0".into()], "hi", followup, &[]).await;
        assert_eq!(
            err.unwrap_err().to_string(),
            format!(
                "worker 0 of swarm {cid} runs a command, not an agent; run commands with bash on its VM {vm} (vm_exec, or vm_use it)"
            )
        );

        // Agents whose pi cannot start: they fail at once, and are still agents to refuse for.
        let mut spec = command(&rig.source, 2, "");
        spec.task = Task::Agent(AgentTask {
            prompt: "p".into(),
            pi: Some("false".into()),
            ..AgentTask::default()
        });
        let aid = s.start(spec, &quiet).await?.swarm_id;
        s.wait(Some(&aid), STEP, &mut |_| {}, None).await?;
        let started = rig.fresh().find(Some(&aid))?;
        let empty = s.send(Some(&aid), none, " \n", followup, &[]).await.unwrap_err();
        assert!(empty.to_string().starts_with("the message is empty"), "{empty}");
        let unknown = s.send(Some(&aid), &["5".into()], "hi", followup, &[]).await;
        let unknown = unknown.unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::NotFound);
        assert!(unknown.to_string().contains("its workers are 0 to 1"), "{unknown}");
        let reserved = [("TETHER_WORKER".to_owned(), "9".to_owned())];
        let err = s.send(Some(&aid), none, "hi", followup, &reserved).await;
        assert!(err.unwrap_err().to_string().contains("set by tether"));
        s.keep(Some(&aid), &["0".into()]).await?;
        let gone = s.send(Some(&aid), &["1".into()], "hi", SendMode::Steer, &[]).await;
        let gone = gone.unwrap_err().to_string();
        assert!(gone.contains("worker 1 of swarm") && gone.contains("was deleted"), "{gone}");

        // Nothing was started or left in an inbox.
        let after = rig.fresh().find(Some(&aid))?;
        let processes = |r: &tether_swarm::SwarmRecord| -> Vec<(Option<String>, usize)> {
            r.workers.iter().map(|w| (w.process.clone(), w.runs.len())).collect()
        };
        assert_eq!(processes(&after), processes(&started));
        let inbox = format!("ls -A \"$HOME/.tether/swarm/{aid}/inbox\" 2>/dev/null | wc -l");
        assert_eq!(rig.sh(&after.workers[0].vm_id, &inbox).await?.trim(), "0");

        s.keep(Some(&aid), &[]).await?;
        s.keep(Some(&cid), &[]).await?;
        assert_eq!(rig.vms().await?, before, "VMs leaked");
        Ok(())
    })
    .await
    .unwrap();
}

/// A pi config that cannot be read is refused before any VM is made: no directory there, or
/// too big. One that cannot be written on the workers fails those workers, saying why.
#[tokio::test]
async fn a_pi_config_that_cannot_be_copied_is_refused_or_fails_its_workers() {
    within(STEP * 2, "pi configs that cannot be copied", async {
        let rig = Rig::start(SMALL).await?;
        let before = rig.vms().await?;
        let s = &rig.swarms;
        let local = tempfile::tempdir()?;
        let agents = |dir: &Path| {
            let mut spec = command(&rig.source, 2, "");
            spec.task = Task::Agent(AgentTask {
                prompt: "p".into(),
                pi: Some("false".into()),
                pi_config: true,
                ..AgentTask::default()
            });
            spec.pi_dir = Some(dir.to_owned());
            spec
        };

        let gone = local.path().join("nope");
        let err = s.start(agents(&gone), &quiet).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!(
                "there is no pi config at {}: set PI_CODING_AGENT_DIR to your pi agent directory, or start without piConfig (--pi-config)",
                gone.display()
            )
        );
        // 17 MiB (sparse: nothing is written) in a skill.
        std::fs::create_dir_all(local.path().join("skills/big"))?;
        let big = std::fs::File::create(local.path().join("skills/big/data.bin"))?;
        big.set_len(17 << 20)?;
        let err = s.start(agents(local.path()), &quiet).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage);
        let says = format!(
            "your pi config at {} is 17.0 MiB (skills 17.0 MiB); at most 16.0 MiB is copied",
            local.path().display()
        );
        assert!(err.to_string().starts_with(&says), "{err}");
        assert_eq!(rig.vms().await?, before, "a refused swarm made VMs");

        // ~/.pi is a file on the source, so no worker can take the config.
        std::fs::remove_dir_all(local.path().join("skills"))?;
        std::fs::write(local.path().join("AGENTS.md"), "be brief")?;
        rig.sh(&rig.source, "echo not a dir > /root/.pi").await?;
        let started = s.start(agents(local.path()), &quiet).await?;
        for w in &started.workers {
            match &w.state {
                WorkerState::Failed { reason, .. } => assert!(
                    reason.starts_with(&format!(
                        "could not start its task: could not copy the pi config at {} to /root/.pi/agent on the worker: ",
                        local.path().display()
                    )),
                    "{reason}"
                ),
                other => anyhow::bail!("worker {} is {other:?}, not failed", w.index),
            }
        }
        s.keep(Some(&started.swarm_id), &[]).await?;
        assert_eq!(rig.vms().await?, before, "VMs leaked");
        Ok(())
    })
    .await
    .unwrap();
}
