//! `VmFs`: byte-exact round trips, modes, directory creation, and confinement to the VM's
//! root whatever symlinks and `..` say.

use std::time::Duration;

use tether_sandbox::{SandboxError, Vm};

use crate::{eventually, ok, run, with_vm};

#[tokio::test]
async fn a_5_mb_binary_file_round_trips_byte_exact_with_its_mode() {
    with_vm("vm-files-binary", |vm| async move {
        let content: Vec<u8> = (0..5 * 1024 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let fs = vm.fs();
        fs.write("/root/blob.bin", &content, Some(0o750), false)
            .await
            .unwrap();
        assert!(
            fs.read("/root/blob.bin").await.unwrap() == content,
            "read back different bytes"
        );
        let stat = fs.stat("/root/blob.bin").await.unwrap();
        assert_eq!(
            (stat.size, stat.mode & 0o7777, stat.is_dir),
            (content.len() as u64, 0o750, false)
        );
        assert_eq!(
            ok(&vm, "stat -c '%a %s %U' /root/blob.bin").await,
            format!("750 {} root\n", content.len())
        );
        // Rewriting without a mode keeps the existing one; with a mode replaces it.
        fs.write("/root/blob.bin", b"small", None, false)
            .await
            .unwrap();
        assert_eq!(
            fs.stat("/root/blob.bin").await.unwrap().mode & 0o7777,
            0o750
        );
        fs.write("/root/blob.bin", b"small", Some(0o600), false)
            .await
            .unwrap();
        assert_eq!(
            ok(&vm, "stat -c %a /root/blob.bin; cat /root/blob.bin").await,
            "600\nsmall"
        );
        // A new file defaults to 0644; no temp files are left behind.
        fs.write("/root/new.txt", b"n", None, false).await.unwrap();
        assert_eq!(
            ok(
                &vm,
                "stat -c %a /root/new.txt; ls -A /root | grep -c tether || true"
            )
            .await,
            "644\n0\n"
        );
    })
    .await;
}

#[tokio::test]
async fn parent_directories_are_created_only_when_asked() {
    with_vm("vm-files-dirs", |vm| async move {
        let fs = vm.fs();
        let missing = fs.write("/root/a/b/c.txt", b"x", None, false).await;
        assert!(
            matches!(missing, Err(SandboxError::NotFound { .. })),
            "{missing:?}"
        );
        fs.write("/root/a/b/c.txt", b"x", None, true).await.unwrap();
        assert_eq!(
            ok(&vm, "stat -c %a /root/a /root/a/b; cat /root/a/b/c.txt").await,
            "755\n755\nx"
        );
        assert!(fs.stat("/root/a").await.unwrap().is_dir);
    })
    .await;
}

#[tokio::test]
async fn bad_paths_directories_and_pseudo_files_are_refused() {
    with_vm("vm-files-errors", |vm| async move {
        let fs = vm.fs();
        assert!(matches!(
            fs.read("root/x").await,
            Err(SandboxError::BadPath { .. })
        ));
        assert!(matches!(
            fs.read("/root/a\0b").await,
            Err(SandboxError::BadPath { .. })
        ));
        assert!(matches!(
            fs.read("/root").await,
            Err(SandboxError::IsDirectory { .. })
        ));
        assert!(matches!(
            fs.write("/root", b"x", None, false).await,
            Err(SandboxError::IsDirectory { .. })
        ));
        assert!(matches!(
            fs.write("/", b"x", None, false).await,
            Err(SandboxError::IsDirectory { .. })
        ));
        assert!(matches!(
            fs.read("/root/missing").await,
            Err(SandboxError::NotFound { .. })
        ));
        // Devices are never opened; kernel pseudo-files open with the VM's privileges only.
        let refused = [
            "/dev/zero",
            "/dev/null",
            "/proc/kcore",
            "/proc/self/environ",
        ];
        for path in refused {
            let result = fs.read(path).await;
            assert!(
                result.is_err(),
                "{path} was read: {:?}",
                result.map(|c| c.len())
            );
        }
        assert!(
            fs.write("/proc/sys/kernel/hostname", b"x", None, false)
                .await
                .is_err()
        );
    })
    .await;
}

/// The VM's hostname file, as the files API must see it through every trick.
async fn assert_reads_vm_hostname(vm: &Vm, path: &str) {
    let read = vm.fs().read(path).await;
    assert_eq!(
        read.as_deref().ok(),
        Some(&b"vm-files-escape\n"[..]),
        "{path}: {read:?}"
    );
}

#[tokio::test]
async fn symlinks_and_dotdot_resolve_inside_the_vm() {
    let secret = tempfile::Builder::new()
        .prefix("tether-host-secret-")
        .tempdir_in("/tmp")
        .unwrap();
    let host_file = secret.path().join("secret");
    std::fs::write(&host_file, "host-only").unwrap();
    let host_path = host_file.display().to_string();
    with_vm("vm-files-escape", move |vm| async move {
        ok(&vm, "ln -s / /root/top; ln -s /../../etc/hostname /root/abs; ln -s ../../../../../.. /root/up; ln -s up/etc/hostname /root/chain; ln -s /proc/1/root /root/magic").await;
        for path in ["/../../../etc/hostname", "/root/top/etc/hostname", "/root/top/../../etc/hostname", "/root/abs", "/root/chain", "/root/up/root/up/etc/hostname"] {
            assert_reads_vm_hostname(&vm, path).await;
        }
        let fs = vm.fs();
        let magic = fs.read("/root/magic/etc/hostname").await;
        // Refused (how depends on the host side's privileges), never the host's file.
        assert!(magic.is_err(), "{magic:?}");
        // A link to a host path that does not exist inside the VM is not found...
        ok(&vm, &format!("ln -s {host_path} /root/host-abs; ln -s ../../../../..{host_path} /root/host-rel")).await;
        for path in ["/root/host-abs".to_owned(), "/root/host-rel".to_owned(), format!("/../../..{host_path}")] {
            assert!(matches!(fs.read(&path).await, Err(SandboxError::NotFound { .. })), "{path}");
        }
        // ...and writing through it lands inside the VM, never on the host.
        fs.write("/root/host-abs", b"from-vm", None, true).await.unwrap();
        fs.write("/root/host-rel", b"from-vm-rel", None, true).await.unwrap();
        assert_eq!(ok(&vm, &format!("cat {host_path}; echo; cat /root/host-abs")).await, "from-vm-rel\nfrom-vm-rel");
        assert_eq!(run(&vm, "test -L /root/host-abs && echo still-a-link").await.stdout, "still-a-link\n");
    })
    .await;
    assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host-only");
    assert_eq!(
        std::fs::read_dir(secret.path()).unwrap().count(),
        1,
        "something was written on the host"
    );
}

#[tokio::test]
async fn the_vms_own_proc_files_are_readable_even_while_paused() {
    with_vm("vm-files-proc", |vm| async move {
        let pid = ok(&vm, "nohup sleep 6161 >/dev/null 2>&1 & echo $!").await;
        let stat_path = format!("/proc/{}/stat", pid.trim());
        let fs = vm.fs();
        let state = || async { String::from_utf8(fs.read(&stat_path).await.unwrap()).unwrap() };
        let asleep = || async { state().await.contains("(sleep) S") };
        eventually("the sleep to be asleep", Duration::from_secs(10), asleep).await;
        vm.pause().await.unwrap();
        let paused = state().await;
        assert!(paused.contains("(sleep) T"), "{paused}");
        vm.resume().await.unwrap();
        let cmdline = fs
            .read(&format!("/proc/{}/cmdline", pid.trim()))
            .await
            .unwrap();
        assert_eq!(cmdline, b"sleep\x006161\x00");
        assert_eq!(
            fs.read("/proc/sys/kernel/hostname").await.unwrap(),
            b"vm-files-proc\n"
        );
    })
    .await;
}
