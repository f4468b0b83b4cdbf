//! `tether swarm`: start, wait (exit codes, progress lines), read, send, keep, stop, ls, JSON, bad
//! input — the real binary, each command a fresh process that finds the swarm again.

use std::collections::BTreeSet;

use crate::Env;

async fn vms(env: &Env) -> BTreeSet<String> {
    let listed = env.run(&["--json", "vm", "ls"]).await.json();
    listed
        .as_array()
        .or_else(|| listed["vms"].as_array())
        .unwrap()
        .iter()
        .map(|vm| vm["vm_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_swarm_runs_is_gathered_read_kept_and_stopped() {
    let env = Env::start().await;
    let source = env.new_vm().await;
    env.run(&["use", &source]).await.ok();
    let before = vms(&env).await;

    let started = env
        .run(&[
            "--json",
            "swarm",
            "start",
            "-n",
            "3",
            "-e",
            "GREETING=hi",
            "--",
            "echo \"$GREETING from $TETHER_WORKER\"; [ $TETHER_WORKER != 2 ] || exit 4",
        ])
        .await;
    let status = started.json();
    let swarm = status["swarmId"].as_str().unwrap().to_owned();
    assert_eq!(
        status["workers"].as_array().unwrap().len(),
        3,
        "{started:?}"
    );
    assert_eq!(status["source"]["id"], source.as_str());

    // wait: progress lines on stderr (--progress), results on stdout, exit 5 (one failed).
    let waited = env.run(&["--progress", "swarm", "wait", &swarm[..5]]).await;
    assert_eq!(waited.code, 5, "{waited:?}");
    assert!(waited.stdout.contains("all finished"), "{waited:?}");
    assert!(waited.stdout.contains("hi from 0\n"), "{waited:?}");
    assert!(
        waited.stdout.contains("worker 2 (VM ") && waited.stdout.contains("failed (exit 4)"),
        "{waited:?}"
    );
    assert!(
        waited
            .stderr
            .contains(&format!("swarm {swarm}: 3 worker(s)")),
        "{waited:?}"
    );

    let read = env.run(&["swarm", "read", "1"]).await;
    assert_eq!(read.ok(), "hi from 1");
    // send: only agents take messages; the error says where commands go instead.
    let sent = env.run(&["swarm", "send", "-w", "1", "hello"]).await;
    assert_eq!(sent.code, 2, "{sent:?}");
    assert!(
        sent.stderr.contains("worker 1 of swarm")
            && sent.stderr.contains("runs a command, not an agent"),
        "{sent:?}"
    );
    let listed = env.run(&["swarm", "ls"]).await;
    assert!(listed.ok().contains(&swarm), "{listed:?}");
    let json_status = env.run(&["--json", "swarm", "status"]).await.json();
    assert_eq!(json_status["counts"]["done"], 2);
    assert_eq!(json_status["workers"][2]["exitCode"], 4);

    let kept = env.run(&["--json", "swarm", "keep", "0"]).await.json();
    let kept_vm = kept["kept"][0]["vmId"].as_str().unwrap().to_owned();
    assert_eq!(kept["deleted"].as_array().unwrap().len(), 2);
    let mut expected = before.clone();
    expected.insert(kept_vm.clone());
    assert_eq!(vms(&env).await, expected);

    // stop --delete leaves the kept VM (it was kept) and the source.
    let stopped = env.run(&["swarm", "stop", "--delete"]).await;
    assert_eq!(stopped.code, 0, "{stopped:?}");
    assert_eq!(vms(&env).await, expected);
    env.run(&["vm", "rm", &kept_vm]).await.ok();
    assert_eq!(vms(&env).await, before);
}

#[tokio::test]
async fn wait_times_out_with_code_6_and_bad_input_is_refused() {
    let env = Env::start().await;
    let source = env.new_vm().await;
    let before = vms(&env).await;

    let zero = env
        .run(&["swarm", "start", "--from", &source, "-n", "0", "--", "true"])
        .await;
    assert_eq!(zero.code, 2, "{zero:?}");
    assert!(zero.stderr.contains("count must be from 1 to"), "{zero:?}");
    let unknown = env
        .run(&[
            "swarm", "start", "--from", "ffffffff", "-n", "2", "--", "true",
        ])
        .await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(
        unknown.stderr.contains("neither a VM nor a commit"),
        "{unknown:?}"
    );
    let no_task = env
        .run(&["swarm", "start", "--from", &source, "-n", "2"])
        .await;
    assert_eq!(no_task.code, 2, "{no_task:?}");
    // No --from and no default VM: the way out names --from.
    let no_source = env.run(&["swarm", "start", "-n", "2", "--", "true"]).await;
    assert_eq!(no_source.code, 2, "{no_source:?}");
    assert!(
        no_source.stderr.contains("pass --from VM|COMMIT")
            && no_source.stderr.contains("tether use VM"),
        "{no_source:?}"
    );
    let no_swarm = env.run(&["swarm", "status"]).await;
    assert_eq!(no_swarm.code, 1, "{no_swarm:?}");
    // --pi-config: for agents only; the pi directory looked at is the one pi would use.
    let config = [
        "swarm",
        "start",
        "--from",
        &source,
        "-n",
        "2",
        "--pi-config",
    ];
    let on_command = env.run(&[&config[..], &["--", "true"]].concat()).await;
    assert_eq!(on_command.code, 2, "{on_command:?}");
    assert!(
        on_command
            .stderr
            .contains("are for agents: give --prompt instead of a command"),
        "{on_command:?}"
    );
    let agent = [&config[..], &["--prompt", "hi"]].concat();
    let no_dir = env.run(&agent).await;
    assert_eq!(no_dir.code, 1, "{no_dir:?}");
    let looked_at = env.home.path().join(".pi/agent");
    let says = format!(
        "there is no pi config at {}: set PI_CODING_AGENT_DIR",
        looked_at.display()
    );
    assert!(no_dir.stderr.contains(&says), "{no_dir:?}");
    let mut elsewhere = env.command(&agent);
    elsewhere.env("PI_CODING_AGENT_DIR", "~/my-pi");
    let no_dir = crate::run(elsewhere, None).await;
    let looked_at = env.home.path().join("my-pi");
    assert!(
        no_dir.stderr.contains(&looked_at.display().to_string()),
        "{no_dir:?}"
    );
    assert_eq!(vms(&env).await, before);

    let started = env
        .run(&[
            "swarm",
            "start",
            "--from",
            &source,
            "-n",
            "2",
            "--wait",
            "0.5",
            "--",
            "sleep 600",
        ])
        .await;
    assert_eq!(started.code, 6, "{started:?}");
    assert!(started.stdout.contains("stopped waiting"), "{started:?}");
    let stopped = env
        .run(&["--json", "swarm", "stop", "--delete"])
        .await
        .json();
    assert_eq!(stopped["status"]["counts"]["stopped"], 2, "{stopped}");
    assert_eq!(vms(&env).await, before);
}
