//! Reaps every child (as PID 1 that includes orphans) and reports the commands' exits.

use crate::outbox::Outbox;
use crate::table::Table;
use nix::errno::Errno;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use std::sync::Arc;
use tether_guest_proto::Event;

/// Starts the reaper thread; it runs for the life of the process.
pub(crate) fn start(table: Arc<Table>, outbox: Outbox) {
    std::thread::spawn(move || {
        loop {
            reap_one(&table, &outbox);
        }
    });
}

fn reap_one(table: &Table, outbox: &Outbox) {
    let seen = table.spawns();
    // Peek first (WNOWAIT) and reap under the table lock: a spawn holds that lock until it
    // returns, and std's spawn waits for a child whose exec failed itself, so that pid must
    // be left to it.
    match waitid(Id::All, WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
        Ok(status) => {
            if let Some(pid) = status.pid() {
                reap(table, outbox, pid);
            }
        }
        Err(Errno::ECHILD) => table.wait_for_spawn(seen),
        Err(_) => {}
    }
}

fn reap(table: &Table, outbox: &Outbox, pid: nix::unistd::Pid) {
    let mut commands = table.lock();
    let (code, signal) = match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => (code, None),
        Ok(WaitStatus::Signaled(_, signal, _)) => (128 + signal as i32, Some(signal as i32)),
        _ => return,
    };
    if let Some(id) = commands.remove_pid(pid.as_raw()) {
        drop(commands);
        outbox.send(&Event::Exited { id, code, signal }, &[]);
    }
}
