//! [`ToolError`]: why a tool call failed, worded for the model that made it.
//!
//! A tool error is what the model reads as the (error) result of its call, so each message
//! says what went wrong and what to do next. The texts of command, read and edit failures are
//! pi's own, so a model sees the same words whichever front end it uses.

use tether_target::TargetError;

/// Why the edit engine refused a set of edits. Messages are pi's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The file is not UTF-8 text, so a text edit could corrupt it.
    #[error(
        "{path} is not UTF-8 text, so edit cannot change it safely; use write to replace it, or bash for binary files"
    )]
    NotText {
        /// The file.
        path: String,
    },
    /// No edits were given.
    #[error("No edits given for {path}. Pass edits: [{{oldText, newText}}, …].")]
    NoEdits {
        /// The file.
        path: String,
    },
    /// An edit's `oldText` is empty.
    #[error("{} must not be empty in {path}.", edit_name(*index, "oldText"))]
    EmptyOldText {
        /// The file.
        path: String,
        /// The edit's index, when there are several.
        index: Option<usize>,
    },
    /// An edit's `oldText` occurs nowhere, not even after fuzzy normalisation.
    #[error("{}", not_found(path, *index))]
    NotFound {
        /// The file.
        path: String,
        /// The edit's index, when there are several.
        index: Option<usize>,
    },
    /// An edit's `oldText` occurs more than once.
    #[error("{}", not_unique(path, *index, *count))]
    NotUnique {
        /// The file.
        path: String,
        /// The edit's index, when there are several.
        index: Option<usize>,
        /// How often it occurs.
        count: usize,
    },
    /// Two edits touch the same text.
    #[error(
        "edits[{first}] and edits[{second}] overlap in {path}. Merge them into one edit or target disjoint regions."
    )]
    Overlap {
        /// The file.
        path: String,
        /// The earlier edit (by position in the file).
        first: usize,
        /// The later one.
        second: usize,
    },
    /// The edits leave the file as it was.
    #[error("{}", no_change(path, *several))]
    NoChange {
        /// The file.
        path: String,
        /// Whether there were several edits.
        several: bool,
    },
}

fn edit_name(index: Option<usize>, field: &str) -> String {
    match index {
        Some(i) => format!("edits[{i}].{field}"),
        None => field.to_owned(),
    }
}

fn not_found(path: &str, index: Option<usize>) -> String {
    match index {
        None => format!(
            "Could not find the exact text in {path}. The old text must match exactly including all whitespace and newlines."
        ),
        Some(i) => format!(
            "Could not find edits[{i}] in {path}. The oldText must match exactly including all whitespace and newlines."
        ),
    }
}

fn not_unique(path: &str, index: Option<usize>, count: usize) -> String {
    match index {
        None => format!(
            "Found {count} occurrences of the text in {path}. The text must be unique. Please provide more context to make it unique."
        ),
        Some(i) => format!(
            "Found {count} occurrences of edits[{i}] in {path}. Each oldText must be unique. Please provide more context to make it unique."
        ),
    }
}

fn no_change(path: &str, several: bool) -> String {
    if several {
        format!("No changes made to {path}. The replacements produced identical content.")
    } else {
        format!(
            "No changes made to {path}. The replacement produced identical content. This might indicate an issue with special characters or the text not existing as expected."
        )
    }
}

/// Why a tool call failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The command exited with a non-zero code (128 + n when killed by signal n).
    #[error("{}Command exited with code {code}", with_gap(output))]
    CommandExited {
        /// Its output (truncated, with pi's trailer when it was).
        output: String,
        /// The exit code.
        code: u32,
    },
    /// The command ran past its timeout; its process group was killed.
    #[error("{}Command timed out after {seconds} seconds", with_gap(output))]
    CommandTimedOut {
        /// Its output until then.
        output: String,
        /// The timeout, as given.
        seconds: String,
    },
    /// The call was cancelled; the command's process group was killed.
    #[error("{}Command aborted", with_gap(output))]
    CommandAborted {
        /// Its output until then.
        output: String,
    },
    /// `read` was asked to start past the end of the file.
    #[error("Offset {offset} is beyond end of file ({total} lines total)")]
    OffsetBeyondEnd {
        /// The offset given (1-based line).
        offset: u64,
        /// Lines in the file.
        total: usize,
    },
    /// A file is too large to be read whole.
    #[error(
        "{path} is {size} bytes, more than the {max} bytes read can load; use bash (e.g. head, tail, sed -n) to look at parts of it"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// `ls` or a search was pointed at a path that does not exist.
    #[error("Path not found: {path}")]
    PathNotFound {
        /// The path.
        path: String,
    },
    /// `ls` was pointed at something that is not a directory.
    #[error("Not a directory: {path}")]
    NotADirectory {
        /// The path.
        path: String,
    },
    /// The edits cannot be applied.
    #[error(transparent)]
    Edit(#[from] EditError),
    /// The arguments do not fit the tool's schema.
    #[error("invalid arguments for {tool}: {reason}; fix them and call {tool} again")]
    BadArguments {
        /// The tool.
        tool: String,
        /// What is wrong.
        reason: String,
    },
    /// No background process has this id.
    #[error(
        "there is no background process {id} on {target}; call bg_list to see the ids (they are kept per machine: local or a VM)"
    )]
    NoSuchProcess {
        /// The id asked for.
        id: String,
        /// Where it was looked for.
        target: String,
    },
    /// A running background process already has this name.
    #[error(
        "a background process named {name:?} is already running (id {id}); use bg_logs {id} to follow it, bg_stop {id} to end it, or choose another name"
    )]
    NameTaken {
        /// The name.
        name: String,
        /// The running process's id.
        id: String,
    },
    /// The target's reply to a background-process request could not be understood.
    #[error(
        "unexpected reply from {target} while {what}: {reply}; check that the machine has bash, setsid and coreutils, then retry"
    )]
    Unexpected {
        /// Where it ran.
        target: String,
        /// What was being done.
        what: &'static str,
        /// What came back (shortened).
        reply: String,
    },
    /// A local file (the full output of a long command) could not be handled.
    #[error("{context}: {source}; check free space in the temporary directory, then retry")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An operation on the target failed.
    #[error(transparent)]
    Target(#[from] TargetError),
}

/// `output` followed by a blank line, or nothing when there is no output.
fn with_gap(output: &str) -> String {
    if output.is_empty() {
        String::new()
    } else {
        format!("{output}\n\n")
    }
}
