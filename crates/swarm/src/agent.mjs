// tether swarm agent driver: runs one pi agent in RPC mode on a worker VM.
//
// Usage: node <dir>/agent.mjs <dir> [--continue]    (cwd = the worker's working directory)
//
// Reads <dir>/agent.json {"prompt", "pi", "args"}, starts
//   bash -c 'exec <pi> --mode rpc "$@"' pi --session-dir <dir>/sessions [--continue] <args...>
// with this process's environment, sends the prompt, and until the agent has finished keeps
//   <dir>/events.jsonl      every line pi wrote on stdout, as is (appended, run after run)
//   <dir>/agent-state.json  {phase, turns, toolCalls, lastTool, error, piPid, messages,
//                            sessionFile, updated}
//   <dir>/result.txt        the final assistant message's text
// and writes a readable transcript on stdout (pi's stderr goes to stderr).
//
// Messages: tether drops one JSON file per message in <dir>/inbox/ ({"message", "mode":
// "followUp" | "steer"}, written atomically: a dot-file renamed into place). The driver takes
// each within a quarter second (renames it into <dir>/inbox/taken/, so exactly one reader gets
// it). A steer goes to pi at once as RPC `steer` (delivered before its next model call). A
// follow-up is kept until the agent ends. When the agent ends with messages kept or waiting —
// or with a steer pi queued too late to deliver — the driver does not finish: they become a new
// prompt in the same session. (Not pi's `follow_up`: one queued in the instant pi ends its run
// stays queued, and pi 0.73 has no way to deliver it but another prompt, which would deliver it
// twice.) Messages kept when the driver ends anyway (pi died, stopped) go back to the inbox.
// With --continue (a follow-up run, started after an earlier run ended) pi continues the most
// recent session in <dir>/sessions and the prompt is the waiting messages instead of
// agent.json's.
//
// Exit codes: 0 done; 1 the agent failed (model error, prompt rejected); 2 pi exited or was
// killed before the agent finished; 3 pi could not be started; 143 stopped by a signal.
//
// Dependency-free ESM for Node >= 18.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const PROMPT_ID = "tether-prompt";
const SETTLE_ID = "tether-settle";
const CLEAR_ID = "tether-clear-queue";
const STATE_INTERVAL_MS = 250;
const INBOX_INTERVAL_MS = 250;
const EXIT_GRACE_MS = 10_000;
const STDOUT_DRAIN_MS = 2_000;
const STDERR_KEEP = 10;
const ARGS_MAX = 200;
const DIALOGS = new Set(["select", "confirm", "input", "editor"]);

// The transcript and diagnostics must never take the driver down (a closed pipe, say).
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

const dir = path.resolve(process.argv[2] ?? path.dirname(new URL(import.meta.url).pathname));
const file = (name) => path.join(dir, name);
const followUpRun = process.argv.includes("--continue");
const inboxDir = file("inbox");
const takenDir = path.join(inboxDir, "taken");

// ---------------------------------------------------------------------------------------------
// State file

const state = {
  phase: "starting",
  turns: 0,
  toolCalls: 0,
  lastTool: null,
  error: null,
  piPid: null,
  messages: 0,
  sessionFile: null,
  updated: new Date().toISOString(),
};
let lastStateWrite = 0;
let stateTimer = null;

