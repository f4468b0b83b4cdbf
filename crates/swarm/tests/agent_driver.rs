//! The swarm agent driver (`src/agent.mjs`) run locally with node against a real pi 0.73.1 and
//! a scripted model: what it records, prints and exits with when the agent finishes, fails,
//! loses pi, cannot start pi, or is stopped; how messages in its inbox reach pi, and how a
//! follow-up run continues the session (with pi 0.73.1 and 0.87.1).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use tempfile::TempDir;
use tether_testkit::{MockLlm, PiInstall, Turn, within};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// The pi version the driver is tested with.
const PI_VERSION: &str = "0.73.1";
/// The newer pi a follow-up run is also tested with.
const PI_NEWER: &str = "0.87.1";
/// Every case's whole run.
const CASE_DEADLINE: Duration = Duration::from_secs(120);
/// Polling a state the driver is expected to reach.
const STATE_DEADLINE: Duration = Duration::from_secs(60);
/// The driver, as the swarm core uploads it.
const DRIVER: &str = include_str!("../src/agent.mjs");

/// A scratch worker: `<dir>` with `agent.mjs` and `agent.json`, a working directory, pi's
/// agent directory (models.json and settings pointing at the scripted model) and a HOME.
struct Worker {
    install: PiInstall,
    llm: MockLlm,
    scratch: TempDir,
}

/// Starts a [`Worker`], or returns from the test (printing why) if pi cannot run here.
macro_rules! worker {
    () => {
        worker!(PI_VERSION)
    };
    ($version:expr) => {
        match Worker::start($version)
            .await
            .context("setting up the worker")?
        {
            Some(worker) => worker,
            None => return Ok(()),
        }
    };
}

/// A running driver.
struct Driver {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// How a driver ended.
struct Ended {
    status: ExitStatus,
    /// The transcript.
    stdout: String,
    stderr: String,
}

impl Worker {
    async fn start(version: &str) -> anyhow::Result<Option<Worker>> {
        let install = match PiInstall::find(version) {
            Ok(install) => install,
            Err(why) => {
                eprintln!("skipping: {why}");
                return Ok(None);
            }
        };
        let llm = MockLlm::start().await?;
        let scratch = tempfile::Builder::new()
            .prefix("tether-agent-driver-")
            .tempdir()?;
        for sub in ["worker", "work", "agent", "home"] {
            std::fs::create_dir_all(scratch.path().join(sub))?;
        }
        let agent = scratch.path().join("agent");
        std::fs::write(
            agent.join("models.json"),
            serde_json::to_vec_pretty(&llm.models_json())?,
        )?;
        // pi's auto-retry without waiting, and no retries inside the HTTP client
        let settings = json!({"retry": {"baseDelayMs": 10, "provider": {"maxRetries": 0}}});
        std::fs::write(agent.join("settings.json"), settings.to_string())?;
        std::fs::write(scratch.path().join("worker/agent.mjs"), DRIVER)?;
        Ok(Some(Worker {
            install,
            llm,
            scratch,
        }))
    }

    /// The driver's `<dir>`.
    fn dir(&self) -> PathBuf {
        self.scratch.path().join("worker")
    }

    /// The worker's working directory.
    fn work(&self) -> PathBuf {
        self.scratch.path().join("work")
    }

    /// pi's arguments for the scripted model.
    fn mock_args(&self) -> Vec<String> {
        ["--provider", "mock", "--model", "mock-1", "-ne", "-nc"]
            .map(str::to_owned)
            .to_vec()
    }

    /// Writes `agent.json` and starts `node <dir>/agent.mjs <dir>` in the working directory,
    /// with only the environment set here.
    fn drive(&self, prompt: &str, pi: &str, args: &[String]) -> anyhow::Result<Driver> {
        self.drive_with(prompt, pi, args, &self.scratch.path().join("agent"))
    }

    fn drive_with(
        &self,
        prompt: &str,
        pi: &str,
        args: &[String],
        agent_dir: &Path,
    ) -> anyhow::Result<Driver> {
        let task = json!({"prompt": prompt, "pi": pi, "args": args});
        std::fs::write(self.dir().join("agent.json"), task.to_string())?;
        self.spawn(agent_dir, &[])
    }

    /// Starts a follow-up run (`--continue`) of the task in `agent.json`.
    fn drive_again(&self) -> anyhow::Result<Driver> {
        self.spawn(&self.scratch.path().join("agent"), &["--continue"])
    }

