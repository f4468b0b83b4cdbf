//! A VM sees none of the host's private files, none of another VM's files or processes, none
//! of the host's environment, and cannot undo its own confinement.

use tether_sandbox::ExitStatus;

use crate::{Disks, boot, guarded, ok, run, with_vm};

/// A file in the host's /tmp that no VM may see.
fn host_secret() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("tether-host-secret-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::write(dir.path().join("secret"), "host-only").unwrap();
    dir
}

#[tokio::test]
async fn host_homes_tmp_and_project_files_are_not_visible() {
    let secret = host_secret();
    let secret_path = secret.path().join("secret").display().to_string();
    with_vm("vm-host-files", move |vm| async move {
        for path in [
            secret_path.as_str(),
            env!("CARGO_MANIFEST_DIR"),
            "/work",
            "/home/..",
        ] {
            let output = run(&vm, &format!("test -e '{path}' && ls -A '{path}'")).await;
            if path == "/home/.." {
                continue; // that is the VM's own root
            }
            assert_eq!(
                output.status,
                ExitStatus::Code(1),
                "{path} is visible: {output:?}"
            );
        }
        assert_eq!(ok(&vm, "ls -A /home; ls -A /tmp").await, "");
        let host_root: Vec<String> = std::fs::read_dir("/root")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let vm_root = ok(&vm, "ls -A /root").await;
        for name in host_root
            .iter()
            .filter(|n| ![".bashrc", ".profile"].contains(&n.as_str()))
        {
            assert!(
                !vm_root.lines().any(|line| line == name),
                "host /root/{name} is visible in the VM"
            );
        }
    })
    .await;
    drop(secret);
}

#[tokio::test]
async fn the_host_environment_does_not_leak() {
    // SAFETY: set before any VM starts; the variable only needs to exist in this process.
    unsafe { std::env::set_var("TETHER_SANDBOX_TEST_SECRET", "leaked-value-8812") };
    with_vm("vm-env", |vm| async move {
        let env = ok(&vm, "env; cat /proc/self/environ | tr '\\0' '\\n'").await;
        assert!(!env.contains("leaked-value-8812"), "{env}");
        // The init's own environment (and its other /proc entries) are out of reach.
        assert_ne!(
            run(&vm, "cat /proc/1/environ").await.status,
            ExitStatus::Code(0)
        );
        assert_ne!(
            run(&vm, "ls /proc/1/root/").await.status,
            ExitStatus::Code(0)
        );
    })
    .await;
}

#[tokio::test]
async fn vms_see_neither_each_others_files_nor_processes() {
    let disks = Disks::fresh();
    let (a, b) = (
        boot(&disks.create("a"), "vm-a").await,
        boot(&disks.create("b"), "vm-b").await,
    );
    let body = {
        let (a, b) = (a.clone(), b.clone());
        async move {
            ok(
                &b,
                "echo b-only > /root/b-marker-91f3; nohup sleep 7391 >/dev/null 2>&1 &",
            )
            .await;
            assert!(ok(&b, "ps -eo args").await.contains("sleep 7391"));
            let found = ok(
                &a,
                "find / -xdev -name 'b-marker-91f3' 2>/dev/null; find /tmp /root -name 'b-marker*'",
            )
            .await;
            assert_eq!(found, "");
            let processes = ok(&a, "ps -eo args").await;
            assert!(
                !processes.contains("sleep 7391"),
                "VM a sees b's process:\n{processes}"
            );
            let count: usize = ok(&a, "ls /proc | grep -c '^[0-9]'")
                .await
                .trim()
                .parse()
                .unwrap();
            assert!(count < 10, "VM a sees {count} processes");
        }
    };
    guarded(vec![a, b], body).await;
}

#[tokio::test]
async fn the_vm_cannot_undo_its_confinement() {
    with_vm("vm-confined", |vm| async move {
        for attempt in [
            "mount -o remount,rw /proc/sys",
            "umount /proc/sys",
            "umount -l /usr",
            "echo 1 > /proc/sys/kernel/sysrq",
            "echo '|/bin/sh' > /proc/sys/kernel/core_pattern",
            "touch /sys/kernel/tether-test",
            "mount -t proc proc /mnt",
            "mount -t sysfs sysfs /mnt",
        ] {
            let output = run(&vm, &format!("{attempt} 2>&1")).await;
            assert_ne!(
                output.status,
                ExitStatus::Code(0),
                "`{attempt}` succeeded: {output:?}"
            );
        }
        // Mounting is allowed, but only over the VM's own tree.
        ok(
            &vm,
            "mount -t tmpfs tmpfs /mnt && touch /mnt/x && umount /mnt",
        )
        .await;
    })
    .await;
}