function writeState() {
  if (stateTimer) {
    clearTimeout(stateTimer);
    stateTimer = null;
  }
  state.updated = new Date().toISOString();
  const target = file("agent-state.json");
  const tmp = `${target}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(state) + "\n");
    fs.renameSync(tmp, target);
  } catch (e) {
    process.stderr.write(`tether-agent: could not write ${target}: ${e.message}\n`);
  }
  lastStateWrite = Date.now();
}

/** Notes a change that is not a phase change: written at most every STATE_INTERVAL_MS. */
function touchState() {
  if (stateTimer) return;
  const wait = lastStateWrite + STATE_INTERVAL_MS - Date.now();
  if (wait <= 0) writeState();
  else stateTimer = setTimeout(writeState, wait);
}

function setPhase(phase, error = null) {
  state.phase = phase;
  state.error = error;
  writeState();
}

// ---------------------------------------------------------------------------------------------
// Transcript (stdout)

let atLineStart = true;

function out(text) {
  if (!text) return;
  process.stdout.write(text);
  atLineStart = text.endsWith("\n");
}

function endLine() {
  if (!atLineStart) out("\n");
}

function outLine(line) {
  endLine();
  out(line + "\n");
}

function cut(text, max) {
  const chars = Array.from(text);
  return chars.length > max ? chars.slice(0, max).join("") + "…" : text;
}

function contentText(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part) => part && part.type === "text" && typeof part.text === "string")
    .map((part) => part.text)
    .join("");
}

/** The line that says what went wrong in a failed tool's result. */
function errorLine(result) {
  const lines = contentText(result?.content)
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (lines.length === 0) return "(no message)";
  // pi's bash tool puts the output first and "Command exited with code N" last.
  const last = lines[lines.length - 1];
  if (/^Command (exited with code|timed out|aborted)/.test(last)) return cut(last, ARGS_MAX);
  return cut(lines[0], ARGS_MAX);
}

// ---------------------------------------------------------------------------------------------
// Inbox

/** The messages waiting in the inbox, oldest first (tether names them by time). */
function waiting() {
  try {
    return fs
      .readdirSync(inboxDir)
      .filter((name) => name.endsWith(".json") && !name.startsWith("."))
      .sort();
  } catch {
    return [];
  }
}

/** Takes message `name` (a rename: no other reader can take it too) and notes it in the
 * transcript; {name, message, mode} or null. */
function take(name) {
  const taken = path.join(takenDir, name);
  try {
    fs.mkdirSync(takenDir, { recursive: true });
    fs.renameSync(path.join(inboxDir, name), taken);
  } catch {
    return null; // gone already, or the inbox is unreadable
  }
  try {
    const parsed = JSON.parse(fs.readFileSync(taken, "utf8"));
    if (typeof parsed.message !== "string" || parsed.message.trim() === "") {
      throw new Error('no "message"');
    }
    state.messages += 1;
    writeState();
    const mode = parsed.mode === "steer" ? "steer" : "followUp";
    outLine(`» ${mode === "steer" ? "steer" : "follow-up"}: ${firstLine(parsed.message)}`);
    outputSeq += 1;
    return { name, message: parsed.message, mode };
  } catch (e) {
    process.stderr.write(`tether-agent: ignoring ${taken}: ${e.message}\n`);
    return null;
  }
}

function takeAll() {
  return waiting()
    .map(take)
    .filter((m) => m !== null);
}

function firstLine(text) {
  return cut(text.split("\n")[0], ARGS_MAX);
}

/** Returns messages taken but not delivered to the inbox, for whoever runs the agent next. */
function putBack(messages) {
  for (const { name } of messages) {
    try {
      fs.renameSync(path.join(takenDir, name), path.join(inboxDir, name));
    } catch (e) {
      process.stderr.write(`tether-agent: could not put message ${name} back: ${e.message}\n`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Finishing

let finished = false;
let exitCode = 2;
let pi = null;
let piExit = null; // {code, signal} once pi has exited
let resolvePiExited = () => {};
const piExited = new Promise((resolve) => {
  resolvePiExited = resolve;
});
let sawStdoutLine = false;
const stderrTail = [];

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Records the outcome, makes sure pi is gone (stdin closed, or `signal`), and exits. */
async function finish(phase, error, code, { signal = null } = {}) {
  if (finished) return;
  finished = true;
  exitCode = code;
  putBack([...prompting.splice(0), ...held.splice(0)]);
  setPhase(phase, error);
  if (phase === "failed" && error) outLine(`✗ agent failed: ${error.split("\n")[0]}`);
  if (pi && !piExit) {
    try {
      pi.stdin.end();
    } catch {
      // pi is already gone
    }
    if (signal) killPi(signal);
    const exited = await Promise.race([piExited.then(() => true), delay(EXIT_GRACE_MS).then(() => false)]);
    if (!exited) {
      process.stderr.write(`tether-agent: pi did not exit within ${EXIT_GRACE_MS / 1000} s; killing it\n`);
      killPi("SIGKILL");
      await Promise.race([piExited, delay(EXIT_GRACE_MS)]);
    }
  }
  process.exit(code);
}

function killPi(signal) {
  try {
    pi.kill(signal);
  } catch {
    // already gone
  }
}

function withStderr(message) {
  if (stderrTail.length === 0) return message;
  return `${message}; pi's last stderr lines:\n${stderrTail.join("\n")}`;
}

function howToFix(command) {
  return (
    `could not start pi with ${JSON.stringify(command)}: command not found on this machine. ` +
    "Install pi on the VM (npm install -g @mariozechner/pi-coding-agent) " +
    "or pass the command that starts pi (the agent task's \"pi\" option, " +
    "e.g. \"node /path/to/pi-coding-agent/dist/cli.js\")"
  );
}

// ---------------------------------------------------------------------------------------------
// pi's events

