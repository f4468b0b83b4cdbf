//! The client's calls for tags, repositories, lineage, labels, disks, variables, domains,
//! the exec log and attach, and the account, against the real simulator.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use tether_vers::{BranchSource, ExecEvent, Named, TagRef, VersClient, VersError};
use tether_wire::{
    AttachRequest, BranchQuery, CommitQuery, CommitRequest, ExecLogQuery, ExecRequest, ForkRequest,
    ListCommitsQuery, UpdateCommitRequest, UpdateTagRequest, VmConfig,
};

use crate::sim::{new_vm, sh, sim_env, start};
use crate::{STEP, within};

fn tag(text: &str) -> TagRef {
    text.parse().unwrap()
}

async fn commit(vers: &VersClient, vm: &str) -> String {
    let request = CommitRequest::default();
    within(
        STEP,
        "commit",
        vers.commit(vm, CommitQuery::default(), &request),
    )
    .await
    .unwrap()
}

async fn branch_one(vers: &VersClient, source: BranchSource) -> String {
    let ids = within(STEP, "branch", vers.branch(&source, BranchQuery::default()))
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    ids.into_iter().next().unwrap()
}

fn not_found(err: &VersError) -> &Named {
    match err {
        VersError::NotFound { what, .. } => what,
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn tags_point_at_commits_move_and_are_branched_by_name() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    sh(&vers, &vm, "echo v1 > /root/marker").await;
    let first = commit(&vers, &vm).await;
    sh(&vers, &vm, "echo v2 > /root/marker").await;
    let second = commit(&vers, &vm).await;

    let base = tag("base");
    let created = vers
        .create_tag_ref(&base, &first, Some("first state".into()))
        .await
        .unwrap();
    assert_eq!(
        (created.reference.as_str(), created.commit_id.as_str()),
        ("base", first.as_str())
    );
    let err = vers.create_tag_ref(&base, &second, None).await.unwrap_err();
    assert!(
        matches!(&err, VersError::Taken { what, .. } if **what == Named::Tag("base".into())),
        "{err:?}"
    );
    assert!(err.to_string().contains("tether tag move base"), "{err}");
    let unknown = "00000000-0000-4000-8000-000000000000";
    let err = vers
        .create_tag_ref(&tag("other"), unknown, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, VersError::CommitNotFound { commit_id, .. } if commit_id == unknown),
        "a missing commit is named as such, not as a missing tag: {err:?}"
    );

    vers.create_repo(&tether_wire::CreateRepositoryRequest {
        name: "app".into(),
        description: None,
    })
    .await
    .unwrap();
    let app = tag("app:stable");
    vers.create_tag_ref(&app, &first, None).await.unwrap();
    let listed = vers.list_repo_tags("app").await.unwrap();
    assert_eq!(listed.tags.len(), 1);
    assert_eq!(listed.tags[0].reference, "app:stable");

    // Branch and restore resolve what a tag points at when asked.
    let child = branch_one(&vers, BranchSource::Tag(base.clone())).await;
    assert_eq!(sh(&vers, &child, "cat /root/marker").await, "v1\n");
    let update = UpdateTagRequest {
        commit_id: Some(second.clone()),
        description: None,
    };
    vers.update_tag_ref(&base, &update).await.unwrap();
    assert_eq!(vers.resolve_tag(&base).await.unwrap().commit_id, second);
    let moved = branch_one(&vers, BranchSource::Tag(base.clone())).await;
    assert_eq!(sh(&vers, &moved, "cat /root/marker").await, "v2\n");
    let restored = within(STEP, "restore by tag", vers.from_tag(&app))
        .await
        .unwrap();
    assert_eq!(sh(&vers, &restored, "cat /root/marker").await, "v1\n");
    let names: Vec<_> = vers
        .list_tags()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.tag_name)
        .collect();
    assert_eq!(names, ["base"]);

    // Unknown tags, in every form, say so and how to find the right one.
    let err = vers
        .branch(&BranchSource::Tag(tag("nope")), BranchQuery::default())
        .await
        .unwrap_err();
    assert_eq!(*not_found(&err), Named::Tag("nope".into()));
    assert!(err.to_string().contains("tether tag ls"), "{err}");
    let err = vers.from_tag(&tag("app:nope")).await.unwrap_err();
    assert!(
        matches!(not_found(&err), Named::RepoTag { tag, .. } if tag == "nope"),
        "{err:?}"
    );
    vers.delete_tag_ref(&base).await.unwrap();
    let err = vers.resolve_tag(&base).await.unwrap_err();
    assert_eq!(*not_found(&err), Named::Tag("base".into()));

    // Lineage: a commit of a VM restored from `first` has `first` as its parent.
    let grandchild = commit(&vers, &restored).await;
    let chain: Vec<_> = vers
        .commit_parents(&grandchild)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(chain, [grandchild.clone(), first.clone()]);
    let err = vers
        .commit_parents("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(matches!(err, VersError::CommitNotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn public_repositories_are_seen_branched_and_forked_by_another_key() {
    let (sim, owner) = start().await;
    let other_key = sim.add_key(None).await.unwrap();
    let other = VersClient::with_source(Arc::new(sim_env(&sim).with("VERS_API_KEY", &other_key)));
    let org = owner.whoami().await.unwrap().org.name;
    assert_ne!(other.whoami().await.unwrap().org.name, org);

    let vm = new_vm(&owner).await;
    sh(&owner, &vm, "echo shared > /root/marker").await;
    let snapshot = commit(&owner, &vm).await;
    owner
        .create_repo(&tether_wire::CreateRepositoryRequest {
            name: "base".into(),
            description: Some("a base".into()),
        })
        .await
        .unwrap();
    owner
        .create_tag_ref(&tag("base:v1"), &snapshot, None)
        .await
        .unwrap();
    let theirs = tag(&format!("{org}/base:v1"));

    // Private: the other key cannot see, branch or fork it.
    let err = other.resolve_tag(&theirs).await.unwrap_err();
    assert!(
        matches!(not_found(&err), Named::PublicRepo { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("private"), "{err}");
    assert!(other.list_public_repos().await.unwrap().is_empty());

    owner.set_repo_visibility("base", true).await.unwrap();
    assert!(owner.get_repo("base").await.unwrap().is_public);
    let public = other.list_public_repos().await.unwrap();
    assert_eq!(public.len(), 1);
    assert_eq!(public[0].full_name, format!("{org}/base"));
    assert_eq!(
        other.get_public_repo(&org, "base").await.unwrap().name,
        "base"
    );
    let tags = other.list_public_repo_tags(&org, "base").await.unwrap();
    assert_eq!(tags.tags[0].commit_id, snapshot);
    let child = branch_one(&other, BranchSource::Tag(theirs.clone())).await;
    assert_eq!(sh(&other, &child, "cat /root/marker").await, "shared\n");

    // Another organisation's tag cannot be moved; it can be forked and the copy moved.
    let err = other
        .update_tag_ref(&theirs, &UpdateTagRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, VersError::ForeignTag { .. }), "{err:?}");
    let fork = other
        .fork_repo(&ForkRequest {
            source_org: org.clone(),
            source_repo: "base".into(),
            source_tag: "v1".into(),
            repo_name: Some("mine".into()),
            tag_name: None,
        })
        .await
        .unwrap();
    assert_eq!(fork.reference, "mine:v1");
    assert_eq!(
        sh(&other, &fork.vm_id, "cat /root/marker").await,
        "shared\n"
    );
    let copy = other.resolve_tag(&tag("mine:v1")).await.unwrap();
    assert_eq!(copy.commit_id, fork.commit_id);

    owner.set_repo_visibility("base", false).await.unwrap();
    assert!(other.list_public_repos().await.unwrap().is_empty());
    owner.delete_repo("base").await.unwrap();
    let err = owner.get_repo("base").await.unwrap_err();
    assert_eq!(*not_found(&err), Named::Repo("base".into()));
}

#[tokio::test]
async fn commits_are_published_and_listed_publicly() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    let id = commit(&vers, &vm).await;
    let page = ListCommitsQuery::default();
    assert!(
        vers.list_public_commits(page)
            .await
            .unwrap()
            .commits
            .is_empty()
    );
    let update = UpdateCommitRequest {
        is_public: true,
        name: Some("golden".into()),
        description: Some("the good one".into()),
    };
    let updated = vers.update_commit(&id, &update).await.unwrap();
    assert!(updated.is_public);
    assert_eq!(updated.name, "golden");
    let public = vers.list_public_commits(page).await.unwrap();
    assert_eq!(public.commits.len(), 1);
    assert_eq!(public.commits[0].commit_id, id);
}

