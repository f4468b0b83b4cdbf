//! Bad input gets the right status code and a message that says what is wrong.

use reqwest::Method;
use serde_json::json;

use crate::sim;

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let sim = sim().await;
    let api = sim.api();
    let mut report = String::new();
    let mut record = |what: &str, reply: &tether_testkit::Reply| {
        assert_eq!(
            reply.body["success"], false,
            "{what}: error body shape {reply:?}"
        );
        report.push_str(&format!(
            "{what}: {} {}\n",
            reply.status.as_u16(),
            reply.error()
        ));
    };

    let reply = api
        .call_raw(Method::POST, "/vm/new_root", "{\"vm_config\": ")
        .await
        .unwrap();
    assert_eq!(reply.status, 400);
    record("malformed JSON", &reply);

    let reply = api.get(&format!("/vm/{UNKNOWN}/status")).await.unwrap();
    assert_eq!(reply.status, 404);
    record("unknown VM", &reply);

    let reply = api
        .post("/vm/from_commit", json!({ "commit_id": UNKNOWN }))
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
    record("unknown commit", &reply);

    let reply = api.with_key("not-the-key").get("/vms").await.unwrap();
    assert_eq!(reply.status, 401);
    record("wrong key", &reply);

    let vm = api.new_vm().await.unwrap();
    let reply = api.set_state(&vm, "Asleep").await.unwrap();
    assert_eq!(reply.status, 400);
    record("state Asleep", &reply.clone());
    assert!(
        reply.error().contains("Paused") && reply.error().contains("Running"),
        "{reply:?}"
    );

    api.delete(&format!("/vm/{vm}"))
        .await
        .unwrap()
        .ok()
        .unwrap();
    let reply = api
        .post(&format!("/vm/{vm}/branch"), json!({}))
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
    record("branch of a deleted VM", &reply);

    let reply = api
        .get(&format!("/vm/{UNKNOWN}/files?path=relative/path"))
        .await
        .unwrap();
    assert!(matches!(reply.status.as_u16(), 400 | 404));

    insta::assert_snapshot!(report.replace(&vm, "<vm>"));
}
