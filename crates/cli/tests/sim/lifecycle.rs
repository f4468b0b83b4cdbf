//! Create, list, status, branch, commit, restore, pause, resume, exec, files, delete.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::sim;

#[tokio::test]
async fn create_list_status_delete() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    assert!(api.vm_ids().await.unwrap().contains(&vm));

    let status = api
        .get(&format!("/vm/{vm}/status"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(status["vm_id"], vm);
    assert_eq!(status["state"], "running");
    let meta = api
        .get(&format!("/vm/{vm}/metadata"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(meta["vm_id"], vm);

    let deleted = api
        .delete(&format!("/vm/{vm}"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(deleted["vm_id"], vm);
    assert!(!api.vm_ids().await.unwrap().contains(&vm));
    assert_eq!(
        api.get(&format!("/vm/{vm}/status")).await.unwrap().status,
        404
    );
}

#[tokio::test]
async fn the_startup_line_names_the_backend_its_vms_run_on() {
    let mut sim = sim().await;
    assert_eq!(sim.info().backend, "namespaces");
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn branch_with_count_three_copies_the_disk() {
    let sim = sim().await;
    let api = sim.api();
    let parent = api.new_vm().await.unwrap();
    api.sh(&parent, "echo from-parent > /root/marker")
        .await
        .unwrap();

    let children = api.branch(&parent, 3).await.unwrap();
    assert_eq!(children.len(), 3);
    let mut unique = children.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "branch ids must differ: {children:?}");
    for child in &children {
        assert_ne!(child, &parent);
        assert_eq!(
            api.sh(child, "cat /root/marker").await.unwrap(),
            "from-parent\n"
        );
        assert_eq!(api.sh(child, "hostname").await.unwrap().trim(), child);
        let status = api
            .get(&format!("/vm/{child}/status"))
            .await
            .unwrap()
            .ok()
            .unwrap();
        assert_eq!(status["state"], "running");
    }
    // Branches are independent of each other and of the parent.
    api.sh(&children[0], "echo changed > /root/marker")
        .await
        .unwrap();
    assert_eq!(
        api.sh(&children[1], "cat /root/marker").await.unwrap(),
        "from-parent\n"
    );
    assert_eq!(
        api.sh(&parent, "cat /root/marker").await.unwrap(),
        "from-parent\n"
    );
    // The parent keeps running after it was branched.
    let status = api
        .get(&format!("/vm/{parent}/status"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(status["state"], "running");
}

#[tokio::test]
async fn commit_then_restore_has_the_files() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    api.sh(&vm, "mkdir -p /srv/app && echo v1 > /srv/app/version")
        .await
        .unwrap();
    let commit = api.commit(&vm).await.unwrap();
    api.sh(&vm, "echo v2 > /srv/app/version").await.unwrap();

    let commits = api.get("/commits").await.unwrap().ok().unwrap();
    let listed: Vec<&Value> = commits["commits"].as_array().unwrap().iter().collect();
    assert!(listed.iter().any(|c| c["commit_id"] == commit), "{commits}");

    let restored = api
        .post("/vm/from_commit", json!({ "commit_id": commit }))
        .await
        .unwrap();
    let restored = restored.ok().unwrap()["vm_id"].as_str().unwrap().to_owned();
    assert_eq!(
        api.sh(&restored, "cat /srv/app/version").await.unwrap(),
        "v1\n"
    );
    let meta = api
        .get(&format!("/vm/{restored}/metadata"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(meta["parent_commit_id"], commit);

    let by_commit = api
        .post(&format!("/vm/branch/by_commit/{commit}?count=2"), json!({}))
        .await
        .unwrap();
    let vms = by_commit.ok().unwrap()["vms"].as_array().unwrap().clone();
    assert_eq!(vms.len(), 2);
    let child = vms[0]["vm_id"].as_str().unwrap();
    assert_eq!(api.sh(child, "cat /srv/app/version").await.unwrap(), "v1\n");

    // As on Vers, a commit VMs were started from stays until they are gone.
    let in_use = api.delete(&format!("/commits/{commit}")).await.unwrap();
    assert_eq!(in_use.status, 409, "{in_use:?}");
    let ids = vms.iter().map(|v| v["vm_id"].as_str().unwrap().to_owned());
    for vm in ids.chain([restored]) {
        api.delete(&format!("/vm/{vm}"))
            .await
            .unwrap()
            .ok()
            .unwrap();
    }
    let deleted = api.delete(&format!("/commits/{commit}")).await.unwrap();
    assert!(deleted.status.is_success(), "{deleted:?}");
}

#[tokio::test]
async fn pause_stops_processes_and_resume_continues_them() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    // A background counter, started by one command and still running for the next ones.
    let counter = "echo $$ > /root/tick.pid; i=0; while :; do i=$((i+1)); echo $i > /root/tick; sleep 0.02; done";
    api.sh(&vm, &format!("nohup sh -c '{counter}' >/dev/null 2>&1 &"))
        .await
        .unwrap();
    let first = wait_for_tick(&api, &vm, 0).await;
    wait_for_tick(&api, &vm, first).await;
    let pid = String::from_utf8(api.get_file(&vm, "/root/tick.pid").await.unwrap()).unwrap();

    api.set_state(&vm, "Paused").await.unwrap().ok().unwrap();
    let status = api
        .get(&format!("/vm/{vm}/status"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(status["state"], "paused");
    // The kernel says the counter is stopped ...
    let stat = api
        .get_file(&vm, &format!("/proc/{}/stat", pid.trim()))
        .await
        .unwrap();
    assert_eq!(
        process_state(&stat),
        'T',
        "counter not stopped: {}",
        String::from_utf8_lossy(&stat)
    );
    // ... and over an observation window forty times its period it does not advance.
    let frozen = read_tick(&api, &vm).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(
        read_tick(&api, &vm).await,
        frozen,
        "counter advanced while paused"
    );
    let exec = api
        .post(&format!("/vm/{vm}/exec"), json!({ "command": ["true"] }))
        .await
        .unwrap();
    assert_eq!(exec.status, 409, "exec on a paused VM is refused: {exec:?}");
    assert!(exec.error().contains("paused"), "{exec:?}");

    api.set_state(&vm, "Running").await.unwrap().ok().unwrap();
    wait_for_tick(&api, &vm, frozen).await;
    let stat = api
        .get_file(&vm, &format!("/proc/{}/stat", pid.trim()))
        .await
        .unwrap();
    assert_ne!(process_state(&stat), 'T');
}

/// The state letter of a `/proc/PID/stat` line (the field after the command name).
fn process_state(stat: &[u8]) -> char {
    let text = String::from_utf8_lossy(stat);
    let after = text
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    after.chars().next().unwrap_or('?')
}

async fn read_tick(api: &tether_testkit::Api, vm: &str) -> u64 {
    let raw = api.get_file(vm, "/root/tick").await.unwrap_or_default();
    String::from_utf8_lossy(&raw).trim().parse().unwrap_or(0)
}

/// Waits inside the VM (bounded: 20 s) until the counter moves past `after`.
async fn wait_for_tick(api: &tether_testkit::Api, vm: &str, after: u64) -> u64 {
    let script = format!(
        "for i in $(seq 1 400); do t=$(cat /root/tick 2>/dev/null || echo 0); [ \"$t\" -gt {after} ] && {{ echo $t; exit 0; }}; sleep 0.05; done; exit 1"
    );
    api.sh(vm, &script).await.unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn exec_reports_exit_codes_and_output() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    let (code, stdout, stderr) = api
        .exec(&vm, &["sh", "-c", "echo out; echo err >&2; exit 7"])
        .await
        .unwrap();
    assert_eq!(
        (code, stdout.as_str(), stderr.as_str()),
        (7, "out\n", "err\n")
    );

    let with_opts = json!({
        "command": ["sh", "-c", "pwd; echo $GREETING; cat"],
        "env": { "GREETING": "hello" },
        "working_dir": "/tmp",
        "stdin": "piped-in",
    });
    let reply = api
        .post(&format!("/vm/{vm}/exec"), with_opts)
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(reply["stdout"], "/tmp\nhello\npiped-in");
    assert_eq!(reply["exit_code"], 0);
}

#[tokio::test]
async fn exec_stream_sends_chunks_then_exit() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    let url = format!("{}/api/v1/vm/{vm}/exec/stream", sim.info().vers_url);
    let body = json!({ "command": ["sh", "-c", "echo one; echo two >&2; echo three; exit 3"] });
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(&sim.info().api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut lines = String::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        lines.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let events: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for event in &events[..events.len() - 1] {
        assert_eq!(event["type"], "chunk", "{event}");
        let data = B64.decode(event["data_b64"].as_str().unwrap()).unwrap();
        match event["stream"].as_str().unwrap() {
            "stdout" => stdout.extend(data),
            "stderr" => stderr.extend(data),
            other => panic!("unknown stream {other}"),
        }
    }
    let last = events.last().unwrap();
    assert_eq!(last["type"], "exit");
    assert_eq!(last["exit_code"], 3);
    assert_eq!(String::from_utf8(stdout).unwrap(), "one\nthree\n");
    assert_eq!(String::from_utf8(stderr).unwrap(), "two\n");
}

#[tokio::test]
async fn files_api_round_trips_five_megabytes_of_binary() {
    let sim = sim().await;
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    // Every byte value, in an order that is not a simple cycle.
    let content: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    api.put_file(&vm, "/root/data/blob.bin", &content)
        .await
        .unwrap()
        .ok()
        .unwrap();
    assert_eq!(
        api.get_file(&vm, "/root/data/blob.bin").await.unwrap(),
        content
    );
    let size = api.sh(&vm, "stat -c %s /root/data/blob.bin").await.unwrap();
    assert_eq!(size.trim(), content.len().to_string());
}

#[tokio::test]
async fn the_simulator_works_as_an_unprivileged_user() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP: needs root to switch to an unprivileged uid (this run already is one)");
        return;
    }
    let mut sim = tether_testkit::Sim::start_as(env!("CARGO_BIN_EXE_tether"), 65534)
        .await
        .unwrap();
    let api = sim.api();
    let vm = api.new_vm().await.unwrap();
    // Inside, the user is root of its own user namespace; the files are the VM's.
    let out = api
        .sh(&vm, "id -u; hostname; echo hi > /root/f; cat /root/f")
        .await
        .unwrap();
    assert_eq!(out, format!("0\n{vm}\nhi\n"));
    let child = api.branch(&vm, 1).await.unwrap().remove(0);
    assert_eq!(api.sh(&child, "cat /root/f").await.unwrap(), "hi\n");
    let ssh = sim.ssh(&vm).run("cat /root/f").await.unwrap();
    assert_eq!(ssh.stdout_str(), "hi\n", "{}", ssh.stderr_str());
    sim.stop().await.unwrap();
}