    /// Drops a message in the driver's inbox as tether does (a dot-file renamed into place).
    fn message(&self, text: &str, mode: &str) -> anyhow::Result<()> {
        let inbox = self.dir().join("inbox");
        std::fs::create_dir_all(&inbox)?;
        let name = format!(
            "{:020}.json",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos()
        );
        let tmp = inbox.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, json!({"message": text, "mode": mode}).to_string())?;
        std::fs::rename(tmp, inbox.join(name))?;
        Ok(())
    }

    /// How many messages wait in the inbox.
    fn waiting(&self) -> anyhow::Result<usize> {
        Ok(std::fs::read_dir(self.dir().join("inbox"))?
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .count())
    }

    /// The state once the driver has taken `count` messages from its inbox.
    async fn taken(&self, count: u64) -> anyhow::Result<Value> {
        within(
            STATE_DEADLINE,
            &format!("{count} message(s) taken"),
            async {
                loop {
                    if let Some(state) = self.state()?
                        && state["messages"].as_u64() >= Some(count)
                    {
                        return Ok(state);
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        )
        .await
    }

    fn spawn(&self, agent_dir: &Path, extra: &[&str]) -> anyhow::Result<Driver> {
        let mut command = Command::new(&self.install.node);
        command
            .arg(self.dir().join("agent.mjs"))
            .arg(self.dir())
            .args(extra)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.scratch.path().join("home"))
            .env("PI_CODING_AGENT_DIR", agent_dir)
            .env("PI_OFFLINE", "1")
            .env("PI_TELEMETRY", "0")
            .env("TETHER_WORKER", "7")
            .env("TETHER_SWARM", "swarm-test")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().context("starting node")?;
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(collect(pipe, stdout.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(collect(pipe, stderr.clone()));
        }
        Ok(Driver {
            child,
            stdout,
            stderr,
            readers,
        })
    }

    /// `<dir>/agent-state.json`, if written yet.
    fn state(&self) -> anyhow::Result<Option<Value>> {
        match std::fs::read(self.dir().join("agent-state.json")) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "agent-state.json is not JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The state once its phase is `phase` (polled until [`STATE_DEADLINE`]).
    async fn phase(&self, phase: &str) -> anyhow::Result<Value> {
        within(STATE_DEADLINE, &format!("phase {phase}"), async {
            loop {
                if let Some(state) = self.state()?
                    && state["phase"] == phase
                {
                    return Ok(state);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
    }

    /// The final state (the driver has exited).
    fn final_state(&self) -> anyhow::Result<Value> {
        self.state()?
            .context("the driver wrote no agent-state.json")
    }

    /// The `type`s of the lines in `events.jsonl`.
    fn event_types(&self) -> anyhow::Result<Vec<String>> {
        let events = std::fs::read_to_string(self.dir().join("events.jsonl"))?;
        events
            .lines()
            .map(|line| {
                let event: Value = serde_json::from_str(line)
                    .with_context(|| format!("events.jsonl holds a non-JSON line: {line}"))?;
                Ok(event["type"].as_str().unwrap_or_default().to_owned())
            })
            .collect()
    }

    fn result_txt(&self) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(self.dir().join("result.txt"))?)
    }
}

fn collect(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if let Ok(mut all) = into.lock() {
                all.extend_from_slice(&buf[..n]);
            }
        }
    })
}

fn text(bytes: &Arc<Mutex<Vec<u8>>>) -> String {
    match bytes.lock() {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

impl Driver {
    /// pi's next model request, checked to come from this worker's `prompt`; fails at once if
    /// the driver exits first.
    async fn next(&mut self, llm: &mut MockLlm, prompt: &str) -> anyhow::Result<Turn> {
        let turn = tokio::select! {
            turn = llm.next() => turn?,
            status = self.child.wait() => bail!(
                "the driver exited ({}) before pi's next model request\n--- stdout\n{}\n--- stderr\n{}",
                status?,
                text(&self.stdout),
                text(&self.stderr)
            ),
        };
        ensure!(
            turn.user_text() == prompt,
            "a request for another prompt: {:?}",
            turn.user_text()
        );
        Ok(turn)
    }

    fn pid(&self) -> anyhow::Result<Pid> {
        let pid = self.child.id().context("the driver has exited")?;
        Ok(Pid::from_raw(i32::try_from(pid)?))
    }

    /// Waits for the driver to exit and for its output to end.
    async fn ended(mut self) -> anyhow::Result<Ended> {
        let status = within(STATE_DEADLINE, "the driver to exit", async {
            Ok(self.child.wait().await?)
        })
        .await?;
        for reader in self.readers {
            within(STATE_DEADLINE, "the driver's output to end", async {
                Ok(reader.await?)
            })
            .await?;
        }
        Ok(Ended {
            status,
            stdout: text(&self.stdout),
            stderr: text(&self.stderr),
        })
    }
}

impl Ended {
    fn expect_code(&self, code: i32) -> anyhow::Result<()> {
        ensure!(
            self.status.code() == Some(code),
            "the driver ended with {} instead of exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        Ok(())
    }
}

fn pi_pid(state: &Value) -> anyhow::Result<Pid> {
    let pid = state["piPid"]
        .as_i64()
        .with_context(|| format!("no piPid in {state}"))?;
    Ok(Pid::from_raw(i32::try_from(pid)?))
}

fn error_of(state: &Value) -> String {
    state["error"].as_str().unwrap_or_default().to_owned()
}

/// (a) One bash call, then a final text: done, exit 0, result.txt, transcript, events.
#[tokio::test]
async fn a_tool_call_then_text_finishes_done() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the agent to finish", async {
        let prompt = "make a marker";
        let pi = worker.install.shell_command();
        let mut driver = worker.drive(prompt, &pi, &worker.mock_args())?;

        let turn = driver.next(&mut worker.llm, prompt).await?;
        let working = worker.phase("working").await?;
        ensure!(
            working["piPid"].is_i64(),
            "no piPid while working: {working}"
        );
        ensure!(working["error"].is_null(), "{working}");
        let command = "echo made > marker.txt; echo \"worker=$TETHER_WORKER swarm=$TETHER_SWARM\"";
        turn.tool("bash", json!({"command": command}));

        let turn = driver.next(&mut worker.llm, prompt).await?;
        let result = turn.tool_result()?;
        ensure!(
            result.contains("worker=7 swarm=swarm-test"),
            "pi did not get the driver's environment: {result:?}"
        );
        turn.text("All done: the marker is there.");

        let ended = driver.ended().await?;
        ended.expect_code(0)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "done", "{state}");
        ensure!(state["error"].is_null(), "{state}");
        ensure!(state["turns"] == 2, "{state}");
        ensure!(state["toolCalls"] == 1, "{state}");
        ensure!(state["lastTool"] == "bash", "{state}");
        ensure!(
            state["updated"].as_str().is_some_and(|u| u.ends_with('Z')),
            "{state}"
        );
        ensure!(worker.result_txt()? == "All done: the marker is there.");
        ensure!(
            std::fs::read_to_string(worker.work().join("marker.txt"))? == "made\n",
            "the tool did not run in the working directory"
        );

        let args = json!({"command": command}).to_string();
        let expected = format!("▸ bash {args}\n  ✓\nAll done: the marker is there.\n");
        ensure!(
            ended.stdout == expected,
            "transcript:\n{}\n--- expected\n{expected}",
            ended.stdout
        );

        let types = worker.event_types()?;
        for wanted in ["agent_start", "tool_execution_end", "agent_end"] {
            ensure!(
                types.iter().any(|t| t == wanted),
                "no {wanted} in {types:?}"
            );
        }
        ensure!(
            types.first().map(String::as_str) == Some("response"),
            "{types:?}"
        );
        ensure!(
            !std::fs::read_dir(worker.dir())?
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().contains(".tmp")),
            "a temporary state file was left behind"
        );
        Ok(())
    })
    .await
}

/// (b) pi killed while its model request is pending: failed, exit 2.
#[tokio::test]
async fn pi_killed_mid_request_fails_with_exit_2() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the driver to notice pi died", async {
        let prompt = "wait for me";
        let mut driver =
            worker.drive(prompt, &worker.install.shell_command(), &worker.mock_args())?;
        let pending = driver.next(&mut worker.llm, prompt).await?;
        let state = worker.phase("working").await?;
        kill(pi_pid(&state)?, Signal::SIGKILL)?;

