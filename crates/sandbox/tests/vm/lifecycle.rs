//! Pause, resume, shutdown, re-boot, boot errors.

use std::time::Duration;

use tether_sandbox::{BootSpec, SandboxError, Vm};

use crate::{Disks, boot, config, eventually, guarded, host_processes_with, ok, sh, with_vm};

/// How long a paused VM is watched for progress.
const PAUSE_WINDOW: Duration = Duration::from_millis(500);

#[tokio::test]
async fn pause_freezes_every_process_and_resume_thaws_them() {
    with_vm("vm-pause", |vm| async move {
        ok(
            &vm,
            "nohup sh -c 'while :; do printf x >> /root/ticks; done' >/dev/null 2>&1 &",
        )
        .await;
        let fs = vm.fs();
        let size = || async { fs.stat("/root/ticks").await.map(|s| s.size).unwrap_or(0) };
        let before = size().await;
        eventually("the loop to write", Duration::from_secs(10), || async {
            size().await > before
        })
        .await;

        vm.pause().await.unwrap();
        assert!(vm.is_paused());
        let frozen = size().await;
        tokio::time::sleep(PAUSE_WINDOW).await; // an observation window, not synchronisation
        assert_eq!(size().await, frozen, "the loop kept writing while paused");
        assert!(matches!(
            vm.spawn(sh("true")).await,
            Err(SandboxError::Paused)
        ));

        vm.resume().await.unwrap();
        assert!(!vm.is_paused());
        eventually(
            "the loop to write again",
            Duration::from_secs(10),
            || async { size().await > frozen },
        )
        .await;
        assert_eq!(ok(&vm, "echo alive").await, "alive\n");
    })
    .await;
}

#[tokio::test]
async fn a_vm_can_boot_paused() {
    let disks = Disks::fresh();
    let spec = BootSpec {
        disk: disks.create("disk"),
        hostname: "vm-boot-paused".into(),
        paused: true,
    };
    let vm = std::sync::Arc::new(Vm::boot(&config(), spec).await.unwrap());
    let body = {
        let vm = vm.clone();
        async move {
            assert!(vm.is_paused());
            assert!(matches!(
                vm.spawn(sh("true")).await,
                Err(SandboxError::Paused)
            ));
            vm.resume().await.unwrap();
            assert_eq!(ok(&vm, "uname -n").await, "vm-boot-paused\n");
        }
    };
    guarded(vec![vm], body).await;
}

#[tokio::test]
async fn shutdown_leaves_no_process_on_the_host() {
    let disks = Disks::fresh();
    let disk = disks.create("disk");
    let vm = boot(&disk, "vm-shutdown").await;
    ok(&vm, "nohup sleep 4242.5 >/dev/null 2>&1 &").await;
    ok(
        &vm,
        "nohup sh -c 'trap \"\" TERM HUP; exec sleep 4243.5' >/dev/null 2>&1 &",
    )
    .await;
    let mut waiting = vm.spawn(sh("exec sleep 4244.5")).await.unwrap();
    // The backgrounded shells exec into `sleep` on their own time: wait (bounded) until the
    // kernel shows all three, rather than racing them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while host_processes_with("sleep 424").len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        host_processes_with("sleep 424").len(),
        3,
        "{:?}",
        host_processes_with("sleep 424")
    );
    assert!(
        !host_processes_with(&disk.display().to_string()).is_empty(),
        "the init is not visible on the host"
    );

    vm.shutdown().await.unwrap();
    assert_eq!(host_processes_with("sleep 424"), Vec::<String>::new());
    assert_eq!(
        host_processes_with(&disk.display().to_string()),
        Vec::<String>::new()
    );
    assert!(matches!(
        waiting.wait().await,
        Err(SandboxError::NotRunning)
    ));
    assert!(matches!(
        vm.spawn(sh("true")).await,
        Err(SandboxError::NotRunning)
    ));
    assert!(matches!(
        vm.fs().read("/etc/hostname").await,
        Err(SandboxError::NotRunning)
    ));
    assert!(
        !disk.with_file_name("disk.scratch").exists(),
        "the scratch directory is left behind"
    );
    vm.shutdown().await.unwrap(); // idempotent
}

#[tokio::test]
async fn files_survive_a_shutdown_and_a_new_boot_from_the_same_disk() {
    let disks = Disks::fresh();
    let disk = disks.create("disk");
    let first = boot(&disk, "vm-first").await;
    guarded(vec![first.clone()], {
        let first = first.clone();
        async move {
            ok(
                &first,
                "echo kept > /root/kept; echo conf > /etc/tether-test.conf; rm /etc/debian_version",
            )
            .await;
        }
    })
    .await;
    let second = boot(&disk, "vm-second").await;
    guarded(vec![second.clone()], {
        let second = second.clone();
        async move {
            assert_eq!(
                ok(&second, "cat /root/kept /etc/tether-test.conf").await,
                "kept\nconf\n"
            );
            assert_eq!(
                ok(&second, "test -e /etc/debian_version || echo deleted").await,
                "deleted\n"
            );
            assert_eq!(
                ok(&second, "uname -n; cat /etc/hostname").await,
                "vm-second\nvm-second\n"
            );
            assert_eq!(
                crate::run(&second, "grep -c vm-first /etc/hosts")
                    .await
                    .stdout,
                "0\n"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn boot_refuses_a_missing_disk_and_a_bad_hostname() {
    let disks = Disks::fresh();
    let missing = BootSpec {
        disk: disks.dir.path().join("nope"),
        hostname: "vm".into(),
        paused: false,
    };
    let error = Vm::boot(&config(), missing).await.unwrap_err();
    assert!(error.to_string().contains("is not a VM disk"), "{error}");
    let bad = BootSpec {
        disk: disks.create("disk"),
        hostname: "bad name\n".into(),
        paused: false,
    };
    let error = Vm::boot(&config(), bad).await.unwrap_err();
    assert!(error.to_string().contains("hostname"), "{error}");
}

#[tokio::test]
async fn twenty_vms_boot_in_parallel_and_each_is_itself() {
    let disks = Disks::fresh();
    let names: Vec<String> = (0..20).map(|i| format!("vm-parallel-{i}")).collect();
    let mut boots = tokio::task::JoinSet::new();
    for name in &names {
        let disk = disks.create(name);
        let name = name.clone();
        boots.spawn(async move { (name.clone(), boot(&disk, &name).await) });
    }
    let vms: Vec<(String, std::sync::Arc<Vm>)> = boots.join_all().await;
    let body = {
        let vms = vms.clone();
        async move {
            for (name, vm) in &vms {
                assert_eq!(ok(vm, "uname -n").await, format!("{name}\n"));
            }
        }
    };
    guarded(vms.into_iter().map(|(_, vm)| vm).collect(), body).await;
}

#[tokio::test]
async fn dropping_a_vm_without_shutdown_still_kills_its_processes() {
    let disks = Disks::fresh();
    let vm = boot(&disks.create("disk"), "vm-dropped").await;
    let started = tokio::time::timeout(
        crate::DEADLINE,
        ok(&vm, "nohup sleep 5151.5 >/dev/null 2>&1 &"),
    )
    .await;
    drop(vm);
    started.unwrap();
    let gone = || async { host_processes_with("sleep 5151.5").is_empty() };
    eventually(
        "the dropped VM's processes to die",
        Duration::from_secs(10),
        gone,
    )
    .await;
}
