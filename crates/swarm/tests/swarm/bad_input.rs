//! Bad input: clear errors before anything is made, clear results after; no VM leaked.

use tether_router::ErrorKind;
use tether_swarm::{Limits, WorkerState};
use tether_testkit::within;

use crate::common::{Rig, STEP, command, quiet};

#[tokio::test]
async fn bad_requests_fail_first_and_quick_exits_are_results() {
    within(STEP * 2, "bad input", async {
        let limits = Limits {
            max_workers: 4,
            concurrency: 4,
        };
        let rig = Rig::start(limits).await?;
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
