//! Background processes on every backend: started once, found again from a fresh workspace
//! (a new connection), output in order, the whole group stopped, TERM escalating to KILL.

use std::time::Duration;

use serde_json::Value;
use tether_testkit::within;
use tether_tools::args::{BashArgs, BgLogsArgs, BgStartArgs, BgStopArgs};
use tether_tools::{
    BgSpec, BgState, ToolOutput, Workspace, bash, bg_list, bg_logs, bg_start, bg_stop,
    list_processes, process, start_process,
};

use crate::common::backends;
use crate::text;

/// Long enough for every step, short enough to fail fast.
const STEP: Duration = Duration::from_secs(60);

fn start_args(command: &str, name: Option<&str>) -> BgStartArgs {
    BgStartArgs {
        command: command.into(),
        cwd: None,
        name: name.map(Into::into),
        timeout: None,
    }
}

fn id_of(out: &ToolOutput) -> String {
    out.details.as_ref().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Follows the output from offset 0 until it contains `wanted` (each call waits for more).
async fn follow(ws: &Workspace, id: &str, wanted: &str) -> String {
    within(STEP, &format!("output {wanted:?} from {id}"), async {
        let (mut seen, mut offset) = (String::new(), 0);
        loop {
            let args = BgLogsArgs {
                id: id.into(),
                offset: Some(offset),
                tail: None,
                wait: Some(10.0),
            };
            let out = bg_logs(ws, args).await?;
            let details: &Value = out.details.as_ref().unwrap();
            let next = details["nextOffset"].as_u64().unwrap();
            let text = out.joined_text();
            if next > offset {
                seen.push_str(text.split("\n\n[").next().unwrap());
            }
            offset = next;
            if seen.contains(wanted) {
                return Ok(seen);
            }
        }
    })
    .await
    .unwrap()
}

/// Whether the process whose pid is in `file` (in the workspace's cwd) is gone or a zombie.
async fn gone(ws: &Workspace, file: &str) -> bool {
    let check = format!(
        "s=$(cat /proc/$(cat {file})/stat 2>/dev/null); case \"$s\" in ''|*') Z '*) echo gone;; *) echo alive;; esac"
    );
    let out = text(
        bash(
            ws,
            BashArgs {
                command: check,
                timeout: Some(30.0),
            },
            None,
        )
        .await,
    );
    out.trim() == "gone"
}

#[tokio::test]
async fn a_process_outlives_its_workspace_and_its_output_reads_in_order() {
    for b in backends().await {
        let command =
            "for i in 1 2 3; do echo line $i; done; echo err >&2; echo ready; exec sleep 300";
        let started = bg_start(&b.ws, start_args(command, Some("counter")))
            .await
            .unwrap();
        let id = id_of(&started);
        let out = follow(&b.ws, &id, "ready").await;
        assert_eq!(out, "line 1\nline 2\nline 3\nerr\nready\n", "{}", b.name);

        // A second start under the same name is refused while the first runs.
        let again = text(bg_start(&b.ws, start_args("true", Some("counter"))).await);
        assert!(
            again.contains(&format!("already running (id {id})")),
            "{}: {again}",
            b.name
        );

        // The same command under the same name (a retried start) is that process, not a
        // second one.
        let retried = bg_start(&b.ws, start_args(command, Some("counter")))
            .await
            .unwrap();
        assert_eq!(id_of(&retried), id, "{}", b.name);
        let said = text(Ok(retried.clone()));
        assert!(
            said.contains("is already running this command") && said.contains("not started again"),
            "{}: {said}",
            b.name
        );
        assert_eq!(
            retried.details.as_ref().unwrap()["alreadyRunning"],
            true,
            "{}",
            b.name
        );

        // A fresh workspace (a new connection, as after a restart) finds it running.
        let fresh = match b.name {
            "local" => b.ws.clone(),
            _ => Workspace::discover(b.ws.target().clone()).await.unwrap(),
        };
        let listed = list_processes(&fresh).await.unwrap();
        let counters = listed
            .iter()
            .filter(|p| p.name.as_deref() == Some("counter"))
            .count();
        assert_eq!(counters, 1, "{}: {listed:?}", b.name);
        let mine = listed.iter().find(|p| p.id == id).unwrap();
        assert_eq!(mine.state, BgState::Running, "{}", b.name);
        assert_eq!(
            (mine.name.as_deref(), mine.command.as_str()),
            (Some("counter"), command)
        );
        let line = text(bg_list(&fresh).await);
        assert!(line.contains(&format!("{id} running since ")), "{line}");

        let tail = text(
            bg_logs(
                &b.ws,
                BgLogsArgs {
                    id: id.clone(),
                    offset: None,
                    tail: Some(2),
                    wait: None,
                },
            )
            .await,
        );
        assert!(
            tail.starts_with("err\nready\n\n\n[") && tail.contains("running"),
            "{tail}"
        );

        let stopped = text(bg_stop(&b.ws, BgStopArgs { id: id.clone() }).await);
        assert_eq!(
            stopped,
            format!("Stopped {id}: killed by SIGTERM."),
            "{}",
            b.name
        );
        let again = text(bg_stop(&b.ws, BgStopArgs { id: id.clone() }).await);
        assert_eq!(again, format!("{id} was not running: killed by SIGTERM."));
        let listed = list_processes(&b.ws).await.unwrap();
        let state = &listed.iter().find(|p| p.id == id).unwrap().state;
        assert_eq!(
            *state,
            BgState::Killed {
                signal: "TERM".into()
            },
            "{}",
            b.name
        );
    }
}

#[tokio::test]
async fn stop_ends_the_whole_group_and_escalates_to_kill() {
    for b in backends().await {
        let command = "sleep 300 & echo $! > child.pid; trap '' TERM; echo armed; sleep 301; wait";
        let out = bg_start(&b.ws, start_args(command, None)).await.unwrap();
        let id = id_of(&out);
        follow(&b.ws, &id, "armed").await;
        assert!(
            !gone(&b.ws, "child.pid").await,
            "{}: the child is not running",
            b.name
        );
        let stopped = text(bg_stop(&b.ws, BgStopArgs { id: id.clone() }).await);
        assert_eq!(
            stopped,
            format!("Stopped {id}: killed by SIGKILL."),
            "{}",
            b.name
        );
        assert!(
            gone(&b.ws, "child.pid").await,
            "{}: the child survived bg_stop",
            b.name
        );
    }
}

#[tokio::test]
async fn exits_are_recorded_and_bad_ids_are_errors() {
    for b in backends().await {
        let out = bg_start(&b.ws, start_args("echo bye; exit 7", None))
            .await
            .unwrap();
        let id = id_of(&out);
        let logs = within(STEP, "the process to exit", async {
            loop {
                let args = BgLogsArgs {
                    id: id.clone(),
                    offset: Some(0),
                    tail: None,
                    wait: Some(10.0),
                };
                let out = text(bg_logs(&b.ws, args).await);
                if out.contains("exited(7)") {
                    return Ok(out);
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(
            logs,
            format!("bye\n\n\n[{id} is exited(7). Output bytes 0-4 of 4; that is all of it.]")
        );
        let missing = text(
            bg_logs(
                &b.ws,
                BgLogsArgs {
                    id: "bg-nope".into(),
                    offset: None,
                    tail: None,
                    wait: None,
                },
            )
            .await,
        );
        assert!(
            missing.starts_with("error: there is no background process bg-nope on "),
            "{missing}"
        );
        let sneaky = text(
            bg_stop(
                &b.ws,
                BgStopArgs {
                    id: "../../etc".into(),
                },
            )
            .await,
        );
        assert!(
            sneaky.starts_with("error: there is no background process ../../etc"),
            "{sneaky}"
        );
        let bad_cwd = text(
            bg_start(
                &b.ws,
                BgStartArgs {
                    cwd: Some("missing".into()),
                    ..start_args("true", None)
                },
            )
            .await,
        );
        assert!(
            bad_cwd.contains("missing does not exist or is not a directory"),
            "{bad_cwd}"
        );
    }
}

#[tokio::test]
async fn a_timeout_stops_the_group_and_env_stays_private() {
    for b in backends().await {
        // A process that outlives its timeout: its child is stopped with it, and its state
        // says why.
        let command = "sleep 300 & echo $! > timed.pid; echo \"secret=$MY_TOKEN\"; wait";
        let spec = BgSpec {
            command: command.into(),
            env: vec![("MY_TOKEN".into(), "it's a \"secret\" $x".into())],
            timeout: Some(Duration::from_millis(1500)),
            ..BgSpec::default()
        };
        let started = start_process(&b.ws, spec).await.unwrap();
        let out = follow(&b.ws, &started.id, "secret=").await;
        assert_eq!(out, "secret=it's a \"secret\" $x\n", "{}", b.name);
        let state = within(STEP, "the timeout to stop it", async {
            loop {
                let found = process(&b.ws, &started.id).await?;
                if found.state != BgState::Running {
                    return Ok(found.state);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(state, BgState::TimedOut { seconds: 1.5 }, "{}", b.name);
        assert!(gone(&b.ws, "timed.pid").await, "{}: child survived", b.name);
        // The value is in no listing.
        let listed = text(bg_list(&b.ws).await);
        assert!(!listed.contains("secret\""), "{listed}");

        // A process that ends in time keeps its exit code; no watchdog is left behind.
        let spec = BgSpec {
            command: "exit 4".into(),
            timeout: Some(Duration::from_secs(600)),
            ..BgSpec::default()
        };
        let quick = start_process(&b.ws, spec).await.unwrap();
        let state = within(STEP, "the quick process to exit", async {
            loop {
                let found = process(&b.ws, &quick.id).await?;
                if found.state != BgState::Running {
                    return Ok(found.state);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(state, BgState::Exited { code: 4 }, "{}", b.name);
        // The runner itself may still be exiting after it recorded the status; a watchdog
        // left behind would stay (it sleeps for the whole 600 s timeout).
        let watchdogs = format!(
            "group() {{ for s in /proc/[0-9]*/stat; do read -r l < $s 2>/dev/null || continue; \
             set -- ${{l##*') '}}; [ \"$3\" = {pg} ] && [ \"$1\" != Z ] && return 0; done; return 1; }}; \
             i=0; while group && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; group && echo left; true",
            pg = quick.pid
        );
        let left = text(
            bash(
                &b.ws,
                BashArgs {
                    command: watchdogs,
                    timeout: Some(30.0),
                },
                None,
            )
            .await,
        );
        assert!(
            !left.contains("left"),
            "{}: processes left in the group",
            b.name
        );

        let bad = start_process(
            &b.ws,
            BgSpec {
                command: "true".into(),
                env: vec![("NOT-A-NAME".into(), "x".into())],
                ..BgSpec::default()
            },
        )
        .await;
        assert!(bad.unwrap_err().to_string().contains("NOT-A-NAME"));
        let missing = process(&b.ws, "bg-000000000000").await.unwrap_err();
        assert!(
            missing.to_string().contains("no background process"),
            "{missing}"
        );
    }
}

#[tokio::test]
async fn named_starts_at_the_same_moment_make_one_process() {
    for b in backends().await {
        let command = "echo up; exec sleep 302";
        let (x, y) = tokio::join!(
            bg_start(&b.ws, start_args(command, Some("twin"))),
            bg_start(&b.ws, start_args(command, Some("twin"))),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(id_of(&x), id_of(&y), "{}", b.name);
        let already = [&x, &y]
            .iter()
            .filter(|out| out.details.as_ref().unwrap()["alreadyRunning"] == true)
            .count();
        assert_eq!(already, 1, "{}: one started, one found it", b.name);
        bg_stop(&b.ws, BgStopArgs { id: id_of(&x) }).await.unwrap();
    }
}
