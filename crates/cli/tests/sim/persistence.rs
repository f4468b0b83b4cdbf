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

#[tokio::test]
async fn sim_key_add_makes_a_second_owner_at_once_and_it_survives_a_restart() {
    let mut sim = sim().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tether"))
        .args(["sim", "key", "add", "--label", "second"])
        .arg("--data")
        .arg(sim.data_dir())
        .output();
    let output = tether_testkit::within(std::time::Duration::from_secs(60), "key add", async {
        Ok(output.await?)
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let added: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let key = added["api_key"].as_str().unwrap().to_owned();
    let api = sim.api();
    let other = api.with_key(&key);
    let whoami = other.get("/whoami").await.unwrap().ok().unwrap();
    assert_eq!(whoami["api_key"]["label"], json!("second"));
    assert_eq!(whoami["org"]["name"], added["org_name"]);
    // A second owner: it does not see the first one's VMs.
    let vm = api.new_vm().await.unwrap();
    assert!(!other.vm_ids().await.unwrap().contains(&vm));
    sim.restart().await.unwrap();
    let whoami = sim
        .api()
        .with_key(&key)
        .get("/whoami")
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(whoami["org"]["name"], added["org_name"]);
}
