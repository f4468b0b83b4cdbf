//! Tags, repositories (two keys, fork), commits by tag, lineage, publishing, labels, disks,
//! environment variables, domains and whoami, end to end through the `tether` binary.

use serde_json::{Value, json};

use crate::{Env, Run, run};

/// Asserts `run` failed with `code` and a message on stderr containing `hint`.
#[track_caller]
fn fails(run: &Run, code: i32, hint: &str) {
    assert_eq!(run.code, code, "{run:?}");
    assert!(run.stderr.contains(hint), "no {hint:?} in: {run:?}");
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

impl Env {
    /// Runs `tether ARGS` with another API key.
    async fn run_as(&self, key: &str, args: &[&str]) -> Run {
        let mut command = self.command(args);
        command.env("VERS_API_KEY", key);
        run(command, None).await
    }
}

#[tokio::test]
async fn commits_are_tagged_moved_and_restored_or_branched_by_tag() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    env.sh(&vm, "echo v1 > /root/marker").await;
    let first = env
        .run(&["vm", "commit", &vm, "--tag", "base", "--json"])
        .await;
    let first = first.json();
    assert_eq!(first["vm_id"], json!(vm));
    let first_id = first["commit_id"].as_str().unwrap().to_owned();
    assert_eq!(
        keys(&first["tag"]),
        [
            "commit_id",
            "created_at",
            "description",
            "reference",
            "tag_id",
            "updated_at"
        ]
    );
    assert_eq!(
        (&first["tag"]["reference"], &first["tag"]["commit_id"]),
        (&json!("base"), &json!(first_id))
    );

    env.sh(&vm, "echo v2 > /root/marker").await;
    let commits_before = env.run(&["vm", "commits", "--json"]).await.json();
    let taken = env.run(&["vm", "commit", &vm, "--tag", "base"]).await;
    fails(&taken, 2, "add --move to move it to the new commit");
    let commits_after = env.run(&["vm", "commits", "--json"]).await.json();
    assert_eq!(
        commits_before, commits_after,
        "a refused --tag made a commit"
    );
    let second = env
        .run(&["vm", "commit", &vm, "--tag", "base", "--move", "--json"])
        .await
        .json();
    let second_id = second["commit_id"].as_str().unwrap().to_owned();
    assert_eq!(second["tag"]["commit_id"], json!(second_id));

    let restored = env.run(&["vm", "restore", "--tag", "base"]).await;
    assert_eq!(env.sh(restored.ok(), "cat /root/marker").await, "v2");
    let moved = env.run(&["tag", "move", "base", &first_id[..8]]).await;
    assert_eq!(moved.ok(), first_id);
    let branched = env.run(&["vm", "branch", "--tag", "base", "--json"]).await;
    let branched = branched.json();
    assert_eq!(branched["source_tag"], json!("base"));
    let child = branched["vm_ids"][0].as_str().unwrap();
    assert_eq!(env.sh(child, "cat /root/marker").await, "v1");

    let duplicate = env.run(&["tag", "create", "base", &second_id]).await;
    fails(&duplicate, 2, "move it with `tether tag move base COMMIT`");
    fails(
        &env.run(&["tag", "show", "nope"]).await,
        1,
        "`tether tag ls`",
    );
    fails(
        &env.run(&["vm", "branch", "--tag", "nope"]).await,
        1,
        "`tether tag ls`",
    );
    fails(&env.run(&["tag", "show", "a/b"]).await, 2, "write `name`");

    env.run(&["repo", "create", "app", "--description", "the app"])
        .await
        .ok();
    let created = env
        .run(&[
            "tag",
            "create",
            "app:stable",
            &first_id,
            "--description",
            "good",
        ])
        .await;
    assert_eq!(created.ok(), "app:stable");
    let repo_tags = env
        .run(&["tag", "ls", "--repo", "app", "--json"])
        .await
        .json();
    assert_eq!(repo_tags.as_array().unwrap().len(), 1);
    assert_eq!(
        (&repo_tags[0]["reference"], &repo_tags[0]["description"]),
        (&json!("app:stable"), &json!("good"))
    );
    let all = env.run(&["tag", "ls", "--all", "--json"]).await.json();
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["reference"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["base", "app:stable"]);
    let listed = env.run(&["tag", "ls"]).await;
    assert!(listed.ok().starts_with("TAG "), "{listed:?}");
    let from_repo = env.run(&["vm", "restore", "--tag", "app:stable"]).await;
    assert_eq!(env.sh(from_repo.ok(), "cat /root/marker").await, "v1");

    // Lineage: a commit of the VM restored from `second` descends from it.
    let grandchild = env.run(&["vm", "commit", restored.ok()]).await;
    let chain = env.run(&["vm", "parents", grandchild.ok(), "--json"]).await;
    let chain = chain.json();
    let ids: Vec<&str> = chain
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [grandchild.ok(), second_id.as_str()]);

    // A tag whose commit was deleted says how to repair it.
    let doomed_vm = env.new_vm().await;
    let doomed = env
        .run(&["vm", "commit", &doomed_vm, "--tag", "doomed"])
        .await;
    let doomed = doomed.ok().to_owned();
    env.run(&["vm", "rm", &doomed_vm]).await.ok();
    env.run(&["vm", "commit-rm", &doomed]).await.ok();
    fails(
        &env.run(&["vm", "restore", "--tag", "doomed"]).await,
        1,
        "move it (`tether tag move doomed COMMIT`) or remove it (`tether tag rm doomed`)",
    );
    fails(
        &env.run(&["tag", "create", "late", &doomed]).await,
        1,
        "does not exist or was deleted",
    );
    let removed = env.run(&["tag", "rm", "doomed", "--json"]).await;
    assert_eq!(removed.json(), json!({ "deleted": "doomed" }));

    // Publishing a commit lists it among the public ones.
    let published = env
        .run(&["vm", "publish", &first_id, "--name", "golden", "--json"])
        .await
        .json();
    assert_eq!(
        (&published["is_public"], &published["name"]),
        (&json!(true), &json!("golden"))
    );
    let public = env
        .run(&["vm", "commits", "--public", "--json"])
        .await
        .json();
    assert_eq!(public[0]["commit_id"], json!(first_id));
    env.run(&["vm", "unpublish", &first_id]).await.ok();
    let public = env
        .run(&["vm", "commits", "--public", "--json"])
        .await
        .json();
    assert_eq!(public, json!([]));
}

