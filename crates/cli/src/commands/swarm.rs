//! `tether swarm …`: swarms through [`tether_swarm::Swarms`], with a live progress display on
//! stderr while waiting.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tether_router::RouterError;
use tether_swarm::{
    AgentTask, Gathered, KeepOutcome, Limits, SendMode, Sent, StartProgress, SwarmError, SwarmSpec,
    SwarmStatus, Swarms, Task, WorkerState, WorkerStatus,
};
use tether_tools::Window;

use super::Ctx;
use crate::cli::{SwarmCommand, swarm as args};
use crate::output::{table, write_stdout};

/// Exit code of `swarm wait`: every worker finished, not all of them successfully.
pub(crate) const EXIT_SOME_FAILED: u8 = 5;
/// Exit code of `swarm wait`: the wait timed out with workers still running.
pub(crate) const EXIT_STILL_RUNNING: u8 = 6;
/// Most bytes one `swarm read` request asks for.
const READ_CHUNK: usize = 1 << 20;
/// How long one `swarm read --follow` request waits for new output.
const FOLLOW_WAIT: Duration = Duration::from_secs(10);
/// Workers listed one per line in the live display; more are summarised.
const LIVE_ROWS: usize = 40;

/// Runs a `tether swarm` subcommand; returns the exit code.
pub(crate) async fn run(ctx: &Ctx, command: SwarmCommand) -> anyhow::Result<u8> {
    let router = Arc::new(ctx.router().await?);
    let swarms = Swarms::new(router, Limits::from_env());
    match command {
        SwarmCommand::Start(a) => start(ctx, &swarms, a).await,
        SwarmCommand::Ls => list(ctx, &swarms).map(|()| 0),
        SwarmCommand::Status(a) => status(ctx, &swarms, a.swarm.as_deref()).await,
        SwarmCommand::Wait(a) => wait(ctx, &swarms, a.swarm.as_deref(), a.timeout).await,
        SwarmCommand::Read(a) => read(ctx, &swarms, a).await.map(|()| 0),
        SwarmCommand::Send(a) => send(ctx, &swarms, a).await.map(|()| 0),
        SwarmCommand::Keep(a) => keep(ctx, &swarms, a).await.map(|()| 0),
        SwarmCommand::Stop(a) => stop(ctx, &swarms, a).await.map(|()| 0),
    }
}

async fn start(ctx: &Ctx, swarms: &Swarms, a: args::StartArgs) -> anyhow::Result<u8> {
    let source = match a.source {
        Some(source) => source,
        None => match swarms.router().active(&ctx.cwd)?.require() {
            Ok(vm) => vm.to_owned(),
            Err(RouterError::NoDefaultVm { .. }) => anyhow::bail!(
                "no source to branch: pass --from VM|COMMIT (`tether vm ls`, `tether vm commits` list them), or choose a default VM with `tether use VM`"
            ),
            Err(e) => return Err(e.into()),
        },
    };
    let agent_only = a.provider.is_some()
        || a.model.is_some()
        || a.pi.is_some()
        || !a.pi_args.is_empty()
        || a.pi_config;
    let task = match a.prompt.len() {
        // clap's `requires` lets these through beside a command after `--`.
        0 if agent_only => {
            return Err(SwarmError::BadRequest {
                reason: "--provider, --model, --pi, --pi-arg and --pi-config are for agents: \
                         give --prompt instead of a command"
                    .into(),
            }
            .into());
        }
        0 => Task::Command {
            command: super::exec::command_line(&a.command)?,
        },
        n => {
            let base = match n {
                1 => AgentTask {
                    prompt: a.prompt[0].clone(),
                    ..AgentTask::default()
                },
                _ => AgentTask::per_worker(a.prompt),
            };
            Task::Agent(AgentTask {
                pi: a.pi,
                provider: a.provider,
                model: a.model,
                args: a.pi_args,
                pi_config: a.pi_config,
                ..base
            })
        }
    };
    let spec = SwarmSpec {
        source,
        count: a.count,
        task,
        timeout: a.timeout,
        env: a.env,
        cwd: a.cwd,
        pi_dir: None,
    };
    let shown = ctx.progress.enabled();
    let report = move |p: StartProgress| {
        if !shown {
            return;
        }
        match p {
            StartProgress::Branching { count } => eprintln!("branching {count} worker VM(s)…"),
            StartProgress::Started { done, total } if done == total => {
                eprintln!("started {total} worker(s)");
            }
            StartProgress::Started { .. } => {}
        }
    };
    // An interrupted start would leave workers that never get their task: finish it first.
    let guard = tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "tether: finishing the start of the workers first (Ctrl-C again to abandon it)"
            );
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let status = swarms.start(spec, &report).await;
    guard.abort();
    let status = status?;
    if a.wait.is_none() || ctx.out.json {
        print_status(ctx, &status, "started")?;
    } else {
        eprintln!(
            "swarm {}: {} worker(s) started",
            status.swarm_id,
            status.workers.len()
        );
    }
    match a.wait {
        Some(timeout) => {
            let id = status.swarm_id.clone();
            wait(ctx, swarms, Some(&id), timeout).await
        }
        None => Ok(0),
    }
}