// agent_end is final only once pi has decided not to retry (auto_retry_start) or to compact and
// retry (compaction_start, reason "overflow"). pi announces either in the same tick as agent_end,
// so the answer to a get_state sent after reading agent_end arrives after it: that answer makes
// the outcome final.
let pending = null; // {phase, error, code} from the last agent_end, not yet final
let settleSeq = 0;
let settleId = null;
let compacting = false;
const tools = new Map(); // toolCallId -> {name, seq}
let outputSeq = 0; // bumps whenever the transcript gets a line, to tell adjacent ▸/✓ apart
// A steer goes to pi unless its run is closing: after an assistant message that asks for no
// tool, pi looks at its queues once more and ends the run (a user message reopens it).
let runClosing = false;
let messageSeq = 0;
const inFlight = []; // steers handed to pi that it has not put in the conversation yet
const held = []; // messages taken for the next prompt: {name, message, mode}
const prompting = []; // messages in the prompt pi was sent, until its run starts
let clearing = null; // {stuck, leftovers} while pi is asked to drop what it queued too late

function send(command) {
  if (!pi || piExit) return;
  try {
    pi.stdin.write(JSON.stringify(command) + "\n");
  } catch {
    // pi is gone; its exit is handled there
  }
}

function lastAssistant(messages) {
  if (!Array.isArray(messages)) return null;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i] && messages[i].role === "assistant") return messages[i];
  }
  return null;
}

function onAgentEnd(event) {
  const last = lastAssistant(event.messages);
  try {
    fs.writeFileSync(file("result.txt"), last ? contentText(last.content) : "");
  } catch (e) {
    process.stderr.write(`tether-agent: could not write result.txt: ${e.message}\n`);
  }
  const reason = last?.stopReason;
  if (reason === "error" || reason === "aborted") {
    const error = last.errorMessage || (reason === "aborted" ? "the agent was aborted" : "the model failed");
    pending = { phase: "failed", error, code: 1 };
  } else {
    pending = { phase: "done", error: null, code: 0 };
  }
  settleId = `${SETTLE_ID}-${++settleSeq}`;
  send({ id: settleId, type: "get_state" });
}

function settle() {
  if (!pending || compacting) return;
  const leftovers = piExit ? [] : [...held.splice(0), ...takeAll()];
  if (leftovers.length > 0 || (!piExit && inFlight.length > 0)) {
    pending = null;
    continueWith(leftovers);
    return;
  }
  const { phase, error, code } = pending;
  pending = null;
  void finish(phase, error, code);
}

/** Takes waiting messages: a steer to pi now, unless its run is closing; the rest kept. */
function pollInbox() {
  if (finished) return;
  for (const taken of takeAll()) {
    if (taken.mode !== "steer" || runClosing || pending || clearing) {
      held.push(taken);
      continue;
    }
    inFlight.push(taken.message);
    send({ id: `tether-message-${++messageSeq}`, type: "steer", message: taken.message });
  }
}

/** The run ended with messages it did not get to: they become the session's next prompt. */
function continueWith(leftovers) {
  const stuck = inFlight.splice(0);
  if (stuck.length === 0) {
    promptWith(leftovers);
    return;
  }
  // pi queued these after its last look at its queues: have it drop them and send them again.
  clearing = { stuck, leftovers };
  send({ id: CLEAR_ID, type: "clear_queue" });
}

function onCleared(success) {
  const { stuck, leftovers } = clearing;
  clearing = null;
  const again = stuck.map((message) => ({ message }));
  if (success) {
    promptWith([...again, ...leftovers]);
  } else if (leftovers.length > 0) {
    // pi without clear_queue (0.73): the new run delivers its queued messages itself
    inFlight.push(...stuck);
    promptWith(leftovers);
  } else {
    // nothing else to prompt with: pi may deliver its queued copy too, but nothing is lost
    promptWith(again);
  }
}

/** Sends `messages` ({message, name?}) as the session's next prompt; ones from the inbox go
 * back there if the driver ends before pi starts the run. */
function promptWith(messages) {
  prompting.push(...messages.filter((m) => m.name));
  const message = messages.map((m) => m.message).join("\n\n");
  send({ id: PROMPT_ID, type: "prompt", message, streamingBehavior: "followUp" });
}

