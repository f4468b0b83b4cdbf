//! Runs: every API exec, recorded while it happens, followed by any number of clients.
//!
//! Each event of a run gets a cursor (0, 1, …; the end takes the one after the last chunk),
//! is written to the VM's exec log (chunks) or run record (the end), and only then is
//! broadcast to the run's live followers. A follower subscribes first, then catches up from
//! the database, then takes live events, falling back to the database whenever it lags — so a
//! client that rejoins (`exec/stream/attach`), early or late, gets every event once, in order.
//! The run itself never waits for a follower: its output is backpressured by the log writes
//! only, and it goes on to its end when every client has hung up.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use tether_wire::{AttachRequest, ExecLogEntry, ExecRequest, ExecStream, ExecStreamEvent};
use tokio::sync::{broadcast, mpsc};

use super::ExecEvent;
use crate::backend::VmHandle;
use crate::db::{Db, LogChunk, RunEnd, is_conflict};
use crate::error::{ApiError, RefError};
use crate::registry::now;

/// Events a lagging follower may fall behind before it reads from the database instead.
const LIVE_BACKLOG: usize = 256;
/// Chunks read from the database at once while catching up.
const CATCH_UP_PAGE: u64 = 256;
/// How a run that was going on when the simulator stopped is ended.
const LOST: &str = "the simulator stopped while this command ran (its processes ended with the \
                    VM); its output up to then is above; run it again";

/// One event of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RunEvent {
    /// Output.
    Chunk {
        cursor: u64,
        stream: ExecStream,
        data: Bytes,
    },
    /// The command ended with this code.
    Exit { cursor: u64, code: i32 },
    /// The run failed on the simulator's side.
    Failed { cursor: u64, message: String },
}

impl RunEvent {
    fn cursor(&self) -> u64 {
        match self {
            RunEvent::Chunk { cursor, .. }
            | RunEvent::Exit { cursor, .. }
            | RunEvent::Failed { cursor, .. } => *cursor,
        }
    }

    fn is_end(&self) -> bool {
        !matches!(self, RunEvent::Chunk { .. })
    }

    /// The NDJSON line of `/exec/stream` for this event.
    pub fn to_wire(&self, exec_id: &str) -> ExecStreamEvent {
        let exec_id = exec_id.to_owned();
        match self {
            RunEvent::Chunk {
                cursor,
                stream,
                data,
            } => ExecStreamEvent::Chunk {
                exec_id,
                cursor: *cursor,
                stream: *stream,
                data_b64: B64.encode(data),
            },
            RunEvent::Exit { cursor, code } => ExecStreamEvent::Exit {
                exec_id,
                cursor: *cursor,
                exit_code: *code,
            },
            RunEvent::Failed { message, .. } => ExecStreamEvent::Error {
                code: "vm_unavailable".into(),
                message: message.clone(),
            },
        }
    }
}

/// Every run of the simulator: the live ones in memory, all of them in the database.
#[derive(Clone)]
pub(crate) struct Runs {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Db>,
    live: Mutex<HashMap<(String, String), Arc<LiveRun>>>,
}

/// A run still going on.
struct LiveRun {
    /// The next event's cursor, held while an event is recorded and broadcast (and while a
    /// follower subscribes, so it misses nothing).
    next: Mutex<u64>,
    tx: broadcast::Sender<RunEvent>,
}

