//! The client against replies shaped like real Vers's, quirks included.

use std::time::Duration;

use futures::StreamExt;
use tether_vers::{BranchSource, ExecEvent, KeyOrigin, PutOptions, VersClient, VersError};
use tether_wire::{
    BranchQuery, ExecRequest, ExecStream, ListCommitsQuery, RequestedState, VmConfig, VmState,
};

use crate::fake::{Fake, KEY, UNKNOWN, VM};
use crate::{STEP, client_for, redact, within};

async fn setup() -> (Fake, VersClient) {
    let fake = Fake::start().await;
    let client = client_for(&fake.url, Some(KEY), None);
    (fake, client)
}

#[tokio::test]
async fn capitalised_states_are_read() {
    let (fake, vers) = setup().await;
    let vms = vers.list_vms().await.unwrap();
    assert_eq!(vms.len(), 1);
    assert_eq!(
        (vms[0].vm_id.as_str(), vms[0].state),
        (VM, VmState::Running)
    );
    assert_eq!(vms[0].labels.get("role").map(String::as_str), Some("web"));
    fake.set_states(VM, &["Paused"]);
    assert_eq!(vers.status(VM).await.unwrap().state, VmState::Paused);
}

#[tokio::test]
async fn branch_replies_of_both_shapes_and_the_query_sent() {
    let (fake, vers) = setup().await;
    let query = BranchQuery {
        count: Some(2),
        keep_paused: Some(true),
        skip_wait_boot: None,
    };
    let by_vm = vers
        .branch(&BranchSource::Vm(VM.into()), query)
        .await
        .unwrap();
    assert_eq!(by_vm, ["child-1", "child-2"]);
    let any = BranchSource::Any(VM.into());
    let single = vers.branch(&any, BranchQuery::default()).await.unwrap();
    assert_eq!(single, ["child-3"]);
    assert_eq!(
        fake.requests(),
        [
            format!("POST /api/v1/vm/branch/by_vm/{VM}?count=2&keep_paused=true"),
            format!("POST /api/v1/vm/{VM}/branch"),
        ]
    );
}

#[tokio::test]
async fn delete_reply_with_deleted_ids() {
    let (_fake, vers) = setup().await;
    assert_eq!(vers.delete_vm(VM).await.unwrap(), [VM]);
}

#[tokio::test]
async fn commit_list_without_paging_fields() {
    let (_fake, vers) = setup().await;
    let list = vers
        .list_commits(ListCommitsQuery::default())
        .await
        .unwrap();
    assert_eq!((list.total, list.offset), (1, 0));
    assert_eq!(list.commits[0].commit_id, "c-1");
    assert_eq!(list.commits[0].parent_vm_id.as_deref(), Some(VM));
}

