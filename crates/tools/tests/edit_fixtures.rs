//! The edit engine against the fixture folders in `fixtures/edit/<case>/`: `input` (the file),
//! `edits.json` (the edit tool's arguments without `path`), and either `expected` (the file
//! afterwards, byte for byte) or `error` (the message); `diff` (pi's diff) when present.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tether_tools::args::{self, EditArgs};
use tether_tools::edit_text;

/// The name the fixtures' messages use for the file.
const FILE: &str = "file.txt";

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/edit");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    cases.sort();
    cases
}

/// The fixture's arguments as the edit tool receives them (legacy forms folded in).
fn arguments(case: &Path) -> EditArgs {
    let text = std::fs::read_to_string(case.join("edits.json")).unwrap();
    let Value::Object(mut raw) = serde_json::from_str(&text).unwrap() else {
        panic!("{}: edits.json is not an object", case.display());
    };
    raw.insert("path".into(), FILE.into());
    args::parse("edit", Some(args::prepare_edit_arguments(raw))).unwrap()
}

fn optional(case: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(case.join(name)).ok()
}

#[test]
fn every_fixture_gives_its_expected_file_or_error() {
    let cases = cases();
    assert!(cases.len() >= 10, "the fixtures are missing");
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = String::from_utf8(std::fs::read(case.join("input")).unwrap()).unwrap();
        let result = edit_text(&input, &arguments(case).edits, FILE);
        let expected = optional(case, "expected");
        let error = optional(case, "error").map(|e| String::from_utf8(e).unwrap());
        match (result, expected, error) {
            (Ok(edited), Some(expected), None) => {
                if edited.content.as_bytes() != expected {
                    failures.push(format!("{name}: got {:?}", edited.content));
                }
                if let Some(diff) = optional(case, "diff") {
                    let diff = String::from_utf8(diff).unwrap();
                    if edited.diff.diff != diff.trim_end_matches('\n') {
                        failures.push(format!("{name}: diff was {:?}", edited.diff.diff));
                    }
                }
            }
            (Err(err), None, Some(message)) => {
                if err.to_string() != message.trim_end_matches('\n') {
                    failures.push(format!("{name}: error was {:?}", err.to_string()));
                }
            }
            (result, expected, error) => failures.push(format!(
                "{name}: result {result:?} but the fixture has expected: {}, error: {}",
                expected.is_some(),
                error.is_some()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
