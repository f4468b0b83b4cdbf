//! Bad input gets one clear line that says what to do, and the documented exit code.

use serde_json::json;

use crate::{Env, redact};

const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

#[tokio::test]
async fn bad_input_gets_actionable_errors() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let mut report = String::new();
    let mut record = |what: &str, run: &crate::Run| {
        report.push_str(&format!(
            "{what}: exit {}\n{}\n",
            run.code,
            run.stderr.trim_end()
        ));
    };

    record(
        "unknown VM",
        &env.run(&["exec", UNKNOWN, "--", "true"]).await,
    );
    record("unknown prefix", &env.run(&["vm", "info", "zzz"]).await);
    let mut wrong_key = env.command(&["vm", "ls"]);
    wrong_key.env("VERS_API_KEY", "not-the-key");
    record("wrong key", &crate::run(wrong_key, None).await);
    record(
        "missing local file",
        &env.run(&["cp", "nope.txt", &format!("vm:{vm}:/root/x")])
            .await,
    );
    record(
        "missing VM file",
        &env.run(&["cp", &format!("vm:{vm}:/root/nope"), "x"]).await,
    );
    record(
        "directory without -r",
        &env.run(&["cp", &format!("vm:{vm}:/root"), "x"]).await,
    );
    record("bad VM path", &env.run(&["cp", "vm:nope", "x"]).await);
    record(
        "bad cwd",
        &env.run(&["exec", &vm, "--cwd", "/nope", "--", "true"])
            .await,
    );
    record(
        "unknown commit",
        &env.run(&["vm", "restore", UNKNOWN]).await,
    );

    env.run(&["vm", "pause", &vm]).await.ok();
    let resumed = env.run(&["exec", &vm, "--", "echo resumed"]).await;
    assert_eq!(
        (resumed.code, resumed.stdout.as_str()),
        (0, "resumed\n"),
        "{resumed:?}"
    );

    env.run(&["vm", "rm", &vm]).await.ok();
    record("deleted VM", &env.run(&["exec", &vm, "--", "true"]).await);

    let json = env.run(&["vm", "info", UNKNOWN, "--json"]).await;
    assert_eq!(json.code, 1);
    let error = json.json();
    assert_eq!(error["error"]["kind"], "not_found");
    assert_eq!(error["error"]["exit_code"], json!(1));
    assert!(json.stderr.is_empty(), "{json:?}");
    let usage = env.run(&["vm", "branch", "--json"]).await;
    assert_eq!(
        (usage.code, &usage.json()["error"]["kind"]),
        (2, &json!("usage"))
    );

    insta::assert_snapshot!(redact(
        &report,
        &[(&vm, "<vm>"), (env.home.path().to_str().unwrap(), "<home>")]
    ));
}

#[tokio::test]
async fn sim_refuses_an_unknown_backend_and_lists_the_ones_it_has() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("sim");
    let data = data.to_str().unwrap();
    let run = crate::run(
        crate::bare_command(home.path(), &["sim", "--backend", "kvm", "--data", data]),
        None,
    )
    .await;
    assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{run:?}");
    insta::assert_snapshot!(run.stderr);
    assert!(
        !home.path().join("sim").exists(),
        "a refused start must not create the data directory"
    );
}
