//! `tether vm …`: the whole lifecycle, checked through ls/info and `--json` shapes.

use serde_json::{Value, json};

use crate::Env;

/// The ids in `tether vm ls --json`, with their states.
async fn listed(env: &Env) -> Vec<(String, String)> {
    let list = env.run(&["vm", "ls", "--json"]).await.json();
    let vms = list.as_array().expect("an array of VMs");
    let mut ids: Vec<(String, String)> = vms
        .iter()
        .map(|vm| {
            (
                vm["vm_id"].as_str().unwrap().into(),
                vm["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    ids.sort();
    ids
}

fn state_of(listing: &[(String, String)], vm: &str) -> Option<String> {
    listing
        .iter()
        .find(|(id, _)| id == vm)
        .map(|(_, state)| state.clone())
}

#[tokio::test]
async fn new_ls_info_branch_commit_restore_pause_resume_rm() {
    let env = Env::start().await;
    let created = env
        .run(&["vm", "new", "--label", "team=core", "--json"])
        .await
        .json();
    let vm = created["vm_id"].as_str().unwrap().to_owned();
    assert_eq!(created["state"], "running");
    assert_eq!(created["labels"], json!({"team": "core"}));

    let info = env.run(&["vm", "info", &vm, "--json"]).await.json();
    let fields: Vec<&String> = info.as_object().unwrap().keys().collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "grandparent_vm_id",
            "ip",
            "labels",
            "mem_size_mib",
            "owner_id",
            "parent_commit_id",
            "state",
            "vcpu_count",
            "vm_id"
        ]
    );
    assert_eq!(
        (info["vm_id"].as_str(), &info["state"]),
        (Some(vm.as_str()), &json!("running"))
    );
    let human = env.run(&["vm", "info", &vm]).await;
    assert!(
        human.ok().contains(&format!("vm_id              {vm}")),
        "{human:?}"
    );
    assert!(
        human.stdout.contains("labels             team=core"),
        "{human:?}"
    );

    let branched = env
        .run(&["vm", "branch", &vm, "--count", "3", "--json"])
        .await
        .json();
    let children: Vec<String> = branched["vm_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 3, "{branched}");
    assert_eq!(branched["source_vm_id"], Value::String(vm.clone()));
    let listing = listed(&env).await;
    assert_eq!(listing.len(), 4, "{listing:?}");
    for child in &children {
        assert_eq!(state_of(&listing, child).as_deref(), Some("running"));
    }

    let commit = env
        .run(&[
            "vm",
            "commit",
            &vm,
            "--name",
            "base",
            "--description",
            "first",
            "--json",
        ])
        .await
        .json();
    let commit_id = commit["commit_id"].as_str().unwrap().to_owned();
    let commits = env.run(&["vm", "commits", "--json"]).await.json();
    assert_eq!(
        commits[0]["commit_id"],
        Value::String(commit_id.clone()),
        "{commits}"
    );
    assert_eq!(
        (&commits[0]["name"], &commits[0]["parent_vm_id"]),
        (&json!("base"), &json!(vm))
    );
    let table = env.run(&["vm", "commits"]).await;
    assert!(table.ok().starts_with("COMMIT ID"), "{table:?}");

    let restored = env
        .run(&["vm", "restore", &commit_id[..8]])
        .await
        .ok()
        .to_owned();
    let meta = env.run(&["vm", "info", &restored, "--json"]).await.json();
    assert_eq!(meta["parent_commit_id"], Value::String(commit_id.clone()));

    let paused = env.run(&["vm", "pause", &vm, "--json"]).await.json();
    assert_eq!(paused["state"], "paused");
    assert_eq!(
        state_of(&listed(&env).await, &vm).as_deref(),
        Some("paused")
    );
    assert_eq!(env.run(&["vm", "resume", &vm]).await.ok(), vm);
    assert_eq!(
        state_of(&listed(&env).await, &vm).as_deref(),
        Some("running")
    );

    let mut doomed = children.clone();
    doomed.push(restored.clone());
    let mut args = vec!["vm", "rm", "--json"];
    args.extend(doomed.iter().map(String::as_str));
    let removed = env.run(&args).await.json();
    assert_eq!(removed, json!({ "deleted": doomed }));
    let listing = listed(&env).await;
    assert_eq!(listing, vec![(vm.clone(), "running".to_owned())]);
    let table = env.run(&["vm", "ls"]).await;
    let rows: Vec<&str> = table.ok().lines().collect();
    assert_eq!(rows.len(), 2, "{table:?}");
    assert!(
        rows[0].contains("VM ID") && rows[1].contains(&vm),
        "{table:?}"
    );
}
