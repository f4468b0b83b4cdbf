//! Handshake, protocol errors, streamed exec output, cancel and shutdown.

use serde_json::json;

use crate::client::Setup;

#[tokio::test]
async fn the_handshake_comes_first_and_protocol_mistakes_get_standard_codes() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    let early = serve.error("vm/list", json!({})).await;
    assert_eq!(early["code"], -32000, "{early}");
    assert_eq!(
        serve.initialize().await,
        json!({"protocolVersion": 1, "serverInfo": {"name": "tether serve", "version": env!("CARGO_PKG_VERSION")}})
    );
    serve.line("{not json").await;
    let parse = serve.response().await;
    assert_eq!(
        (parse["id"].clone(), parse["error"]["code"].clone()),
        (json!(null), json!(-32700))
    );
    serve.line(r#"{"jsonrpc":"2.0","id":"x"}"#).await;
    assert_eq!(serve.response().await["error"]["code"], -32600);
    let unknown = serve.error("vm/teleport", json!({})).await;
    assert_eq!(unknown["code"], -32601);
    let invalid = serve.error("exec", json!({"execId": "a"})).await;
    assert_eq!(invalid["code"], -32602);
    assert_eq!(
        invalid["message"],
        "invalid params for exec: missing field `command`"
    );
    let no_vm = serve
        .error("fs/readFile", json!({"path": "/etc/hostname"}))
        .await;
    assert_eq!(
        no_vm,
        json!({"code": -32002, "message": "no VM is active; call vm_use with a VM id first (vm_list shows them), or name a VM", "data": {"kind": "usage"}})
    );
    let listed = serve.call("vm/list", json!({})).await;
    assert_eq!(
        listed,
        json!({"vms": [], "activeVmId": null, "backend": {"kind": "vers", "notice": null}})
    );
    let id = serve.send("shutdown", json!({})).await;
    assert_eq!(serve.answer(id).await["result"], json!({}));
    assert_eq!(serve.close().await, Some(0));
}

#[tokio::test]
async fn exec_streams_output_and_reports_how_the_command_ended() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    let vm = serve.active_vm().await;
    let (result, out, err) = serve
        .exec(
            "e1",
            "hostname; pwd; echo oops >&2; echo ${TETHER_TEST_SECRET:-unset}; exit 4",
        )
        .await;
    assert_eq!(
        result,
        json!({"exitCode": 4, "signal": null, "timedOut": false, "cancelled": false})
    );
    assert_eq!(
        (out, err),
        (format!("{vm}\n/root\nunset\n"), "oops\n".to_owned())
    );
    let killed = serve
        .call("exec", json!({"execId": "e2", "command": "kill -9 $$"}))
        .await;
    assert_eq!(killed["signal"], "KILL");
    let timed = serve
        .call(
            "exec",
            json!({"execId": "e3", "command": "echo partial; sleep 30", "timeoutSecs": 1}),
        )
        .await;
    assert_eq!(timed["timedOut"], true);
    assert_eq!(serve.output("e3", "stdout"), "partial\n");
    let cwd = serve
        .call(
            "exec",
            json!({"execId": "e4", "command": "pwd", "cwd": "~/.."}),
        )
        .await;
    assert_eq!(
        (cwd["exitCode"].clone(), serve.output("e4", "stdout")),
        (json!(0), "/\n".into())
    );
    let missing = serve
        .error(
            "exec",
            json!({"execId": "e5", "command": "true", "cwd": "/nope"}),
        )
        .await;
    assert_eq!(
        missing["data"],
        json!({"kind": "usage", "errno": "ENOTDIR"})
    );
}

