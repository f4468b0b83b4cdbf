//! The API-only VM tools through a real MCP client against the simulator: a tagged commit
//! branched and restored by tag (and the tag moved), repositories, labels and the vm_list
//! filter, a detached exec rejoined with vm_attach and read back with vm_logs, disks,
//! environment variables, and bad input (including another key's private repository).

use std::time::Duration;

use serde_json::json;
use tether_testkit::within;

use crate::client::{Client, Env};
use crate::client_ready;

/// The whole of one test (each call also has its own deadline).
const TEST_DEADLINE: Duration = Duration::from_secs(240);

fn id(reply: &crate::client::Reply, field: &str) -> String {
    reply.details()[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {}", reply.text))
        .to_owned()
}

async fn cat(client: &mut Client, vm: &str) -> String {
    let read = client
        .call(
            "vm_exec",
            json!({"vmId": vm, "command": "cat /root/marker.txt"}),
        )
        .await;
    read.ok().to_owned()
}

#[tokio::test]
async fn tags_labels_logs_and_attach() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    within(TEST_DEADLINE, "the VM tools over the API", async {
        tags_labels_logs_and_attach_on(&env).await;
        Ok(())
    })
    .await
    .unwrap();
}

async fn tags_labels_logs_and_attach_on(env: &Env) {
    let vm = env.new_vm().await;
    let mut client = env.client().await;
    client.call("vm_use", json!({"vmId": vm})).await.ok();
    let write = json!({"command": "echo first > /root/marker.txt"});
    client.call("bash", write).await.ok();

    // A tagged commit of the active VM, branched by the tag.
    let committed = client
        .call(
            "vm_commit",
            json!({"tag": "base", "description": "the first state"}),
        )
        .await;
    let first = id(&committed, "commitId");
    assert_eq!(
        committed.ok(),
        format!(
            "VM {vm} committed: {first}\nTagged it base (a new tag).\nvm_restore or vm_branch \
             with the commit id or the tag makes new VMs from it."
        )
    );
    let branched = client.call("vm_branch", json!({"tag": "base"})).await;
    let child = branched.details()["vmIds"][0].as_str().unwrap().to_owned();
    assert_eq!(
        branched.ok(),
        format!("Branched tag base into 1 new VM(s):\n{child}")
    );
    assert_eq!(cat(&mut client, &child).await, "first\n");

    // Committing again under the same tag moves it; restore follows it.
    let write = json!({"command": "echo second > /root/marker.txt"});
    client.call("bash", write).await.ok();
    let again = client
        .call("vm_commit", json!({"vmId": vm, "tag": "base"}))
        .await;
    let second = id(&again, "commitId");
    assert!(
        again
            .ok()
            .contains(&format!("\nMoved tag base to it (it pointed at {first}).")),
        "{}",
        again.text
    );
    let restored = client.call("vm_restore", json!({"tag": "base"})).await;
    let copy = id(&restored, "vmId");
    assert_eq!(
        restored.ok(),
        format!("Restored tag base into new VM {copy}")
    );
    assert_eq!(cat(&mut client, &copy).await, "second\n");
    let shown = client
        .call("vm_tag", json!({"action": "show", "tag": "base"}))
        .await;
    assert!(
        shown
            .ok()
            .starts_with(&format!("tag base -> commit {second} (updated ")),
        "{}",
        shown.text
    );

    // A repository tag: the repository is made on first use, and lists the tag.
    let in_repo = client.call("vm_commit", json!({"tag": "app:v1"})).await;
    assert!(
        in_repo.ok().contains("\nTagged it app:v1 (a new tag)."),
        "{}",
        in_repo.text
    );
    let repos = client.call("vm_repo", json!({"action": "list"})).await;
    assert!(
        repos.ok().contains("\napp [private] created "),
        "{}",
        repos.text
    );
    let tags = client
        .call("vm_tag", json!({"action": "list", "tag": "app"}))
        .await;
    assert!(
        tags.ok()
            .starts_with("1 tag(s) in repository app:\ntag app:v1 -> commit "),
        "{}",
        tags.text
    );
    let by_repo = client.call("vm_branch", json!({"tag": "app:v1"})).await;
    let from_repo = by_repo.details()["vmIds"][0].as_str().unwrap().to_owned();
    assert_eq!(cat(&mut client, &from_repo).await, "second\n");

    // Labels, and vm_list's filter (every label must match).
    let labelled = client
        .call(
            "vm_label",
            json!({"action": "set", "vmId": child, "labels": {"task": "build", "tier": "1"}}),
        )
        .await;
    assert_eq!(
        labelled.ok(),
        format!("VM {child} labels now: task=build,tier=1")
    );
    client
        .call(
            "vm_label",
            json!({"action": "set", "vmId": copy, "labels": {"task": "test"}}),
        )
        .await
        .ok();
    let listed = client
        .call("vm_list", json!({"labels": {"task": "build"}}))
        .await;
    let lines: Vec<&str> = listed.ok().lines().collect();
    assert_eq!(
        lines[0],
        format!("1 of 4 VM(s) with labels task=build (active: {vm}):")
    );
    assert!(
        lines[1].starts_with(&format!("{child} [running] created "))
            && lines[1].ends_with(" labels task=build,tier=1"),
        "{}",
        listed.text
    );
    assert_eq!(lines.len(), 2, "{}", listed.text);
    let none = client
        .call("vm_list", json!({"labels": {"task": "build", "tier": "2"}}))
        .await;
    assert!(
        none.ok()
            .starts_with("0 of 4 VM(s) with labels task=build,tier=2"),
        "{}",
        none.text
    );
    let removed = client
        .call(
            "vm_label",
            json!({"action": "remove", "vmId": child, "name": "tier"}),
        )
        .await;
    assert_eq!(removed.ok(), format!("VM {child} labels now: task=build"));

    // A detached exec: the id at once, then the whole output and exit code by attaching.
    let command = "echo one; sleep 1; echo two; exit 3";
    let started = client
        .call(
            "vm_exec",
            json!({"vmId": vm, "command": command, "detach": true}),
        )
        .await;
    let exec = id(&started, "execId");
    assert!(
        started
            .ok()
            .starts_with(&format!("Started on VM {vm} as exec {exec}"))
    );
    let attached = client
        .call("vm_attach", json!({"vmId": vm, "execId": exec, "wait": 60}))
        .await;
    assert_eq!(
        attached.ok(),
        format!("one\ntwo\n[exec {exec} exited with code 3]")
    );
    assert_eq!(attached.details()["exitCode"], 3);
    let command = "echo oops >&2";
    let started = client
        .call(
            "vm_exec",
            json!({"vmId": vm, "command": command, "detach": true}),
        )
        .await;
    let failing = id(&started, "execId");
    let attached = client
        .call(
            "vm_attach",
            json!({"vmId": vm, "execId": failing, "wait": 60}),
        )
        .await;
    assert_eq!(
        attached.ok(),
        format!("oops\n[exec {failing} exited with code 0]")
    );
    let logs = client.call("vm_logs", json!({"vmId": vm})).await;
    assert!(
        logs.ok().contains(&format!(
            "--- exec {exec} stdout ---\none\ntwo\n--- exec {failing} stderr ---\noops\n"
        )),
        "{}",
        logs.text
    );
    let next = logs.details()["nextOffset"].as_u64().unwrap();
    let past = client
        .call("vm_logs", json!({"vmId": vm, "offset": next}))
        .await;
    assert_eq!(
        past.ok(),
        format!(
            "VM {vm} has no exec output past offset {next}.\n[end of the log; next offset {next}]"
        )
    );

    // Disks grow; variables reach VMs created afterwards.
    let grown = client.call("vm_disk", json!({"sizeMib": 2048})).await;
    assert_eq!(grown.ok(), format!("VM {vm}'s disk is now 2048 MiB."));
    let set = client
        .call(
            "vm_env",
            json!({"action": "set", "vars": {"TETHER_T": "hello"}}),
        )
        .await;
    assert!(
        set.ok().starts_with("Set TETHER_T. 1 variable(s)"),
        "{}",
        set.text
    );
    assert!(set.ok().ends_with("\nTETHER_T=hello"), "{}", set.text);
    let created = client.call("create_vm", json!({})).await;
    let fresh = id(&created, "vmId");
    let echo = json!({"vmId": fresh, "command": "echo $TETHER_T", "detach": true});
    let started = client.call("vm_exec", echo).await;
    let echo_id = id(&started, "execId");
    let echoed = client
        .call(
            "vm_attach",
            json!({"vmId": fresh, "execId": echo_id, "wait": 60}),
        )
        .await;
    assert_eq!(
        echoed.ok(),
        format!("hello\n[exec {echo_id} exited with code 0]")
    );
    // Over SSH too, as from the VM's /etc/environment.
    let plain = json!({"vmId": fresh, "command": "echo $TETHER_T"});
    let plain = client.call("vm_exec", plain).await;
    assert!(plain.ok().starts_with("hello\n"), "{}", plain.text);
    let deleted = client
        .call("vm_env", json!({"action": "delete", "key": "TETHER_T"}))
        .await;
    assert!(
        deleted.ok().starts_with("Deleted TETHER_T. 0 variable(s)"),
        "{}",
        deleted.text
    );
    client.close().await;
}