function onEvent(event) {
  switch (event.type) {
    case "response":
      if (event.id === PROMPT_ID && event.success === false) {
        void finish("failed", String(event.error || "pi rejected the prompt"), 1);
      } else if (event.id && event.id === settleId) {
        settleId = null;
        if (typeof event.data?.sessionFile === "string") state.sessionFile = event.data.sessionFile;
        settle();
      } else if (clearing && (event.id === CLEAR_ID || event.command === "clear_queue")) {
        // pi without clear_queue answers "Unknown command" without the request's id
        onCleared(event.success !== false);
      } else if (String(event.id ?? "").startsWith("tether-message-") && event.success === false) {
        outLine(`✗ pi refused a message: ${firstLine(String(event.error ?? "?"))}`);
        outputSeq += 1;
      }
      break;
    case "agent_start":
      pending = null;
      runClosing = false;
      prompting.length = 0;
      if (state.phase !== "working") setPhase("working");
      break;
    case "turn_start":
      state.turns += 1;
      touchState();
      break;
    case "message_update": {
      const update = event.assistantMessageEvent;
      if (update && update.type === "text_delta" && typeof update.delta === "string") {
        out(update.delta);
        outputSeq += 1;
      }
      break;
    }
    case "message_start":
      if (event.message?.role === "user") {
        // a message of ours delivered (the loop goes on), or the prompt
        const at = inFlight.indexOf(contentText(event.message.content));
        if (at !== -1) inFlight.splice(at, 1);
        runClosing = false;
      }
      break;
    case "message_end": {
      const message = event.message;
      if (message && message.role === "assistant") {
        if (message.stopReason !== "toolUse") runClosing = true;
        if (message.stopReason === "error" && message.errorMessage) {
          outLine(`✗ model error: ${cut(message.errorMessage.split("\n")[0], ARGS_MAX)}`);
          outputSeq += 1;
        } else {
          endLine();
        }
      }
      break;
    }
    case "tool_execution_start": {
      const name = String(event.toolName ?? "?");
      let args = "";
      try {
        args = JSON.stringify(event.args ?? {});
      } catch {
        args = "?";
      }
      outLine(`▸ ${name} ${cut(args, ARGS_MAX)}`);
      outputSeq += 1;
      tools.set(event.toolCallId, { name, seq: outputSeq });
      state.toolCalls += 1;
      state.lastTool = name;
      touchState();
      break;
    }
    case "tool_execution_end": {
      const started = tools.get(event.toolCallId);
      tools.delete(event.toolCallId);
      // Right after its own ▸ line the mark stands alone; otherwise it names the tool.
      const who = started && started.seq === outputSeq ? "" : ` ${started?.name ?? event.toolName ?? "?"}`;
      if (event.isError) outLine(`  ✗${who}${who ? ":" : ""} ${errorLine(event.result)}`);
      else outLine(`  ✓${who}`);
      outputSeq += 1;
      break;
    }
    case "auto_retry_start":
      pending = null;
      outLine(
        `… retrying (attempt ${event.attempt}/${event.maxAttempts}) after: ` +
          cut(String(event.errorMessage ?? "").split("\n")[0], ARGS_MAX),
      );
      outputSeq += 1;
      break;
    case "auto_retry_end":
      if (event.success === false && pending) {
        pending.error = String(event.finalError || pending.error);
      }
      break;
    case "compaction_start":
    case "auto_compaction_start":
      // an overflow compaction may retry the turn; a threshold one only tidies up
      if (event.reason !== "threshold") compacting = true;
      break;
    case "compaction_end":
    case "auto_compaction_end":
      compacting = false;
      if (event.willRetry) pending = null;
      else if (pending && !settleId) settle();
      break;
    case "extension_error":
      process.stderr.write(
        `tether-agent: extension ${event.extensionPath ?? "?"} failed in ${event.event ?? "?"}: ${event.error ?? "?"}\n`,
      );
      break;
    case "extension_ui_request":
      if (DIALOGS.has(event.method)) {
        send({ type: "extension_ui_response", id: event.id, cancelled: true });
      }
      break;
    case "agent_end":
      onAgentEnd(event);
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Start

function readTask() {
  const raw = fs.readFileSync(file("agent.json"), "utf8");
  const task = JSON.parse(raw);
  if (typeof task.prompt !== "string") throw new Error("agent.json: \"prompt\" must be a string");
  const command = typeof task.pi === "string" && task.pi.trim() !== "" ? task.pi : "pi";
  const args = Array.isArray(task.args) ? task.args.map(String) : [];
  return { prompt: task.prompt, command, args };
}

function main() {
  let task;
  try {
    task = readTask();
  } catch (e) {
    setPhase("failed", `could not read ${file("agent.json")}: ${e.message}`);
    process.stderr.write(`tether-agent: ${state.error}\n`);
    process.exit(3);
  }

  let prompt = task.prompt;
  if (followUpRun) {
    prompting.push(...takeAll());
    prompt = prompting.map((m) => m.message).join("\n\n");
    if (prompt === "") {
      // another run took the messages first: nothing to do (and its state is not ours to touch)
      process.stderr.write("tether-agent: no message waiting in the inbox; nothing to continue with\n");
      process.exit(0);
    }
  }

  const events = fs.openSync(file("events.jsonl"), "a");
  writeState();

  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
    process.on(signal, () => {
      if (!finished) {
        void finish("failed", "stopped", 143, { signal: "SIGTERM" });
        return;
      }
      // a second signal while pi is being waited for: no more waiting
      if (pi && !piExit) killPi("SIGKILL");
      process.exit(exitCode);
    });
  }

  try {
    const session = ["--session-dir", file("sessions"), ...(followUpRun ? ["--continue"] : [])];
    pi = spawn("bash", ["-c", `exec ${task.command} --mode rpc "$@"`, "pi", ...session, ...task.args], {
      stdio: ["pipe", "pipe", "pipe"],
      env: process.env,
    });
  } catch (e) {
    void finish("failed", `could not run bash to start pi: ${e.message}`, 3);
    return;
  }
  pi.on("error", (e) => {
    // spawn failed (no bash); exit is not emitted then
    if (!piExit) {
      piExit = { code: null, signal: null };
      resolvePiExited();
    }
    void finish("failed", `could not run bash to start pi: ${e.message}`, 3);
  });
  if (pi.pid) {
    state.piPid = pi.pid;
    writeState();
  }
  pi.stdin.on("error", () => {
    // EPIPE when pi is gone; its exit is handled below
  });

  // stderr: passed through, last lines kept for error messages
  let stderrPartial = "";
  pi.stderr.on("data", (chunk) => {
    process.stderr.write(chunk);
    const lines = (stderrPartial + chunk.toString("utf8")).split("\n");
    stderrPartial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.trim() === "") continue;
      stderrTail.push(cut(line, 300));
      if (stderrTail.length > STDERR_KEEP) stderrTail.shift();
    }
  });
  pi.stderr.on("end", () => {
    if (stderrPartial.trim() !== "") {
      stderrTail.push(cut(stderrPartial, 300));
      if (stderrTail.length > STDERR_KEEP) stderrTail.shift();
    }
    stderrPartial = "";
  });

  // stdout: split on "\n" only (readline would also split on U+2028/U+2029)
  let partial = [];
  const stdoutEnded = new Promise((resolve) => pi.stdout.on("end", resolve));
  const onLine = (buf) => {
    fs.writeSync(events, Buffer.concat([buf, Buffer.from("\n")]));
    sawStdoutLine = true;
    let event;
    try {
      event = JSON.parse(buf.toString("utf8"));
    } catch {
      return; // not JSON: kept in events.jsonl only
    }
    if (!event || typeof event !== "object" || finished) return;
    touchState(); // "updated" doubles as pi's last sign of life
    onEvent(event);
  };
  pi.stdout.on("data", (chunk) => {
    let start = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, start)) {
      partial.push(chunk.subarray(start, i));
      onLine(Buffer.concat(partial));
      partial = [];
      start = i + 1;
    }
    if (start < chunk.length) partial.push(chunk.subarray(start));
  });

  pi.on("exit", async (code, signal) => {
    piExit = { code, signal };
    // let the last lines of stdout arrive (bounded: a grandchild may hold the pipe open)
    await Promise.race([stdoutEnded, delay(STDOUT_DRAIN_MS)]);
    if (partial.length > 0) {
      onLine(Buffer.concat(partial));
      partial = [];
    }
    resolvePiExited();
    if (finished) return;
    if (pending && !compacting) {
      settle(); // agent_end arrived, pi exited before answering the settle request
      return;
    }
    if (!sawStdoutLine && (code === 127 || code === 126)) {
      const said = stderrTail.length ? `; bash said: ${stderrTail.join(" / ")}` : "";
      void finish("failed", howToFix(task.command) + said, 3);
      return;
    }
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    void finish("failed", withStderr(`pi ${how} before the agent finished`), 2);
  });

  send({ id: PROMPT_ID, type: "prompt", message: prompt });
  setInterval(pollInbox, INBOX_INTERVAL_MS);
}

// A bug here must not leave the worker "working" with nobody watching pi.
process.on("uncaughtException", (e) => {
  const message = `the agent driver failed: ${e && e.stack ? e.stack : e}`;
  process.stderr.write(`tether-agent: ${message}\n`);
  if (!finished) {
    void finish("failed", message.split("\n")[0], 2, { signal: "SIGTERM" });
  } else {
    if (pi && !piExit) killPi("SIGKILL");
    process.exit(exitCode);
  }
});

main();