        let ended = driver.ended().await?;
        ended.expect_code(2)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "failed", "{state}");
        let error = error_of(&state);
        ensure!(
            error.contains("pi was killed by SIGKILL before the agent finished"),
            "{error:?}"
        );
        ensure!(
            ended
                .stdout
                .contains("✗ agent failed: pi was killed by SIGKILL")
        );
        drop(pending);
        Ok(())
    })
    .await
}

/// (c) The model answers with an HTTP error: failed, exit 1, the provider's message.
#[tokio::test]
async fn http_error_from_the_model_fails_with_exit_1() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the agent to fail", async {
        let prompt = "fail please";
        let mut driver =
            worker.drive(prompt, &worker.install.shell_command(), &worker.mock_args())?;
        driver.next(&mut worker.llm, prompt).await?.fail(400);

        let ended = driver.ended().await?;
        ended.expect_code(1)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "failed", "{state}");
        ensure!(
            error_of(&state) == "400 scripted failure (HTTP 400)",
            "{state}"
        );
        ensure!(ended.stdout.contains("✗ model error: 400 scripted failure"));
        ensure!(worker.result_txt()?.is_empty());
        Ok(())
    })
    .await
}

/// (c) The model's event stream carries an error: failed, exit 1.
#[tokio::test]
async fn stream_error_from_the_model_fails_with_exit_1() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the agent to fail", async {
        let prompt = "break the stream";
        let mut driver =
            worker.drive(prompt, &worker.install.shell_command(), &worker.mock_args())?;
        driver
            .next(&mut worker.llm, prompt)
            .await?
            .stream_error("the stream broke");

        let ended = driver.ended().await?;
        ended.expect_code(1)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "failed", "{state}");
        ensure!(error_of(&state) == "the stream broke", "{state}");
        Ok(())
    })
    .await
}

