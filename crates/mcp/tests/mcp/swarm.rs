//! Swarms through MCP against a fresh simulator: branch the active VM into workers, gather
//! them (with progress), read one, keep one, stop and delete the rest; partial results and a
//! cancelled wait; bad input that creates nothing.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tether_testkit::{STEP_DEADLINE, within};

use crate::client::{Client, Env, Reply};
use crate::client_ready;

/// The VMs the API lists.
async fn vms(env: &Env) -> BTreeSet<String> {
    let api = env.sim.as_ref().unwrap().api();
    api.vm_ids().await.unwrap().into_iter().collect()
}

fn set<'a>(ids: impl IntoIterator<Item = &'a String>) -> BTreeSet<String> {
    ids.into_iter().cloned().collect()
}

/// The workers' VM ids in a swarm's details, by index.
fn worker_vms(reply: &Reply) -> Vec<String> {
    let workers = reply.details()["workers"].as_array().unwrap();
    workers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            assert_eq!(w["index"], json!(i), "workers in order: {w}");
            w["vmId"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Starts a swarm and returns its id and workers, checking the start text.
async fn start(client: &mut Client, args: Value, source: &str) -> (String, Vec<String>) {
    let started = client.call("swarm_start", args).await;
    let id = started.details()["swarmId"].as_str().unwrap().to_owned();
    let workers = worker_vms(&started);
    let text = started.ok();
    assert!(
        text.starts_with(&format!(
            "Swarm {id}: branched VM {source} into {} worker(s), each running the command in \
             the background:\n",
            workers.len()
        )),
        "{text}"
    );
    for (i, vm) in workers.iter().enumerate() {
        assert!(text.contains(&format!("\nworker {i}: VM {vm}\n")), "{text}");
    }
    (id, workers)
}

#[tokio::test]
async fn a_swarm_branches_the_active_vm_gathers_reads_keeps_and_deletes() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let mut client = env.client().await;
    let created = client.call("create_vm", json!({})).await;
    created.ok();
    let source = created.details()["vmId"].as_str().unwrap().to_owned();
    client.call("vm_use", json!({"vmId": source})).await.ok();

    // No source given: the active VM is branched.
    let command = "echo w$TETHER_WORKER; [ $TETHER_WORKER != 2 ] || exit 4";
    let (id, workers) = start(
        &mut client,
        json!({"count": 3, "command": command}),
        &source,
    )
    .await;
    assert_eq!(workers.len(), 3);
    assert!(!workers.contains(&source));
    let mut all = workers.clone();
    all.push(source.clone());
    assert_eq!(vms(&env).await, set(&all));

    let waited = client.call("swarm_wait", json!({})).await;
    let text = waited.ok();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(&format!("All workers of swarm {id} finished after ")),
        "{text}"
    );
    assert!(
        lines[0].ends_with(": 3 worker(s): 2 done, 1 failed."),
        "{text}"
    );
    let expected_workers = [
        format!(
            "worker 0 (VM {}) done (exit 0), 3 bytes of output",
            workers[0]
        ),
        "  | w0".to_owned(),
        format!(
            "worker 1 (VM {}) done (exit 0), 3 bytes of output",
            workers[1]
        ),
        "  | w1".to_owned(),
        format!(
            "worker 2 (VM {}) failed (exit 4): the command exited with code 4, 3 bytes of output",
            workers[2]
        ),
        "  | w2".to_owned(),
    ];
    assert_eq!(lines[1..7], expected_workers, "{text}");
    assert_eq!(lines.len(), 8, "{text}");
    assert_eq!(waited.details()["finished"], true);
    assert_eq!(waited.details()["deadlineReached"], false);
    assert_eq!(waited.details()["workers"][2]["state"], "failed");
    assert_eq!(waited.details()["workers"][2]["exitCode"], 4);
    let progress = waited.progress();
    assert_eq!(
        progress.last().map(String::as_str),
        Some("2/3 done, 1 failed"),
        "{progress:?}"
    );

    let read = client.call("swarm_read", json!({"worker": 1})).await;
    assert_eq!(
        read.ok(),
        format!(
            "w1\n\n\n[worker 1 of swarm {id} (VM {}) is done. Output bytes 0-3 of 3; that is all \
             of it.]",
            workers[1]
        )
    );
    let by_id = client
        .call(
            "swarm_read",
            json!({"swarm": &id[..6], "worker": workers[2]}),
        )
        .await;
    assert!(by_id.ok().starts_with("w2\n"), "{}", by_id.text);

    let status = client.call("swarm_status", json!({})).await;
    assert!(
        status.ok().starts_with(&format!(
            "swarm {id} (command from VM {source}, {command}): 3 worker(s): 2 done, 1 failed\n"
        )),
        "{}",
        status.text
    );

    let kept = client.call("swarm_keep", json!({"workers": [0]})).await;
    assert_eq!(
        kept.ok(),
        format!(
            "Swarm {id}: kept worker 0 (VM {}); vm_use a kept VM to work there.\nDeleted 2 worker \
             VM(s): {}, {}\nVM {source} was not touched.",
            workers[0], workers[1], workers[2],
        )
    );
    assert_eq!(vms(&env).await, set([&source, &workers[0]]));
    let gone = client.call("swarm_read", json!({"worker": 2})).await;
    assert_eq!(
        gone.err(),
        format!(
            "worker 2 of swarm {id} (VM {}) was deleted; its output is gone (swarm_status lists the workers left)",
            workers[2]
        )
    );

    // A kept worker is not the swarm's any more: stop with delete leaves it.
    let stopped = client.call("swarm_stop", json!({"delete": true})).await;
    assert!(
        stopped.ok().starts_with(&format!("swarm {id} ")),
        "{}",
        stopped.text
    );
    assert!(
        stopped.text.contains(&format!(
            "worker 0 (VM {}) done (exit 0) [kept]",
            workers[0]
        )),
        "{}",
        stopped.text
    );
    assert_eq!(vms(&env).await, set([&source, &workers[0]]));

    // The source is untouched and still the active VM.
    let here = client.call("bash", json!({"command": "hostname"})).await;
    assert_eq!(here.ok(), format!("{source}\n"));
    client.close().await;
}

