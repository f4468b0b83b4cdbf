//! One session with the host: read requests, dispatch them, until the stream ends.

use crate::error::GuestError;
use crate::exec::{self, ExecSpec};
use crate::files::{self, FileOp};
use crate::outbox::Outbox;
use crate::reaper;
use crate::table::Table;
use std::io::{BufReader, Read, Write};
use std::sync::{Arc, OnceLock};
use tether_guest_proto::{Event, PROTOCOL_VERSION, Request, read_frame};

/// The running commands and the writer to the host live as long as the process: the reaper
/// started with the first session keeps reaping, and reporting, across reconnections.
static STATE: OnceLock<(Arc<Table>, Outbox)> = OnceLock::new();

/// Serves one session: sends `Hello`, then answers requests from `reader` on `writer` until
/// the host closes the stream, then kills what is still running. `pid1` allows `PowerOff`.
pub fn serve(
    reader: impl Read,
    writer: impl Write + Send + 'static,
    pid1: bool,
) -> Result<(), GuestError> {
    let (table, outbox) = STATE.get_or_init(|| {
        let table = Arc::new(Table::default());
        let outbox = Outbox::new(std::io::sink());
        reaper::start(table.clone(), outbox.clone());
        (table, outbox)
    });
    outbox.replace(writer);
    outbox.send(
        &Event::Hello {
            version: PROTOCOL_VERSION,
            uptime_ms: uptime_ms(),
        },
        &[],
    );
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let result = loop {
        match read_frame::<Request, _>(&mut reader) {
            Ok(Some((request, payload))) => dispatch(table, outbox, request, payload, pid1),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e.into()),
        }
    };
    exec::kill_all(table);
    result
}

fn dispatch(table: &Table, outbox: &Outbox, request: Request, payload: Vec<u8>, pid1: bool) {
    let report = |id: u64, result: Result<(), (tether_guest_proto::ErrorKind, String)>| {
        if let Err((kind, message)) = result {
            outbox.send(&Event::Failed { id, kind, message }, &[]);
        }
    };
    match request {
        Request::Exec {
            id,
            argv,
            env,
            cwd,
            pty,
        } => {
            exec::start(
                table,
                outbox,
                id,
                ExecSpec {
                    argv,
                    env,
                    cwd,
                    pty,
                },
            );
        }
        Request::Stdin { id } => exec::stdin(table, id, Some(payload)),
        Request::CloseStdin { id } => exec::stdin(table, id, None),
        Request::Signal { id, signal } => report(id, exec::signal(table, id, signal)),
        Request::Resize { id, size } => report(id, exec::resize(table, id, size)),
        Request::ReadFile { id, path } => files::spawn(outbox.clone(), id, FileOp::Read { path }),
        Request::WriteFile { id, path, mode } => {
            files::spawn(
                outbox.clone(),
                id,
                FileOp::Write {
                    path,
                    mode,
                    data: payload,
                },
            );
        }
        Request::Stat { id, path } => files::spawn(outbox.clone(), id, FileOp::Stat { path }),
        Request::ReadDir { id, path } => files::spawn(outbox.clone(), id, FileOp::ReadDir { path }),
        Request::PowerOff if pid1 => power_off(),
        Request::PowerOff => eprintln!("tether-guest: power-off ignored: not PID 1"),
    }
}

#[cfg(target_os = "linux")]
fn power_off() {
    crate::boot::power_off();
}

#[cfg(not(target_os = "linux"))]
fn power_off() {}

/// The kernel's uptime in milliseconds (0 where /proc/uptime cannot be read).
fn uptime_ms() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |secs| (secs * 1000.0) as u64)
}
