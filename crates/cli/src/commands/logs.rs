//! `tether vm logs` and `tether vm attach`: a VM's exec log, and rejoining one run.

use std::io::Write;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use tether_router::Router;
use tether_wire::{ExecLogEntry, ExecLogQuery, ExecStream};

use super::Ctx;
use super::exec::follow;
use super::exec_api::Run;
use crate::cli::{AttachArgs, LogsArgs};

/// Entries asked for per page of the log.
const LOG_PAGE: u32 = 1000;

/// `tether vm logs VM`: the log from `--offset`, only `--exec`'s run if given; with `-f`,
/// that run followed live to its end.
pub(crate) async fn logs(ctx: &Ctx, router: &Router, args: LogsArgs) -> anyhow::Result<u8> {
    let vm_id = router.resolve_vm(&args.vm).await?;
    if let (true, Some(exec_id)) = (args.follow, &args.exec_id) {
        return follow(ctx, &vm_id, Run::join(router.vers(), &vm_id, exec_id, None)).await;
    }
    let (entries, next_offset) = read_log(router, &vm_id, args.offset).await?;
    let entries: Vec<ExecLogEntry> = entries
        .into_iter()
        .filter(|e| args.exec_id.is_none() || e.exec_id == args.exec_id)
        .collect();
    if ctx.out.json {
        let json = json!({
            "vm_id": vm_id,
            "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
            "next_offset": next_offset,
        });
        ctx.out.print("", &json)?;
        return Ok(0);
    }
    if entries.is_empty() {
        eprintln!(
            "tether: nothing logged; the output of commands run through the API (e.g. \
             `tether exec --api`) is logged"
        );
    }
    print_entries(&entries)?;
    Ok(0)
}

/// Every entry of the log from `offset`, and the offset after the last one.
async fn read_log(
    router: &Router,
    vm_id: &str,
    offset: Option<u64>,
) -> anyhow::Result<(Vec<ExecLogEntry>, u64)> {
    let mut entries = Vec::new();
    let mut offset = offset.unwrap_or(0);
    loop {
        let query = ExecLogQuery {
            offset: Some(offset),
            max_entries: Some(LOG_PAGE),
            stream: None,
        };
        let page = router.vers().exec_logs(vm_id, &query).await?;
        let done = page.eof || page.entries.is_empty() || page.next_offset <= offset;
        entries.extend(page.entries);
        offset = page.next_offset;
        if done {
            return Ok((entries, offset));
        }
    }
}

/// Output to stdout and stderr as the run wrote it, a line on stderr naming each run.
fn print_entries(entries: &[ExecLogEntry]) -> anyhow::Result<()> {
    let mut current: Option<&str> = None;
    for entry in entries {
        let exec_id = entry.exec_id.as_deref();
        if exec_id != current {
            eprintln!("tether: exec {}", exec_id.unwrap_or("(no id)"));
            current = exec_id;
        }
        let data = B64.decode(&entry.data_b64).unwrap_or_default();
        let written = match entry.stream {
            ExecStream::Stdout => write_flushed(&mut std::io::stdout().lock(), &data),
            ExecStream::Stderr => write_flushed(&mut std::io::stderr().lock(), &data),
        };
        written.context("could not write the log out")?;
    }
    Ok(())
}

fn write_flushed(to: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    to.write_all(bytes)?;
    to.flush()
}

fn entry_json(entry: &ExecLogEntry) -> Value {
    let data = B64.decode(&entry.data_b64).unwrap_or_default();
    json!({
        "exec_id": entry.exec_id,
        "timestamp": entry.timestamp,
        "stream": entry.stream,
        "data": String::from_utf8_lossy(&data),
    })
}

/// `tether vm attach VM EXEC_ID`: the run's output from the start (or after `--cursor`) to
/// its end, rejoined after a dropped connection; exits with the run's code.
pub(crate) async fn attach(ctx: &Ctx, router: &Router, args: AttachArgs) -> anyhow::Result<u8> {
    let vm_id = router.resolve_vm(&args.vm).await?;
    let run = Run::join(router.vers(), &vm_id, &args.exec_id, args.cursor);
    follow(ctx, &vm_id, run).await
}