/// A transient model error (503) ends pi's first run with an error, but pi retries: the
/// driver waits for the retry instead of failing the worker.
#[tokio::test]
async fn a_retried_transient_error_still_finishes_done() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the retried agent to finish", async {
        let prompt = "flaky model";
        let mut driver =
            worker.drive(prompt, &worker.install.shell_command(), &worker.mock_args())?;
        driver.next(&mut worker.llm, prompt).await?.fail(503);
        driver
            .next(&mut worker.llm, prompt)
            .await?
            .text("recovered");

        let ended = driver.ended().await?;
        ended.expect_code(0)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "done", "{state}");
        ensure!(worker.result_txt()? == "recovered");
        ensure!(
            ended.stdout.contains("… retrying (attempt 1/3)"),
            "{}",
            ended.stdout
        );
        let types = worker.event_types()?;
        let ends = types.iter().filter(|t| *t == "agent_end").count();
        ensure!(ends == 2, "expected two agent_end events: {types:?}");
        Ok(())
    })
    .await
}

/// pi rejects the prompt (no API key for its model): failed, exit 1, pi's message.
#[tokio::test]
async fn a_rejected_prompt_fails_with_exit_1() -> anyhow::Result<()> {
    let worker = worker!();
    within(CASE_DEADLINE, "the rejection", async {
        let empty = worker.scratch.path().join("empty-agent");
        std::fs::create_dir_all(&empty)?;
        let args = ["-ne", "-nc"].map(str::to_owned);
        let driver = worker.drive_with("hello", &worker.install.shell_command(), &args, &empty)?;
        let ended = driver.ended().await?;
        ended.expect_code(1)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "failed", "{state}");
        ensure!(error_of(&state).starts_with("No API key found"), "{state}");
        Ok(())
    })
    .await
}

/// (d) A pi command that does not exist: exit 3 and how to fix it (and a follow-up run's
/// message stays for the next run).
#[tokio::test]
async fn a_missing_pi_command_fails_with_exit_3_and_a_fix() -> anyhow::Result<()> {
    let worker = worker!();
    within(CASE_DEADLINE, "the driver to give up", async {
        let pi = "no-such-pi-for-tether-tests";
        let driver = worker.drive("hello", pi, &worker.mock_args())?;
        let ended = driver.ended().await?;
        ended.expect_code(3)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "failed", "{state}");
        let error = error_of(&state);
        for needle in [
            pi,
            "not found",
            "npm install -g @mariozechner/pi-coding-agent",
            "\"pi\" option",
        ] {
            ensure!(error.contains(needle), "{needle:?} missing from {error:?}");
        }

        // A follow-up run that cannot start pi leaves its message for the next one.
        worker.message("try again", "followUp")?;
        worker.drive_again()?.ended().await?.expect_code(3)?;
        ensure!(
            worker.waiting()? == 1,
            "the message did not go back to the inbox"
        );
        Ok(())
    })
    .await
}