/// Each failure shape maps to its variant; the messages are snapshot below.
#[tokio::test]
async fn every_error_shape_maps_to_its_variant() {
    let (fake, vers) = setup().await;
    let mut report = String::new();
    let mut record = |what: &str, err: VersError| {
        report.push_str(&format!("{what}:\n  {err}\n"));
        err
    };

    let err = vers.delete_vm(UNKNOWN).await.unwrap_err();
    let err = record("DELETE of a missing VM (403 {error: Forbidden})", err);
    assert!(matches!(&err, VersError::VmNotFoundOrNotYours { vm_id, .. } if vm_id == UNKNOWN));
    assert!(err.is_not_found());

    let by_vm = BranchSource::Vm(UNKNOWN.into());
    let err = vers
        .branch(&by_vm, BranchQuery::default())
        .await
        .unwrap_err();
    let err = record("branch by_vm of a missing VM (hybrid body)", err);
    assert!(matches!(&err, VersError::VmNotFound { vm_id, .. } if vm_id == UNKNOWN));

    let any = BranchSource::Any(UNKNOWN.into());
    let err = vers.branch(&any, BranchQuery::default()).await.unwrap_err();
    let err = record("branch of an unknown id (\"commit not found\")", err);
    assert!(matches!(&err, VersError::SourceNotFound { id, .. } if id == UNKNOWN));

    let by_commit = BranchSource::Commit(UNKNOWN.into());
    let err = vers
        .branch(&by_commit, BranchQuery::default())
        .await
        .unwrap_err();
    let err = record("branch by_commit of a missing commit", err);
    assert!(matches!(&err, VersError::CommitNotFound { commit_id, .. } if commit_id == UNKNOWN));

    let err = vers.from_commit(UNKNOWN).await.unwrap_err();
    let err = record("restore of a missing commit", err);
    assert!(matches!(&err, VersError::CommitNotFound { .. }));

    let err = vers.status(UNKNOWN).await.unwrap_err();
    let err = record("status of a missing VM (404 not found)", err);
    assert!(matches!(&err, VersError::VmNotFound { .. }));

    let config = VmConfig {
        vcpu_count: Some(0),
        ..VmConfig::default()
    };
    let err = vers.new_root(config, false).await.unwrap_err();
    let err = record("type error (422 text/plain)", err);
    assert!(matches!(&err, VersError::Invalid { status, .. } if status.as_u16() == 422));

    let err = vers.delete_commit("c-1").await.unwrap_err();
    let err = record("commit with VMs (409)", err);
    assert!(matches!(&err, VersError::Conflict { .. }));

    let err = vers.metadata(VM).await.unwrap_err();
    let err = record("server failure (502 text)", err);
    assert!(matches!(&err, VersError::Server { .. }));

    let err = vers.get_file(VM, "/etc/missing").await.unwrap_err();
    let err = record("missing file", err);
    assert!(matches!(&err, VersError::FileNotFound { file, .. } if file == "/etc/missing"));

    let err = vers
        .put_file(VM, "/x", b"x", PutOptions::default())
        .await
        .unwrap_err();
    let err = record("route the fake lacks (405)", err);
    assert!(matches!(&err, VersError::Api { .. }), "{err:?}");

    let url = fake.url.clone();
    insta::assert_snapshot!(redact(&report, &[(&url, "<fake>")]));
}

#[tokio::test]
async fn a_wrong_key_in_versrc_is_named() {
    let fake = Fake::start().await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".versrc"), r#"{"apiKey": "stale"}"#).unwrap();
    let vers = client_for(&fake.url, None, Some(home.path()));
    let err = vers.list_vms().await.unwrap_err();
    let versrc = home.path().join(".versrc");
    assert!(
        matches!(&err, VersError::KeyRejected { origin: KeyOrigin::Versrc(path), .. } if *path == versrc),
        "{err:?}"
    );
    let env = client_for(&fake.url, Some("stale"), Some(home.path()));
    let env_err = env.list_vms().await.unwrap_err();
    assert!(matches!(
        &env_err,
        VersError::KeyRejected {
            origin: KeyOrigin::Env,
            ..
        }
    ));
    let report = format!("from ~/.versrc:\n  {err}\nfrom the environment:\n  {env_err}\n");
    let home = home.path().display().to_string();
    insta::assert_snapshot!(redact(&report, &[(&home, "<home>")]));
}