#[tokio::test]
async fn labels_disk_env_vars_and_domains() {
    let (_sim, vers) = start().await;
    assert!(vers.validate_key().await.unwrap().valid);
    assert!(
        !vers
            .system_version()
            .await
            .unwrap()
            .workspace_version
            .is_empty()
    );

    // Variables reach VMs created afterwards.
    let vars = BTreeMap::from([("GREETING".to_owned(), "hello".to_owned())]);
    assert_eq!(vers.set_env_vars(vars.clone(), false).await.unwrap(), vars);
    assert_eq!(vers.env_vars().await.unwrap(), vars);
    let vm = new_vm(&vers).await;
    assert_eq!(sh(&vers, &vm, "echo $GREETING").await, "hello\n");
    vers.delete_env_var("GREETING").await.unwrap();
    let err = vers.delete_env_var("GREETING").await.unwrap_err();
    assert_eq!(*not_found(&err), Named::EnvVar("GREETING".into()));

    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    vers.set_labels(&vm, labels(&[("role", "web"), ("team", "a")]))
        .await
        .unwrap();
    vers.set_labels(&vm, labels(&[("role", "db")]))
        .await
        .unwrap();
    let listed = vers.list_vms().await.unwrap();
    let entry = listed.iter().find(|v| v.vm_id == vm).unwrap();
    assert_eq!(entry.labels, labels(&[("role", "db"), ("team", "a")]));
    vers.remove_label(&vm, "team").await.unwrap();
    let err = vers.remove_label(&vm, "team").await.unwrap_err();
    assert!(
        matches!(not_found(&err), Named::Label { name, .. } if name == "team"),
        "{err:?}"
    );
    vers.replace_labels(&vm, labels(&[("only", "this")]))
        .await
        .unwrap();
    assert_eq!(
        vers.metadata(&vm).await.unwrap().labels,
        labels(&[("only", "this")])
    );

    let config = VmConfig {
        fs_size_mib: Some(1024),
        ..VmConfig::default()
    };
    let sized = within(STEP, "new_root", vers.new_root(config, true))
        .await
        .unwrap();
    vers.resize_disk(&sized, 2048).await.unwrap();
    let err = vers.resize_disk(&sized, 1024).await.unwrap_err();
    assert!(
        matches!(&err, VersError::Invalid { status, .. } if status.as_u16() == 400),
        "{err:?}"
    );

    let domain = vers.create_domain("app.example.test", &vm).await.unwrap();
    assert_eq!(domain.vm_id, vm);
    let err = vers
        .create_domain("app.example.test", &sized)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(409), "{err:?}");
    assert_eq!(
        vers.list_domains(Some(&vm)).await.unwrap(),
        std::slice::from_ref(&domain)
    );
    assert!(vers.list_domains(Some(&sized)).await.unwrap().is_empty());
    assert_eq!(vers.get_domain(&domain.domain_id).await.unwrap(), domain);
    assert_eq!(
        vers.delete_domain(&domain.domain_id).await.unwrap(),
        domain.domain_id
    );
    let err = vers.get_domain(&domain.domain_id).await.unwrap_err();
    assert!(matches!(not_found(&err), Named::Domain(_)), "{err:?}");
}

