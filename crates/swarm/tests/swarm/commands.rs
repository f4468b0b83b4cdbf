//! Command workers: results gathered with exit codes, failures with their output, a hung
//! worker timed out and stopped, the best kept, the rest deleted.

use std::time::Duration;

use tether_swarm::{Disposition, Limits, Source, WorkerState};
use tether_testkit::within;
use tether_tools::Window;

use crate::common::{Rig, STEP, command, quiet};

/// Worker 5 fails with output on stderr, worker 6 hangs (with a child) past the timeout; the
/// others print a score that depends on their index.
const TASK: &str = r#"score=$(( (TETHER_WORKER * 7) % 8 ))
echo "worker $TETHER_WORKER of $TETHER_SWARM scored $score"
echo "$score" > score.txt
if [ "$TETHER_WORKER" = 5 ]; then echo "worker five cannot go on" >&2; exit 3; fi
if [ "$TETHER_WORKER" = 6 ]; then sleep 600 & echo $! > hung.pid; wait; fi
true"#;

#[tokio::test]
async fn eight_workers_are_gathered_the_hung_one_stopped_and_the_best_kept() {
    within(STEP * 3, "the whole swarm", async {
        let rig = Rig::start(Limits::default()).await?;
        rig.sh(&rig.source, "echo from-source > marker").await?;
        let before = rig.vms().await?;

        let mut spec = command(&rig.source, 8, TASK);
        spec.timeout = Some(Duration::from_secs(6));
        let started = rig.swarms.start(spec, &quiet).await?;
        assert_eq!(started.workers.len(), 8);
        assert_eq!(started.source, Source::Vm(rig.source.clone()));
        let ids: Vec<&str> = started.workers.iter().map(|w| w.vm_id.as_str()).collect();
        assert!(ids.iter().all(|id| id.len() == 36), "full ids: {ids:?}");
        assert_eq!(rig.vms().await?.len(), before.len() + 8);

        let mut updates = 0;
        let gathered = rig
            .swarms
            .wait(Some(&started.swarm_id), STEP, &mut |_| updates += 1, None)
            .await?;
        assert!(!gathered.deadline_reached);
        assert!(updates >= 1);
        let status = &gathered.status;
        assert!(status.finished);
        assert_eq!(
            (
                status.counts.done,
                status.counts.failed,
                status.counts.timed_out
            ),
            (6, 1, 1),
            "{}",
            status.text()
        );
        for w in &status.workers {
            let tail = w.tail.clone().unwrap_or_default();
            match w.index {
                5 => {
                    assert_eq!(w.state.exit_code(), Some(3), "{}", w.line());
                    assert!(tail.contains("worker five cannot go on"), "{tail}");
                }
                6 => assert_eq!(w.state, WorkerState::TimedOut { seconds: 6.0 }),
                i => {
                    assert_eq!(w.state, WorkerState::Done, "{}", w.line());
                    let score = (i * 7) % 8;
                    let want = format!("worker {i} of {} scored {score}\n", status.swarm_id);
                    assert_eq!(tail, want);
                }
            }
        }
        // Each branch is a copy of the source, with its own result.
        let hung = &status.workers[6].vm_id;
        assert_eq!(rig.sh(hung, "cat marker").await?.trim(), "from-source");
        let alive = rig
            .sh(
                hung,
                "kill -0 $(cat hung.pid) 2>/dev/null && echo alive || echo gone",
            )
            .await?;
        assert_eq!(
            alive.trim(),
            "gone",
            "the hung worker's child survived its timeout"
        );

        // The best (highest score) is kept; every other worker VM is deleted.
        let best = status
            .workers
            .iter()
            .filter(|w| w.state == WorkerState::Done)
            .max_by_key(|w| (w.index * 7) % 8)
            .map(|w| w.index)
            .unwrap_or_default();
        let kept = rig
            .swarms
            .keep(Some(&started.swarm_id), &[best.to_string()])
            .await?;
        assert_eq!(kept.kept.len(), 1);
        assert_eq!(kept.deleted.len(), 7);
        assert!(kept.failed.is_empty(), "{:?}", kept.failed);
        let best_vm = status.workers[best as usize].vm_id.clone();
        let mut expected = before.clone();
        expected.insert(best_vm.clone());
        assert_eq!(rig.vms().await?, expected);
        let score = rig.sh(&best_vm, "cat score.txt").await?;
        assert_eq!(score.trim(), ((best * 7) % 8).to_string());

        // A fresh process sees the same swarm; deleted workers' output is gone, with a reason.
        let fresh = rig.fresh();
        let prefix = &started.swarm_id[..6];
        let again = fresh.status(Some(prefix)).await?;
        assert_eq!(again.workers[best as usize].disposition, Disposition::Kept);
        assert_eq!(again.workers[5].disposition, Disposition::Deleted);
        let gone = fresh
            .read(Some(prefix), "5", Window::Tail(5), 1000, Duration::ZERO)
            .await
            .unwrap_err();
        assert!(gone.to_string().contains("was deleted"), "{gone}");
        let (_, worker, logs) = fresh
            .read(
                Some(prefix),
                &best_vm[..13],
                Window::From(0),
                1000,
                Duration::ZERO,
            )
            .await?;
        assert_eq!(worker.index, best);
        assert!(String::from_utf8_lossy(&logs.bytes).contains("scored"));
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn stop_ends_running_workers_then_delete_removes_their_vms() {
    within(STEP * 2, "stopping a swarm", async {
        let rig = Rig::start(Limits::default()).await?;
        let before = rig.vms().await?;
        let task = "echo started; sleep 600 & echo $! > child.pid; wait";
        let started = rig
            .swarms
            .start(command(&rig.source, 3, task), &quiet)
            .await?;

        // A short wait returns partial results: everyone still running.
        let gathered = rig
            .swarms
            .wait(None, Duration::from_millis(300), &mut |_| {}, None)
            .await?;
        assert!(gathered.deadline_reached);
        assert_eq!(gathered.status.swarm_id, started.swarm_id);
        assert_eq!(
            gathered.status.counts.running,
            3,
            "{}",
            gathered.status.text()
        );

        let (stopped, deleted) = rig.swarms.stop(None, false).await?;
        assert!(deleted.deleted.is_empty());
        for w in &stopped.workers {
            assert_eq!(
                w.state,
                WorkerState::Stopped {
                    signal: "TERM".into()
                },
                "{}",
                w.line()
            );
            let alive = rig
                .sh(
                    &w.vm_id,
                    "kill -0 $(cat child.pid) 2>/dev/null && echo alive || echo gone",
                )
                .await?;
            assert_eq!(alive.trim(), "gone");
        }
        // Stopping again changes nothing; deleting removes every worker VM, not the source.
        let (_, deleted) = rig.swarms.stop(None, true).await?;
        assert_eq!(deleted.deleted.len(), 3);
        assert_eq!(rig.vms().await?, before);
        let status = rig.swarms.status(None).await?;
        assert!(
            status
                .workers
                .iter()
                .all(|w| w.disposition == Disposition::Deleted)
        );
        Ok(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_commit_is_a_source_and_env_reaches_only_the_workers() {
    within(STEP * 2, "a swarm from a commit", async {
        let rig = Rig::start(Limits::default()).await?;
        rig.sh(&rig.source, "echo committed > marker").await?;
        let commit = rig.sim.api().commit(&rig.source).await?;
        let mut spec = command(
            &commit[..8],
            2,
            r#"echo "$(cat marker) $TETHER_WORKER $TOKEN""#,
        );
        spec.env = vec![("TOKEN".into(), "s3cret".into())];
        let started = rig.swarms.start(spec, &quiet).await?;
        assert_eq!(started.source, Source::Commit(commit.clone()));
        let gathered = rig.swarms.wait(None, STEP, &mut |_| {}, None).await?;
        let tails: Vec<String> = gathered
            .status
            .workers
            .iter()
            .map(|w| w.tail.clone().unwrap_or_default())
            .collect();
        assert_eq!(tails, ["committed 0 s3cret\n", "committed 1 s3cret\n"]);
        let listed = rig
            .sh(&started.workers[0].vm_id, "ps -eo args; env")
            .await?;
        assert!(!listed.contains("s3cret"), "{listed}");
        rig.swarms.stop(None, true).await?;
        Ok(())
    })
    .await
    .unwrap();
}
