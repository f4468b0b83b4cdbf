//! Disk copies are independent and complete (files, deletions of host files, modes).

use tether_sandbox::{ExitStatus, copy_disk, create_disk, disk_usage, remove_disk};

use crate::{Disks, boot, guarded, ok, run};

#[tokio::test]
async fn a_copied_disk_is_an_independent_vm() {
    let disks = Disks::fresh();
    let original = disks.create("original");
    let copy = disks.dir.path().join("copies/copy");
    let parent = boot(&original, "vm-parent").await;
    guarded(vec![parent.clone()], {
        let (parent, original, copy) = (parent.clone(), original.clone(), copy.clone());
        async move {
            ok(&parent, "echo parent > /root/f; chmod 640 /root/f; mkdir /opt/tool; rm /etc/debian_version; head -c 3000000 /dev/urandom > /var/blob").await;
            parent.pause().await.unwrap();
            copy_disk(&original, &copy).await.unwrap();
            parent.resume().await.unwrap();
            ok(&parent, "echo after-copy > /root/late").await;
        }
    })
    .await;
    let (parent, child) = (
        boot(&original, "vm-parent").await,
        boot(&copy, "vm-child").await,
    );
    let body = {
        let (parent, child) = (parent.clone(), child.clone());
        async move {
            assert_eq!(
                ok(
                    &child,
                    "cat /root/f; stat -c %a /root/f; test -d /opt/tool && echo dir"
                )
                .await,
                "parent\n640\ndir\n"
            );
            assert_ne!(
                run(&child, "test -e /etc/debian_version").await.status,
                ExitStatus::Code(0),
                "a deletion was lost"
            );
            assert_eq!(
                ok(&child, "md5sum < /var/blob").await,
                ok(&parent, "md5sum < /var/blob").await
            );
            ok(&child, "echo child > /root/f; touch /root/child-only").await;
            assert_eq!(
                ok(&parent, "cat /root/f; ls /root").await,
                "parent\nf\nlate\n"
            );
            assert_eq!(
                ok(&child, "cat /root/f; ls /root").await,
                "child\nchild-only\nf\n"
            );
        }
    };
    guarded(vec![parent, child], body).await;
}

#[tokio::test]
async fn disks_are_created_measured_and_removed() {
    let disks = Disks::fresh();
    let disk = disks.dir.path().join("nested/disk");
    create_disk(&disk).unwrap();
    assert!(
        create_disk(&disk).is_err(),
        "a second create over an existing disk must fail"
    );
    assert!(
        disk.join("root/tmp").is_dir()
            && disk.join("upper/usr").is_dir()
            && disk.join("tether-disk").is_file()
    );
    let empty = disk_usage(&disk).await.unwrap();
    std::fs::write(disk.join("root/root/data"), vec![7u8; 1 << 20]).unwrap();
    assert!(disk_usage(&disk).await.unwrap() >= empty + (1 << 20));
    assert!(
        copy_disk(&disks.dir.path().join("none"), &disks.dir.path().join("x"))
            .await
            .is_err()
    );
    assert!(
        copy_disk(&disk, &disk).await.is_err(),
        "copying onto an existing path must fail"
    );
    remove_disk(&disk).await.unwrap();
    assert!(!disk.exists());
    remove_disk(&disk).await.unwrap();
}