#[tokio::test]
async fn a_wait_reports_progress_returns_partial_results_and_can_be_cancelled() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let source = env.new_vm().await;
    let mut client = env.client().await;
    // Each worker runs until the test lets it finish.
    let command = "until [ -e /tmp/go ]; do sleep 0.05; done; echo finished $TETHER_WORKER";
    let (id, workers) = start(
        &mut client,
        json!({"source": &source[..8], "count": 3, "command": command}),
        &source,
    )
    .await;

    let partial = client.call("swarm_wait", json!({"timeout": 0.5})).await;
    let text = partial.ok();
    assert!(text.starts_with("Waited "), "{text}");
    assert!(
        text.contains(
            "s (the deadline): 3 worker(s): 3 running. Partial results below; call swarm_wait \
             again to keep waiting, or swarm_stop to end the rest.\n"
        ),
        "{text}"
    );
    assert_eq!(partial.details()["deadlineReached"], true);
    assert_eq!(partial.progress().first().unwrap(), "0/3 done, 3 running");

    // A cancelled wait stops waiting; the workers go on and the server keeps serving.
    let cancelled = client
        .send(json!({"op": "cancel", "tool": "swarm_wait", "args": {"swarm": id}, "afterProgress": 1}))
        .await;
    assert_eq!(cancelled["cancelled"], true);
    assert_eq!(cancelled["progress"][0], "0/3 done, 3 running");
    let status = client.call("swarm_status", json!({"swarm": id})).await;
    assert!(
        status.ok().contains(": 3 worker(s): 3 running\n"),
        "{}",
        status.text
    );
    assert!(status.text.ends_with("\nswarm_wait waits for the rest."));

    let api = env.sim.as_ref().unwrap().api();
    api.put_file(&workers[1], "/tmp/go", b"")
        .await
        .unwrap()
        .ok()
        .unwrap();
    let one = client
        .call("swarm_read", json!({"worker": 1, "wait": 30}))
        .await;
    assert!(one.ok().starts_with("finished 1\n"), "{}", one.text);
    within(STEP_DEADLINE, "worker 1 to be done", async {
        loop {
            let status = client.call("swarm_status", json!({})).await;
            if status.ok().contains(": 3 worker(s): 1 done, 2 running\n") {
                return Ok(());
            }
            assert!(
                status.text.contains(": 3 worker(s): 3 running\n"),
                "{}",
                status.text
            );
        }
    })
    .await
    .unwrap();

    // Stop with delete: the running workers are stopped, every worker VM deleted.
    let stopped = client.call("swarm_stop", json!({"delete": true})).await;
    let text = stopped.ok();
    assert!(
        text.contains(": 3 worker(s): 1 done, 2 stopped\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "worker 0 (VM {}) stopped (SIGTERM) [VM deleted]",
            workers[0]
        )),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("\nDeleted 3 worker VM(s): {}", workers.join(", "))),
        "{text}"
    );
    assert_eq!(vms(&env).await, set([&source]));
    client.close().await;
}