/// (e) SIGTERM to the driver while the model request is pending: pi is gone, failed
/// "stopped", exit 143, and the follow-up it had kept is back in its inbox.
#[tokio::test]
async fn sigterm_stops_pi_and_exits_143() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the driver to stop", async {
        let prompt = "take your time";
        let mut driver =
            worker.drive(prompt, &worker.install.shell_command(), &worker.mock_args())?;
        let pending = driver.next(&mut worker.llm, prompt).await?;
        worker.phase("working").await?;
        worker.message("after that, this", "followUp")?;
        let state = worker.taken(1).await?;
        let pi = pi_pid(&state)?;
        kill(driver.pid()?, Signal::SIGTERM)?;

        let ended = driver.ended().await?;
        ended.expect_code(143)?;
        match kill(pi, None) {
            Err(Errno::ESRCH) => {}
            other => bail!("pi ({pi}) is still there after the driver exited: {other:?}"),
        }
        let state = worker.final_state()?;
        ensure!(state["phase"] == "failed", "{state}");
        ensure!(error_of(&state) == "stopped", "{state}");
        // The follow-up it had taken is back in the inbox for the agent's next run.
        ensure!(
            worker.waiting()? == 1,
            "the message did not go back to the inbox"
        );
        drop(pending);
        Ok(())
    })
    .await
}

/// Dialogs an extension opens are cancelled at once; other UI requests are ignored.
#[tokio::test]
async fn extension_dialogs_are_cancelled_not_awaited() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the agent to finish", async {
        let extension = worker.scratch.path().join("ask.ts");
        std::fs::write(
            &extension,
            r#"export default function (pi) {
  pi.on("tool_call", async (_event, ctx) => {
    ctx.ui.notify("about to ask", "info");
    ctx.ui.setStatus("ask", "asking");
    const ok = await ctx.ui.confirm("Allow?", "Run this tool?");
    const choice = await ctx.ui.select("Pick one", ["a", "b"]);
    const typed = await ctx.ui.input("Name?", "name");
    const edited = await ctx.ui.editor("Edit", "text");
    if (!ok) return { block: true, reason: `not confirmed: ${choice}/${typed}/${edited}` };
  });
}
"#,
        )?;
        let mut args = worker.mock_args();
        args.extend(["-e".to_owned(), extension.display().to_string()]);
        let prompt = "ask me";
        let mut driver = worker.drive(prompt, &worker.install.shell_command(), &args)?;
        driver
            .next(&mut worker.llm, prompt)
            .await?
            .tool("bash", json!({"command": "echo should-not-run"}));
        let turn = driver.next(&mut worker.llm, prompt).await?;
        let result = turn.tool_result()?;
        ensure!(
            result.contains("not confirmed: undefined/undefined/undefined"),
            "{result:?}"
        );
        turn.text("understood");

        let ended = driver.ended().await?;
        ended.expect_code(0)?;
        ensure!(
            ended
                .stdout
                .contains("  ✗ not confirmed: undefined/undefined/undefined\n"),
            "{}",
            ended.stdout
        );
        ensure!(worker.final_state()?["phase"] == "done");
        Ok(())
    })
    .await
}

/// The text of the request's last message, checked to be the user's.
fn last_user(turn: &Turn) -> anyhow::Result<String> {
    turn.last_user_text().with_context(|| {
        format!(
            "the request does not end with a user message: {:?}",
            turn.conversation()
        )
    })
}

