//! The simulator against Vers's own OpenAPI description (`vers-api/orchestrator.openapi.yaml`,
//! a copy of Vers's published spec): every operation is routed, and schemathesis (a tool
//! nobody here wrote) finds no response that breaks the spec.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "api_harness.rs"]
mod harness;

use std::process::Stdio;
use std::time::Duration;

use harness::Harness;
use reqwest::Method;
use serde_json::{Value, json};

/// Vers's OpenAPI description, as published.
const SPEC: &str = include_str!("vers-api/orchestrator.openapi.yaml");

/// The number of operations in [`SPEC`].
const OPERATIONS: usize = 51;

/// How long schemathesis may run (it is bounded by `--max-examples`; this only stops a hang).
const SCHEMATHESIS_DEADLINE: Duration = Duration::from_secs(300);

/// Test cases per operation and phase: enough to reach every operation's error paths and some
/// of its successes, few enough to fit CI on two cores.
const MAX_EXAMPLES: &str = "60";

macro_rules! harness {
    () => {
        match Harness::start().await {
            Some(harness) => harness,
            None => return,
        }
    };
}

fn spec() -> Value {
    serde_yaml_ng::from_str(SPEC).expect("the spec is YAML")
}

/// `(METHOD, path)` of every operation in the spec.
fn operations(spec: &Value) -> Vec<(String, String)> {
    let paths = spec["paths"].as_object().expect("paths");
    let mut ops = vec![];
    for (path, item) in paths {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "patch", "delete"].contains(&method.as_str()) {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// `path` with each `{param}` filled: ids get an unknown UUID, names an unknown name.
fn fill(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("closed parameter") + start;
        out.push_str(&rest[..start]);
        let name = &rest[start + 1..end];
        out.push_str(if name.ends_with("id") {
            "00000000-0000-4000-8000-000000000000"
        } else {
            "no-such-name"
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_of_the_vers_spec_is_routed() {
    let h = harness!();
    let ops = operations(&spec());
    assert_eq!(ops.len(), OPERATIONS, "the spec changed: {ops:?}");
    let mut unrouted = vec![];
    for (method, path) in &ops {
        let url = fill(path.strip_prefix("/api/v1").expect("under /api/v1"));
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
        let reply = h.call(method.clone(), &url, body).await;
        let message = reply.body["error"].as_str().unwrap_or_default();
        // The simulator's fallback answers both an unknown path and a method the path does
        // not take; axum's own defaults would be an empty 404 or 405.
        let fallback = message.starts_with("no route ")
            || (matches!(reply.status, 404 | 405) && reply.body.is_null());
        if fallback {
            unrouted.push(format!("{method} {path}: {} {message}", reply.status));
        }
    }
    assert!(
        unrouted.is_empty(),
        "{} of {OPERATIONS} operations are not routed:\n{}",
        unrouted.len(),
        unrouted.join("\n")
    );
}

/// Codes the spec leaves out although Vers returns them, added to every operation before
/// schemathesis runs: 400 (a body that is not JSON, a bad query string or path parameter)
/// and 422 (JSON of the wrong shape) are the rejections of Vers's HTTP framework (see the
/// notes beside the spec), 409 a VM that is paused or still booting for an exec.
fn add_undocumented_rejections(spec: &mut Value) {
    let error = json!({
        "description": "rejected (not in Vers's spec; Vers answers so too)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    });
    let paths = spec["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for op in item.as_object_mut().expect("path item").values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            let mut codes = vec!["400", "422"];
            if path.contains("/exec") || path.ends_with("/logs") {
                codes.push("409");
            }
            for code in codes {
                responses.entry(code).or_insert_with(|| error.clone());
            }
        }
    }
}

/// Makes one of each resource and returns a schemathesis config that fills path parameters
/// with them, so generated requests reach successes as well as 404s.
async fn seed_resources(h: &Harness) -> String {
    let vm = h.new_vm().await;
    let commit = h.post(&format!("/vm/{vm}/commit"), json!({})).await.ok()["commit_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.post(
        "/commit_tags",
        json!({"tag_name": "seeded", "commit_id": commit}),
    )
    .await
    .ok();
    h.post("/repositories", json!({"name": "seeded"}))
        .await
        .ok();
    h.post(
        "/repositories/seeded/tags",
        json!({"tag_name": "seeded", "commit_id": commit}),
    )
    .await
    .ok();
    h.call(
        Method::PATCH,
        "/repositories/seeded/visibility",
        Some(json!({"is_public": true})),
    )
    .await
    .ok();
    let domain = h
        .post(
            "/domains",
            json!({"domain": "seeded.example.com", "vm_id": vm}),
        )
        .await
        .ok()["domain_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.call(
        Method::PUT,
        "/env_vars",
        Some(json!({"vars": {"SEEDED": "1"}})),
    )
    .await
    .ok();
    let org = h.get("/whoami").await.ok()["org"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    format!(
        "[parameters]\n\
         vm_id = \"{vm}\"\n\
         vm_or_commit_id = \"{commit}\"\n\
         commit_id = \"{commit}\"\n\
         tag_name = \"seeded\"\n\
         repo_name = \"seeded\"\n\
         org_name = \"{org}\"\n\
         domain_id = \"{domain}\"\n\
         key = \"SEEDED\"\n"
    )
}

/// The schemathesis CLI, if installed: on PATH, or where `python3` puts its scripts (pip's
/// target when PATH lacks it). Without it the test skips, except in CI.
fn schemathesis() -> Option<std::path::PathBuf> {
    let scripts = std::process::Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|out| std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(scripts)
        .map(|dir| dir.join("schemathesis"))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is not installed; .ci/run installs it with pip"
        );
        eprintln!("SKIP: schemathesis is not installed; `pip install schemathesis==4.32.5`");
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_response_that_breaks_the_vers_spec() {
    let Some(schemathesis) = schemathesis() else {
        return;
    };
    let h = harness!();
    let dir = tempfile::tempdir().unwrap();
    let mut spec = spec();
    assert_eq!(
        spec["components"]["schemas"]["ErrorResponse"]["type"],
        "object"
    );
    add_undocumented_rejections(&mut spec);
    let spec_path = dir.path().join("openapi.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let config = seed_resources(&h).await;
    std::fs::write(dir.path().join("schemathesis.toml"), config).unwrap();
    let seed = std::env::var("TETHER_SCHEMATHESIS_SEED").unwrap_or_else(|_| "1".to_owned());
    let mut command = tokio::process::Command::new(schemathesis);
    command
        .arg("run")
        .arg(&spec_path)
        .args(["--url", &h.info().vers_url])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", h.info().api_key),
        ])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance",
        ])
        // One worker: with two, hypothesis 6 (under schemathesis 4.32.5) races in its
        // lambda-source cache and reports a runtime error for an operation.
        .args(["--max-examples", MAX_EXAMPLES, "--workers", "1"])
        .args(["--seed", &seed, "--generation-database", "none"])
        .args(["--request-timeout", "60", "--no-color"])
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(SCHEMATHESIS_DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {SCHEMATHESIS_DEADLINE:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "schemathesis (seed {seed}) found failures:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("Tested: {OPERATIONS}")),
        "schemathesis did not test all {OPERATIONS} operations:\n{stdout}"
    );
}