#[tokio::test]
async fn repositories_are_private_until_published_then_branched_and_forked_by_another_key() {
    let env = Env::start().await;
    let other = env.sim.add_key(None).await.unwrap();
    let org = env.run(&["whoami", "--json"]).await.json()["org"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let vm = env.new_vm().await;
    env.sh(&vm, "echo shared > /root/marker").await;
    let commit = env.run(&["vm", "commit", &vm]).await.ok().to_owned();
    env.run(&["repo", "create", "base"]).await.ok();
    fails(
        &env.run(&["repo", "create", "base"]).await,
        2,
        "pick another name",
    );
    env.run(&["tag", "create", "base:v1", &commit]).await.ok();
    let theirs = format!("{org}/base:v1");

    let public = env.run_as(&other, &["repo", "public", "--json"]).await;
    assert_eq!(public.json(), json!([]));
    fails(
        &env.run_as(&other, &["vm", "branch", "--tag", &theirs])
            .await,
        1,
        "its owner keeps it private",
    );
    fails(
        &env.run_as(&other, &["repo", "fork", &theirs]).await,
        1,
        "`tether repo public`",
    );

    let published = env.run(&["repo", "publish", "base", "--json"]).await.json();
    assert_eq!(published["is_public"], json!(true));
    let public = env
        .run_as(&other, &["repo", "public", "--json"])
        .await
        .json();
    assert_eq!(public[0]["full_name"], json!(format!("{org}/base")));
    let shown = env
        .run_as(
            &other,
            &["repo", "public", &format!("{org}/base"), "--json"],
        )
        .await
        .json();
    assert_eq!(shown["tags"][0]["commit_id"], json!(commit));
    let tags = env
        .run_as(&other, &["repo", "tags", &format!("{org}/base"), "--json"])
        .await
        .json();
    assert_eq!(tags[0]["reference"], json!("base:v1"));
    let child = env
        .run_as(&other, &["vm", "branch", "--tag", &theirs])
        .await;
    let child = child.ok().to_owned();
    let marker = env
        .run_as(&other, &["exec", &child, "--", "cat /root/marker"])
        .await;
    assert_eq!(marker.ok(), "shared");

    fails(
        &env.run_as(&other, &["tag", "move", &theirs, &commit]).await,
        2,
        "`tether repo fork",
    );
    fails(
        &env.run_as(&other, &["repo", "fork", "base:v1"]).await,
        2,
        "org/repo:tag",
    );
    let fork = env
        .run_as(&other, &["repo", "fork", &theirs, "--as", "mine", "--json"])
        .await
        .json();
    assert_eq!(fork["reference"], json!("mine:v1"));
    let forked_vm = fork["vm_id"].as_str().unwrap();
    let marker = env
        .run_as(&other, &["exec", forked_vm, "--", "cat /root/marker"])
        .await;
    assert_eq!(marker.ok(), "shared");
    let mine = env
        .run_as(&other, &["tag", "ls", "--repo", "mine", "--json"])
        .await
        .json();
    assert_eq!(mine[0]["commit_id"], fork["commit_id"]);

    let shown = env.run(&["repo", "show", "base", "--json"]).await.json();
    assert_eq!(
        (&shown["repository"]["name"], &shown["tags"][0]["reference"]),
        (&json!("base"), &json!("base:v1"))
    );
    env.run(&["repo", "unpublish", "base"]).await.ok();
    let public = env.run_as(&other, &["repo", "public", "--json"]).await;
    assert_eq!(public.json(), json!([]));
    let listed = env.run(&["repo", "ls", "--json"]).await.json();
    assert_eq!(
        (&listed[0]["name"], &listed[0]["is_public"]),
        (&json!("base"), &json!(false))
    );
    env.run(&["repo", "rm", "base"]).await.ok();
    fails(
        &env.run(&["repo", "show", "base"]).await,
        1,
        "`tether repo ls`",
    );
}

#[tokio::test]
async fn labels_disks_variables_domains_and_whoami() {
    let env = Env::start().await;
    let who = env.run(&["whoami", "--json"]).await.json();
    assert!(!who["org"]["name"].as_str().unwrap().is_empty(), "{who}");
    assert!(!who["api_key"]["id"].as_str().unwrap().is_empty(), "{who}");
    assert_eq!(
        who["api_url"],
        json!(format!("{}/api/v1", env.sim.info().vers_url))
    );
    assert!(
        !who["version"]["workspace_version"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    let set = env
        .run(&["env", "set", "GREETING=hello there", "A=1", "--json"])
        .await;
    assert_eq!(
        set.json(),
        json!({"vars": {"A": "1", "GREETING": "hello there"}})
    );
    let web = env
        .run(&["vm", "new", "--label", "role=web", "--label", "team=a"])
        .await
        .ok()
        .to_owned();
    let greeting = env
        .run(&["exec", "--api", &web, "--", "echo \"$GREETING\""])
        .await;
    assert_eq!(greeting.ok(), "hello there");
    let over_ssh = env.run(&["exec", &web, "--", "echo \"$GREETING\""]).await;
    assert_eq!(
        over_ssh.ok(),
        "hello there",
        "SSH sessions read /etc/environment"
    );
    env.run(&["env", "rm", "A"]).await.ok();
    fails(&env.run(&["env", "rm", "A"]).await, 1, "`tether env ls`");
    let replaced = env.run(&["env", "set", "ONLY=1", "--replace"]).await;
    assert_eq!(replaced.ok(), "ONLY=1");
    assert_eq!(env.run(&["env", "ls"]).await.ok(), "ONLY=1");

    let db = env
        .run(&["vm", "new", "--label", "role=db"])
        .await
        .ok()
        .to_owned();
    let ids = |run: Run| -> Vec<String> {
        run.json()
            .as_array()
            .unwrap()
            .iter()
            .map(|vm| vm["vm_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let filtered = env
        .run(&["vm", "ls", "--label", "role=web", "--json"])
        .await;
    assert_eq!(ids(filtered), std::slice::from_ref(&web));
    let both = env
        .run(&[
            "vm", "ls", "--label", "role=db", "--label", "team=a", "--json",
        ])
        .await;
    assert!(ids(both).is_empty());
    let listed = env.run(&["vm", "ls", "--label", "role=db"]).await;
    assert!(
        listed.ok().contains(&format!("{db}  running")),
        "{listed:?}"
    );
    assert!(listed.ok().ends_with("role=db"), "{listed:?}");
    let labelled = env
        .run(&["vm", "label", &db, "team=b", "role=cache", "--json"])
        .await;
    assert_eq!(
        labelled.json(),
        json!({"vm_id": db, "labels": {"role": "cache", "team": "b"}})
    );
    let removed = env.run(&["vm", "label", &db, "--rm", "team"]).await;
    assert_eq!(removed.ok(), "role=cache");
    fails(
        &env.run(&["vm", "label", &db, "--rm", "team"]).await,
        1,
        &format!("`tether vm info {db}`"),
    );
    let replaced = env
        .run(&["vm", "label", &db, "only=this", "--replace"])
        .await;
    assert_eq!(replaced.ok(), "only=this");

    let grown = env.run(&["vm", "disk", &db, "4096", "--json"]).await;
    assert_eq!(grown.json(), json!({"vm_id": db, "fs_size_mib": 4096}));
    fails(
        &env.run(&["vm", "disk", &db, "2048"]).await,
        2,
        "disks only grow; ask for more than 4096 MiB",
    );

    let added = env
        .run(&["domain", "add", "app.example.test", &web, "--json"])
        .await
        .json();
    let domain_id = added["domain_id"].as_str().unwrap().to_owned();
    assert_eq!(keys(&added), ["created_at", "domain", "domain_id", "vm_id"]);
    fails(
        &env.run(&["domain", "add", "app.example.test", &db]).await,
        2,
        "`tether domain rm ID`",
    );
    let of_web = env.run(&["domain", "ls", "--vm", &web, "--json"]).await;
    assert_eq!(of_web.json(), json!([added]));
    let of_db = env.run(&["domain", "ls", "--vm", &db, "--json"]).await;
    assert_eq!(of_db.json(), json!([]));
    let shown = env.run(&["domain", "show", &domain_id, "--json"]).await;
    assert_eq!(shown.json(), added);
    assert_eq!(env.run(&["domain", "rm", &domain_id]).await.ok(), domain_id);
    fails(
        &env.run(&["domain", "show", &domain_id]).await,
        1,
        "`tether domain ls`",
    );
}
