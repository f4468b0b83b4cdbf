//! `vm_exec` with `detach: true` (a run through the API's exec stream, left running),
//! `vm_attach` (rejoin it from a cursor) and `vm_logs` (the VM's exec log).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::StreamExt;
use serde_json::json;
use tether_vers::ExecEvent;
use tether_wire::{AttachRequest, ExecLogQuery, ExecRequest, ExecStream};
use tokio::time::Instant;

use super::args::{VmAttachArgs, VmExecDetachArgs, VmLogsArgs};
use super::errors::{for_tools, usage};
use super::{ToolReply, vm_or_active};
use crate::{Router, RouterError};

/// How long `vm_attach` waits when not told.
pub const ATTACH_WAIT: Duration = Duration::from_secs(10);
/// The longest `vm_attach` waits.
pub const MAX_ATTACH_WAIT: Duration = Duration::from_secs(300);
/// The most output one `vm_attach` returns (the cursor continues past it).
pub const MAX_ATTACH_OUTPUT: usize = 50 * 1024;

/// `vm_exec` with `detach: true`: starts the command and returns its exec id.
pub(super) async fn vm_exec_detached(
    router: &Router,
    args: VmExecDetachArgs,
) -> Result<ToolReply, RouterError> {
    if !args.detach {
        return Err(usage(
            "only vm_exec with detach: true runs through the API; leave detach out to run the command and wait",
        ));
    }
    let vm_id = router.resolve_vm(&args.vm_id).await?;
    let exec_id = uuid::Uuid::new_v4().to_string();
    let request = ExecRequest {
        command: vec!["bash".into(), "-c".into(), args.command],
        env: None,
        working_dir: None,
        stdin: None,
        timeout_secs: args.timeout.map(|secs| secs.ceil().max(1.0) as u64),
        exec_id: Some(exec_id.clone()),
    };
    // The run has started once the stream answers; it goes on after the stream is dropped.
    let events = router
        .vers()
        .exec_stream(&vm_id, &request)
        .await
        .map_err(for_tools)?;
    drop(events);
    let text = format!(
        "Started on VM {vm_id} as exec {exec_id}; it keeps running without this call. \
         vm_attach with execId {exec_id} waits for its output and exit code; vm_logs shows the \
         VM's exec output."
    );
    Ok(ToolReply::new(
        text,
        json!({ "vmId": vm_id, "execId": exec_id }),
    ))
}

/// What one `vm_attach` read.
struct Attached {
    output: Vec<u8>,
    exit_code: Option<i32>,
    /// The stream ended without an exit status.
    broken: bool,
}

/// `vm_attach`: a detached run's output from a cursor, and its exit code once it ended.
pub(super) async fn vm_attach(
    router: &Router,
    args: VmAttachArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let vm_id = vm_or_active(router, args.vm_id.as_deref(), active).await?;
    let wait = match args.wait {
        Some(secs) if secs.is_finite() && secs >= 0.0 => {
            Duration::from_secs_f64(secs).min(MAX_ATTACH_WAIT)
        }
        Some(secs) => {
            return Err(usage(format!(
                "wait {secs} is not a number of seconds; give 0 to {}",
                MAX_ATTACH_WAIT.as_secs()
            )));
        }
        None => ATTACH_WAIT,
    };
    let request = AttachRequest {
        exec_id: args.exec_id.clone(),
        cursor: args.cursor,
        from_latest: None,
    };
    let mut events = router
        .vers()
        .exec_attach(&vm_id, &request)
        .await
        .map_err(for_tools)?;
    let deadline = Instant::now() + wait;
    let mut read = Attached {
        output: Vec::new(),
        exit_code: None,
        broken: false,
    };
    while read.output.len() < MAX_ATTACH_OUTPUT {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => break,
            Ok(None) => {
                read.broken = true;
                break;
            }
            Ok(Some(Ok(ExecEvent::Output { data, .. }))) => read.output.extend_from_slice(&data),
            Ok(Some(Ok(ExecEvent::Exit { exit_code }))) => {
                read.exit_code = Some(exit_code);
                break;
            }
            Ok(Some(Err(err))) => return Err(for_tools(err)),
        }
    }
    let cursor = events.position().cursor;
    Ok(attach_reply(&vm_id, &args.exec_id, read, cursor, wait))
}

fn attach_reply(
    vm_id: &str,
    exec_id: &str,
    read: Attached,
    cursor: Option<u64>,
    wait: Duration,
) -> ToolReply {
    let mut text = String::from_utf8_lossy(&read.output).into_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let again = match cursor {
        Some(cursor) => format!("call vm_attach with execId {exec_id} and cursor {cursor}"),
        None => format!("call vm_attach with execId {exec_id} again"),
    };
    let trailer = match read.exit_code {
        Some(code) => format!("[exec {exec_id} exited with code {code}]"),
        None if read.broken => {
            format!("[the output stream ended before the exit status; {again} to rejoin]")
        }
        None if read.output.len() >= MAX_ATTACH_OUTPUT => {
            format!(
                "[{}KB of output returned; {again} for the rest]",
                MAX_ATTACH_OUTPUT / 1024
            )
        }
        None => format!(
            "[exec {exec_id} still running after {}s; {again} to continue]",
            wait.as_secs_f64()
        ),
    };
    text.push_str(&trailer);
    let details = json!({
        "vmId": vm_id,
        "execId": exec_id,
        "cursor": cursor,
        "finished": read.exit_code.is_some(),
        "exitCode": read.exit_code,
    });
    ToolReply::new(text, details)
}

/// `vm_logs`: the VM's exec log from an offset, grouped by run and stream.
pub(super) async fn vm_logs(
    router: &Router,
    args: VmLogsArgs,
    active: Option<&str>,
) -> Result<ToolReply, RouterError> {
    let vm_id = vm_or_active(router, args.vm_id.as_deref(), active).await?;
    let offset = args.offset.unwrap_or(0);
    let query = ExecLogQuery {
        offset: Some(offset),
        max_entries: args.max_entries,
        stream: None,
    };
    let log = router
        .vers()
        .exec_logs(&vm_id, &query)
        .await
        .map_err(for_tools)?;
    let mut text = String::new();
    let mut current: Option<(Option<String>, ExecStream)> = None;
    let mut entries = Vec::new();
    for entry in &log.entries {
        let data = B64.decode(&entry.data_b64).unwrap_or_default();
        let data = String::from_utf8_lossy(&data).into_owned();
        let key = (entry.exec_id.clone(), entry.stream);
        if current.as_ref() != Some(&key) {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            let stream = match entry.stream {
                ExecStream::Stdout => "stdout",
                ExecStream::Stderr => "stderr",
            };
            let exec = entry.exec_id.as_deref().unwrap_or("(unknown)");
            text.push_str(&format!("--- exec {exec} {stream} ---\n"));
            current = Some(key);
        }
        text.push_str(&data);
        entries.push(json!({ "execId": entry.exec_id, "stream": entry.stream,
            "timestamp": entry.timestamp, "text": data }));
    }
    if log.entries.is_empty() {
        text = format!("VM {vm_id} has no exec output past offset {offset}.\n");
    } else if !text.ends_with('\n') {
        text.push('\n');
    }
    let next = log.next_offset;
    if log.eof {
        text.push_str(&format!("[end of the log; next offset {next}]"));
    } else {
        text.push_str(&format!("[more: call vm_logs with offset {next}]"));
    }
    let details = json!({ "vmId": vm_id, "entries": entries, "nextOffset": next, "eof": log.eof });
    Ok(ToolReply::new(text, details))
}
