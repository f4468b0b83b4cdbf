//! The whole client against the real simulator (`tether sim`), over real HTTP.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use tether_testkit::Sim;
use tether_vers::{
    BranchSource, ExecEvent, KeyOrigin, PutOptions, StaticEnv, VersClient, VersError,
};
use tether_wire::{
    BranchQuery, CommitQuery, CommitRequest, ExecRequest, ExecStream, ListCommitsQuery,
    RequestedState, VmConfig, VmState,
};

use crate::{STEP, redact, within};

/// The id of nothing.
const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

/// The `tether` binary beside this test: `target/debug/deps/x` → `target/debug/tether`.
pub(crate) fn tether_binary() -> PathBuf {
    tether_testkit::tether_binary().unwrap()
}

/// The environment a user would set to point tether at this simulator.
pub(crate) fn sim_env(sim: &Sim) -> StaticEnv {
    let home = StaticEnv::new(Some("/nonexistent-home".into()));
    sim.info()
        .client_env()
        .into_iter()
        .fold(home, |env, (name, value)| env.with(name, &value))
}

pub(crate) async fn start() -> (Sim, VersClient) {
    let sim = within(STEP, "tether sim to start", Sim::start(tether_binary()))
        .await
        .unwrap();
    let vers = VersClient::with_source(Arc::new(sim_env(&sim)));
    (sim, vers)
}

pub(crate) async fn new_vm(vers: &VersClient) -> String {
    within(STEP, "new_root", vers.new_root(VmConfig::default(), true))
        .await
        .unwrap()
}

/// Runs `script` with `sh -c`; returns stdout, asserting exit 0.
pub(crate) async fn sh(vers: &VersClient, vm: &str, script: &str) -> String {
    let request = ExecRequest {
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..ExecRequest::default()
    };
    let reply = within(STEP, script, vers.exec(vm, &request)).await.unwrap();
    assert_eq!(reply.exit_code, 0, "`{script}` failed: {}", reply.stderr);
    reply.stdout
}

#[tokio::test]
async fn create_list_status_metadata_key_delete() {
    let (sim, vers) = start().await;
    let labels = BTreeMap::from([("role".to_owned(), "test".to_owned())]);
    let config = VmConfig {
        vcpu_count: Some(1),
        mem_size_mib: Some(512),
        fs_size_mib: Some(1024),
        labels: Some(labels.clone()),
        ..VmConfig::default()
    };
    let vm = within(STEP, "new_root", vers.new_root(config, true))
        .await
        .unwrap();

    let listed = vers.list_vms().await.unwrap();
    let entry = listed
        .iter()
        .find(|v| v.vm_id == vm)
        .expect("new VM listed");
    assert_eq!((entry.state, &entry.labels), (VmState::Running, &labels));
    assert_eq!(vers.status(&vm).await.unwrap().state, VmState::Running);
    assert_eq!(vers.metadata(&vm).await.unwrap().vm_id, vm);
    let key = vers.ssh_key(&vm).await.unwrap();
    assert!(
        key.ssh_private_key
            .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
    );

    let settings = vers.settings().unwrap();
    assert_eq!(settings.ssh_dial(&vm), sim.info().ssh_gateway);
    assert_eq!(
        settings.vm_host(&vm),
        format!("{vm}.{}", sim.info().vm_domain)
    );

    let deleted = within(STEP, "delete", vers.delete_vm(&vm)).await.unwrap();
    assert_eq!(deleted, std::slice::from_ref(&vm));
    let err = vers.status(&vm).await.unwrap_err();
    assert!(
        matches!(&err, VersError::VmNotFound { vm_id, .. } if *vm_id == vm),
        "{err:?}"
    );
}

