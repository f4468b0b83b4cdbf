//! What the simulator keeps beside VMs, in-process: tags that move, repositories seen across
//! two organisations' keys, forks, commit lineage, labels, account env vars, disk resize,
//! domains — and that all of it survives a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "api_harness.rs"]
mod harness;

use harness::{Harness, Reply};
use reqwest::Method;
use serde_json::{Value, json};

macro_rules! harness {
    () => {
        match Harness::start().await {
            Some(harness) => harness,
            None => return,
        }
    };
}

/// A second organisation with its own key.
struct Other {
    key: String,
    org: String,
}

fn other(h: &Harness) -> Other {
    let added = tether_sim::add_key(h.data_dir(), None, Some("second owner")).unwrap();
    Other {
        key: added.api_key,
        org: added.org_name,
    }
}

async fn as_other(
    h: &Harness,
    other: &Other,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Reply {
    h.send(method, path, body.map(|b| b.to_string()), Some(&other.key))
        .await
}

async fn patch(h: &Harness, path: &str, body: Value) -> Reply {
    h.call(Method::PATCH, path, Some(body)).await
}

/// Writes `text` to /root/state and commits; returns the commit id.
async fn commit_state(h: &Harness, vm: &str, text: &str) -> String {
    h.ok_sh(vm, &format!("echo {text} > /root/state")).await;
    let reply = h.post(&format!("/vm/{vm}/commit"), json!({})).await.ok();
    reply["commit_id"].as_str().unwrap().to_owned()
}

/// The one VM of a branch reply.
fn only_vm(reply: Value) -> String {
    let vms = reply["vms"].as_array().unwrap();
    assert_eq!(vms.len(), 1, "{reply}");
    vms[0]["vm_id"].as_str().unwrap().to_owned()
}

async fn state_of(h: &Harness, vm: &str) -> String {
    h.ok_sh(vm, "cat /root/state").await
}

/// /root/state of another organisation's VM.
async fn state_as(h: &Harness, other: &Other, vm: &str) -> String {
    let body = json!({"command": ["cat", "/root/state"]});
    let reply = as_other(
        h,
        other,
        Method::POST,
        &format!("/vm/{vm}/exec"),
        Some(body),
    )
    .await;
    reply.ok()["stdout"].as_str().unwrap().to_owned()
}

/// A branch route's error: Vers answers `{"vms": [], "error": ...}` there.
fn branch_error(reply: &Reply, status: u16) -> &str {
    assert_eq!(
        (reply.status, &reply.body["vms"]),
        (status, &json!([])),
        "{reply:?}"
    );
    reply.body["error"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tag_moves_and_branch_or_restore_by_it_follows_where_it_points_now() {
    let h = harness!();
    let vm = h.new_vm().await;
    let v1 = commit_state(&h, &vm, "v1").await;
    let v2 = commit_state(&h, &vm, "v2").await;
    let made = h
        .post("/commit_tags", json!({"tag_name": "good", "commit_id": v1}))
        .await;
    assert_eq!((made.status, &made.body["commit_id"]), (201, &json!(v1)));
    let first = only_vm(h.post("/vm/branch/by_tag/good", json!({})).await.ok());
    assert_eq!(state_of(&h, &first).await, "v1\n");

    assert_eq!(
        patch(&h, "/commit_tags/good", json!({"commit_id": v2}))
            .await
            .status,
        204
    );
    let restored = h
        .post("/vm/from_commit", json!({"tag_name": "good"}))
        .await
        .ok();
    let restored = restored["vm_id"].as_str().unwrap();
    assert_eq!(state_of(&h, restored).await, "v2\n");
    assert_eq!(
        h.get("/commit_tags/good").await.ok()["commit_id"],
        json!(v2)
    );

    let duplicate = h
        .post("/commit_tags", json!({"tag_name": "good", "commit_id": v1}))
        .await;
    assert!(
        duplicate
            .error(409)
            .contains("move it with PATCH /api/v1/commit_tags/good"),
        "{duplicate:?}"
    );
    let unknown = h.post("/vm/branch/by_tag/nope", json!({})).await;
    assert!(
        branch_error(&unknown, 404).contains("list tags with GET /api/v1/commit_tags"),
        "{unknown:?}"
    );
    // A tag whose commit is deleted says so, and how to fix it.
    h.delete(&format!("/vm/{first}")).await.ok();
    h.post("/commit_tags", json!({"tag_name": "old", "commit_id": v1}))
        .await
        .ok();
    assert_eq!(h.delete(&format!("/commits/{v1}")).await.status, 204);
    let dangling = h.post("/vm/branch/by_tag/old", json!({})).await;
    assert!(
        branch_error(&dangling, 404).contains("which was deleted; move the tag"),
        "{dangling:?}"
    );
    let on_deleted = h
        .post("/commit_tags", json!({"tag_name": "new", "commit_id": v1}))
        .await;
    assert!(
        on_deleted
            .error(404)
            .contains("was deleted; list commits with GET /api/v1/commits"),
        "{on_deleted:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repositories_are_private_to_their_organisation_until_public_and_a_fork_is_a_copy() {
    let h = harness!();
    let other = other(&h);
    let org = h.get("/whoami").await.ok()["org"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let vm = h.new_vm().await;
    let v1 = commit_state(&h, &vm, "v1").await;
    let v2 = commit_state(&h, &vm, "v2").await;
    assert_eq!(
        h.post("/repositories", json!({"name": "app"})).await.status,
        201
    );
    let tag = h
        .post(
            "/repositories/app/tags",
            json!({"tag_name": "stable", "commit_id": v1}),
        )
        .await
        .ok();
    assert_eq!(tag["reference"], json!("app:stable"));
    let mine = only_vm(h.post("/vm/branch/by_ref/app/stable", json!({})).await.ok());
    assert_eq!(state_of(&h, &mine).await, "v1\n");

    // Private: invisible to the other organisation, by every route.
    let public_path = format!("/public/repositories/{org}/app");
    let hidden = as_other(&h, &other, Method::GET, &public_path, None).await;
    assert!(
        hidden.error(404).contains("owner keeps it private"),
        "{hidden:?}"
    );
    let listed = as_other(&h, &other, Method::GET, "/public/repositories", None)
        .await
        .ok();
    assert_eq!(listed["repositories"], json!([]));
    let reference = format!("{org}/app:stable");
    let refused = as_other(
        &h,
        &other,
        Method::POST,
        "/vm/from_commit",
        Some(json!({"ref": reference})),
    )
    .await;
    assert_eq!(refused.status, 404, "{refused:?}");
    let fork = json!({"source_org": org, "source_repo": "app", "source_tag": "stable"});
    let refused = as_other(
        &h,
        &other,
        Method::POST,
        "/repositories/fork",
        Some(fork.clone()),
    )
    .await;
    assert_eq!(refused.status, 404, "{refused:?}");
    let own = as_other(&h, &other, Method::GET, "/repositories/app", None).await;
    assert_eq!(own.status, 404, "{own:?}");

    // Public: listed, its tags readable and restorable by the other key.
    assert_eq!(
        patch(
            &h,
            "/repositories/app/visibility",
            json!({"is_public": true})
        )
        .await
        .status,
        204
    );
    let listed = as_other(&h, &other, Method::GET, "/public/repositories", None)
        .await
        .ok();
    assert_eq!(
        listed["repositories"][0]["full_name"],
        json!(format!("{org}/app"))
    );
    let tags = as_other(
        &h,
        &other,
        Method::GET,
        &format!("{public_path}/tags"),
        None,
    )
    .await
    .ok();
    assert_eq!(tags["tags"][0]["commit_id"], json!(v1));
    let theirs = as_other(
        &h,
        &other,
        Method::POST,
        "/vm/from_commit",
        Some(json!({"ref": reference})),
    )
    .await;
    assert_eq!(theirs.status, 201, "{theirs:?}");
    let theirs = theirs.body["vm_id"].as_str().unwrap().to_owned();
    assert_eq!(state_as(&h, &other, &theirs).await, "v1\n");
    assert_eq!(
        h.get(&format!("/vm/{theirs}/status")).await.status,
        403,
        "a VM of the other org"
    );

    // A fork copies the tag: moving the source later leaves the fork where it was.
    let forked = as_other(&h, &other, Method::POST, "/repositories/fork", Some(fork)).await;
    assert_eq!(forked.status, 201, "{forked:?}");
    assert_eq!(forked.body["reference"], json!("app:stable"));
    assert_ne!(
        forked.body["commit_id"],
        json!(v1),
        "the fork commits its own copy"
    );
    patch(
        &h,
        "/repositories/app/tags/stable",
        json!({"commit_id": v2}),
    )
    .await;
    let src = only_vm(h.post("/vm/branch/by_ref/app/stable", json!({})).await.ok());
    assert_eq!(state_of(&h, &src).await, "v2\n");
    let copy = as_other(
        &h,
        &other,
        Method::POST,
        "/vm/branch/by_ref/app/stable",
        Some(json!({})),
    )
    .await;
    let copy = only_vm(copy.ok());
    assert_eq!(state_as(&h, &other, &copy).await, "v1\n");
    let other_org = &other.org;
    let again = h
        .post(
            "/repositories/fork",
            json!({"source_org": other_org, "source_repo": "app", "source_tag": "stable"}),
        )
        .await;
    assert_eq!(again.status, 404, "the fork is private: {again:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn parents_follow_the_lineage_and_patch_renames_and_publishes() {
    let h = harness!();
    let vm = h.new_vm().await;
    let c1 = commit_state(&h, &vm, "one").await;
    let restored = h
        .post("/vm/from_commit", json!({"commit_id": c1}))
        .await
        .ok();
    let restored = restored["vm_id"].as_str().unwrap().to_owned();
    let c2 = commit_state(&h, &restored, "two").await;
    let parents = h.get(&format!("/vm/commits/{c2}/parents")).await.ok();
    let ids: Vec<&Value> = parents
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&json!(c2), &json!(c1)], "{parents}");
    assert_eq!(parents[0]["parent_vm_id"], json!(restored));
    assert_eq!(parents[0]["grandparent_commit_id"], json!(c1));

    let info = patch(
        &h,
        &format!("/commits/{c1}"),
        json!({"is_public": true, "name": "base"}),
    )
    .await
    .ok();
    assert_eq!(
        (&info["name"], &info["is_public"]),
        (&json!("base"), &json!(true))
    );
    let public = h.get("/commits/public").await.ok();
    let names: Vec<&Value> = public["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(names, vec![&json!("base")]);
    let other = other(&h);
    let by_other = as_other(
        &h,
        &other,
        Method::POST,
        "/vm/from_commit",
        Some(json!({"commit_id": c1})),
    )
    .await;
    assert_eq!(
        by_other.status, 201,
        "a public commit restores for anyone: {by_other:?}"
    );
    let private = as_other(
        &h,
        &other,
        Method::POST,
        "/vm/from_commit",
        Some(json!({"commit_id": c2})),
    )
    .await;
    assert_eq!(private.status, 403, "{private:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_upsert_replace_delete_and_show_in_listings_and_metadata() {
    let h = harness!();
    let made = h
        .post(
            "/vm/new_root?wait_boot=true",
            json!({"vm_config": {"labels": {"team": "a"}}}),
        )
        .await
        .ok();
    let vm = made["vm_id"].as_str().unwrap().to_owned();
    let labels = async || {
        let listed = h.get("/vm").await.ok();
        let entry = listed
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["vm_id"] == json!(vm))
            .unwrap()
            .clone();
        let meta = h.get(&format!("/vm/{vm}/metadata")).await.ok();
        assert_eq!(
            meta.get("labels").cloned().unwrap_or(json!({})),
            entry["labels"]
        );
        entry["labels"].clone()
    };
    assert_eq!(labels().await, json!({"team": "a"}));
    assert_eq!(
        patch(
            &h,
            &format!("/vm/{vm}/label"),
            json!({"labels": {"role": "web", "team": "b"}})
        )
        .await
        .status,
        200
    );
    assert_eq!(labels().await, json!({"team": "b", "role": "web"}));
    let put = h
        .call(
            Method::PUT,
            &format!("/vm/{vm}/labels"),
            Some(json!({"labels": {"only": "x"}})),
        )
        .await;
    assert_eq!(put.status, 200);
    assert_eq!(labels().await, json!({"only": "x"}));
    assert_eq!(h.delete(&format!("/vm/{vm}/label/only")).await.status, 200);
    assert_eq!(labels().await, json!({}));
    let missing = h.delete(&format!("/vm/{vm}/label/only")).await;
    assert!(missing.error(404).contains("has no label"), "{missing:?}");
    let no_field = patch(&h, &format!("/vm/{vm}/label"), json!({})).await;
    assert_eq!(no_field.status, 422, "{no_field:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn env_vars_reach_only_vms_created_afterwards_and_disks_grow_but_never_shrink() {
    let h = harness!();
    let before = h.new_vm().await;
    let set = h
        .call(
            Method::PUT,
            "/env_vars",
            Some(json!({"vars": {"GREETING": "hi"}})),
        )
        .await
        .ok();
    assert_eq!(set["vars"], json!({"GREETING": "hi"}));
    let after = h.new_vm().await;
    assert_eq!(h.ok_sh(&after, "echo ${GREETING-unset}").await, "hi\n");
    assert_eq!(h.ok_sh(&before, "echo ${GREETING-unset}").await, "unset\n");
    let replaced = h
        .call(
            Method::PUT,
            "/env_vars",
            Some(json!({"vars": {"OTHER": "1"}, "replace": true})),
        )
        .await
        .ok();
    assert_eq!(replaced["vars"], json!({"OTHER": "1"}));
    let bad = h
        .call(
            Method::PUT,
            "/env_vars",
            Some(json!({"vars": {"1BAD": "x"}})),
        )
        .await;
    assert_eq!(bad.status, 400, "{bad:?}");
    assert_eq!(h.delete("/env_vars/OTHER").await.status, 204);
    assert_eq!(h.delete("/env_vars/OTHER").await.status, 404);

    let disk = format!("/vm/{before}/disk");
    assert_eq!(
        patch(&h, &disk, json!({"fs_size_mib": 4096})).await.status,
        200
    );
    let shrink = patch(&h, &disk, json!({"fs_size_mib": 2048})).await;
    let message = shrink.error(400);
    assert!(
        message.contains("4096") && message.contains("2048"),
        "{message}"
    );
    let same = patch(&h, &disk, json!({"fs_size_mib": 4096})).await;
    assert_eq!(same.status, 400, "{same:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_repositories_labels_env_domains_logs_and_keys_survive_a_restart() {
    let mut h = harness!();
    let other = other(&h);
    let vm = h
        .post(
            "/vm/new_root?wait_boot=true",
            json!({"vm_config": {"labels": {"keep": "me"}}}),
        )
        .await
        .ok()["vm_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let commit = commit_state(&h, &vm, "kept").await;
    h.post(
        "/commit_tags",
        json!({"tag_name": "kept", "commit_id": commit}),
    )
    .await
    .ok();
    h.post("/repositories", json!({"name": "app"})).await.ok();
    h.post(
        "/repositories/app/tags",
        json!({"tag_name": "v1", "commit_id": commit}),
    )
    .await
    .ok();
    patch(
        &h,
        "/repositories/app/visibility",
        json!({"is_public": true}),
    )
    .await
    .ok();
    patch(
        &h,
        &format!("/commits/{commit}"),
        json!({"is_public": false, "name": "named"}),
    )
    .await
    .ok();
    h.call(
        Method::PUT,
        "/env_vars",
        Some(json!({"vars": {"KEPT": "yes"}})),
    )
    .await
    .ok();
    patch(&h, &format!("/vm/{vm}/disk"), json!({"fs_size_mib": 4096}))
        .await
        .ok();
    let domain = h
        .post(
            "/domains",
            json!({"domain": "kept.example.com", "vm_id": vm}),
        )
        .await
        .ok();
    h.ok_sh(&vm, "echo logged; echo also >&2").await;
    let logs_before = h.get(&format!("/vm/{vm}/logs")).await.ok();
    assert!(!logs_before["entries"].as_array().unwrap().is_empty());

    h.restart(None).await;

    assert_eq!(
        h.get("/commit_tags/kept").await.ok()["commit_id"],
        json!(commit)
    );
    assert_eq!(
        h.get("/repositories/app/tags/v1").await.ok()["commit_id"],
        json!(commit)
    );
    assert_eq!(
        h.get("/repositories/app").await.ok()["is_public"],
        json!(true)
    );
    let commits = h.get("/commits").await.ok();
    assert_eq!(commits["commits"][0]["name"], json!("named"));
    assert_eq!(
        h.get("/env_vars").await.ok()["vars"],
        json!({"KEPT": "yes"})
    );
    let status = h.get(&format!("/vm/{vm}/status")).await.ok();
    assert_eq!(status["labels"], json!({"keep": "me"}));
    let shrink = patch(&h, &format!("/vm/{vm}/disk"), json!({"fs_size_mib": 2048})).await;
    assert!(shrink.error(400).contains("4096"), "{shrink:?}");
    let domain_id = domain["domain_id"].as_str().unwrap();
    assert_eq!(
        h.get(&format!("/domains/{domain_id}")).await.ok()["domain"],
        json!("kept.example.com")
    );
    assert_eq!(h.get(&format!("/vm/{vm}/logs")).await.ok(), logs_before);
    let theirs = as_other(&h, &other, Method::GET, "/whoami", None)
        .await
        .ok();
    assert_eq!(theirs["org"]["name"], json!(other.org));
    let restored = h.post("/vm/branch/by_ref/app/v1", json!({})).await.ok();
    assert_eq!(state_of(&h, &only_vm(restored)).await, "kept\n");
}

/// Opens TLS to the gateway with `name` as SNI, trusting only the simulator's CA, and reads
/// the first line the far end sends.
async fn gateway_banner(h: &Harness, name: &str) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt;
    let pem = std::fs::read(&h.info().ca_cert).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(&h.info().ssh_gateway).await?;
    let server = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let mut tls = harness::within("TLS", connector.connect(server, tcp)).await?;
    let mut banner = vec![0; 8];
    harness::within("the banner", tls.read_exact(&mut banner)).await?;
    Ok(String::from_utf8_lossy(&banner).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapped_domain_reaches_its_vm_through_the_gateway_until_it_is_deleted() {
    let h = harness!();
    let vm = h.new_vm().await;
    assert!(
        gateway_banner(&h, "app.example.com").await.is_err(),
        "unmapped"
    );
    let made = h
        .post(
            "/domains",
            json!({"domain": "App.Example.com", "vm_id": vm}),
        )
        .await;
    assert_eq!(
        (made.status, &made.body["domain"]),
        (201, &json!("app.example.com"))
    );
    let taken = h
        .post(
            "/domains",
            json!({"domain": "app.example.com", "vm_id": vm}),
        )
        .await;
    assert!(
        taken.error(409).contains("delete that mapping first"),
        "{taken:?}"
    );
    let inside = h
        .post(
            "/domains",
            json!({"domain": format!("x.{}", h.info().vm_domain), "vm_id": vm}),
        )
        .await;
    assert_eq!(inside.status, 400, "{inside:?}");
    assert_eq!(
        gateway_banner(&h, "app.example.com").await.unwrap(),
        "SSH-2.0-"
    );
    let listed = h.get(&format!("/domains?vm_id={vm}")).await.ok();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let id = made.body["domain_id"].as_str().unwrap();
    assert_eq!(
        h.delete(&format!("/domains/{id}")).await.ok()["domain_id"],
        json!(id)
    );
    assert!(
        gateway_banner(&h, "app.example.com").await.is_err(),
        "deleted"
    );
    assert_eq!(h.get("/domains").await.ok(), json!([]));
}
