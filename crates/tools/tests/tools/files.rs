//! `read`, `edit` and `write` on every backend: the edit fixtures through the edit tool, exact
//! bytes, images, pi's hints and errors.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tether_tools::args::{self, EditArgs, ReadArgs, WriteArgs};
use tether_tools::{Content, edit, read, write};

use crate::common::{backends, same};
use crate::text;

fn fixtures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edit");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    cases
}

fn edit_args(case: &Path, path: &str) -> EditArgs {
    let text = std::fs::read_to_string(case.join("edits.json")).unwrap();
    let Value::Object(mut raw) = serde_json::from_str(&text).unwrap() else {
        panic!("edits.json is an object");
    };
    raw.insert("path".into(), path.into());
    args::parse("edit", Some(args::prepare_edit_arguments(raw))).unwrap()
}

#[tokio::test]
async fn the_edit_fixtures_give_the_same_files_and_errors_everywhere() {
    for b in backends().await {
        for case in fixtures() {
            let name = case.file_name().unwrap().to_string_lossy().into_owned();
            let input = std::fs::read(case.join("input")).unwrap();
            b.target()
                .write_file(&b.path("file.txt"), &input)
                .await
                .unwrap();
            let result = edit(&b.ws, edit_args(&case, "file.txt")).await;
            let after = b.target().read_file(&b.path("file.txt")).await.unwrap();
            match std::fs::read(case.join("expected")) {
                Ok(expected) => {
                    let out = result.unwrap_or_else(|e| panic!("{}/{name}: {e}", b.name));
                    assert_eq!(after, expected, "{}/{name}", b.name);
                    let blocks = out.details.as_ref().unwrap()["patch"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    assert!(
                        blocks.starts_with("--- file.txt\n+++ file.txt\n@@"),
                        "{blocks}"
                    );
                    assert!(
                        out.joined_text().starts_with("Successfully replaced "),
                        "{name}"
                    );
                }
                Err(_) => {
                    let message = std::fs::read_to_string(case.join("error")).unwrap();
                    let err = result.expect_err(&format!("{}/{name} must fail", b.name));
                    assert_eq!(err.to_string(), message.trim_end(), "{}/{name}", b.name);
                    assert_eq!(
                        after, input,
                        "{}/{name}: a failed edit changed the file",
                        b.name
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn write_creates_parents_and_keeps_exact_bytes() {
    let content = "\u{feff}a\r\nb\n\ttab é\n";
    let mut results = Vec::new();
    for b in backends().await {
        let args = WriteArgs {
            path: "deep/er/new.txt".into(),
            content: content.into(),
        };
        let out = text(write(&b.ws, args).await);
        let bytes = b
            .target()
            .read_file(&b.path("deep/er/new.txt"))
            .await
            .unwrap();
        assert_eq!(bytes, content.as_bytes(), "{}", b.name);
        let edited = edit(
            &b.ws,
            EditArgs {
                path: "deep/er/new.txt".into(),
                edits: vec![args::EditPair {
                    old_text: "b\n".into(),
                    new_text: "B\n".into(),
                }],
            },
        )
        .await
        .unwrap();
        let diff = edited.details.unwrap()["diff"].as_str().unwrap().to_owned();
        let after = b
            .target()
            .read_file(&b.path("deep/er/new.txt"))
            .await
            .unwrap();
        results.push((b.name, (out, diff, after)));
    }
    let (out, diff, after) = same(&results);
    assert_eq!(
        out,
        format!(
            "Successfully wrote {} bytes to deep/er/new.txt",
            content.len()
        )
    );
    assert_eq!(diff, " 1 a\n-2 b\n+2 B\n 3 \ttab é");
    // The first line ending is CRLF, so every line ending becomes CRLF.
    assert_eq!(after, "\u{feff}a\r\nB\r\n\ttab é\r\n".as_bytes());
}

#[tokio::test]
async fn read_gives_pi_hints_errors_and_images() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image".to_vec();
    let lines: String = (1..=2100).map(|i| format!("line {i}\n")).collect();
    let mut results = Vec::new();
    for b in backends().await {
        b.target()
            .write_file(&b.path("pic.png"), &png)
            .await
            .unwrap();
        b.target()
            .write_file(&b.path("long.txt"), lines.as_bytes())
            .await
            .unwrap();
        let read_args = |path: &str, offset, limit| ReadArgs {
            path: path.into(),
            offset,
            limit,
        };
        let image = read(&b.ws, read_args("@pic.png", None, None))
            .await
            .unwrap();
        let long = text(read(&b.ws, read_args("long.txt", None, None)).await);
        let window = text(read(&b.ws, read_args("long.txt", Some(2000), Some(2))).await);
        let beyond = text(read(&b.ws, read_args("long.txt", Some(5000), None)).await);
        let missing = text(read(&b.ws, read_args("nope.txt", None, None)).await);
        let home = text(read(&b.ws, read_args("~", None, None)).await);
        let tail = long[long.len() - 80..].to_owned();
        let normalized = [
            b.normalize(&missing),
            b.normalize(&home.replace(b.ws.home(), "$HOME")),
        ];
        results.push((b.name, (image.content, tail, window, beyond, normalized)));
    }
    let (image, tail, window, beyond, [missing, home]) = same(&results);
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(&png);
    assert_eq!(
        image,
        vec![
            Content::Text {
                text: "Read image file [image/png]".into()
            },
            Content::Image {
                data,
                mime_type: "image/png".into()
            },
        ]
    );
    assert!(
        tail.ends_with("line 2000\n\n[Showing lines 1-2000 of 2101. Use offset=2001 to continue.]"),
        "{tail}"
    );
    assert_eq!(
        window,
        "line 2000\nline 2001\n\n[100 more lines in file. Use offset=2002 to continue.]"
    );
    assert_eq!(
        beyond,
        "error: Offset 5000 is beyond end of file (2101 lines total)"
    );
    assert_eq!(
        missing,
        "error: $ROOT/nope.txt does not exist; check the path, or list its directory to see what is there"
    );
    assert!(home.starts_with("error: $HOME is a directory"), "{home}");
}