#[tokio::test]
async fn attach_rejoins_a_run_after_the_stream_is_dropped() {
    let (_sim, vers) = start().await;
    let vm = new_vm(&vers).await;
    // Prints 1..40, the second half only once the first line was read back and a marker
    // file written, so the stream is dropped mid-run.
    let script = "for i in $(seq 1 20); do echo $i; done; \
                  while [ ! -e /tmp/go ]; do sleep 0.05; done; \
                  for i in $(seq 21 40); do echo $i; done; exit 7";
    let request = ExecRequest {
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..ExecRequest::default()
    };
    let mut events = vers.exec_stream(&vm, &request).await.unwrap();
    let mut seen = Vec::new();
    match within(STEP, "first chunk", events.next()).await {
        Some(Ok(ExecEvent::Output { data, .. })) => seen.extend_from_slice(&data),
        other => panic!("expected output, got {other:?}"),
    }
    let position = events.position();
    let exec_id = position.exec_id.clone().expect("the stream named its run");
    drop(events);
    sh(&vers, &vm, "touch /tmp/go").await;

    let attach = AttachRequest {
        exec_id: exec_id.clone(),
        cursor: position.cursor,
        from_latest: None,
    };
    let mut rejoined = vers.exec_attach(&vm, &attach).await.unwrap();
    let mut exit = None;
    while let Some(event) = within(STEP, "attached events", rejoined.next()).await {
        match event.unwrap() {
            ExecEvent::Output { data, .. } => seen.extend_from_slice(&data),
            ExecEvent::Exit { exit_code } => exit = Some(exit_code),
        }
    }
    let expected: String = (1..=40).map(|i| format!("{i}\n")).collect();
    assert_eq!(String::from_utf8(seen).unwrap(), expected);
    assert_eq!(exit, Some(7));

    // The log holds the same run.
    let log = vers.exec_logs(&vm, &ExecLogQuery::default()).await.unwrap();
    assert!(
        log.entries
            .iter()
            .any(|e| e.exec_id.as_deref() == Some(exec_id.as_str())),
        "{log:?}"
    );

    let unknown = AttachRequest {
        exec_id: "00000000-0000-4000-8000-000000000000".into(),
        ..AttachRequest::default()
    };
    let err = vers.exec_attach(&vm, &unknown).await.unwrap_err();
    assert!(matches!(not_found(&err), Named::Exec { .. }), "{err:?}");
    assert!(err.to_string().contains("tether vm logs"), "{err}");
}