#[tokio::test]
async fn bad_input_says_what_to_do() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    within(TEST_DEADLINE, "bad input to the VM tools", async {
        bad_input_on(&env).await;
        Ok(())
    })
    .await
    .unwrap();
}

async fn bad_input_on(env: &Env) {
    let vm = env.new_vm().await;
    let mut client = env.client().await;
    let unknown = client.call("vm_branch", json!({"tag": "nope"})).await;
    assert!(
        unknown.err().starts_with("tag \"nope\" was not found (")
            && unknown.err().ends_with(
                "vm_tag action list shows the tags (a repository's tag is written repo:tag)"
            ),
        "{}",
        unknown.text
    );
    let unknown = client.call("vm_restore", json!({"tag": "nope"})).await;
    assert!(
        unknown.err().contains("vm_tag action list"),
        "{}",
        unknown.text
    );

    let committed = client.call("vm_commit", json!({"vmId": vm})).await;
    let commit = id(&committed, "commitId");
    let create = json!({"action": "create", "tag": "base", "commitId": commit});
    let created = client.call("vm_tag", create.clone()).await;
    assert!(
        created
            .ok()
            .starts_with(&format!("Created tag base -> commit {commit}")),
        "{}",
        created.text
    );
    let twice = client.call("vm_tag", create).await;
    assert!(
        twice.err().starts_with("tag \"base\" exists already (")
            && twice
                .err()
                .ends_with("move it with vm_tag action move (tag base), or pick another name"),
        "{}",
        twice.text
    );
    let bad_ref = client.call("vm_branch", json!({"tag": "a/b"})).await;
    assert_eq!(
        bad_ref.err(),
        "\"a/b\" is not a tag: a repository needs a tag after `:`; write `name`, `repo:tag` or `org/repo:tag`"
    );
    let foreign = client
        .call(
            "vm_tag",
            json!({"action": "move", "tag": "acme/app:v1", "commitId": commit}),
        )
        .await;
    assert!(
        foreign.err().contains("vm_repo action fork"),
        "{}",
        foreign.text
    );
    let missing = client
        .call("vm_tag", json!({"action": "create", "tag": "x"}))
        .await;
    assert_eq!(
        missing.err(),
        "vm_tag action create needs commitId; add it and call vm_tag again"
    );

    let shrink = client
        .call("vm_disk", json!({"vmId": vm, "sizeMib": 512}))
        .await;
    assert!(
        shrink
            .err()
            .starts_with(&format!("the Vers API refused PATCH /vm/{vm}/disk: "))
            && shrink
                .err()
                .ends_with("; correct the arguments and call the tool again"),
        "{}",
        shrink.text
    );
    let ghost = "00000000-0000-4000-8000-000000000000";
    let attach = client
        .call("vm_attach", json!({"vmId": vm, "execId": ghost}))
        .await;
    assert!(
        attach
            .err()
            .starts_with(&format!("exec {ghost} of VM {vm} was not found ("))
            && attach
                .err()
                .contains(&format!("vm_logs with vmId {vm} shows")),
        "{}",
        attach.text
    );
    let no_vm = client.call("vm_logs", json!({})).await;
    assert_eq!(
        no_vm.err(),
        "no vmId given and no VM is active; pass vmId (vm_list shows the VMs), or vm_use a VM first"
    );

    // Another key's repository: invisible while private, branchable once public.
    let sim = env.sim.as_ref().unwrap();
    let other_key = sim.add_key(Some("other")).await.unwrap();
    let mut other = env.client_with_key(Some(&other_key)).await;
    let created = other.call("create_vm", json!({})).await;
    let theirs = id(&created, "vmId");
    let write = json!({"vmId": theirs, "command": "echo theirs > /root/marker.txt"});
    other.call("vm_exec", write).await.ok();
    other
        .call("vm_commit", json!({"vmId": theirs, "tag": "secret:v1"}))
        .await
        .ok();
    let private = client
        .call("vm_branch", json!({"tag": "other/secret:v1"}))
        .await;
    assert!(
        private.err().contains("does not exist or its owner keeps it private; vm_repo action public lists the public repositories"),
        "{}",
        private.text
    );
    let public = client.call("vm_repo", json!({"action": "public"})).await;
    assert!(!public.ok().contains("other/secret"), "{}", public.text);
    let published = other
        .call("vm_repo", json!({"action": "publish", "name": "secret"}))
        .await;
    assert!(
        published.ok().starts_with("Repository secret is public"),
        "{}",
        published.text
    );
    let public = client.call("vm_repo", json!({"action": "public"})).await;
    assert!(
        public.ok().contains("\nother/secret created "),
        "{}",
        public.text
    );
    let branched = client
        .call("vm_branch", json!({"tag": "other/secret:v1"}))
        .await;
    let mine = branched.details()["vmIds"][0].as_str().unwrap().to_owned();
    assert_eq!(cat(&mut client, &mine).await, "theirs\n");
    let forked = client
        .call(
            "vm_repo",
            json!({"action": "fork", "name": "other/secret:v1", "repoName": "mine"}),
        )
        .await;
    assert!(
        forked
            .ok()
            .starts_with("Forked other/secret:v1 into your tag mine:v1 (commit "),
        "{}",
        forked.text
    );
    other.close().await;
    client.close().await;
}