#[tokio::test]
async fn cancel_kills_the_whole_process_group_on_the_vm() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    let vm = serve.active_vm().await;
    let id = serve
        .send(
            "exec",
            json!({"execId": "long", "command": "sleep 977 & echo started; sleep 976"}),
        )
        .await;
    serve.until_output("long", "started").await;
    serve.notify("exec/cancel", json!({"execId": "long"})).await;
    let response = serve.answer(id).await;
    assert_eq!(response["result"]["cancelled"], true, "{response}");
    let ps = setup.sim.ssh(&vm).run("ps -eo args").await.unwrap();
    assert!(!ps.stdout_str().contains("sleep 97"), "{}", ps.stdout_str());
    let again = serve.call("exec/cancel", json!({"execId": "long"})).await;
    assert_eq!(again, json!({"cancelled": false}));
}

#[tokio::test]
async fn closing_stdin_cancels_running_commands_and_exits() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    let vm = serve.active_vm().await;
    serve
        .send(
            "exec",
            json!({"execId": "bg", "command": "echo started; sleep 955"}),
        )
        .await;
    serve.until_output("bg", "started").await;
    assert_eq!(serve.close().await, Some(0));
    let ps = setup.sim.ssh(&vm).run("ps -eo args").await.unwrap();
    assert!(
        !ps.stdout_str().contains("sleep 955"),
        "{}",
        ps.stdout_str()
    );
}

#[tokio::test]
async fn bg_call_runs_the_background_tools_on_the_vm_with_error_codes() {
    let setup = Setup::start().await;
    let mut serve = setup.serve();
    let vm = serve.active_vm().await;
    let started = serve
        .call(
            "bg/call",
            json!({"tool": "bg_start", "args": {"command": "echo hi; exec sleep 3519.5", "name": "s"}}),
        )
        .await;
    let id = started["details"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started["details"]["cwd"], "/root", "{started}");
    let listed = serve
        .call("bg/call", json!({"tool": "bg_list", "vmId": &vm[..8]}))
        .await;
    let processes = listed["details"]["processes"].as_array().unwrap();
    assert_eq!(
        (processes.len(), &processes[0]["id"], &processes[0]["state"]),
        (1, &json!(id), &json!("running")),
        "{listed}"
    );
    let first = serve
        .call(
            "bg/call",
            json!({"tool": "bg_logs", "args": {"id": id, "offset": 0, "wait": 30}}),
        )
        .await;
    assert!(
        first["text"].as_str().unwrap().starts_with("hi\n"),
        "{first}"
    );
    let stopped = serve
        .call("bg/call", json!({"tool": "bg_stop", "args": {"id": id}}))
        .await;
    assert_eq!(
        stopped["details"]["state"],
        json!({"state": "killed", "signal": "TERM"})
    );
    let logs = serve
        .call("bg/call", json!({"tool": "bg_logs", "args": {"id": id}}))
        .await;
    assert_eq!(
        (
            logs["details"]["size"].clone(),
            logs["text"].as_str().unwrap().starts_with("hi\n")
        ),
        (json!(3), true),
        "{logs}"
    );

    let unknown_tool = serve.error("bg/call", json!({"tool": "bg_teleport"})).await;
    assert_eq!(unknown_tool["code"], -32602, "{unknown_tool}");
    let missing = serve
        .error("bg/call", json!({"tool": "bg_start", "args": {}}))
        .await;
    assert_eq!(
        (missing["code"].clone(), missing["data"]["kind"].clone()),
        (json!(-32002), json!("usage")),
        "{missing}"
    );
    let no_such = serve
        .error(
            "bg/call",
            json!({"tool": "bg_logs", "args": {"id": "bg-nope"}}),
        )
        .await;
    assert_eq!(no_such["code"], -32001, "{no_such}");
    assert!(
        no_such["message"].as_str().unwrap().contains("bg_list"),
        "{no_such}"
    );
    let no_vm = serve
        .error("bg/call", json!({"tool": "bg_list", "vmId": "ffffffff"}))
        .await;
    assert_eq!(no_vm["code"], -32001, "{no_vm}");
    assert_eq!(serve.close().await, Some(0));
}