impl LiveRun {
    fn next(&self) -> MutexGuard<'_, u64> {
        self.next.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Runs {
    /// The runs recorded in `db`; runs the database says are going on ended with the last
    /// simulator (their processes are gone), and are ended so.
    pub fn new(db: Arc<Db>) -> Runs {
        if let Err(err) = db.end_lost_runs(LOST) {
            tracing::error!("could not end the runs of the last simulator: {err}");
        }
        Runs {
            inner: Arc::new(Inner {
                db,
                live: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts `request` in `vm` as a recorded run. Returns its id and a follower from its start.
    pub async fn start(
        &self,
        vm: &dyn VmHandle,
        vm_id: &str,
        request: ExecRequest,
    ) -> Result<(String, Follow), ApiError> {
        let exec_id = match &request.exec_id {
            Some(id) => crate::registry::parse_uuid("exec_id", id)?,
            None => uuid::Uuid::new_v4().to_string(),
        };
        let key = (vm_id.to_owned(), exec_id.clone());
        let (live, rx) = self.inner.register(&key)?;
        match super::start(vm, vm_id, request).await {
            Ok(execution) => {
                let inner = Arc::clone(&self.inner);
                tokio::spawn(inner.record(key, live, execution.events));
            }
            Err(err) => {
                self.inner.unregister(&key);
                let _ = self.inner.db.forget_run(vm_id, &exec_id);
                return Err(err);
            }
        }
        let follow = Follow::new(Arc::clone(&self.inner), vm_id, &exec_id, None, Some(rx));
        Ok((exec_id, follow))
    }

    /// `exec/stream/attach`: a follower of a run of `vm_id`, from after `cursor` (all of it
    /// without one), or only what comes next with `from_latest` (a finished run then sends
    /// just its end).
    pub fn attach(&self, vm_id: &str, request: &AttachRequest) -> Result<Follow, ApiError> {
        let key = (vm_id.to_owned(), request.exec_id.clone());
        let live = self.inner.map().get(&key).cloned();
        let (rx, latest) = match &live {
            Some(run) => {
                let next = run.next();
                (Some(run.tx.subscribe()), next.checked_sub(1))
            }
            None => {
                let record = self.inner.db.find_run(vm_id, &request.exec_id)?;
                let record = record.ok_or_else(|| RefError::UnknownExec {
                    vm_id: vm_id.to_owned(),
                    exec_id: request.exec_id.clone(),
                })?;
                let end = record.end.map(|end| end_cursor(&end));
                (None, end.and_then(|cursor| cursor.checked_sub(1)))
            }
        };
        let after = if request.from_latest.unwrap_or(false) {
            latest
        } else {
            request.cursor
        };
        Ok(Follow::new(
            Arc::clone(&self.inner),
            vm_id,
            &request.exec_id,
            after,
            rx,
        ))
    }
}

fn end_cursor(end: &RunEnd) -> u64 {
    match end {
        RunEnd::Exit { cursor, .. } | RunEnd::Failed { cursor, .. } => *cursor,
    }
}

impl Inner {
    fn map(&self) -> MutexGuard<'_, HashMap<(String, String), Arc<LiveRun>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes a run live and records that it started; its id must be new on its VM.
    fn register(
        &self,
        key: &(String, String),
    ) -> Result<(Arc<LiveRun>, broadcast::Receiver<RunEvent>), ApiError> {
        let in_use = || RefError::ExecIdInUse {
            vm_id: key.0.clone(),
            exec_id: key.1.clone(),
        };
        let (tx, rx) = broadcast::channel(LIVE_BACKLOG);
        let run = Arc::new(LiveRun {
            next: Mutex::new(0),
            tx,
        });
        {
            let mut map = self.map();
            if map.contains_key(key) {
                return Err(in_use().into());
            }
            map.insert(key.clone(), Arc::clone(&run));
        }
        match self.db.insert_run(&key.0, &key.1, &now()) {
            Ok(()) => Ok((run, rx)),
            Err(err) => {
                self.unregister(key);
                Err(if is_conflict(&err) {
                    in_use().into()
                } else {
                    err.into()
                })
            }
        }
    }

    fn unregister(&self, key: &(String, String)) {
        self.map().remove(key);
    }

    /// Records every event of a run until its end, then retires it.
    async fn record(
        self: Arc<Self>,
        key: (String, String),
        run: Arc<LiveRun>,
        mut events: mpsc::Receiver<ExecEvent>,
    ) {
        let mut ended = false;
        while let Some(event) = events.recv().await {
            ended = !matches!(event, ExecEvent::Output(..));
            self.record_one(&key, &run, event);
            if ended {
                break;
            }
        }
        if !ended {
            let detail = "the command's supervisor ended without an exit code".into();
            self.record_one(
                &key,
                &run,
                ExecEvent::Failed(ApiError::TaskFailed { detail }),
            );
        }
        self.unregister(&key);
    }

    /// Gives an event its cursor, writes it down, then tells the followers.
    fn record_one(&self, (vm_id, exec_id): &(String, String), run: &LiveRun, event: ExecEvent) {
        let mut next = run.next();
        let cursor = *next;
        *next += 1;
        let (event, written) = match event {
            ExecEvent::Output(stream, data) => {
                let chunk = LogChunk {
                    exec_id: exec_id.clone(),
                    cursor,
                    timestamp: now(),
                    stream,
                    data: data.to_vec(),
                };
                let written = self.db.append_log(vm_id, &chunk, line_len(&chunk));
                (
                    RunEvent::Chunk {
                        cursor,
                        stream,
                        data,
                    },
                    written,
                )
            }
            ExecEvent::Exit(code) => {
                let written = self
                    .db
                    .finish_run(vm_id, exec_id, &RunEnd::Exit { cursor, code });
                (RunEvent::Exit { cursor, code }, written)
            }
            ExecEvent::Failed(err) => {
                let message = err.to_string();
                let end = RunEnd::Failed {
                    cursor,
                    message: message.clone(),
                };
                (
                    RunEvent::Failed { cursor, message },
                    self.db.finish_run(vm_id, exec_id, &end),
                )
            }
        };
        if let Err(err) = written {
            tracing::error!(vm_id, exec_id, "could not record an exec event: {err}");
        }
        // No follower is not an error: the run goes on without one.
        let _ = run.tx.send(event);
    }
}

/// The length of the line this chunk has in Vers's exec log file (`{exec_id, timestamp,
/// stream, data_b64}` and a newline), so offsets into the log behave the same.
fn line_len(chunk: &LogChunk) -> u64 {
    let entry = ExecLogEntry {
        exec_id: Some(chunk.exec_id.clone()),
        timestamp: chunk.timestamp.clone(),
        stream: chunk.stream,
        data_b64: B64.encode(&chunk.data),
    };
    serde_json::to_vec(&entry).map_or(0, |line| line.len() as u64 + 1)
}

/// One client's view of a run: every event after a cursor, once each, in order, to the end.
pub(crate) struct Follow {
    inner: Arc<Inner>,
    vm_id: String,
    exec_id: String,
    /// The cursor of the last event delivered (or to resume after).
    last: Option<u64>,
    rx: Option<broadcast::Receiver<RunEvent>>,
    pending: VecDeque<RunEvent>,
    catching_up: bool,
    done: bool,
}

impl Follow {
    fn new(
        inner: Arc<Inner>,
        vm_id: &str,
        exec_id: &str,
        after: Option<u64>,
        rx: Option<broadcast::Receiver<RunEvent>>,
    ) -> Follow {
        Follow {
            inner,
            vm_id: vm_id.to_owned(),
            exec_id: exec_id.to_owned(),
            last: after,
            rx,
            pending: VecDeque::new(),
            catching_up: true,
            done: false,
        }
    }

    /// The run's id.
    pub fn exec_id(&self) -> &str {
        &self.exec_id
    }

    /// The next event; `None` after the end.
    pub async fn next(&mut self) -> Option<RunEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.last = Some(event.cursor());
                self.done = event.is_end();
                return Some(event);
            }
            if self.done {
                return None;
            }
            if self.catching_up {
                self.catch_up();
                continue;
            }
            let Some(rx) = &mut self.rx else {
                self.done = true;
                continue;
            };
            let expected = self.last.map_or(0, |last| last + 1);
            match rx.recv().await {
                Ok(event) if event.cursor() < expected => {}
                Ok(event) if event.cursor() == expected => self.pending.push_back(event),
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => self.catching_up = true,
                Err(broadcast::error::RecvError::Closed) => {
                    self.rx = None;
                    self.catching_up = true;
                }
            }
        }
    }

    /// Reads the next page of recorded chunks; once they are all read and the run is no
    /// longer live, its recorded end too.
    fn catch_up(&mut self) {
        let db = &self.inner.db;
        let page = match db.run_chunks(&self.vm_id, &self.exec_id, self.last, CATCH_UP_PAGE) {
            Ok(page) => page,
            Err(err) => return self.fail(format!("the exec log could not be read: {err}")),
        };
        self.catching_up = page.len() as u64 == CATCH_UP_PAGE;
        let last = page.last().map(|c| c.cursor).or(self.last);
        self.pending
            .extend(page.into_iter().map(|chunk| RunEvent::Chunk {
                cursor: chunk.cursor,
                stream: chunk.stream,
                data: Bytes::from(chunk.data),
            }));
        if self.catching_up || self.rx.is_some() {
            return;
        }
        let end = match db.find_run(&self.vm_id, &self.exec_id) {
            Ok(record) => record.and_then(|r| r.end),
            Err(err) => return self.fail(format!("the run's record could not be read: {err}")),
        };
        let next = last.map_or(0, |l| l + 1);
        match end {
            Some(RunEnd::Exit { cursor, code }) if cursor >= next => {
                self.pending.push_back(RunEvent::Exit { cursor, code })
            }
            Some(RunEnd::Failed { cursor, message }) if cursor >= next => {
                self.pending.push_back(RunEvent::Failed { cursor, message })
            }
            Some(_) => self.done = self.pending.is_empty(),
            None => self.fail(LOST.to_owned()),
        }
    }

    fn fail(&mut self, message: String) {
        let cursor = self.last.map_or(0, |l| l + 1) + self.pending.len() as u64;
        self.catching_up = false;
        self.pending.push_back(RunEvent::Failed { cursor, message });
    }
}
