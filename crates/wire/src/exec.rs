//! Running commands through the API: `POST /vm/{id}/exec` and `/exec/stream` (NDJSON).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Body of `POST /vm/{id}/exec` and `/exec/stream`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// Program and arguments (no shell unless you name one).
    pub command: Vec<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    /// Working directory inside the VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Text fed to the command's stdin (then EOF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Time limit in seconds; `0` or absent means none (see [`ExecRequest::timeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_secs: Option<u64>,
    /// Id to track this run by (a UUID); default: a fresh one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
}

impl ExecRequest {
    /// The time limit: `None` for no limit (the wire spells that `0` or leaves it out).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_secs
            .filter(|secs| *secs > 0)
            .map(Duration::from_secs)
    }
}

/// Reply of `POST /vm/{id}/exec`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecResponse {
    /// The command's exit code.
    pub exit_code: i32,
    /// Its stdout, decoded as UTF-8 (lossy).
    pub stdout: String,
    /// Its stderr, decoded as UTF-8 (lossy).
    pub stderr: String,
    /// The run's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
}

/// Which output stream a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// One line of an `/exec/stream` reply (`application/x-ndjson`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ExecStreamEvent {
    /// Output, as it arrives.
    Chunk {
        /// The run's id.
        exec_id: String,
        /// Position of this event in the run (increasing).
        cursor: u64,
        /// Which stream.
        stream: ExecStream,
        /// The bytes, base64.
        data_b64: String,
    },
    /// The command ended; always the last event of a run that started.
    Exit {
        /// The run's id.
        exec_id: String,
        /// Position of this event in the run.
        cursor: u64,
        /// The exit code.
        exit_code: i32,
    },
    /// The run failed on the server's side; the last event.
    Error {
        /// A machine-readable code.
        code: String,
        /// What went wrong and what to do.
        message: String,
    },
}

/// Body of `POST /vm/{id}/exec/stream/attach`: rejoin a run by its id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRequest {
    /// The run to rejoin (the `exec_id` of its stream lines).
    pub exec_id: String,
    /// Resume after this cursor (exclusive); absent: replay the run from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Skip what was already sent and follow only what comes next (ignores `cursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_latest: Option<bool>,
}

/// Query of `GET /vm/{id}/logs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecLogQuery {
    /// Byte offset into the VM's exec log to read from (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// At most this many entries (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_entries: Option<u32>,
    /// Only this stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<ExecStream>,
}

/// One chunk of a run's output in the VM's exec log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecLogEntry {
    /// The run it came from.
    #[serde(default)]
    pub exec_id: Option<String>,
    /// When it was read (RFC 3339).
    pub timestamp: String,
    /// Which stream.
    pub stream: ExecStream,
    /// The bytes, base64.
    pub data_b64: String,
}

/// `GET /vm/{id}/logs` reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecLogResponse {
    /// Entries in the order they were written.
    pub entries: Vec<ExecLogEntry>,
    /// The offset to read from next.
    pub next_offset: u64,
    /// Whether the end of the log was reached.
    pub eof: bool,
}
