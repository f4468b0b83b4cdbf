//! pi's read/edit/write/ls/bash give the same results locally and on a VM, apart from paths:
//! CRLF and BOM files, no trailing newline, a 200 KB file, a PNG read as an image, 3,000 lines
//! of output, a failing command, a timeout with partial output, an edit that does not match.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{Pi, Rig};
use crate::rig;

/// A valid 1×1 PNG.
const PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

fn write_fixtures(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("crlf.txt"), "alpha\r\nbeta\r\ngamma\r\n").unwrap();
    std::fs::write(dir.join("bom.txt"), "\u{feff}first line\nsecond line\n").unwrap();
    std::fs::write(dir.join("notrail.txt"), "one\ntwo\nthree").unwrap();
    let big: String = (1..=4000)
        .map(|n| format!("line {n:05} {}\n", "x".repeat(40)))
        .collect();
    assert!(big.len() > 200_000);
    std::fs::write(dir.join("big.txt"), big).unwrap();
    std::fs::write(dir.join("pixel.png"), PIXEL_PNG).unwrap();
    std::fs::write(dir.join("sub/inner.txt"), "inner\n").unwrap();
    // ls follows symlinks: a link to a directory is listed as one.
    std::os::unix::fs::symlink("sub", dir.join("sublink")).unwrap();
    std::os::unix::fs::symlink("crlf.txt", dir.join("filelink")).unwrap();
    std::os::unix::fs::symlink("missing", dir.join("dangling")).unwrap();
}

/// The same calls, in order, for each side.
fn calls() -> Vec<(&'static str, Value)> {
    let edit = |path: &str, old: &str, new: &str| json!({"path": path, "edits": [{"oldText": old, "newText": new}]});
    vec![
        ("read", json!({"path": "fx/crlf.txt"})),
        ("read", json!({"path": "fx/bom.txt"})),
        ("read", json!({"path": "fx/notrail.txt"})),
        ("read", json!({"path": "fx/big.txt"})),
        (
            "read",
            json!({"path": "fx/big.txt", "offset": 3990, "limit": 5}),
        ),
        ("read", json!({"path": "fx/pixel.png"})),
        ("edit", edit("fx/crlf.txt", "beta", "BETA")),
        ("edit", edit("fx/bom.txt", "second line", "2nd line")),
        ("edit", edit("fx/notrail.txt", "three", "three\nfour")),
        ("edit", edit("fx/crlf.txt", "no such text", "x")),
        (
            "write",
            json!({"path": "fx/new.txt", "content": "héllo wörld\n"}),
        ),
        (
            "write",
            json!({"path": "fx/deep/er/file.txt", "content": "nested"}),
        ),
        (
            "bash",
            json!({"command": "od -c fx/crlf.txt fx/bom.txt fx/notrail.txt; cat fx/deep/er/file.txt"}),
        ),
        ("bash", json!({"command": "seq 1 3000"})),
        ("bash", json!({"command": "echo err >&2; exit 3"})),
        ("bash", json!({"command": "printf 'no newline'"})),
        ("bash", json!({"command": "echo before; kill -9 $$"})),
        (
            "bash",
            json!({"command": "echo partial; sleep 5; echo never", "timeout": 1}),
        ),
        ("ls", json!({"path": "fx"})),
    ]
}

/// Replaces what differs by place (the working directory, pi's local log file) with markers.
fn normalise(value: &Value, cwd: &str) -> Value {
    match value {
        Value::String(text) => {
            let text = text.replace(cwd, "<cwd>");
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("/tmp/pi-bash-") {
                out.push_str(&rest[..start]);
                let tail = &rest[start..];
                let end = tail.find(".log").map_or(tail.len(), |i| i + 4);
                out.push_str("<log>");
                rest = &tail[end..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| normalise(v, cwd)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalise(v, cwd)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Answers one model turn per call; returns the results as pi reported them.
async fn run_calls(
    rig: &mut Rig,
    pi: &mut Pi,
    first: Option<crate::harness::Turn>,
) -> crate::harness::Turn {
    let mut turn = match first {
        Some(turn) => turn,
        None => rig.llm.next().await.unwrap(),
    };
    for (name, args) in calls() {
        turn.tool(name, args);
        turn = rig.llm.next().await.unwrap();
    }
    let _ = pi;
    turn
}

fn results(pi: &Pi, range: std::ops::Range<usize>, cwd: &str) -> Vec<Value> {
    pi.tool_ends()[range]
        .iter()
        .map(|end| {
            let result = json!({"name": end.name, "isError": end.is_error, "result": end.result});
            normalise(&result, cwd)
        })
        .collect()
}

#[tokio::test]
async fn read_edit_write_bash_ls_are_identical_locally_and_on_a_vm() {
    parity(rig!()).await;
}

#[tokio::test]
async fn results_are_identical_locally_and_on_a_vm_on_pi_0_87() {
    parity(rig!("0.87.1")).await;
}

async fn parity(rig: Rig) {
    let mut rig = rig;
    write_fixtures(&rig.work().join("fx"));
    write_fixtures(&rig.work().join("orig"));
    let mut pi = rig.pi_all_tools().await.unwrap();
    pi.prompt("compare").await.unwrap();

    let turn = rig.llm.next().await.unwrap();
    turn.tool("create_vm", json!({}));
    let turn = rig.llm.next().await.unwrap();
    let vm = turn.tool_result().unwrap().replace("VM created: ", "");
    turn.tool(
        "vm_copy",
        json!({"src": "orig", "dst": format!("vm:{vm}:/root/fx")}),
    );
    let turn = rig.llm.next().await.unwrap();
    assert!(
        turn.tool_result().unwrap().starts_with("Copied "),
        "{:?}",
        turn.tool_result()
    );

    let turn = run_calls(&mut rig, &mut pi, Some(turn)).await;
    turn.tool("vm_use", json!({"vmId": vm}));
    let turn = run_calls(&mut rig, &mut pi, None).await;
    turn.text("done");
    pi.agent_end().await.unwrap();

    let n = calls().len();
    let local = results(&pi, 2..2 + n, &rig.work().display().to_string());
    let remote = results(&pi, 3 + n..3 + 2 * n, "/root");
    for (i, (local, remote)) in local.iter().zip(&remote).enumerate() {
        assert_eq!(local, remote, "call {i} {:?} differs", calls()[i]);
    }
    assert_eq!(remote.len(), n);
    let image = &remote[5]["result"]["content"];
    assert_eq!(image[1]["type"], "image", "{image}");
    assert_eq!(image[1]["mimeType"], "image/png");
    let timeout = remote[17]["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(
        timeout, "partial\n\n\nCommand timed out after 1 seconds",
        "{timeout}"
    );
    let od = remote[12]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        od.contains("\\r  \\n") && od.contains("357 273 277"),
        "CRLF and BOM kept: {od}"
    );
    let on_vm = rig
        .sim
        .ssh(&vm)
        .run("od -c /root/fx/crlf.txt; cat /root/fx/new.txt")
        .await
        .unwrap();
    let local_od = std::process::Command::new("od")
        .arg("-c")
        .arg(rig.work().join("fx/crlf.txt"))
        .output()
        .unwrap();
    let local_new = std::fs::read_to_string(rig.work().join("fx/new.txt")).unwrap();
    assert_eq!(
        on_vm.stdout_str(),
        format!("{}{local_new}", String::from_utf8_lossy(&local_od.stdout)),
        "the VM's files were edited, exactly as the local ones"
    );
    pi.quit().await.unwrap();
}
