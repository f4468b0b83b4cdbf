//! A VM sees neither the host's files nor another VM's files or processes, and no path trick
//! (symlink, `..`) through exec, the files API or SFTP gets out of its root.

use tether_testkit::run_argv;

use crate::sim;

/// A file on the host, in the host's /tmp, that no VM may ever read.
struct HostSecret {
    dir: tempfile::TempDir,
}

impl HostSecret {
    fn new() -> HostSecret {
        let dir = tempfile::Builder::new()
            .prefix("tether-host-secret-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::write(dir.path().join("secret"), "host-only").unwrap();
        HostSecret { dir }
    }
    fn path(&self) -> String {
        self.dir.path().join("secret").display().to_string()
    }
}

#[tokio::test]
async fn a_vm_sees_no_host_files() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    let secret = HostSecret::new();
    let project = env!("CARGO_MANIFEST_DIR");
    let data_dir = sim.data_dir().display().to_string();
    for path in [secret.path(), project.to_owned(), data_dir] {
        let (code, _, _) = api.exec(&vm, &["test", "-e", &path]).await.unwrap();
        assert_eq!(code, 1, "{path} is visible inside the VM");
    }
    // The VM's /root is its own: the host's /root entries are not there.
    let host_root: Vec<String> = std::fs::read_dir("/root")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let vm_root = api.sh(&vm, "ls -A /root").await.unwrap();
    for name in host_root
        .iter()
        .filter(|n| n.starts_with('.') && n.len() > 3)
    {
        if !["/.bashrc", "/.profile"].contains(&format!("/{name}").as_str()) {
            assert!(
                !vm_root.lines().any(|l| l == name),
                "host /root/{name} visible in the VM"
            );
        }
    }
}

#[tokio::test]
async fn a_vm_sees_no_other_vms_files_or_processes() {
    let sim = sim().await;
    let api = sim.api();
    let (a, b) = (api.new_vm().await.unwrap(), api.new_vm().await.unwrap());
    api.sh(
        &b,
        "echo b-only > /root/b-marker-91f3; nohup sleep 7391 >/dev/null 2>&1 &",
    )
    .await
    .unwrap();
    assert!(
        api.sh(&b, "ps -eo args")
            .await
            .unwrap()
            .contains("sleep 7391")
    );

    let found = api
        .sh(
            &a,
            "find / -path /proc -prune -o -path /sys -prune -o -name 'b-marker-91f3' -print",
        )
        .await
        .unwrap();
    assert_eq!(found, "", "VM A found B's file");
    let processes = api.sh(&a, "ps -eo args").await.unwrap();
    assert!(
        !processes.contains("sleep 7391"),
        "VM A sees B's process:\n{processes}"
    );
    let pids = api.sh(&a, "ls /proc | grep -c '^[0-9]'").await.unwrap();
    assert!(
        pids.trim().parse::<u32>().unwrap() < 10,
        "VM A sees many processes: {pids}"
    );
}

#[tokio::test]
async fn symlinks_and_dotdot_stay_inside_through_exec_and_files_api() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    let secret = HostSecret::new();
    let target = secret.path();
    let deep = format!("../../../../../../../../../../..{target}");
    api.sh(
        &vm,
        &format!("ln -s {target} /root/abs; ln -s {deep} /root/rel; ln -s / /root/top"),
    )
    .await
    .unwrap();

    // Through exec: every spelling resolves inside the VM, where the file does not exist.
    for path in [
        "/root/abs".to_owned(),
        "/root/rel".to_owned(),
        format!("/root/top/..{target}"),
        deep.clone(),
    ] {
        let (code, stdout, _) = api.exec(&vm, &["cat", &path]).await.unwrap();
        assert_ne!(code, 0, "{path} read {stdout:?}");
    }
    // Through the files API: the same paths are not found (or refused), never the host's file.
    for path in [
        "/root/abs".to_owned(),
        "/root/rel".to_owned(),
        format!("/root/top/..{target}"),
        format!("/root/{deep}"),
    ] {
        let reply = api
            .get(&format!("/vm/{vm}/files?path={}", encode(&path)))
            .await
            .unwrap();
        assert!(
            matches!(reply.status.as_u16(), 400 | 404),
            "{path}: {reply:?}"
        );
        assert!(
            !reply.body.to_string().contains("aG9zdC1vbmx5"),
            "{path} leaked the host file"
        );
    }
    // Writing through an escaping symlink lands inside the VM, never on the host.
    api.sh(&vm, &format!("ln -s {deep}-written /root/wlink"))
        .await
        .unwrap();
    let _ = api.put_file(&vm, "/root/wlink", b"from-vm").await.unwrap();
    assert!(
        !std::path::Path::new(&format!("{target}-written")).exists(),
        "files API wrote on the host"
    );
}

#[tokio::test]
async fn sftp_cannot_leave_the_vm() {
    let sim = sim().await;
    let vm = sim.api().new_vm().await.unwrap();
    let secret = HostSecret::new();
    let target = secret.path();
    sim.api()
        .sh(
            &vm,
            &format!("ln -s ../../../../../../../..{target} /root/rel; echo in-vm > /root/own"),
        )
        .await
        .unwrap();

    let ssh = sim.ssh(&vm);
    let (keydir, key) = ssh.key_file().await.unwrap();
    let local = keydir.path().join("fetched");
    let batch = keydir.path().join("batch");
    let run_batch = |commands: String| {
        std::fs::write(&batch, commands).unwrap();
        let mut argv = ssh.verified_argv(&key, "");
        argv.pop();
        let host = argv.pop().unwrap();
        argv[0] = "sftp".into();
        argv.extend(["-b".into(), batch.display().to_string(), host]);
        argv
    };
    // A plain get works: SFTP itself is served.
    let out = run_argv(
        &run_batch(format!("get /root/own {}\n", local.display())),
        b"",
    )
    .await
    .unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr_str());
    assert_eq!(std::fs::read_to_string(&local).unwrap(), "in-vm\n");
    // Escapes fail.
    for remote in ["/root/rel".to_owned(), format!("/../../../../..{target}")] {
        let _ = std::fs::remove_file(&local);
        let out = run_argv(
            &run_batch(format!("get {remote} {}\n", local.display())),
            b"",
        )
        .await
        .unwrap();
        assert_ne!(out.code, Some(0), "sftp fetched {remote}");
        assert!(!local.exists());
    }
}

fn encode(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