#[tokio::test]
async fn ensure_running_resumes_a_paused_vm_and_waits_for_a_booting_one() {
    let (fake, vers) = setup().await;
    fake.set_states(VM, &["Paused"]);
    let vm = within(STEP, "resume", vers.ensure_running(VM))
        .await
        .unwrap();
    assert_eq!(vm.state, VmState::Running);
    let patch = format!("PATCH /api/v1/vm/{VM}/state");
    assert!(fake.requests().contains(&patch), "{:?}", fake.requests());

    fake.set_states(VM, &["booting", "Booting", "running"]);
    let vm = within(STEP, "boot", vers.ensure_running(VM)).await.unwrap();
    assert_eq!(vm.state, VmState::Running);

    fake.set_states(VM, &["booting"]);
    let err = vers
        .wait_until_running(VM, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            VersError::NotRunningInTime {
                state: VmState::Booting,
                ..
            }
        ),
        "{err:?}"
    );
    fake.set_states(VM, &["paused"]);
    let err = vers.wait_until_running(VM, STEP).await.unwrap_err();
    assert!(matches!(err, VersError::VmStopped { .. }), "{err:?}");
    fake.set_states(VM, &["dead"]);
    assert!(matches!(
        vers.ensure_running(VM).await,
        Err(VersError::VmDead { .. })
    ));
    vers.set_state(VM, RequestedState::Paused).await.unwrap();
}

fn line(value: serde_json::Value) -> axum::body::Bytes {
    format!("{value}\n").into()
}

#[tokio::test]
async fn exec_stream_yields_events_as_they_arrive() {
    let (fake, vers) = setup().await;
    let feed = fake.feed_stream();
    let request = ExecRequest {
        command: vec!["true".into()],
        ..ExecRequest::default()
    };
    let mut events = within(STEP, "stream start", vers.exec_stream(VM, &request))
        .await
        .unwrap();
    // "aGVs" + "bG8=" = "hello", split inside a line and across two writes.
    let first = line(
        serde_json::json!({"type": "chunk", "exec_id": "e", "cursor": 1,
                                        "stream": "stdout", "data_b64": "aGVsbG8="}),
    );
    feed.send(first.slice(..20)).unwrap();
    feed.send(first.slice(20..)).unwrap();
    let event = within(STEP, "first event", async { events.next().await }).await;
    let hello = ExecEvent::Output {
        stream: ExecStream::Stdout,
        data: "hello".into(),
    };
    assert_eq!(event.unwrap().unwrap(), hello);
    // The exit record has not been sent yet: the first event came while the body was open.
    let heartbeat = line(serde_json::json!({"type": "heartbeat"}));
    let exit = line(
        serde_json::json!({"type": "exit", "exec_id": "e", "cursor": 2,
                                       "exit_code": 3}),
    );
    feed.send([heartbeat, exit].concat().into()).unwrap();
    let event = within(STEP, "exit event", async { events.next().await }).await;
    assert_eq!(event.unwrap().unwrap(), ExecEvent::Exit { exit_code: 3 });
    assert!(
        events.next().await.is_none(),
        "the stream ends after the exit"
    );
}

#[tokio::test]
async fn exec_stream_errors_and_cut_streams() {
    let (fake, vers) = setup().await;
    let request = ExecRequest {
        command: vec!["true".into()],
        ..ExecRequest::default()
    };
    let feed = fake.feed_stream();
    let error = serde_json::json!({"type": "error", "code": "agent_gone", "message": "agent lost"});
    feed.send(line(error)).unwrap();
    let mut events = vers.exec_stream(VM, &request).await.unwrap();
    let err = within(STEP, "error event", async { events.next().await })
        .await
        .unwrap();
    let failed = err.unwrap_err();
    assert!(matches!(&failed, VersError::ExecFailed { code, .. } if code == "agent_gone"));

    let feed = fake.feed_stream();
    let chunk = serde_json::json!({"type": "chunk", "exec_id": "e", "cursor": 1,
                                   "stream": "stderr", "data_b64": "eA=="});
    feed.send(line(chunk)).unwrap();
    drop(feed);
    let events = vers.exec_stream(VM, &request).await.unwrap();
    let all: Vec<_> = within(STEP, "cut stream", events.collect()).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let cut = all.into_iter().nth(1).unwrap().unwrap_err();
    assert!(matches!(cut, VersError::StreamEnded { .. }), "{cut:?}");
    let report = format!("error record:\n  {failed}\ncut before exit:\n  {cut}\n");
    insta::assert_snapshot!(report.replace(VM, "<vm>"));
}
