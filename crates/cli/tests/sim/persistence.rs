//! Stopping and starting the simulator on the same data directory keeps VMs and commits.

use serde_json::json;

use crate::sim;

#[tokio::test]
async fn vms_and_commits_survive_a_restart() {
    let mut sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    api.sh(&vm, "echo kept > /root/kept").await.unwrap();
    let commit = api.commit(&vm).await.unwrap();
    let paused = api.new_vm().await.unwrap();
    api.set_state(&paused, "Paused")
        .await
        .unwrap()
        .ok()
        .unwrap();

    sim.restart().await.unwrap();
    let api = sim.api();
    let ids = api.vm_ids().await.unwrap();
    assert!(ids.contains(&vm) && ids.contains(&paused), "{ids:?}");
    assert_eq!(api.sh(&vm, "cat /root/kept").await.unwrap(), "kept\n");
    assert_eq!(api.sh(&vm, "hostname").await.unwrap().trim(), vm);
    let state = api
        .get(&format!("/vm/{paused}/status"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(state["state"], "paused");

    let commits = api.get("/commits").await.unwrap().ok().unwrap();
    assert!(
        commits["commits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["commit_id"] == commit)
    );
    let restored = api
        .post("/vm/from_commit", json!({ "commit_id": commit }))
        .await
        .unwrap()
        .ok()
        .unwrap();
    let restored = restored["vm_id"].as_str().unwrap();
    assert_eq!(api.sh(restored, "cat /root/kept").await.unwrap(), "kept\n");
    // The SSH key survived too.
    let out = sim.ssh(&vm).run("cat /root/kept").await.unwrap();
    assert_eq!(out.stdout_str(), "kept\n", "{}", out.stderr_str());
}
