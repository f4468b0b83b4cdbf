//! The tools' arguments, as models send them (pi's names: camelCase), with JSON schemas.
//!
//! Every struct rejects unknown fields, so a misspelt argument is an error the model sees
//! instead of being silently ignored. [`parse`] turns raw JSON arguments into one of them with
//! an error that names the tool.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ToolError;

/// `bash`: run a command.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BashArgs {
    /// The bash command to run.
    pub command: String,
    /// Timeout in seconds (no timeout when left out); the command's whole process group is
    /// killed when it runs out.
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `read`: read a file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadArgs {
    /// Path to the file (relative to the working directory, or absolute; `~` is the home).
    pub path: String,
    /// Line number to start reading from (1-based).
    #[serde(default)]
    pub offset: Option<u64>,
    /// Maximum number of lines to read.
    #[serde(default)]
    pub limit: Option<u64>,
}

/// One replacement of `edit`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditPair {
    /// Text to find: it must match exactly once in the original file (whitespace included).
    pub old_text: String,
    /// Text to put in its place.
    pub new_text: String,
}

/// `edit`: replace text in a file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EditArgs {
    /// Path to the file to edit.
    pub path: String,
    /// The replacements, each matched against the original file; they must not overlap.
    pub edits: Vec<EditPair>,
}

/// `write`: create or replace a file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteArgs {
    /// Path to the file to write.
    pub path: String,
    /// The file's new content.
    pub content: String,
}

/// `ls`: list a directory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LsArgs {
    /// Directory to list (default: the working directory).
    #[serde(default)]
    pub path: Option<String>,
    /// Maximum number of entries (default 500).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `find`: find files by glob pattern.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindArgs {
    /// Glob pattern, e.g. `*.ts`, `**/*.json` or `src/**/*.rs`; a pattern without `/`
    /// matches file names at any depth.
    pub pattern: String,
    /// Directory to search (default: the working directory).
    #[serde(default)]
    pub path: Option<String>,
    /// Maximum number of results (default 1000).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `grep`: search file contents.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrepArgs {
    /// Pattern to search for: a regex (Perl-compatible, as in ripgrep), or a fixed string with
    /// `literal`.
    pub pattern: String,
    /// Directory or file to search (default: the working directory).
    #[serde(default)]
    pub path: Option<String>,
    /// Only search files whose name matches this glob, e.g. `*.rs`.
    #[serde(default)]
    pub glob: Option<String>,
    /// Ignore case.
    #[serde(default)]
    pub ignore_case: Option<bool>,
    /// Treat the pattern as a fixed string.
    #[serde(default)]
    pub literal: Option<bool>,
    /// Lines of context to show before and after each match (default 0).
    #[serde(default)]
    pub context: Option<u64>,
    /// Maximum number of matches (default 100).
    #[serde(default)]
    pub limit: Option<u64>,
}

/// `bg_start`: start a background process.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgStartArgs {
    /// The bash command to run in the background (a dev server, a watcher, a long build).
    pub command: String,
    /// Directory to run it in (default: the working directory).
    #[serde(default)]
    pub cwd: Option<String>,
    /// A name to recognise it by; no two running processes may share one.
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds it may run; then its process group is stopped (SIGTERM, SIGKILL 5 s later)
    /// and it shows as timed out. No limit when left out.
    #[serde(default)]
    pub timeout: Option<f64>,
}

/// `bg_list`: list background processes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BgListArgs {}

/// `bg_logs`: read a background process's output.
#[derive(Clone, Debug, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgLogsArgs {
    /// The process id that bg_start returned.
    pub id: String,
    /// Byte offset to read from (the `next offset` of the previous bg_logs call), to follow
    /// the output without rereading it.
    #[serde(default)]
    pub offset: Option<u64>,
    /// Only the last this many lines (instead of reading from `offset`).
    #[serde(default)]
    pub tail: Option<u64>,
    /// Wait up to this many seconds (at most 60) for output past `offset`, or for the process
    /// to end, before answering.
    #[serde(default)]
    pub wait: Option<f64>,
}

/// `bg_stop`: stop a background process.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgStopArgs {
    /// The process id that bg_start returned.
    pub id: String,
}

/// Parses `arguments` (a JSON object, or nothing) as the arguments of `tool`.
pub fn parse<T: DeserializeOwned>(
    tool: &str,
    arguments: Option<Map<String, Value>>,
) -> Result<T, ToolError> {
    let value = Value::Object(arguments.unwrap_or_default());
    serde_json::from_value(value).map_err(|e| ToolError::BadArguments {
        tool: tool.to_owned(),
        reason: e.to_string(),
    })
}

/// pi's `prepareArguments` for edit: a legacy top-level `oldText`/`newText` pair becomes
/// `edits[0]`, and `edits` sent as a JSON string is parsed.
pub fn prepare_edit_arguments(mut arguments: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::String(text)) = arguments.get("edits")
        && let Ok(parsed @ Value::Array(_)) = serde_json::from_str::<Value>(text)
    {
        arguments.insert("edits".into(), parsed);
    }
    if arguments.contains_key("oldText") || arguments.contains_key("newText") {
        let old = arguments.remove("oldText");
        let new = arguments.remove("newText");
        let mut pair = Map::new();
        if let Some(old) = old {
            pair.insert("oldText".into(), old);
        }
        if let Some(new) = new {
            pair.insert("newText".into(), new);
        }
        let edits = arguments
            .entry("edits")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(edits) = edits {
            edits.push(Value::Object(pair));
        }
    }
    arguments
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("an object"),
        }
    }

    #[test]
    fn unknown_and_missing_fields_are_errors_that_name_the_tool() {
        let err = parse::<ReadArgs>("read", Some(object(json!({"path": "a", "lines": 3}))))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid arguments for read: unknown field `lines`"),
            "{err}"
        );
        let err = parse::<ReadArgs>("read", None).unwrap_err().to_string();
        assert!(err.contains("missing field `path`"), "{err}");
    }

    #[test]
    fn legacy_edit_arguments_fold_into_edits() {
        let folded = prepare_edit_arguments(object(json!({
            "path": "f", "oldText": "a", "newText": "b"
        })));
        let args: EditArgs = parse("edit", Some(folded)).unwrap();
        assert_eq!(
            args.edits,
            vec![EditPair {
                old_text: "a".into(),
                new_text: "b".into()
            }]
        );
        let stringly = prepare_edit_arguments(object(json!({
            "path": "f", "edits": "[{\"oldText\":\"x\",\"newText\":\"y\"}]"
        })));
        let args: EditArgs = parse("edit", Some(stringly)).unwrap();
        assert_eq!(args.edits[0].old_text, "x");
    }
}