#[tokio::test]
async fn branch_count_three_commit_restore_and_commits() {
    let (_sim, vers) = start().await;
    let parent = new_vm(&vers).await;
    sh(&vers, &parent, "echo v1 > /root/marker").await;

    let three = BranchQuery {
        count: Some(3),
        ..BranchQuery::default()
    };
    let children = within(
        STEP,
        "branch",
        vers.branch(&BranchSource::Vm(parent.clone()), three),
    )
    .await;
    let children = children.unwrap();
    assert_eq!(children.len(), 3);
    for child in &children {
        assert_eq!(sh(&vers, child, "cat /root/marker").await, "v1\n");
    }
    let any = BranchSource::Any(parent.clone());
    let one = within(STEP, "branch", vers.branch(&any, BranchQuery::default()))
        .await
        .unwrap();
    assert_eq!(one.len(), 1);

    let named = CommitRequest {
        name: Some("v1".into()),
        description: Some("marker v1".into()),
        ..CommitRequest::default()
    };
    let commit = within(
        STEP,
        "commit",
        vers.commit(&parent, CommitQuery::default(), &named),
    )
    .await;
    let commit = commit.unwrap();
    sh(&vers, &parent, "echo v2 > /root/marker").await;
    let page = ListCommitsQuery {
        limit: Some(10),
        offset: Some(0),
    };
    let commits = vers.list_commits(page).await.unwrap();
    let info = commits
        .commits
        .iter()
        .find(|c| c.commit_id == commit)
        .expect("commit listed");
    assert_eq!(
        (info.name.as_str(), info.description.as_deref()),
        ("v1", Some("marker v1"))
    );
    assert_eq!(info.parent_vm_id.as_deref(), Some(parent.as_str()));

    let restored = within(STEP, "restore", vers.from_commit(&commit))
        .await
        .unwrap();
    assert_eq!(
        vers.get_file(&restored, "/root/marker").await.unwrap(),
        b"v1\n"
    );
    let two = BranchQuery {
        count: Some(2),
        ..BranchQuery::default()
    };
    let by_commit = BranchSource::Commit(commit.clone());
    let from_commit = within(STEP, "branch", vers.branch(&by_commit, two))
        .await
        .unwrap();
    assert_eq!(from_commit.len(), 2);

    // As on Vers, a commit VMs were started from stays until they are gone.
    let err = vers.delete_commit(&commit).await.unwrap_err();
    assert!(matches!(&err, VersError::Conflict { .. }), "{err:?}");
    for vm in from_commit.iter().chain([&restored]) {
        within(STEP, "delete VM", vers.delete_vm(vm)).await.unwrap();
    }
    within(STEP, "delete commit", vers.delete_commit(&commit))
        .await
        .unwrap();
    let err = vers.from_commit(&commit).await.unwrap_err();
    assert!(matches!(&err, VersError::CommitNotFound { commit_id, .. } if *commit_id == commit));
}

#[tokio::test]
async fn pause_refuses_exec_and_ensure_running_resumes() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    within(STEP, "pause", vers.set_state(&vm, RequestedState::Paused))
        .await
        .unwrap();
    assert_eq!(vers.status(&vm).await.unwrap().state, VmState::Paused);
    let request = ExecRequest {
        command: vec!["true".into()],
        ..ExecRequest::default()
    };
    let err = vers.exec(&vm, &request).await.unwrap_err();
    assert!(
        matches!(&err, VersError::VmPaused { vm_id, .. } if *vm_id == vm),
        "{err:?}"
    );

    let running = within(STEP, "ensure_running", vers.ensure_running(&vm))
        .await
        .unwrap();
    assert_eq!(running.state, VmState::Running);
    assert_eq!(vers.exec(&vm, &request).await.unwrap().exit_code, 0);
    insta::assert_snapshot!(err.to_string().replace(&vm, "<vm>"));
}

#[tokio::test]
async fn exec_with_options_and_exit_codes() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    let request = ExecRequest {
        command: vec![
            "sh".into(),
            "-c".into(),
            "pwd; echo $GREETING; cat; echo e >&2; exit 4".into(),
        ],
        env: Some(BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())])),
        working_dir: Some("/tmp".into()),
        stdin: Some("in".into()),
        timeout_secs: Some(30),
        exec_id: None,
    };
    let reply = within(STEP, "exec", vers.exec(&vm, &request))
        .await
        .unwrap();
    let got = (
        reply.exit_code,
        reply.stdout.as_str(),
        reply.stderr.as_str(),
    );
    assert_eq!(got, (4, "/tmp\nhi\nin", "e\n"));
}

