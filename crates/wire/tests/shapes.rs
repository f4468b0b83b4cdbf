//! The JSON shapes match Vers's spec and notes, field for field.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use serde_json::{Value, json};
use tether_wire::*;

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap()
}

#[test]
fn states_read_lowercase_and_are_written_capitalised() {
    let vm: Vm = serde_json::from_value(json!({
        "vm_id": "v", "owner_id": "o", "created_at": "t", "state": "sleeping"
    }))
    .unwrap();
    assert_eq!(vm.state, VmState::Sleeping);
    assert!(vm.labels.is_empty());
    assert_eq!(
        to_json(&StateRequest {
            state: RequestedState::Paused
        }),
        json!({"state": "Paused"})
    );
    assert!(serde_json::from_value::<StateRequest>(json!({"state": "Asleep"})).is_err());
    assert!(serde_json::from_value::<StateRequest>(json!({"state": "running"})).is_err());
}

#[test]
fn new_root_config_omits_unset_fields() {
    let request = NewRootRequest {
        vm_config: VmConfig {
            mem_size_mib: Some(512),
            ..VmConfig::default()
        },
    };
    assert_eq!(
        to_json(&request),
        json!({"vm_config": {"mem_size_mib": 512}})
    );
    let parsed: NewRootRequest = serde_json::from_value(json!({"vm_config": {}})).unwrap();
    assert_eq!(parsed, NewRootRequest::default());
    assert!(serde_json::from_value::<NewRootRequest>(json!({})).is_err());
}

#[test]
fn from_commit_takes_exactly_one_source() {
    let parsed: FromCommitRequest = serde_json::from_value(json!({"commit_id": "c"})).unwrap();
    assert_eq!(
        parsed,
        FromCommitRequest::CommitId {
            commit_id: "c".into()
        }
    );
    let parsed: FromCommitRequest = serde_json::from_value(json!({"ref": "repo:tag"})).unwrap();
    assert_eq!(
        parsed,
        FromCommitRequest::Ref {
            reference: "repo:tag".into()
        }
    );
    assert_eq!(to_json(&parsed), json!({"ref": "repo:tag"}));
    for bad in [json!({}), json!({"commit_id": "c", "tag_name": "t"})] {
        let err = serde_json::from_value::<FromCommitRequest>(bad).unwrap_err();
        assert!(err.to_string().contains("exactly one of"), "{err}");
    }
}

#[test]
fn exec_stream_events_are_tagged_by_type() {
    let chunk = ExecStreamEvent::Chunk {
        exec_id: "e".into(),
        cursor: 1,
        stream: ExecStream::Stderr,
        data_b64: "aGk=".into(),
    };
    assert_eq!(
        to_json(&chunk),
        json!({"type": "chunk", "exec_id": "e", "cursor": 1, "stream": "stderr", "data_b64": "aGk="})
    );
    let error: ExecStreamEvent =
        serde_json::from_value(json!({"type": "error", "code": "x", "message": "m"})).unwrap();
    assert_eq!(
        error,
        ExecStreamEvent::Error {
            code: "x".into(),
            message: "m".into()
        }
    );
}

#[test]
fn exec_timeout_zero_means_no_limit() {
    let mut request = ExecRequest {
        command: vec!["true".into()],
        ..ExecRequest::default()
    };
    assert_eq!(request.timeout(), None);
    request.timeout_secs = Some(0);
    assert_eq!(request.timeout(), None);
    request.timeout_secs = Some(5);
    assert_eq!(request.timeout(), Some(std::time::Duration::from_secs(5)));
    assert_eq!(
        to_json(&ExecRequest {
            command: vec!["ls".into()],
            ..ExecRequest::default()
        }),
        json!({"command": ["ls"]})
    );
}

#[test]
fn errors_and_lists_have_vers_shapes() {
    assert_eq!(
        to_json(&ErrorBody::new("no")),
        json!({"error": "no", "success": false})
    );
    let branch: BranchResponse = serde_json::from_value(json!({"vms": [{"vm_id": "a"}]})).unwrap();
    assert_eq!(branch.vms, vec![NewVmResponse { vm_id: "a".into() }]);
    let list: CommitList = serde_json::from_value(json!({
        "commits": [{"commit_id": "c", "name": "n", "owner_id": "o", "is_public": false, "created_at": "t"}],
        "total": 1, "limit": 50, "offset": 0
    }))
    .unwrap();
    assert_eq!(list.commits[0].parent_vm_id, None);
    let meta = VmMetadata {
        vm_id: "v".into(),
        owner_id: "o".into(),
        created_at: "t".into(),
        deleted_at: None,
        state: VmState::Running,
        ip: "::1".into(),
        parent_commit_id: None,
        grandparent_vm_id: None,
        vcpu_count: None,
        mem_size_mib: None,
        labels: Default::default(),
    };
    assert_eq!(
        to_json(&meta),
        json!({"vm_id": "v", "owner_id": "o", "created_at": "t", "state": "running", "ip": "::1",
               "parent_commit_id": null, "grandparent_vm_id": null})
    );
}
