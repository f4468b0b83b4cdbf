//! `vm/…`: create with progress, use/local, branch, commit, restore, pause/resume, delete,
//! copy.

use serde_json::json;

use crate::client::Setup;

#[tokio::test]
async fn the_lifecycle_keeps_full_ids_and_the_active_vm_straight() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    serve.initialize().await;
    let vm = serve.call("vm/create", json!({"progressId": "p1"})).await["vmId"]
        .as_str()
        .unwrap()
        .to_owned();
    let progress: Vec<_> = serve
        .notes
        .iter()
        .filter(|n| n["method"] == "progress")
        .cloned()
        .collect();
    assert_eq!(
        progress.last().unwrap()["params"],
        json!({"progressId": "p1", "message": format!("VM {vm} is running")})
    );
    let used = serve.call("vm/use", json!({"vmId": &vm[..8]})).await;
    assert_eq!(
        used,
        json!({"vmId": vm, "home": "/root", "cwd": "/root", "previousVmId": null})
    );
    serve.call("fs/mkdir", json!({"path": "/srv/app"})).await;
    let moved = serve
        .call("vm/use", json!({"vmId": vm, "cwd": "/srv/app"}))
        .await;
    assert_eq!(moved["cwd"], "/srv/app");
    assert_eq!(serve.call("vm/active", json!({})).await["cwd"], "/srv/app");
    let branched = serve.call("vm/branch", json!({"count": 2})).await;
    assert_eq!(branched["sourceVmId"], vm);
    assert_eq!(branched["vmIds"].as_array().unwrap().len(), 2);
    let commit = serve.call("vm/commit", json!({"name": "snap"})).await;
    assert_eq!(commit["vmId"], vm);
    let commit_id = commit["commitId"].as_str().unwrap().to_owned();
    let restored = serve
        .call("vm/restore", json!({"commitId": commit_id}))
        .await;
    assert_eq!(restored["commitId"], commit_id);
    let paused = serve
        .call("vm/state", json!({"vmId": vm, "state": "paused"}))
        .await;
    assert_eq!(paused, json!({"vmId": vm, "state": "paused"}));
    let (result, out, _) = serve.exec("after-pause", "pwd").await;
    assert_eq!(
        (result["exitCode"].clone(), out),
        (json!(0), "/srv/app\n".into()),
        "a paused VM is resumed for use"
    );
    let listed = serve.call("vm/list", json!({})).await;
    assert_eq!(listed["vms"].as_array().unwrap().len(), 4);
    assert_eq!(listed["activeVmId"], vm);
    let deleted = serve.call("vm/delete", json!({"vmId": vm})).await;
    assert_eq!(deleted["wasActive"], true);
    assert_eq!(
        serve.call("vm/active", json!({})).await["vmId"],
        json!(null)
    );
    let gone = serve.error("vm/use", json!({"vmId": vm})).await;
    assert_eq!(
        gone["message"],
        format!(
            "VM {vm} does not exist (it may have been deleted); call vm_list to see the VMs, or create_vm to make one"
        )
    );
    assert_eq!(
        serve.call("vm/local", json!({})).await["previousVmId"],
        json!(null)
    );
}

#[tokio::test]
async fn copies_go_between_this_machine_and_vms_files_and_trees() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    let vm = serve.active_vm().await;
    let tree = setup.path("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), "a\n").unwrap();
    std::fs::write(tree.join("sub/b.bin"), [0u8, 1, 2, 255]).unwrap();
    let cwd = setup.dir.path().display().to_string();
    let up = serve
        .call(
            "vm/copy",
            json!({"src": "tree", "dst": format!("vm:{vm}:up"), "localCwd": cwd}),
        )
        .await;
    assert_eq!(
        up,
        json!({"from": format!("{cwd}/tree"), "to": format!("vm:{vm}:/root/up"), "kind": "dir", "files": 2})
    );
    let other = serve.call("vm/create", json!({})).await["vmId"]
        .as_str()
        .unwrap()
        .to_owned();
    let across = serve
        .call(
            "vm/copy",
            json!({"src": "vm::up/sub/b.bin", "dst": format!("vm:{other}:/tmp")}),
        )
        .await;
    assert_eq!(across["to"], format!("vm:{other}:/tmp/b.bin"));
    let down = serve
        .call(
            "vm/copy",
            json!({"src": format!("vm:{other}:/tmp/b.bin"), "dst": "back.bin", "localCwd": cwd}),
        )
        .await;
    assert_eq!(down["bytes"], 4);
    assert_eq!(
        std::fs::read(setup.path("back.bin")).unwrap(),
        [0u8, 1, 2, 255]
    );
    let local = serve
        .error("vm/copy", json!({"src": "a", "dst": "b"}))
        .await;
    assert_eq!(
        local["message"],
        "both \"a\" and \"b\" are local; use bash (cp -r) for a local copy"
    );
}
