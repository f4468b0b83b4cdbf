//! `tether exec --api` survives a dropped connection to the API: the run goes on in the VM and
//! tether rejoins it, so the output is complete and in order and the exit code is the
//! command's. `tether vm attach` and `tether vm logs` rejoin and read runs explicitly.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tether_testkit::{Relay, STEP_DEADLINE, within};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::{Env, Run};

/// Prints `line1`..`line20`, waits for /tmp/go, prints `line21`..`line40`, exits 7.
const SCRIPT: &str = "for i in $(seq 1 20); do echo line$i; done; echo err >&2; \
                      while [ ! -e /tmp/go ]; do sleep 0.05; done; \
                      for i in $(seq 21 40); do echo line$i; done; exit 7";

fn lines(range: std::ops::RangeInclusive<u32>) -> String {
    range.map(|i| format!("line{i}\n")).collect()
}

#[tokio::test]
async fn exec_api_rejoins_the_run_after_the_connection_is_cut() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    let api = env.sim.info().vers_url.trim_start_matches("http://");
    let relay = Relay::start(api, Duration::ZERO).unwrap();

    let mut command = env.command(&["exec", "--api", &vm, "--", SCRIPT]);
    command
        .env("VERS_URL", format!("http://{}", relay.addr()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    within(STEP_DEADLINE, "the first half of the output", async {
        while !seen.ends_with("line20\n") {
            if stdout.read_line(&mut seen).await? == 0 {
                anyhow::bail!("tether ended early: {seen:?}");
            }
        }
        Ok(())
    })
    .await
    .unwrap();

    assert!(relay.cut() >= 1, "the exec stream went through the relay");
    env.sh(&vm, "touch /tmp/go").await;

    let mut stderr = child.stderr.take().unwrap();
    let (rest, errors, status) = within(STEP_DEADLINE, "tether exec --api to finish", async {
        let (mut rest, mut errors) = (String::new(), String::new());
        let (read_out, read_err) = tokio::join!(
            stdout.read_to_string(&mut rest),
            stderr.read_to_string(&mut errors)
        );
        read_out?;
        read_err?;
        Ok((rest, errors, child.wait().await?))
    })
    .await
    .unwrap();
    seen.push_str(&rest);
    assert_eq!(seen, lines(1..=40));
    assert_eq!(status.code(), Some(7), "{errors}");
    assert!(
        errors.contains("tether: connection lost, re-attaching…"),
        "{errors}"
    );
    assert_eq!(errors.matches("err\n").count(), 1, "{errors}");
}

#[tokio::test]
async fn runs_are_rejoined_by_id_and_read_from_the_log() {
    let env = Env::start().await;
    let vm = env.new_vm().await;
    env.sh(&vm, "touch /tmp/go").await;
    let run = env
        .run(&["exec", "--api", &vm, "--json", "-e", "X=1", "--", SCRIPT])
        .await;
    assert_eq!(run.code, 7, "{run:?}");
    let mut json = run.json();
    let exec_id = json["exec_id"].as_str().unwrap().to_owned();
    json["exec_id"] = json!("<id>");
    assert_eq!(
        json,
        json!({"vm_id": vm, "exec_id": "<id>", "outcome": "exited", "exit_code": 7,
               "signal": null, "stdout": lines(1..=40), "stderr": "err\n"})
    );

    let attached = env.run(&["vm", "attach", &vm, &exec_id]).await;
    assert_eq!(
        (
            attached.code,
            attached.stdout.as_str(),
            attached.stderr.as_str()
        ),
        (7, lines(1..=40).as_str(), "err\n")
    );
    let followed = env
        .run(&["vm", "logs", &vm, "--exec", &exec_id, "-f"])
        .await;
    assert_eq!((followed.code, followed.stdout), (7, lines(1..=40)));

    let other = env.run(&["exec", "--api", &vm, "--", "echo other"]).await;
    assert_eq!(other.ok(), "other");
    let log = env
        .run(&["vm", "logs", &vm, "--exec", &exec_id, "--json"])
        .await
        .json();
    let text: String = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["stream"] == "stdout")
        .map(|e| e["data"].as_str().unwrap())
        .collect();
    assert_eq!(text, lines(1..=40));
    assert!(log["next_offset"].as_u64().unwrap() > 0, "{log}");
    let whole = env.run(&["vm", "logs", &vm]).await;
    assert_eq!(whole.stdout, format!("{}other\n", lines(1..=40)));
    assert!(
        whole.stderr.contains(&format!("tether: exec {exec_id}")),
        "{whole:?}"
    );

    let unknown = "00000000-0000-4000-8000-000000000000";
    let missing: Run = env.run(&["vm", "attach", &vm, unknown]).await;
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing.stderr.contains(&format!("`tether vm logs {vm}`")),
        "{missing:?}"
    );
}
