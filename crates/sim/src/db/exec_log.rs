//! The exec log: every chunk of output of every API exec, per VM, in order, and how each run
//! ended.
//!
//! On Vers the log is a file of NDJSON lines in the VM (`{exec_id, timestamp, stream,
//! data_b64}`), read from a byte offset. Here each chunk is a row whose `start` and `len` are
//! the offset and length that line would have, so offsets behave the same. A VM's log travels
//! with its disk: commits and branches copy it (`log_id` is a VM or commit id).

use rusqlite::{OptionalExtension, Row, params};
use tether_wire::ExecStream;

use super::{Db, Result, clamp};

/// One chunk of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogChunk {
    pub exec_id: String,
    /// Position of the chunk in its run (0, 1, …; the run's end takes the next one).
    pub cursor: u64,
    pub timestamp: String,
    pub stream: ExecStream,
    pub data: Vec<u8>,
}

/// A page of a log, read from a byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogPage {
    pub entries: Vec<LogChunk>,
    pub next_offset: u64,
    pub eof: bool,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// The command exited with `code`; `cursor` is the exit event's position.
    Exit { cursor: u64, code: i32 },
    /// The run failed on the simulator's side.
    Failed { cursor: u64, message: String },
}

/// A run as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunRecord {
    pub exec_id: String,
    /// `None` while it runs (or if the simulator stopped while it ran).
    pub end: Option<RunEnd>,
}

impl Db {
    /// Records that a run starts; an `exec_id` already used on this VM is a UNIQUE violation.
    pub fn insert_run(&self, vm_id: &str, exec_id: &str, started_at: &str) -> Result<()> {
        let sql = "INSERT INTO exec_runs (vm_id, exec_id, started_at) VALUES (?1, ?2, ?3)";
        self.conn()
            .execute(sql, [vm_id, exec_id, started_at])
            .map(drop)
    }

    /// Records how a run ended.
    pub fn finish_run(&self, vm_id: &str, exec_id: &str, end: &RunEnd) -> Result<()> {
        let (cursor, code, error) = match end {
            RunEnd::Exit { cursor, code } => (*cursor, Some(*code), None),
            RunEnd::Failed { cursor, message } => (*cursor, None, Some(message.as_str())),
        };
        let sql = "UPDATE exec_runs SET exit_cursor = ?3, exit_code = ?4, error = ?5
                   WHERE vm_id = ?1 AND exec_id = ?2";
        let args = params![vm_id, exec_id, clamp(cursor), code, error];
        self.conn().execute(sql, args).map(drop)
    }

    /// Forgets a run that never started.
    pub fn forget_run(&self, vm_id: &str, exec_id: &str) -> Result<()> {
        let sql = "DELETE FROM exec_runs WHERE vm_id = ?1 AND exec_id = ?2";
        self.conn().execute(sql, [vm_id, exec_id]).map(drop)
    }

