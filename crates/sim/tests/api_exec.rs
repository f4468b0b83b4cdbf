//! The exec, exec/stream and files routes in-process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "api_harness.rs"]
mod harness;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt;
use harness::{Harness, within};
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

/// Waits inside the VM (up to 10 s) until `condition` holds; fails the test otherwise.
async fn await_in_vm(h: &Harness, vm: &str, condition: &str) {
    let script = format!(
        "for i in $(seq 1 200); do if {condition}; then exit 0; fi; sleep 0.05; done; exit 1"
    );
    let (code, _, stderr) = h.sh(vm, &script).await;
    assert_eq!(code, 0, "`{condition}` never held in {vm}: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_passes_argv_env_cwd_stdin_and_exit_codes() {
    let h = harness!();
    let vm = h.new_vm().await;
    let request = json!({
        "command": ["sh", "-c", "pwd; echo \"$GREETING $HOME\"; cat; echo oops >&2; exit 7"],
        "env": { "GREETING": "hello" },
        "working_dir": "/tmp",
        "stdin": "piped-in",
        "exec_id": "11111111-2222-4333-8444-555555555555",
    });
    let reply = h.post(&format!("/vm/{vm}/exec"), request).await.ok();
    assert_eq!(
        reply,
        json!({ "exit_code": 7, "stdout": "/tmp\nhello /root\npiped-in", "stderr": "oops\n",
                "exec_id": "11111111-2222-4333-8444-555555555555" })
    );
    let (code, env, _) = h.sh(&vm, "env").await;
    assert_eq!(code, 0);
    assert!(
        !env.contains("CARGO"),
        "the host's environment leaked in:\n{env}"
    );
    let killed = h
        .post(
            &format!("/vm/{vm}/exec"),
            json!({ "command": ["sh", "-c", "kill -9 $$"] }),
        )
        .await
        .ok();
    assert_eq!(killed["exit_code"], 137, "killed by a signal: 128 + signal");
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_reports_a_missing_program_like_a_shell_and_refuses_an_empty_command() {
    let h = harness!();
    let vm = h.new_vm().await;
    let missing = h
        .post(
            &format!("/vm/{vm}/exec"),
            json!({ "command": ["no-such-program-42"] }),
        )
        .await
        .ok();
    assert_eq!(missing["exit_code"], 127);
    assert!(
        missing["stderr"]
            .as_str()
            .unwrap()
            .contains("no-such-program-42"),
        "{missing}"
    );
    let empty = h
        .post(&format!("/vm/{vm}/exec"), json!({ "command": [] }))
        .await;
    assert!(
        empty.error(400).starts_with("bad command: it is empty"),
        "{empty:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_timeout_kills_the_command_group_and_reports_124() {
    let h = harness!();
    let vm = h.new_vm().await;
    let started = Instant::now();
    let request =
        json!({ "command": ["sh", "-c", "echo before; sleep 30 & wait"], "timeout_secs": 1 });
    let reply = h.post(&format!("/vm/{vm}/exec"), request).await.ok();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (&reply["exit_code"], &reply["stdout"]),
        (&json!(124), &json!("before\n"))
    );
    assert!(
        reply["stderr"]
            .as_str()
            .unwrap()
            .contains("ran past its timeout of 1s"),
        "{reply}"
    );
    await_in_vm(&h, &vm, "! pgrep -x sleep >/dev/null").await;

    // A command that ignores SIGTERM gets SIGKILL after the grace period.
    let stubborn = json!({ "command": ["sh", "-c", "trap '' TERM; sleep 30"], "timeout_secs": 1 });
    let reply = h.post(&format!("/vm/{vm}/exec"), stubborn).await.ok();
    assert_eq!(reply["exit_code"], 124);
    // `timeout_secs: 0` means no limit.
    let unlimited = json!({ "command": ["sh", "-c", "sleep 1.2; echo done"], "timeout_secs": 0 });
    assert_eq!(
        h.post(&format!("/vm/{vm}/exec"), unlimited).await.ok()["stdout"],
        "done\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_returns_when_the_command_exits_even_if_a_background_child_holds_its_output() {
    let h = harness!();
    let vm = h.new_vm().await;
    let started = Instant::now();
    let reply = h.sh(&vm, "echo started; sleep 300 &").await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!((reply.0, reply.1.as_str()), (0, "started\n"));
    assert!(
        h.ok_sh(&vm, "ps -eo args").await.contains("sleep 300"),
        "the background child lives on"
    );
}

async fn stream(h: &Harness, vm: &str, body: Value) -> reqwest::Response {
    let url = format!("{}/api/v1/vm/{vm}/exec/stream", h.info().vers_url);
    let request = h.http.post(url).bearer_auth(&h.info().api_key).json(&body);
    within("the exec stream to start", request.send())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_stream_sends_ndjson_chunks_with_rising_cursors_then_the_exit() {
    let h = harness!();
    let vm = h.new_vm().await;
    let body = json!({ "command": ["sh", "-c", "echo one; echo two >&2; echo three; exit 3"] });
    let response = stream(&h, &vm, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = within("the exec stream to end", response.text())
        .await
        .unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let (last, chunks) = events.split_last().unwrap();
    let exec_id = &last["exec_id"];
    assert_eq!(
        (&last["type"], &last["exit_code"]),
        (&json!("exit"), &json!(3))
    );
    let mut output = std::collections::BTreeMap::<String, Vec<u8>>::new();
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(
            (&chunk["type"], &chunk["exec_id"], &chunk["cursor"]),
            (&json!("chunk"), exec_id, &json!(i))
        );
        let data = B64.decode(chunk["data_b64"].as_str().unwrap()).unwrap();
        output
            .entry(chunk["stream"].as_str().unwrap().to_owned())
            .or_default()
            .extend(data);
    }
    assert_eq!(last["cursor"], chunks.len());
    assert_eq!(output["stdout"], b"one\nthree\n");
    assert_eq!(output["stderr"], b"two\n");

    let paused = h.new_vm().await;
    h.set_state(&paused, "Paused").await.ok();
    let refused = stream(&h, &paused, json!({ "command": ["true"] })).await;
    assert_eq!(refused.status(), 409);
}

/// Posts to `path` and reads the whole NDJSON reply.
async fn ndjson(h: &Harness, path: &str, body: Value) -> Vec<Value> {
    let url = format!("{}/api/v1{path}", h.info().vers_url);
    let request = h.http.post(url).bearer_auth(&h.info().api_key).json(&body);
    let response = within("the stream to start", request.send()).await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let text = within("the stream to end", response.text()).await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// stdout and stderr of `events` (chunks), the exit code, asserting rising cursors.
fn collect(events: &[Value]) -> (String, String, Option<i64>) {
    let (mut out, mut err, mut code) = (Vec::new(), Vec::new(), None);
    let cursors: Vec<u64> = events.iter().filter_map(|e| e["cursor"].as_u64()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
    for event in events {
        match event["type"].as_str().unwrap() {
            "chunk" => {
                let data = B64.decode(event["data_b64"].as_str().unwrap()).unwrap();
                match event["stream"].as_str().unwrap() {
                    "stdout" => out.extend(data),
                    _ => err.extend(data),
                }
            }
            "exit" => code = event["exit_code"].as_i64(),
            other => panic!("unexpected event {other}: {event}"),
        }
    }
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (text(out), text(err), code)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_stream_keeps_running_and_attach_rejoins_it_with_nothing_lost() {
    let h = harness!();
    let vm = h.new_vm().await;
    let script = "echo started; while [ ! -e /root/go ]; do sleep 0.05; done; \
                  for i in $(seq 1 300); do echo out$i; echo err$i >&2; done; exit 5";
    let response = stream(&h, &vm, json!({ "command": ["sh", "-c", script] })).await;
    let mut chunks = response.bytes_stream();
    let first = within("the first chunk while the command runs", chunks.next())
        .await
        .unwrap()
        .unwrap();
    let event: Value =
        serde_json::from_slice(first.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(
        B64.decode(event["data_b64"].as_str().unwrap()).unwrap(),
        b"started\n"
    );
    let exec_id = event["exec_id"].as_str().unwrap().to_owned();
    drop(chunks);
    // The run outlives the connection: rejoin it after the first chunk while it still waits,
    // then release it.
    let attach = format!("/vm/{vm}/exec/stream/attach");
    let url = format!("{}/api/v1{attach}", h.info().vers_url);
    let body = json!({ "exec_id": exec_id, "cursor": event["cursor"] });
    let request = h.http.post(url).bearer_auth(&h.info().api_key).json(&body);
    let rejoined = within("attach", request.send()).await.unwrap();
    assert_eq!(rejoined.status(), 200);
    h.ok_sh(&vm, "touch /root/go").await;
    let text = within("the attached stream to end", rejoined.text())
        .await
        .unwrap();
    let rest: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = |tag: &str| (1..=300).map(|i| format!("{tag}{i}\n")).collect::<String>();
    assert_eq!(collect(&rest), (expected("out"), expected("err"), Some(5)));
    // Without a cursor the whole run is replayed; from_latest gives only the exit.
    let all = ndjson(&h, &attach, json!({ "exec_id": exec_id })).await;
    assert_eq!(
        collect(&all),
        (
            format!("started\n{}", expected("out")),
            expected("err"),
            Some(5)
        )
    );
    let latest = ndjson(
        &h,
        &attach,
        json!({ "exec_id": exec_id, "from_latest": true }),
    )
    .await;
    assert_eq!(collect(&latest), (String::new(), String::new(), Some(5)));

    let unknown = h
        .post(
            &attach,
            json!({ "exec_id": "00000000-0000-4000-8000-000000000000" }),
        )
        .await;
    assert!(
        unknown.error(404).contains("start one with POST"),
        "{unknown:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_page_through_every_exec_in_order_by_offset_and_stream() {
    let h = harness!();
    let vm = h.new_vm().await;
    let first = h
        .post(
            &format!("/vm/{vm}/exec"),
            json!({ "command": ["sh", "-c", "echo a1; echo a2 >&2"] }),
        )
        .await
        .ok();
    let second = h
        .post(
            &format!("/vm/{vm}/exec"),
            json!({ "command": ["sh", "-c", "seq 1 50"] }),
        )
        .await
        .ok();
    let (mut offset, mut entries) = (0u64, Vec::new());
    loop {
        let page = h
            .get(&format!("/vm/{vm}/logs?offset={offset}&max_entries=2"))
            .await
            .ok();
        let got = page["entries"].as_array().unwrap();
        assert!(got.len() <= 2, "{page}");
        entries.extend(got.iter().cloned());
        let next = page["next_offset"].as_u64().unwrap();
        if page["eof"] == json!(true) {
            break;
        }
        assert!(next > offset, "no progress at {offset}: {page}");
        offset = next;
    }
    let text = |exec: &Value, stream: &str| -> String {
        entries
            .iter()
            .filter(|e| e["exec_id"] == *exec && e["stream"] == stream)
            .map(|e| {
                String::from_utf8(B64.decode(e["data_b64"].as_str().unwrap()).unwrap()).unwrap()
            })
            .collect()
    };
    assert_eq!(text(&first["exec_id"], "stdout"), "a1\n");
    assert_eq!(text(&first["exec_id"], "stderr"), "a2\n");
    let seq: String = (1..=50).map(|i| format!("{i}\n")).collect();
    assert_eq!(text(&second["exec_id"], "stdout"), seq);
    let first_of_second = entries
        .iter()
        .position(|e| e["exec_id"] == second["exec_id"])
        .unwrap();
    assert!(
        entries[..first_of_second]
            .iter()
            .all(|e| e["exec_id"] == first["exec_id"])
    );
    let stderr_only = h.get(&format!("/vm/{vm}/logs?stream=stderr")).await.ok();
    let streams: Vec<_> = stderr_only["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream"].clone())
        .collect();
    assert_eq!(streams, vec![json!("stderr")]);
}

async fn put(h: &Harness, vm: &str, body: Value) -> harness::Reply {
    h.call(Method::PUT, &format!("/vm/{vm}/files"), Some(body))
        .await
}

fn file_query(path: &str) -> String {
    let url = reqwest::Url::parse_with_params("http://x/", [("path", path)]).unwrap();
    url.query().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn files_round_trip_six_megabytes_byte_exact_with_mode() {
    let h = harness!();
    let vm = h.new_vm().await;
    let content: Vec<u8> = (0..6 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let body = json!({ "path": "/srv/data/blob", "content_b64": B64.encode(&content), "mode": 0o600, "create_dirs": true });
    assert_eq!(put(&h, &vm, body).await.status, 200);
    let read = h
        .get(&format!("/vm/{vm}/files?{}", file_query("/srv/data/blob")))
        .await
        .ok();
    assert!(
        B64.decode(read["content_b64"].as_str().unwrap()).unwrap() == content,
        "content differs"
    );
    assert_eq!(
        h.ok_sh(&vm, "stat -c '%a %s' /srv/data/blob").await,
        format!("600 {}\n", content.len())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_errors_name_the_path_and_the_fix() {
    let h = harness!();
    let vm = h.new_vm().await;
    let files = format!("/vm/{vm}/files");
    let get = async |path: &str| h.get(&format!("{files}?{}", file_query(path))).await;
    let missing = get("/root/none").await;
    assert_eq!(
        missing.error(404),
        format!("no such file in VM {vm}: /root/none")
    );
    let dir = get("/root").await;
    assert!(
        dir.error(400).starts_with("/root is a directory"),
        "{dir:?}"
    );
    let relative = get("root/x").await;
    assert!(
        relative.error(400).contains("give an absolute path"),
        "{relative:?}"
    );
    let no_path = h.get(&format!("/vm/{vm}/files")).await;
    assert!(no_path.error(400).contains("path"), "{no_path:?}");
    let not_b64 = put(&h, &vm, json!({ "path": "/root/x", "content_b64": "***" })).await;
    assert!(
        not_b64
            .error(400)
            .starts_with("bad content_b64: it is not base64"),
        "{not_b64:?}"
    );
    let no_dirs = put(&h, &vm, json!({ "path": "/root/a/b/c", "content_b64": "" })).await;
    assert!((400..500).contains(&no_dirs.status), "{no_dirs:?}");
}