/// Messages reach the running agent: a steer before its next model call, a follow-up once it
/// would have ended (as the next prompt); one that arrives as a run ends becomes a new prompt
/// too, and the driver only finishes after answering it.
#[tokio::test]
async fn inbox_messages_reach_the_agent_and_late_ones_become_a_prompt() -> anyhow::Result<()> {
    let mut worker = worker!();
    within(CASE_DEADLINE, "the agent to answer every message", async {
        // An extension that drops one more message as pi ends its second run (after its last
        // look at its own queues, so only the driver can deliver it).
        let late = worker.dir().join("inbox/00000000000000000000-late.json");
        let ends = worker.scratch.path().join("agent-ends");
        let extension = worker.scratch.path().join("late.ts");
        std::fs::write(
            &extension,
            format!(
                r#"import * as fs from "node:fs";
export default function (pi) {{
  pi.on("agent_end", async () => {{
    fs.appendFileSync({ends:?}, "x");
    if (fs.readFileSync({ends:?}, "utf8") !== "xx") return;
    fs.writeFileSync({late:?} + ".tmp", JSON.stringify({{message: "one more thing", mode: "steer"}}));
    fs.renameSync({late:?} + ".tmp", {late:?});
  }});
}}
"#,
                ends = ends.display().to_string(),
                late = late.display().to_string(),
            ),
        )?;
        std::fs::create_dir_all(worker.dir().join("inbox"))?;
        let mut args = worker.mock_args();
        args.extend(["-e".to_owned(), extension.display().to_string()]);
        let prompt = "first task";
        let mut driver = worker.drive(prompt, &worker.install.shell_command(), &args)?;

        let turn = driver.next(&mut worker.llm, prompt).await?;
        worker.phase("working").await?;
        worker.message("look at this too", "steer")?;
        worker.taken(1).await?;
        turn.tool("bash", json!({"command": "echo one"}));

        // The steer follows the tool's result in pi's next model request.
        let turn = driver.next(&mut worker.llm, prompt).await?;
        ensure!(last_user(&turn)? == "look at this too", "{:?}", turn.conversation());
        worker.message("then this", "followUp")?;
        worker.taken(2).await?;
        turn.text("steered");

        // The follow-up comes once the agent would have ended, as the next prompt.
        let turn = driver.next(&mut worker.llm, prompt).await?;
        let said = turn.conversation();
        let tail: Vec<(&str, &str)> = said[said.len() - 2..]
            .iter()
            .map(|(r, t)| (r.as_str(), t.as_str()))
            .collect();
        ensure!(tail == [("assistant", "steered"), ("user", "then this")], "{said:?}");
        turn.text("followed up");

        // The extension's message, too late for that run, is the next prompt.
        let turn = driver.next(&mut worker.llm, prompt).await?;
        ensure!(last_user(&turn)? == "one more thing", "{:?}", turn.conversation());
        turn.text("last");

        let ended = driver.ended().await?;
        ended.expect_code(0)?;
        let state = worker.final_state()?;
        ensure!(state["phase"] == "done" && state["messages"] == 3, "{state}");
        ensure!(worker.result_txt()? == "last");
        for line in [
            "» steer: look at this too\n",
            "» follow-up: then this\n",
            "» steer: one more thing\n",
        ] {
            ensure!(ended.stdout.contains(line), "{line:?} missing:\n{}", ended.stdout);
        }
        let taken = std::fs::read_dir(worker.dir().join("inbox/taken"))?.count();
        ensure!(taken == 3, "{taken} message(s) in inbox/taken");
        Ok(())
    })
    .await
}

/// A follow-up run (`--continue`) continues the session the first run left: the model sees the
/// first prompt, its answer and the new message, with pi 0.73.1 and 0.87.1.
#[tokio::test]
async fn a_follow_up_run_continues_the_session() -> anyhow::Result<()> {
    for version in [PI_VERSION, PI_NEWER] {
        let mut worker = worker!(version);
        within(
            CASE_DEADLINE,
            &format!("two runs with pi {version}"),
            async {
                let prompt = "remember 42";
                let pi = worker.install.shell_command();
                let mut driver = worker.drive(prompt, &pi, &worker.mock_args())?;
                driver.next(&mut worker.llm, prompt).await?.text("noted");
                driver.ended().await?.expect_code(0)?;
                let first = worker.final_state()?;
                let session = first["sessionFile"].as_str().unwrap_or_default().to_owned();
                ensure!(
                    Path::new(&session).starts_with(worker.dir().join("sessions")),
                    "{first}"
                );

                worker.message("which number?", "followUp")?;
                let mut driver = worker.drive_again()?;
                let turn = driver.next(&mut worker.llm, prompt).await?;
                let said = turn.conversation();
                let texts: Vec<(&str, &str)> = said
                    .iter()
                    .filter(|(r, _)| r != "system")
                    .map(|(r, t)| (r.as_str(), t.as_str()))
                    .collect();
                ensure!(
                    texts
                        == [
                            ("user", prompt),
                            ("assistant", "noted"),
                            ("user", "which number?")
                        ],
                    "pi {version} did not continue the session: {said:?}"
                );
                turn.text("42");
                let ended = driver.ended().await?;
                ended.expect_code(0)?;
                ensure!(
                    ended.stdout == "» follow-up: which number?\n42\n",
                    "{}",
                    ended.stdout
                );
                let state = worker.final_state()?;
                ensure!(
                    state["phase"] == "done" && state["messages"] == 1,
                    "{state}"
                );
                ensure!(state["sessionFile"] == session.as_str(), "{state}");
                ensure!(worker.result_txt()? == "42");

                // A follow-up run with nothing waiting has nothing to do, and leaves the state alone.
                let ended = worker.drive_again()?.ended().await?;
                ended.expect_code(0)?;
                ensure!(worker.final_state()? == state);
                Ok(())
            },
        )
        .await?;
    }
    Ok(())
}