    /// Ends, with `message`, every run recorded as running (after a restart: their processes
    /// are gone). The end takes the cursor after the run's last chunk.
    pub fn end_lost_runs(&self, message: &str) -> Result<usize> {
        let sql = "UPDATE exec_runs SET error = ?1, exit_cursor = (
                       SELECT COALESCE(MAX(l.cursor) + 1, 0) FROM exec_log l
                       WHERE l.log_id = exec_runs.vm_id AND l.exec_id = exec_runs.exec_id)
                   WHERE exit_cursor IS NULL";
        self.conn().execute(sql, [message])
    }

    /// A run of a VM, if it ran there.
    pub fn find_run(&self, vm_id: &str, exec_id: &str) -> Result<Option<RunRecord>> {
        let sql = "SELECT exec_id, exit_cursor, exit_code, error FROM exec_runs
                   WHERE vm_id = ?1 AND exec_id = ?2";
        self.conn()
            .query_row(sql, [vm_id, exec_id], run_record)
            .optional()
    }

    /// Appends a chunk to a log.
    pub fn append_log(&self, log_id: &str, chunk: &LogChunk, line_len: u64) -> Result<()> {
        let sql =
            "INSERT INTO exec_log (log_id, start, len, exec_id, cursor, timestamp, stream, data)
                   SELECT ?1, COALESCE((SELECT start + len FROM exec_log WHERE log_id = ?1
                                        ORDER BY start DESC LIMIT 1), 0), ?2, ?3, ?4, ?5, ?6, ?7";
        let args = params![
            log_id,
            clamp(line_len),
            chunk.exec_id,
            clamp(chunk.cursor),
            chunk.timestamp,
            stream_name(chunk.stream),
            chunk.data
        ];
        self.conn().execute(sql, args).map(drop)
    }

    /// Up to `max` entries from byte `offset` on, of one stream if given.
    pub fn read_log(
        &self,
        log_id: &str,
        offset: u64,
        max: u64,
        stream: Option<ExecStream>,
    ) -> Result<LogPage> {
        let conn = self.conn();
        let end: i64 = conn.query_row(
            "SELECT COALESCE(MAX(start + len), 0) FROM exec_log WHERE log_id = ?1",
            [log_id],
            |row| row.get(0),
        )?;
        let mut statement = conn.prepare(
            "SELECT start + len, exec_id, cursor, timestamp, stream, data FROM exec_log
             WHERE log_id = ?1 AND start >= ?2 AND (?3 IS NULL OR stream = ?3)
             ORDER BY start LIMIT ?4",
        )?;
        let args = params![log_id, clamp(offset), stream.map(stream_name), clamp(max)];
        let rows: Vec<(i64, LogChunk)> = statement
            .query_map(args, |row| Ok((row.get(0)?, log_chunk(row, 1)?)))?
            .collect::<Result<_>>()?;
        let end = u64::try_from(end).unwrap_or(0);
        let next_offset = match rows.last() {
            Some((after, _)) if rows.len() as u64 == max => u64::try_from(*after).unwrap_or(0),
            None if max == 0 => offset,
            _ => end.max(offset),
        };
        Ok(LogPage {
            eof: next_offset >= end,
            entries: rows.into_iter().map(|(_, chunk)| chunk).collect(),
            next_offset,
        })
    }

    /// Up to `max` chunks of one run after cursor `after` (all, with `None`), in order.
    pub fn run_chunks(
        &self,
        log_id: &str,
        exec_id: &str,
        after: Option<u64>,
        max: u64,
    ) -> Result<Vec<LogChunk>> {
        let conn = self.conn();
        let mut statement = conn.prepare(
            "SELECT exec_id, cursor, timestamp, stream, data FROM exec_log
             WHERE log_id = ?1 AND exec_id = ?2 AND (?3 IS NULL OR cursor > ?3)
             ORDER BY cursor LIMIT ?4",
        )?;
        let args = params![log_id, exec_id, after.map(clamp), clamp(max)];
        let rows = statement.query_map(args, |row| log_chunk(row, 0))?;
        rows.collect()
    }

    /// Copies a log (a VM's into a commit, a commit's into a new VM).
    pub fn copy_log(&self, from: &str, to: &str) -> Result<()> {
        let sql =
            "INSERT INTO exec_log (log_id, start, len, exec_id, cursor, timestamp, stream, data)
                   SELECT ?2, start, len, exec_id, cursor, timestamp, stream, data
                   FROM exec_log WHERE log_id = ?1";
        self.conn().execute(sql, [from, to]).map(drop)
    }
}

fn stream_name(stream: ExecStream) -> &'static str {
    match stream {
        ExecStream::Stdout => "stdout",
        ExecStream::Stderr => "stderr",
    }
}

fn log_chunk(row: &Row<'_>, first: usize) -> Result<LogChunk> {
    let stream: String = row.get(first + 3)?;
    let cursor: i64 = row.get(first + 1)?;
    Ok(LogChunk {
        exec_id: row.get(first)?,
        cursor: u64::try_from(cursor).unwrap_or(0),
        timestamp: row.get(first + 2)?,
        stream: if stream == "stderr" {
            ExecStream::Stderr
        } else {
            ExecStream::Stdout
        },
        data: row.get(first + 4)?,
    })
}

fn run_record(row: &Row<'_>) -> Result<RunRecord> {
    let cursor: Option<i64> = row.get(1)?;
    let code: Option<i32> = row.get(2)?;
    let error: Option<String> = row.get(3)?;
    let cursor = cursor.map(|c| u64::try_from(c).unwrap_or(0));
    let end = match (cursor, code, error) {
        (Some(cursor), Some(code), _) => Some(RunEnd::Exit { cursor, code }),
        (Some(cursor), None, Some(message)) => Some(RunEnd::Failed { cursor, message }),
        _ => None,
    };
    Ok(RunRecord {
        exec_id: row.get(0)?,
        end,
    })
}