/// The first output arrives while the command still runs: it waits for a file the test
/// writes only after seeing that output.
#[tokio::test]
async fn exec_stream_delivers_output_while_the_command_runs() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    let script = "echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done >&2; exit 5";
    let request = ExecRequest {
        command: vec!["sh".into(), "-c".into(), script.into()],
        timeout_secs: Some(50),
        ..ExecRequest::default()
    };
    let mut events = within(STEP, "stream start", vers.exec_stream(&vm, &request))
        .await
        .unwrap();
    let first = within(STEP, "first output", events.next())
        .await
        .unwrap()
        .unwrap();
    let ready = ExecEvent::Output {
        stream: ExecStream::Stdout,
        data: "ready\n".into(),
    };
    assert_eq!(first, ready);

    vers.put_file(&vm, "/tmp/go", b"", PutOptions::default())
        .await
        .unwrap();
    let rest: Vec<ExecEvent> = within(STEP, "the rest", events.map(Result::unwrap).collect()).await;
    let done = ExecEvent::Output {
        stream: ExecStream::Stderr,
        data: "done\n".into(),
    };
    assert_eq!(rest, [done, ExecEvent::Exit { exit_code: 5 }]);
}

#[tokio::test]
async fn files_round_trip_binary_with_mode() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    let content: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let options = PutOptions {
        mode: Some(0o600),
        create_dirs: true,
    };
    let path = "/root/deep/dir/blob.bin";
    within(STEP, "put", vers.put_file(&vm, path, &content, options))
        .await
        .unwrap();
    assert_eq!(
        within(STEP, "get", vers.get_file(&vm, path)).await.unwrap(),
        content
    );
    assert_eq!(sh(&vers, &vm, &format!("stat -c %a {path}")).await, "600\n");
    let err = vers.get_file(&vm, "/root/missing").await.unwrap_err();
    assert!(
        matches!(&err, VersError::FileNotFound { file, .. } if file == "/root/missing"),
        "{err:?}"
    );
}

/// Unknown ids, a wrong key (from the environment and from ~/.versrc), a stopped simulator.
#[tokio::test]
async fn errors_name_what_is_wrong() {
    let (mut sim, vers) = start().await;
    let mut report = String::new();
    let mut record = |what: &str, err: VersError| {
        report.push_str(&format!("{what}:\n  {err}\n"));
        err
    };

    let err = record("unknown VM", vers.status(UNKNOWN).await.unwrap_err());
    assert!(matches!(err, VersError::VmNotFound { .. }), "{err:?}");
    let err = record(
        "delete unknown VM",
        vers.delete_vm(UNKNOWN).await.unwrap_err(),
    );
    assert!(err.is_not_found(), "{err:?}");
    let err = record(
        "unknown commit",
        vers.from_commit(UNKNOWN).await.unwrap_err(),
    );
    assert!(matches!(err, VersError::CommitNotFound { .. }), "{err:?}");
    let any = BranchSource::Any(UNKNOWN.into());
    let err = vers.branch(&any, BranchQuery::default()).await.unwrap_err();
    let err = record("branch of an unknown id", err);
    assert!(matches!(err, VersError::SourceNotFound { .. }), "{err:?}");

    let wrong_env = sim_env(&sim).with("VERS_API_KEY", "not-the-key");
    let wrong = VersClient::with_source(Arc::new(wrong_env));
    let err = record(
        "wrong key in VERS_API_KEY",
        wrong.list_vms().await.unwrap_err(),
    );
    assert!(
        matches!(
            err,
            VersError::KeyRejected {
                origin: KeyOrigin::Env,
                ..
            }
        ),
        "{err:?}"
    );

    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".versrc"), r#"{"apiKey":"not-the-key"}"#).unwrap();
    let mut file_env = sim_env(&sim);
    file_env.vars.remove("VERS_API_KEY");
    file_env.home = Some(home.path().to_path_buf());
    let from_file = VersClient::with_source(Arc::new(file_env));
    let err = record(
        "wrong key in ~/.versrc",
        from_file.list_vms().await.unwrap_err(),
    );
    assert!(
        matches!(
            err,
            VersError::KeyRejected {
                origin: KeyOrigin::Versrc(_),
                ..
            }
        ),
        "{err:?}"
    );

    let url = sim.info().vers_url.clone();
    within(STEP, "tether sim to stop", sim.stop())
        .await
        .unwrap();
    let err = record("simulator stopped", vers.list_vms().await.unwrap_err());
    assert!(
        matches!(&err, VersError::Unreachable { url: u, .. } if u.starts_with(&url)),
        "{err:?}"
    );

    let home = home.path().display().to_string();
    let report = redact(&report, &[(&url, "<sim>"), (&home, "<home>")]);
    insta::assert_snapshot!(report);
}