#[tokio::test]
async fn bad_swarm_input_is_an_error_result_and_creates_no_vm() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let source = env.new_vm().await;
    let mut client = env.client().await;
    let errors = [
        (
            json!({"source": source, "count": 0, "command": "true"}),
            "count must be from 1 to 64, not 0".to_owned(),
        ),
        (
            json!({"source": source, "count": 65, "command": "true"}),
            "count must be from 1 to 64, not 65; raise TETHER_SWARM_MAX_WORKERS to allow more"
                .to_owned(),
        ),
        (
            json!({"source": "nope", "count": 2, "command": "true"}),
            "\"nope\" is neither a VM nor a commit id (or a unique prefix of one); vm_list shows \
             the VMs; a commit id is what vm_commit returned"
                .to_owned(),
        ),
        (
            json!({"source": "00000000-0000-4000-8000-000000000000", "count": 2, "command": "true"}),
            "\"00000000-0000-4000-8000-000000000000\" is neither a VM nor a commit id (or a \
             unique prefix of one); vm_list shows the VMs; a commit id is what vm_commit returned"
                .to_owned(),
        ),
        (
            json!({"count": 2, "command": "true"}),
            "no source: give the VM or commit id to branch (or vm_use a VM first)".to_owned(),
        ),
        (
            json!({"source": source, "count": 2}),
            "give a command (a bash command for every worker) or a prompt (a task for a pi agent \
             on every worker)"
                .to_owned(),
        ),
        (
            json!({"source": source, "count": 2, "cmd": "true"}),
            "invalid arguments for swarm_start: unknown field `cmd`, expected one of `source`, \
             `count`, `command`, `prompt`, `prompts`, `timeout`, `env`, `cwd`, `provider`, `model`, `pi`, \
             `piArgs`, `piConfig`; fix them and call swarm_start again"
                .to_owned(),
        ),
        (
            json!({"source": source, "command": "true"}),
            "invalid arguments for swarm_start: missing field `count`; fix them and call \
             swarm_start again"
                .to_owned(),
        ),
    ];
    for (args, message) in errors {
        let reply = client.call("swarm_start", args.clone()).await;
        assert_eq!(reply.err(), message, "{args}");
        assert_eq!(vms(&env).await, set([&source]), "{args} made a VM");
    }
    let none = client.call("swarm_status", json!({})).await;
    assert_eq!(
        none.err(),
        "no swarm has been started here yet; start one with swarm_start"
    );
    let none = client.call("swarm_wait", json!({"swarm": "sw-nope"})).await;
    assert_eq!(
        none.err(),
        "there is no swarm \"sw-nope\"; no swarms have been started here yet"
    );
    let keep = client.call("swarm_keep", json!({})).await;
    assert!(
        keep.err()
            .starts_with("invalid arguments for swarm_keep: missing field `workers`"),
        "{}",
        keep.text
    );
    // Still serving.
    let alive = client
        .call("vm_exec", json!({"vmId": source, "command": "echo alive"}))
        .await;
    assert_eq!(alive.ok(), "alive\n");
    client.close().await;
}
