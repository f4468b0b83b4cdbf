//! The simulator's HTTP API in-process: auth and error shapes, lifecycle, lineage, restart.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "api_harness.rs"]
mod harness;

use futures::future::join_all;
use harness::{Harness, processes_using};
use reqwest::Method;
use serde_json::json;

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

macro_rules! harness {
    () => {
        match Harness::start().await {
            Some(harness) => harness,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_and_bad_input_get_json_errors_that_say_what_to_do() {
    let h = harness!();
    let health = h.send(Method::GET, "/health", None, None).await;
    assert_eq!((health.status, &health.body["status"]), (200, &json!("ok")));

    let missing = h.send(Method::GET, "/vms", None, None).await;
    assert!(
        missing
            .error(401)
            .starts_with("missing API key: send `Authorization: Bearer <key>`")
    );
    let wrong = h.send(Method::GET, "/vms", None, Some("nope")).await;
    assert!(wrong.error(401).starts_with("wrong API key"), "{wrong:?}");

    let body = Some("{\"vm_config\": ".to_owned());
    let key = h.info().api_key.clone();
    let malformed = h.send(Method::POST, "/vm/new_root", body, Some(&key)).await;
    assert!(
        malformed
            .error(400)
            .starts_with("the request body is not valid JSON"),
        "{malformed:?}"
    );
    let shape = h.post("/vm/new_root", json!({ "vm_config": 5 })).await;
    assert!(
        shape.error(422).contains("expected struct VmConfig"),
        "{shape:?}"
    );
    let empty = h
        .send(Method::POST, "/vm/from_commit", None, Some(&key))
        .await;
    assert!(empty.error(400).contains("needs a JSON body"), "{empty:?}");
    let two_sources = h
        .post(
            "/vm/from_commit",
            json!({ "commit_id": UNKNOWN, "tag_name": "t" }),
        )
        .await;
    assert!(
        two_sources.error(422).contains("exactly one of"),
        "{two_sources:?}"
    );
    let tag = h.post("/vm/from_commit", json!({ "tag_name": "t" })).await;
    assert!(
        tag.error(404)
            .contains("list tags with GET /api/v1/commit_tags"),
        "{tag:?}"
    );

    let no_route = h.get("/nowhere").await;
    assert!(
        no_route.error(404).contains("no route GET /api/v1/nowhere"),
        "{no_route:?}"
    );
    let unknown = h.get(&format!("/vm/{UNKNOWN}/metadata")).await;
    assert_eq!(
        unknown.error(404),
        format!("no VM {UNKNOWN}; list VMs with GET /api/v1/vms")
    );
    let neither = h.post(&format!("/vm/{UNKNOWN}/branch"), json!({})).await;
    assert!(
        neither
            .error(404)
            .starts_with(&format!("no VM or commit {UNKNOWN}"))
    );
    let count = h
        .post(&format!("/vm/{UNKNOWN}/branch?count=0"), json!({}))
        .await;
    assert!(
        count.error(400).contains("ask for 1 to 64 VMs"),
        "{count:?}"
    );
    let bad_query = h
        .post(&format!("/vm/{UNKNOWN}/branch?count=many"), json!({}))
        .await;
    assert!(
        bad_query.error(400).starts_with("bad query string"),
        "{bad_query:?}"
    );
    let image = h
        .post(
            "/vm/new_root",
            json!({ "vm_config": { "image_name": "ubuntu" } }),
        )
        .await;
    assert!(
        image.error(400).contains("the only image is \"default\""),
        "{image:?}"
    );
    assert_eq!(
        h.vm_ids().await,
        Vec::<String>::new(),
        "no VM was made by bad requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_vm_has_status_metadata_labels_and_its_own_key() {
    let h = harness!();
    let config = json!({ "vm_config": { "mem_size_mib": 512, "labels": { "team": "blue" } } });
    let created = h.post("/vm/new_root?wait_boot=true", config).await;
    assert_eq!(created.status, 201);
    let vm = created.body["vm_id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&vm).is_ok(), "{vm}");

    let listed = h.get("/vms").await.ok();
    assert_eq!(listed[0]["labels"], json!({ "team": "blue" }));
    let status = h.get(&format!("/vm/{vm}/status")).await.ok();
    let owner = h.info().api_key[..36].to_owned();
    assert_eq!(
        status,
        json!({"vm_id": vm, "owner_id": owner, "created_at": status["created_at"], "state": "running", "labels": {"team": "blue"}})
    );
    let meta = h.get(&format!("/vm/{vm}/metadata")).await.ok();
    assert_eq!(
        (&meta["parent_commit_id"], &meta["grandparent_vm_id"]),
        (&json!(null), &json!(null))
    );
    assert_eq!(meta["state"], "running");

    let key = h.get(&format!("/vm/{vm}/ssh_key")).await.ok();
    assert_eq!(key["ssh_port"], h.sim().ssh_gateway().port());
    let pem = key["ssh_private_key"].as_str().unwrap();
    let parsed = russh::keys::PrivateKey::from_openssh(pem).unwrap();
    let other = h.new_vm().await;
    let other_key = h.get(&format!("/vm/{other}/ssh_key")).await.ok();
    assert_ne!(
        other_key["ssh_private_key"], key["ssh_private_key"],
        "every VM has its own key"
    );
    assert_eq!(parsed.algorithm(), russh::keys::Algorithm::Ed25519);
    assert_eq!(h.ok_sh(&vm, "hostname").await.trim(), vm);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vm_created_without_wait_boot_is_usable_once_booted() {
    let h = harness!();
    let created = h.post("/vm/new_root", json!({ "vm_config": {} })).await;
    let vm = created.ok()["vm_id"].as_str().unwrap().to_owned();
    let state = h.state(&vm).await;
    assert!(state == "booting" || state == "running", "{state}");
    // Requests on a booting VM wait for the boot.
    assert_eq!(h.ok_sh(&vm, "echo up").await, "up\n");
    assert_eq!(h.state(&vm).await, "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn branch_copies_the_disk_keeps_the_parent_paused_if_asked_and_records_lineage() {
    let h = harness!();
    let parent = h.new_vm().await;
    h.ok_sh(&parent, "echo from-parent > /root/marker").await;
    let reply = h
        .post(
            &format!("/vm/branch/by_vm/{parent}?count=2&keep_paused=true"),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    let children: Vec<String> = reply.body["vms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vm_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(children.len(), 2);
    assert_eq!(h.state(&parent).await, "paused");
    let parent_key = h.get(&format!("/vm/{parent}/ssh_key")).await.ok()["ssh_private_key"].clone();
    for child in &children {
        assert_eq!(h.state(child).await, "running");
        assert_eq!(h.ok_sh(child, "cat /root/marker").await, "from-parent\n");
        let meta = h.get(&format!("/vm/{child}/metadata")).await.ok();
        // A branch is a commit of the parent and a restore of it, as on Vers.
        assert_eq!(meta["grandparent_vm_id"], json!(parent));
        assert!(meta["parent_commit_id"].is_string(), "{meta}");
        let key = h.get(&format!("/vm/{child}/ssh_key")).await.ok();
        assert_eq!(
            key["ssh_private_key"], parent_key,
            "a branch inherits its parent's key"
        );
    }
    // A paused parent can be branched and stays paused.
    let again = h.post(&format!("/vm/{parent}/branch"), json!({})).await;
    assert_eq!(again.ok()["vms"].as_array().unwrap().len(), 1);
    assert_eq!(h.state(&parent).await, "paused");
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_restore_and_delete_a_commit() {
    let h = harness!();
    let vm = h.new_vm().await;
    h.ok_sh(&vm, "echo v1 > /root/version").await;
    let body = json!({ "name": "first", "description": "v1 only" });
    let committed = h
        .post(&format!("/vm/{vm}/commit?keep_paused=true"), body)
        .await;
    assert_eq!(committed.status, 201, "{committed:?}");
    let commit = committed.body["commit_id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.state(&vm).await,
        "paused",
        "keep_paused leaves the VM paused"
    );
    h.set_state(&vm, "Running").await.ok();

    let list = h.get("/commits").await.ok();
    assert_eq!(
        (&list["total"], &list["limit"], &list["offset"]),
        (&json!(1), &json!(50), &json!(0))
    );
    let info = &list["commits"][0];
    assert_eq!(
        (&info["commit_id"], &info["name"], &info["description"]),
        (&json!(commit), &json!("first"), &json!("v1 only"))
    );
    assert_eq!(
        (&info["parent_vm_id"], &info["is_public"]),
        (&json!(vm), &json!(false))
    );

    let duplicate = h
        .post(&format!("/vm/{vm}/commit"), json!({ "commit_id": commit }))
        .await;
    assert!(
        duplicate.error(409).contains("exists already"),
        "{duplicate:?}"
    );

    let restored = h
        .post("/vm/from_commit", json!({ "commit_id": commit }))
        .await;
    assert_eq!(restored.status, 201);
    let restored = restored.body["vm_id"].as_str().unwrap().to_owned();
    assert_eq!(h.ok_sh(&restored, "cat /root/version").await, "v1\n");
    let meta = h.get(&format!("/vm/{restored}/metadata")).await.ok();
    assert_eq!(
        (&meta["parent_commit_id"], &meta["grandparent_vm_id"]),
        (&json!(commit), &json!(vm))
    );
    // The generic branch route takes a commit id too.
    let branched = h
        .post(&format!("/vm/{commit}/branch?count=2"), json!({}))
        .await
        .ok();
    assert_eq!(branched["vms"].as_array().unwrap().len(), 2);

    // As on Vers, a commit VMs were started from stays until they are gone.
    let in_use = h.delete(&format!("/commits/{commit}")).await;
    assert!(
        in_use
            .error(409)
            .contains("still has 3 active VM(s); delete them first"),
        "{in_use:?}"
    );
    let children = branched["vms"].as_array().unwrap().iter();
    for child in children
        .map(|v| v["vm_id"].as_str().unwrap())
        .chain([restored.as_str()])
    {
        h.delete(&format!("/vm/{child}")).await.ok();
    }
    let deleted = h.delete(&format!("/commits/{commit}")).await;
    assert_eq!((deleted.status, &deleted.body), (204, &json!(null)));
    assert_eq!(h.get("/commits").await.ok()["total"], 0);
    let gone = h
        .post("/vm/from_commit", json!({ "commit_id": commit }))
        .await;
    assert!(gone.error(404).contains("was deleted"), "{gone:?}");
    assert!(
        h.delete(&format!("/commits/{commit}"))
            .await
            .error(404)
            .contains("was deleted")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_refuses_exec_and_only_paused_or_running_can_be_set() {
    let h = harness!();
    let vm = h.new_vm().await;
    assert_eq!(h.set_state(&vm, "Paused").await.status, 200);
    assert_eq!(h.state(&vm).await, "paused");
    let exec = h
        .post(&format!("/vm/{vm}/exec"), json!({ "command": ["true"] }))
        .await;
    assert!(
        exec.error(409)
            .starts_with(&format!("VM {vm} is paused; PATCH its state to Running")),
        "{exec:?}"
    );
    for bad in ["Asleep", "paused", ""] {
        let reply = h.set_state(&vm, bad).await;
        assert!(
            reply.error(400).contains("\"Sleeping\" or \"Running\""),
            "{reply:?}"
        );
    }
    assert_eq!(
        h.set_state(&vm, "Paused").await.status,
        200,
        "pausing twice is fine"
    );
    assert_eq!(h.set_state(&vm, "Running").await.status, 200);
    assert_eq!(h.ok_sh(&vm, "echo back").await, "back\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_vm_vanishes_and_its_id_says_so() {
    let h = harness!();
    let vm = h.new_vm().await;
    let disk = h.info().data_dir.join("vms").join(&vm);
    assert!(disk.exists());
    assert_eq!(
        h.delete(&format!("/vm/{vm}")).await.ok(),
        json!({ "vm_id": vm })
    );
    assert!(!disk.exists(), "the disk is freed");
    assert!(!h.vm_ids().await.contains(&vm));
    let deleted = format!("VM {vm} was deleted");
    assert!(
        h.get(&format!("/vm/{vm}/status"))
            .await
            .error(404)
            .starts_with(&deleted)
    );
    assert!(
        h.delete(&format!("/vm/{vm}"))
            .await
            .error(404)
            .starts_with(&deleted)
    );
    assert!(
        h.post(&format!("/vm/{vm}/branch"), json!({}))
            .await
            .error(404)
            .starts_with(&deleted)
    );
    assert!(
        h.post(&format!("/vm/{vm}/exec"), json!({"command": ["true"]}))
            .await
            .error(404)
            .starts_with(&deleted)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_parallel_creates_all_work() {
    let h = harness!();
    let ids = join_all((0..20).map(|_| h.new_vm())).await;
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 20);
    let names = join_all(ids.iter().map(|vm| h.ok_sh(vm, "hostname"))).await;
    for (vm, name) in ids.iter().zip(names) {
        assert_eq!(name.trim(), vm);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_boots_every_vm_again_and_keeps_commits_keys_and_the_api_key() {
    let mut h = harness!();
    let vm = h.new_vm().await;
    let paused = h.new_vm().await;
    h.ok_sh(&vm, "echo kept > /root/kept; sleep 600 >/dev/null 2>&1 &")
        .await;
    let commit = h.post(&format!("/vm/{vm}/commit"), json!({})).await.ok()["commit_id"].clone();
    h.set_state(&paused, "Paused").await.ok();
    let key = h.get(&format!("/vm/{vm}/ssh_key")).await.ok()["ssh_private_key"].clone();
    let api_key = h.info().api_key.clone();

    h.restart(None).await;
    assert_eq!(h.info().api_key, api_key);
    let mut ids = h.vm_ids().await;
    ids.sort();
    let mut expected = vec![vm.clone(), paused.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(h.state(&paused).await, "paused");
    assert_eq!(h.state(&vm).await, "running");
    assert_eq!(h.ok_sh(&vm, "cat /root/kept").await, "kept\n");
    let (_, processes, _) = h.sh(&vm, "ps -eo args").await;
    assert!(
        !processes.contains("sleep 600"),
        "processes do not survive a restart:\n{processes}"
    );
    assert_eq!(
        h.get(&format!("/vm/{vm}/ssh_key")).await.ok()["ssh_private_key"],
        key
    );
    assert_eq!(
        h.get("/commits").await.ok()["commits"][0]["commit_id"],
        commit
    );
    let restored = h
        .post("/vm/from_commit", json!({ "commit_id": commit }))
        .await
        .ok();
    assert_eq!(
        h.ok_sh(restored["vm_id"].as_str().unwrap(), "cat /root/kept")
            .await,
        "kept\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_key_given_at_start_replaces_the_stored_one_for_that_run() {
    let mut h = harness!();
    let stored = h.info().api_key.clone();
    h.restart(Some("given-key".into())).await;
    assert_eq!(h.info().api_key, "given-key");
    assert_eq!(
        h.send(Method::GET, "/vms", None, Some("given-key"))
            .await
            .status,
        200
    );
    assert_eq!(
        h.send(Method::GET, "/vms", None, Some(&stored))
            .await
            .status,
        401
    );
    h.restart(None).await;
    assert_eq!(h.info().api_key, stored);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_stops_every_vm_process() {
    let mut h = harness!();
    let vms = join_all((0..3).map(|_| h.new_vm())).await;
    h.set_state(&vms[0], "Paused").await.ok();
    let booting = h
        .post("/vm/new_root", json!({ "vm_config": {} }))
        .await
        .ok();
    assert!(booting["vm_id"].is_string());
    let data_dir = h.info().data_dir.clone();
    assert!(
        processes_using(&data_dir).len() >= 3,
        "the VM inits name the data dir"
    );
    h.stop().await;
    assert_eq!(
        processes_using(&data_dir),
        Vec::<i32>::new(),
        "VM processes left after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_startup_info_names_the_backend_that_runs_the_vms() {
    let h = harness!();
    let info = serde_json::to_value(h.info()).unwrap();
    let mut fields: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "api_key",
            "backend",
            "ca_cert",
            "data_dir",
            "ssh_gateway",
            "vers_url",
            "vm_domain"
        ]
    );
    assert_eq!(info["backend"], "namespaces");
}
