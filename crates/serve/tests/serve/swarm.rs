//! `swarm/…`: the swarm tools through the sidecar — start, wait with live updates, keep, stop
//! with delete, cancel, the widget's status, and errors in the model's words.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::client::{Client, Setup};

/// The whole of one test (each message also has its own deadline).
const TEST_DEADLINE: Duration = Duration::from_secs(240);

/// Worker 2 fails with exit code 4 (saying why on stderr); the others succeed.
const TASK: &str = r#"echo "worker $TETHER_WORKER says hi"
if [ "$TETHER_WORKER" = 2 ]; then echo "worker two gives up" >&2; exit 4; fi"#;

async fn deadline(test: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_DEADLINE, test)
        .await
        .expect("the test finished within its deadline");
}

/// Every VM the simulator has.
async fn vms(setup: &Setup) -> BTreeSet<String> {
    setup
        .sim
        .api()
        .vm_ids()
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// `swarm/call` of `tool` with `args`: its result.
async fn tool(serve: &mut Client, tool: &str, args: Value) -> Value {
    serve
        .call("swarm/call", json!({"tool": tool, "args": args}))
        .await
}

fn worker_ids(status: &Value) -> Vec<String> {
    status["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["vmId"].as_str().unwrap().to_owned())
        .collect()
}

/// The `swarm/update` notifications received for `call_id`.
fn updates(serve: &Client, call_id: &str) -> Vec<Value> {
    serve
        .notes
        .iter()
        .filter(|n| n["method"] == "swarm/update" && n["params"]["callId"] == call_id)
        .map(|n| n["params"].clone())
        .collect()
}

#[tokio::test]
async fn a_swarm_is_started_gathered_with_live_updates_and_the_best_kept() {
    deadline(async {
        let setup = Setup::start().await;
        let mut serve = setup.serve();
        let source = serve.active_vm().await;

        let started = tool(&mut serve, "swarm_start", json!({"count": 3, "command": TASK})).await;
        let details = &started["details"];
        let swarm = details["swarmId"].as_str().unwrap().to_owned();
        let workers = worker_ids(details);
        assert_eq!(workers.len(), 3, "{details}");
        assert_eq!(details["source"], json!({"kind": "vm", "id": source}));
        assert_eq!(details["counts"]["running"], 3, "{details}");
        let text = started["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "Swarm {swarm}: branched VM {source} into 3 worker(s), each running the command in the background:\nworker 0: VM {}\n",
                workers[0]
            )),
            "the active VM is the source: {text}"
        );
        let mut all = BTreeSet::from([source.clone()]);
        all.extend(workers.iter().cloned());
        assert_eq!(vms(&setup).await, all);

        let waited = serve
            .call(
                "swarm/call",
                json!({"tool": "swarm_wait", "args": {"timeout": 120}, "callId": "w1"}),
            )
            .await;
        let text = waited["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("All workers of swarm {swarm} finished after ")),
            "{text}"
        );
        assert!(text.contains("s: 3 worker(s): 2 done, 1 failed.\n"), "{text}");
        assert!(
            text.contains(&format!(
                "worker 2 (VM {}) failed (exit 4): the command exited with code 4",
                workers[2]
            )),
            "{text}"
        );
        assert!(text.contains("  | worker two gives up"), "{text}");
        assert!(text.contains("  | worker 0 says hi"), "{text}");
        let details = &waited["details"];
        assert_eq!(
            (
                details["finished"].clone(),
                details["deadlineReached"].clone()
            ),
            (json!(true), json!(false))
        );
        assert_eq!(
            (details["counts"]["done"].clone(), details["counts"]["failed"].clone()),
            (json!(2), json!(1)),
            "{details}"
        );
        let failed = &details["workers"][2];
        assert_eq!(
            (failed["state"].clone(), failed["exitCode"].clone()),
            (json!("failed"), json!(4)),
            "{failed}"
        );
        assert_eq!(details["workers"][0]["state"], "done");
        assert_eq!(details["workers"][1]["tail"], "worker 1 says hi\n");

        let updates = updates(&serve, "w1");
        let last = updates.last().expect("swarm/update notifications while waiting");
        assert_eq!(last["status"]["swarmId"], swarm);
        assert_eq!(last["status"]["finished"], true, "{last}");
        assert_eq!(last["status"]["counts"], details["counts"]);
        assert!(
            last["text"]
                .as_str()
                .unwrap()
                .starts_with(&format!("swarm {swarm} (command from VM {source}")),
            "{last}"
        );

        let kept = tool(&mut serve, "swarm_keep", json!({"workers": [0]})).await;
        assert_eq!(
            kept["text"],
            format!(
                "Swarm {swarm}: kept worker 0 (VM {}); vm_use a kept VM to work there.\nDeleted 2 worker VM(s): {}, {}\nVM {source} was not touched.",
                workers[0], workers[1], workers[2]
            )
        );
        assert_eq!(kept["details"]["kept"], json!([{"worker": 0, "vmId": workers[0]}]));
        assert_eq!(
            vms(&setup).await,
            BTreeSet::from([source.clone(), workers[0].clone()])
        );

        // What pi's widget reads.
        let status = serve
            .call("swarm/status", json!({"swarm": &swarm[..6]}))
            .await;
        assert_eq!(status["swarmId"], swarm);
        let dispositions: Vec<&Value> = status["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| &w["disposition"])
            .collect();
        assert_eq!(dispositions, [&json!("kept"), &json!("deleted"), &json!("deleted")]);

        let gone = serve
            .error(
                "swarm/call",
                json!({"tool": "swarm_read", "args": {"worker": 1, "tail": 5}}),
            )
            .await;
        assert_eq!(gone["code"], -32001);
        assert_eq!(
            gone["message"],
            format!(
                "worker 1 of swarm {swarm} (VM {}) was deleted; its output is gone (swarm_status lists the workers left)",
                workers[1]
            )
        );
        let read = tool(&mut serve, "swarm_read", json!({"worker": 0})).await;
        assert_eq!(
            read["text"],
            format!(
                "worker 0 says hi\n\n\n[worker 0 of swarm {swarm} (VM {}) is done. Output bytes 0-17 of 17; that is all of it.]",
                workers[0]
            )
        );
        assert_eq!(serve.close().await, Some(0));
    })
    .await;
}

#[tokio::test]
async fn swarm_mistakes_are_errors_the_model_can_act_on() {
    deadline(async {
        let setup = Setup::start().await;
        let mut serve = setup.serve();
        serve.initialize().await;
        let zero = serve
            .error(
                "swarm/call",
                json!({"tool": "swarm_start", "args": {"count": 0, "command": "true", "source": "x"}}),
            )
            .await;
        assert_eq!(
            zero,
            json!({"code": -32002, "message": "count must be from 1 to 64, not 0", "data": {"kind": "usage"}})
        );
        let no_source = serve
            .error(
                "swarm/call",
                json!({"tool": "swarm_start", "args": {"count": 2, "command": "true"}}),
            )
            .await;
        assert_eq!(
            no_source["message"],
            "no source: give the VM or commit id to branch (or vm_use a VM first)"
        );
        let unknown_field = serve
            .error(
                "swarm/call",
                json!({"tool": "swarm_start", "args": {"count": 1, "cmd": "true"}}),
            )
            .await;
        assert_eq!(unknown_field["code"], -32002);
        assert!(
            unknown_field["message"]
                .as_str()
                .unwrap()
                .starts_with("swarm_start: unknown field `cmd`"),
            "{unknown_field}"
        );
        let no_tool = serve
            .error("swarm/call", json!({"tool": "swarm_go", "args": {}}))
            .await;
        assert_eq!(
            no_tool["message"],
            "there is no swarm tool \"swarm_go\"; they are: swarm_start, swarm_status, swarm_wait, swarm_read, swarm_send, swarm_keep, swarm_stop"
        );
        let none_yet = serve.error("swarm/status", json!({})).await;
        assert_eq!(
            (none_yet["code"].clone(), none_yet["message"].clone()),
            (
                json!(-32001),
                json!(
                    "no swarm has been started here yet; start one with swarm_start / `tether swarm start`"
                )
            )
        );
        let bad_params = serve
            .error("swarm/call", json!({"tool": "swarm_status", "swarm": "x"}))
            .await;
        assert_eq!(bad_params["code"], -32602, "{bad_params}");
        assert_eq!(serve.close().await, Some(0));
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_wait_returns_and_stop_with_delete_leaves_only_the_source() {
    deadline(async {
        let setup = Setup::start().await;
        let mut serve = setup.serve();
        let source = serve.active_vm().await;
        let started = tool(
            &mut serve,
            "swarm_start",
            json!({"count": 2, "command": "echo started; exec sleep 600"}),
        )
        .await;
        let swarm = started["details"]["swarmId"].as_str().unwrap().to_owned();
        let workers = worker_ids(&started["details"]);

        // The cancel may overtake the wait: either way the wait ends after one look.
        let id = serve
            .send(
                "swarm/call",
                json!({"tool": "swarm_wait", "args": {"timeout": 600}, "callId": "long"}),
            )
            .await;
        serve.notify("swarm/cancel", json!({"callId": "long"})).await;
        let waited = serve.answer(id).await;
        let details = &waited["result"]["details"];
        assert_eq!(details["finished"], false, "{waited}");
        assert_eq!(details["counts"]["running"], 2, "{waited}");
        let seen = updates(&serve, "long");
        assert_eq!(seen.last().unwrap()["status"]["counts"]["running"], 2);
        let unknown = serve
            .call("swarm/cancel", json!({"callId": "long"}))
            .await;
        assert_eq!(unknown, json!({"cancelled": false}));

        // A worker made active, then deleted with the swarm, is no longer active.
        serve.call("vm/use", json!({"vmId": workers[1]})).await;
        let stopped = tool(&mut serve, "swarm_stop", json!({"delete": true})).await;
        let text = stopped["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!(
                "swarm {swarm} (command from VM {source}, echo started; exec sleep 600): 2 worker(s): 2 stopped\n"
            )),
            "{text}"
        );
        assert!(
            text.ends_with(&format!(
                "\nDeleted 2 worker VM(s): {}, {}",
                workers[0], workers[1]
            )),
            "{text}"
        );
        assert_eq!(stopped["details"]["counts"]["stopped"], 2);
        assert_eq!(vms(&setup).await, BTreeSet::from([source.clone()]));
        assert_eq!(serve.call("vm/active", json!({})).await["vmId"], Value::Null);
        let status = serve.call("swarm/status", json!({})).await;
        assert_eq!(
            (status["swarmId"].clone(), status["finished"].clone()),
            (json!(swarm), json!(true))
        );
        assert_eq!(serve.close().await, Some(0));
    })
    .await;
}
