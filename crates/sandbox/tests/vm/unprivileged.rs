//! VMs work for a normal user where the kernel allows unprivileged user namespaces. When the
//! tests run as root, the init is started through `setpriv` as `nobody` (65534).

use std::os::unix::fs::lchown;
use std::sync::Arc;

use tether_sandbox::{BootSpec, SandboxConfig, Vm};

use crate::{Disks, guarded, ok};

const NOBODY: u32 = 65534;
const SETPRIV: &str = "/usr/bin/setpriv";

/// Why the check cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("not running as root: every other test already runs unprivileged".into());
    }
    if !std::path::Path::new(SETPRIV).exists() {
        return Some(format!("{SETPRIV} is missing (util-linux)"));
    }
    let probe = std::process::Command::new(SETPRIV)
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "unshare",
            "--user",
            "--map-root-user",
            "true",
        ])
        .status();
    match probe {
        Ok(status) if status.success() => None,
        other => Some(format!(
            "unprivileged user namespaces are unavailable ({other:?})"
        )),
    }
}

fn chown_tree(path: &std::path::Path) {
    lchown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path());
        }
    }
}

#[tokio::test]
async fn a_normal_user_can_run_a_vm() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED a_normal_user_can_run_a_vm: {reason}");
        return;
    }
    let disks = Disks::fresh();
    let disk = disks.create("disk");
    chown_tree(disks.dir.path());
    let config = SandboxConfig {
        init_program: SETPRIV.into(),
        init_args: [
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_tether-vm-init"),
        ]
        .map(Into::into)
        .to_vec(),
    };
    let spec = BootSpec {
        disk: disk.clone(),
        hostname: "vm-nobody".into(),
        paused: false,
    };
    let vm = Arc::new(Vm::boot(&config, spec).await.unwrap());
    let body = {
        let vm = vm.clone();
        async move {
            assert_eq!(
                ok(&vm, "id -u; uname -n; cat /etc/hostname").await,
                "0\nvm-nobody\nvm-nobody\n"
            );
            ok(
                &vm,
                "echo mine > /root/f; mkdir -p /tmp/x && echo t > /tmp/x/t",
            )
            .await;
            assert_eq!(vm.fs().read("/root/f").await.unwrap(), b"mine\n");
            let output = crate::run(&vm, "touch /usr/bin/tether-test 2>&1").await;
            assert_ne!(
                output.status,
                tether_sandbox::ExitStatus::Code(0),
                "the host's /usr is writable: {output:?}"
            );
            vm.pause().await.unwrap();
            vm.resume().await.unwrap();
        }
    };
    guarded(vec![vm], body).await;
    let owner =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(disk.join("root/root/f")).unwrap());
    assert_eq!(
        owner, NOBODY,
        "files the VM's root writes belong to the user who runs the VM"
    );
}
