//! The edit fixtures of tether-tools through MCP's write, edit and read, on this machine and on
//! a VM: the same files, texts and errors on both, and the ones the fixtures expect.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::client::{Client, Env};
use crate::client_ready;

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/tests/fixtures/edit");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    cases
}

/// What one fixture gave: the edit's text (or error) and the file afterwards.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    name: String,
    edit: Result<String, String>,
    after: String,
}

async fn run_fixtures(client: &mut Client) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for case in fixtures() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = std::fs::read_to_string(case.join("input")).unwrap();
        let wrote = client
            .call(
                "write",
                json!({"path": "fixture/file.txt", "content": input}),
            )
            .await;
        assert_eq!(
            wrote.ok(),
            format!(
                "Successfully wrote {} bytes to fixture/file.txt",
                input.len()
            )
        );
        let Value::Object(mut args) =
            serde_json::from_str(&std::fs::read_to_string(case.join("edits.json")).unwrap())
                .unwrap()
        else {
            panic!("{name}: edits.json is an object");
        };
        args.insert("path".into(), json!("fixture/file.txt"));
        let edited = client.call("edit", Value::Object(args)).await;
        let edit = if edited.is_error {
            Err(edited.text)
        } else {
            Ok(edited.text)
        };
        let after = client
            .call("read", json!({"path": "fixture/file.txt"}))
            .await;
        outcomes.push(Outcome {
            name,
            edit,
            after: after.ok().to_owned(),
        });
    }
    outcomes
}

/// A PNG read through MCP comes back as image content (base64 of the exact bytes).
async fn image_read(client: &mut Client) -> Value {
    let make = "printf '\\211PNG\\r\\n\\032\\n\\0\\0\\0\\rIHDR' > fixture/pic.png";
    client.call("bash", json!({"command": make})).await.ok();
    let read = client
        .call("read", json!({"path": "fixture/pic.png"}))
        .await;
    assert_eq!(read.ok(), "Read image file [image/png]");
    read.raw["content"][1].clone()
}

/// Checks the outcomes against the fixtures' `expected` and `error` files.
fn check(outcomes: &[Outcome]) {
    for (case, outcome) in fixtures().iter().zip(outcomes) {
        let input = std::fs::read_to_string(case.join("input")).unwrap();
        match std::fs::read_to_string(case.join("expected")) {
            Ok(expected) => {
                let text = outcome.edit.as_ref().unwrap();
                assert!(
                    text.starts_with("Successfully replaced "),
                    "{}: {text}",
                    outcome.name
                );
                assert!(
                    text.contains("\n\n--- fixture/file.txt\n+++ fixture/file.txt\n@@ "),
                    "{}: no diff in {text}",
                    outcome.name
                );
                assert_eq!(outcome.after, expected, "{}", outcome.name);
            }
            Err(_) => {
                let message = std::fs::read_to_string(case.join("error")).unwrap();
                let message = message.trim_end().replace("file.txt", "fixture/file.txt");
                assert_eq!(
                    outcome.edit.as_ref().unwrap_err(),
                    &message,
                    "{}",
                    outcome.name
                );
                assert_eq!(
                    outcome.after, input,
                    "{}: a failed edit changed the file",
                    outcome.name
                );
            }
        }
    }
}

#[tokio::test]
async fn edit_fixtures_give_the_same_results_locally_and_on_a_vm() {
    if !client_ready().await {
        return;
    }
    let Some(env) = Env::with_sim().await else {
        return;
    };
    let vm = env.new_vm().await;
    let mut client = env.client().await;
    let local = run_fixtures(&mut client).await;
    check(&local);
    let local_image = image_read(&mut client).await;
    let png = "iVBORw0KGgoAAAANSUhEUg==";
    assert_eq!(
        local_image,
        json!({"type": "image", "data": png, "mimeType": "image/png"})
    );
    client.call("vm_use", json!({"vmId": vm})).await.ok();
    let remote = run_fixtures(&mut client).await;
    assert_eq!(remote, local);
    assert_eq!(image_read(&mut client).await, local_image);
    let on_vm = client
        .call(
            "bash",
            json!({"command": "test -f /root/fixture/file.txt && echo there"}),
        )
        .await;
    assert_eq!(on_vm.ok(), "there\n");
    client.close().await;
}