fn list(ctx: &Ctx, swarms: &Swarms) -> anyhow::Result<()> {
    let records = swarms.list()?;
    let mut rows = vec![
        ["SWARM", "CREATED", "KIND", "WORKERS", "SOURCE", "TASK"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in &records {
        let left = r
            .workers
            .iter()
            .filter(|w| w.disposition != tether_swarm::Disposition::Deleted)
            .count();
        rows.push(vec![
            r.id.clone(),
            r.created.clone(),
            r.task.kind().to_owned(),
            format!("{left}/{}", r.workers.len()),
            r.source.describe(),
            first_line(r.task.text(), 60),
        ]);
    }
    let human = if records.is_empty() {
        "no swarms yet; start one with `tether swarm start -n N -- CMD`".to_owned()
    } else {
        table(&rows)
    };
    ctx.out.print(&human, &json!({ "swarms": records }))
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max || text.contains('\n') {
        let cut: String = line.chars().take(max).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

async fn status(ctx: &Ctx, swarms: &Swarms, swarm: Option<&str>) -> anyhow::Result<u8> {
    let status = swarms.status(swarm).await?;
    print_status(ctx, &status, "")?;
    Ok(0)
}

/// The swarm as a table (or JSON).
fn print_status(ctx: &Ctx, status: &SwarmStatus, verb: &str) -> anyhow::Result<()> {
    let heading = format!(
        "swarm {}{} ({} from {}): {}",
        status.swarm_id,
        if verb.is_empty() {
            String::new()
        } else {
            format!(" {verb}")
        },
        status.kind,
        status.source.describe(),
        status.counts.summary(status.workers.len())
    );
    let mut rows = vec![
        ["WORKER", "VM ID", "STATE", "EXIT", "DETAIL"]
            .map(str::to_owned)
            .to_vec(),
    ];
    rows.extend(status.workers.iter().map(row));
    ctx.out.print(
        &format!("{heading}\n{}", table(&rows)),
        &serde_json::to_value(status)?,
    )
}

fn row(w: &WorkerStatus) -> Vec<String> {
    let detail = match &w.state {
        WorkerState::Failed { reason, .. } => reason.clone(),
        WorkerState::TimedOut { seconds } => format!("after {seconds}s"),
        WorkerState::Stopped { signal } => format!("SIG{signal}"),
        WorkerState::Running => match &w.agent {
            Some(agent) => format!(
                "agent {}: {} turn(s), {} tool call(s)",
                if agent.phase.is_empty() {
                    "starting"
                } else {
                    &agent.phase
                },
                agent.turns,
                agent.tool_calls
            ),
            None => String::new(),
        },
        _ => String::new(),
    };
    let mut detail = detail;
    if w.disposition == tether_swarm::Disposition::Kept {
        detail = format!("[kept] {detail}");
    }
    vec![
        w.index.to_string(),
        w.vm_id.clone(),
        w.state.word().to_owned(),
        w.state
            .exit_code()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        detail.trim().to_owned(),
    ]
}

async fn wait(
    ctx: &Ctx,
    swarms: &Swarms,
    swarm: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<u8> {
    let mut live = Live::new(ctx.progress.enabled());
    let cancel = tokio_util::sync::CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let watcher = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let gathered = swarms
        .wait(swarm, timeout, &mut |s| live.show(s), Some(cancel.clone()))
        .await;
    watcher.abort();
    live.clear();
    let gathered = gathered?;
    if cancel.is_cancelled() {
        eprintln!(
            "tether: stopped waiting; the workers go on (`tether swarm status {}`)",
            gathered.status.swarm_id
        );
    }
    print_gathered(ctx, &gathered)?;
    let all_done = gathered.status.workers.iter().all(|w| {
        w.state == WorkerState::Done || w.disposition == tether_swarm::Disposition::Deleted
    });
    Ok(if !gathered.status.finished {
        EXIT_STILL_RUNNING
    } else if all_done {
        0
    } else {
        EXIT_SOME_FAILED
    })
}

fn print_gathered(ctx: &Ctx, gathered: &Gathered) -> anyhow::Result<()> {
    let status = &gathered.status;
    let mut text = String::new();
    let waited = gathered.waited.as_secs_f64();
    text.push_str(&if !status.finished {
        format!(
            "swarm {}: stopped waiting after {waited:.1}s: {}\n",
            status.swarm_id,
            status.counts.summary(status.workers.len())
        )
    } else {
        format!(
            "swarm {}: all finished after {waited:.1}s: {}\n",
            status.swarm_id,
            status.counts.summary(status.workers.len())
        )
    });
    for w in &status.workers {
        text.push_str(&format!("\n== {}\n", w.line()));
        if let Some(tail) = &w.tail {
            text.push_str(tail);
            if !tail.ends_with('\n') && !tail.is_empty() {
                text.push('\n');
            }
        }
    }
    ctx.out.print(&text, &gathered.to_json())
}

/// The live display: on a terminal, a block of lines redrawn in place; otherwise one line
/// whenever the counts change.
struct Live {
    enabled: bool,
    tty: bool,
    drawn: usize,
    started: Instant,
    last: String,
}

impl Live {
    fn new(enabled: bool) -> Live {
        Live {
            enabled,
            tty: std::io::stderr().is_terminal(),
            drawn: 0,
            started: Instant::now(),
            last: String::new(),
        }
    }

    fn show(&mut self, status: &SwarmStatus) {
        if !self.enabled {
            return;
        }
        let summary = format!(
            "swarm {}: {} ({:.0}s)",
            status.swarm_id,
            status.counts.summary(status.workers.len()),
            self.started.elapsed().as_secs_f64()
        );
        let mut stderr = std::io::stderr().lock();
        if !self.tty {
            let counts = status.counts.summary(status.workers.len());
            if counts != self.last {
                let _ = writeln!(stderr, "{summary}");
                self.last = counts;
            }
            return;
        }
        let mut lines = vec![summary];
        if status.workers.len() <= LIVE_ROWS {
            lines.extend(status.workers.iter().map(|w| {
                let icon = match w.state {
                    WorkerState::Starting | WorkerState::Running => "⟳",
                    WorkerState::Done => "✓",
                    WorkerState::Failed { .. } => "✗",
                    WorkerState::TimedOut { .. } => "⏱",
                    WorkerState::Stopped { .. } | WorkerState::Deleted => "■",
                };
                let row = row(w);
                format!("  {icon} {:>3} {} {} {}", row[0], row[1], row[2], row[4])
            }));
        }
        let mut out = String::new();
        if self.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", self.drawn));
        }
        for line in &lines {
            out.push_str("\x1b[2K");
            out.push_str(line);
            out.push('\n');
        }
        let _ = stderr.write_all(out.as_bytes());
        self.drawn = lines.len();
    }

    /// Removes the block (the results follow on stdout).
    fn clear(&mut self) {
        if !self.enabled || !self.tty || self.drawn == 0 {
            return;
        }
        let mut out = format!("\x1b[{}A", self.drawn);
        for _ in 0..self.drawn {
            out.push_str("\x1b[2K\n");
        }
        out.push_str(&format!("\x1b[{}A", self.drawn));
        let _ = std::io::stderr().lock().write_all(out.as_bytes());
        self.drawn = 0;
    }
}

async fn read(ctx: &Ctx, swarms: &Swarms, a: args::ReadArgs) -> anyhow::Result<()> {
    let swarm = a.swarm.as_deref();
    if let Some(lines) = a.tail {
        let (record, worker, logs) = swarms
            .read(
                swarm,
                &a.worker,
                Window::Tail(lines),
                READ_CHUNK,
                Duration::ZERO,
            )
            .await?;
        return print_output(ctx, &record.id, worker.index, &logs);
    }
    let mut offset = a.offset.unwrap_or(0);
    loop {
        let wait = if a.follow {
            FOLLOW_WAIT
        } else {
            Duration::ZERO
        };
        let (record, worker, logs) = swarms
            .read(swarm, &a.worker, Window::From(offset), READ_CHUNK, wait)
            .await?;
        let end = logs.start + logs.bytes.len() as u64;
        if ctx.out.json {
            return print_output(ctx, &record.id, worker.index, &logs);
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&logs.bytes)?;
        stdout.flush()?;
        offset = end;
        let running = logs.state == tether_tools::BgState::Running;
        if end >= logs.size && !(a.follow && running) {
            return Ok(());
        }
    }
}

fn print_output(
    ctx: &Ctx,
    swarm: &str,
    worker: u32,
    logs: &tether_tools::Logs,
) -> anyhow::Result<()> {
    if ctx.out.json {
        let end = logs.start + logs.bytes.len() as u64;
        let json = json!({
            "swarmId": swarm, "worker": worker, "state": logs.state,
            "offset": logs.start, "nextOffset": end, "size": logs.size,
            "output": String::from_utf8_lossy(&logs.bytes),
        });
        return write_stdout(&format!("{json}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&logs.bytes)?;
    stdout.flush()?;
    Ok(())
}

async fn send(ctx: &Ctx, swarms: &Swarms, a: args::SendArgs) -> anyhow::Result<()> {
    let mode = match a.steer {
        true => SendMode::Steer,
        false => SendMode::FollowUp,
    };
    let outcome = swarms
        .send(a.swarm.as_deref(), &a.workers, &a.message, mode, &a.env)
        .await?;
    let mut text = vec![format!("swarm {}:", outcome.swarm_id)];
    text.extend(outcome.lines());
    ctx.out.print(&text.join("\n"), &outcome.to_json())?;
    let failed = outcome
        .workers
        .iter()
        .filter(|(_, _, sent)| matches!(sent, Sent::Failed { .. }))
        .count();
    if failed > 0 {
        anyhow::bail!("{failed} worker(s) did not get the message; send it to them again");
    }
    Ok(())
}

async fn keep(ctx: &Ctx, swarms: &Swarms, a: args::KeepArgs) -> anyhow::Result<()> {
    let outcome = swarms.keep(a.swarm.as_deref(), &a.workers).await?;
    print_outcome(ctx, &outcome, None)
}

async fn stop(ctx: &Ctx, swarms: &Swarms, a: args::StopArgs) -> anyhow::Result<()> {
    let (status, outcome) = swarms.stop(a.swarm.as_deref(), a.delete).await?;
    print_outcome(ctx, &outcome, Some(&status))
}

fn print_outcome(
    ctx: &Ctx,
    outcome: &KeepOutcome,
    status: Option<&SwarmStatus>,
) -> anyhow::Result<()> {
    let mut text = Vec::new();
    if let Some(status) = status {
        text.push(format!(
            "swarm {}: {}",
            status.swarm_id,
            status.counts.summary(status.workers.len())
        ));
    }
    for (index, vm) in &outcome.kept {
        text.push(format!("kept worker {index}: {vm}"));
    }
    for (index, vm) in &outcome.deleted {
        text.push(format!("deleted worker {index}: {vm}"));
    }
    for (index, vm, why) in &outcome.failed {
        text.push(format!("could not delete worker {index} ({vm}): {why}"));
    }
    let mut json = outcome.to_json();
    if let Value::Object(map) = &mut json {
        map.insert("status".into(), serde_json::to_value(status)?);
    }
    ctx.out.print(&text.join("\n"), &json)?;
    if outcome.failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} worker VM(s) could not be deleted; retry, or delete them with `tether vm rm`",
            outcome.failed.len()
        )
    }
}
