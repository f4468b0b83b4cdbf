//! `tether cp`: local ↔ VM and VM ↔ VM, files and trees, `vm::` for the default VM.

use serde_json::json;

use crate::Env;

#[tokio::test]
async fn files_and_trees_go_both_ways_and_between_vms() {
    let env = Env::start().await;
    let (a, b) = (env.new_vm().await, env.new_vm().await);
    let local = env.home.path();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    std::fs::write(local.join("blob.bin"), &bytes).unwrap();
    std::fs::create_dir_all(local.join("tree/sub")).unwrap();
    std::fs::write(local.join("tree/sub/leaf.txt"), "leaf, no newline").unwrap();

    let up = env
        .run(&[
            "cp",
            "--json",
            "blob.bin",
            &format!("vm:{a}:/root/blob.bin"),
        ])
        .await
        .json();
    assert_eq!(
        up,
        json!({"source": "blob.bin", "destination": format!("vm:{a}:/root/blob.bin"),
               "recursive": false, "bytes": 300_000})
    );
    env.run(&["use", &a]).await.ok();
    // VM to VM, into an existing directory; then back down.
    env.run(&["cp", "vm::/root/blob.bin", &format!("vm:{}:/tmp", &b[..8])])
        .await
        .ok();
    env.run(&["cp", &format!("vm:{b}:/tmp/blob.bin"), "back.bin"])
        .await
        .ok();
    assert!(
        std::fs::read(local.join("back.bin")).unwrap() == bytes,
        "bytes changed on the way"
    );

    env.run(&["cp", "-r", "tree", "vm::/root"]).await.ok();
    assert_eq!(
        env.sh(&a, "cat /root/tree/sub/leaf.txt").await,
        "leaf, no newline"
    );
    env.run(&["cp", "-r", "vm::/root/tree", "copy"]).await.ok();
    let leaf = std::fs::read_to_string(local.join("copy/sub/leaf.txt")).unwrap();
    assert_eq!(leaf, "leaf, no newline");
}
