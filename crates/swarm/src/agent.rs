//! Agent workers: tether's driver (`agent.mjs`) runs pi in RPC mode on the worker with its
//! prompt, keeps pi's progress in `agent-state.json` and a readable transcript on stdout, and
//! exits with how pi ended — so a worker is never "working" once pi is gone. pi keeps its
//! session in the driver's directory; messages sent later arrive through the driver's inbox
//! (`<dir>/inbox/`), and a follow-up run continues the session.

use tether_target::Target;

use crate::status::AgentProgress;
use crate::{AgentTask, SendMode, SwarmError};

/// The driver, uploaded to each agent worker.
pub const DRIVER: &str = include_str!("agent.mjs");

/// Where a swarm keeps its agent files on a worker whose home is `home`.
pub(crate) fn dir(home: &str, swarm: &str) -> String {
    format!("{}/.tether/swarm/{swarm}", home.trim_end_matches('/'))
}

/// Writes the driver and worker `index`'s task to `dir` on `target`.
pub(crate) async fn install(
    target: &dyn Target,
    dir: &str,
    task: &AgentTask,
    index: u32,
) -> Result<(), SwarmError> {
    let job = serde_json::json!({
        "prompt": task.prompt_for(index),
        "pi": task.pi_command(),
        "args": task.pi_args(),
    });
    target.mkdir_all(dir).await.map_err(tool)?;
    let (driver, job_file) = (format!("{dir}/agent.mjs"), format!("{dir}/agent.json"));
    let job = job.to_string();
    let (a, b) = tokio::join!(
        target.write_file(&driver, DRIVER.as_bytes()),
        target.write_file(&job_file, job.as_bytes())
    );
    a.map_err(tool)?;
    b.map_err(tool)?;
    Ok(())
}

fn tool(err: tether_target::TargetError) -> SwarmError {
    SwarmError::from(tether_tools::ToolError::from(err))
}

/// The command that runs the driver in `dir` (`follow_up`: a follow-up run, which continues
/// pi's session with the messages waiting in the inbox).
pub(crate) fn command(dir: &str, follow_up: bool) -> String {
    let dir = shlex::try_quote(dir).map_or_else(|_| "''".into(), |q| q.into_owned());
    format!(
        "command -v node >/dev/null || {{ echo 'tether: node is not installed on this VM; pi needs Node.js (apt-get install nodejs), then install pi (npm install -g @mariozechner/pi-coding-agent)' >&2; exit 3; }}\n\
         exec node {dir}/agent.mjs {dir}{}",
        if follow_up { " --continue" } else { "" }
    )
}

/// What the driver last reported, if it has yet.
pub(crate) async fn progress(target: &dyn Target, dir: &str) -> Option<AgentProgress> {
    let bytes = target
        .read_file(&format!("{dir}/agent-state.json"))
        .await
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Drops `message` in the inbox of the driver in `dir` (atomically: the driver sees the whole
/// file or none); the file's path, which the driver renames away once it takes the message.
pub(crate) async fn post(
    target: &dyn Target,
    dir: &str,
    message: &str,
    mode: SendMode,
) -> Result<String, SwarmError> {
    let inbox = format!("{dir}/inbox");
    target.mkdir_all(&inbox).await.map_err(tool)?;
    // Named by time, so the driver takes messages in the order they were sent.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = format!("{inbox}/{nanos:020}-{:08x}.json", rand::random::<u32>());
    let body = serde_json::json!({"message": message, "mode": mode});
    target
        .write_file(&path, body.to_string().as_bytes())
        .await
        .map_err(tool)?;
    Ok(path)
}

/// Readies `dir` for a follow-up run: this tether's driver again (one that reads its inbox), and
/// the last run's progress replaced by "starting" (so the new run never shows the old one's).
pub(crate) async fn refresh(target: &dyn Target, dir: &str) -> Result<(), SwarmError> {
    let starting = serde_json::json!({"phase": "starting", "turns": 0, "toolCalls": 0});
    let (driver, state) = (
        format!("{dir}/agent.mjs"),
        format!("{dir}/agent-state.json"),
    );
    let state_bytes = starting.to_string();
    let (a, b) = tokio::join!(
        target.write_file(&driver, DRIVER.as_bytes()),
        target.write_file(&state, state_bytes.as_bytes())
    );
    a.map_err(tool)?;
    b.map_err(tool)
}
