// The swarm tools for pi: swarm_start, swarm_status, swarm_wait, swarm_read, swarm_send,
// swarm_keep and swarm_stop run in the sidecar (`swarm/call`, wire spec: crates/serve/README.md), which runs
// tether's own implementation (`tether_swarm::tools`). Their descriptions and argument schemas
// mirror that crate's (crates/swarm/src/tools.rs); the pi end-to-end tests check they match.
// While a swarm this session started is unfinished, a widget lists its workers.
import { randomUUID } from "node:crypto";
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { Type } from "typebox";

type Json = any;

/** What the swarm tools need from the sidecar. */
export interface SwarmSidecar {
	/** `timeoutMs` 0: no limit. */
	call(method: string, params?: Json, timeoutMs?: number): Promise<Json>;
	notify(method: string, params: Json): void;
	/** `swarm/update` listeners by callId. */
	readonly swarmUpdates: Map<string, (update: Json) => void>;
}

export interface SwarmHost {
	rpc(): Promise<SwarmSidecar>;
	/** The active VM's id, if any. */
	activeVm(): string | undefined;
	/** Routes tools locally again (the active VM was deleted). */
	goLocal(ctx: ExtensionContext): Promise<unknown>;
}

const WIDGET = "tether-swarm";
const REFRESH_MS = 2000;
/** Workers the widget lists at most. */
const WIDGET_WORKERS = 16;
const ICONS: Record<string, string> = { starting: "⟳", running: "⟳", done: "✓", failed: "✗", timed_out: "⏱", stopped: "■" };

// ---- descriptions: crates/swarm/src/tools.rs (START, STATUS, WAIT, READ, SEND, KEEP, STOP) ----
const START =
	"Branch a VM (or a commit) into `count` workers in one call and run a task on each, in the background: either a bash `command` (each worker gets TETHER_WORKER = 0..count-1 in its environment) or an agent `prompt` (pi runs it on the worker; `{worker}` in the prompt becomes the index), or `prompts`, one per worker. Returns the swarm id and every worker's full VM id at once. Credentials reach workers only through `env`; `piConfig` also copies this machine's pi settings, models, AGENTS.md and skills to the workers. Follow with swarm_wait or swarm_status.";
const STATUS =
	"How a swarm's workers are doing: running, done, failed (exit code and reason), timed_out, stopped; agents show turns and tool calls. Default: the newest swarm.";
const WAIT =
	"Wait until every worker of a swarm has finished (or `timeout` seconds pass: default 300), then gather each worker's state, exit code and the end of its output. On timeout, the partial results say who is still running.";
const READ =
	"Read one worker's output (by index or VM id): its last `tail` lines, or from a byte `offset` (the result says which offset continues). At most 50KB per call.";
const SEND =
	"Send agent workers a further message (default: every agent worker of the newest swarm). A working agent gets it as a follow-up once it has finished what it is doing (mode followUp, the default) or before its next model call (mode steer). An agent that has ended (done, failed, timed out, stopped) continues its conversation with the message in a new run and is working again. The variables given to swarm_start in `env` are not kept: pass them again in `env` for a follow-up run. Follow with swarm_wait.";
const KEEP =
	"Keep the chosen workers (indexes or VM ids) and delete every other worker's VM. The source VM is never touched. Kept workers keep running; vm_use one to work there.";
const STOP =
	"Stop every running worker of a swarm (its whole process group: SIGTERM, then SIGKILL). With delete: true, also delete every worker VM not kept.";

// ---- arguments: the `*Args` structs of crates/swarm/src/tools.rs, camelCase -------------------
const swarm = () => Type.Optional(Type.String({ description: "The swarm id (a unique prefix works). Default: the newest swarm." }));
const workerRef = (description: string) =>
	Type.Union(
		[
			Type.Integer({ minimum: 0, description: "Its index (0..count-1)." }),
			Type.String({ description: "Its VM id or a unique prefix (or the index as text)." }),
		],
		{ description },
	);

const StartArgs = Type.Object({
	source: Type.Optional(Type.String({ description: "The VM or commit id to branch (a unique prefix works). Default: the active VM." })),
	count: Type.Integer({ minimum: 0, description: "How many workers (1 to the limit, 64 unless TETHER_SWARM_MAX_WORKERS says otherwise)." }),
	command: Type.Optional(Type.String({ description: "The bash command each worker runs (give this or prompt)." })),
	prompt: Type.Optional(Type.String({ description: "The task each worker's pi agent works on (give this, prompts or command)." })),
	prompts: Type.Optional(
		Type.Array(Type.String(), {
			description: "One task per worker, in order, for agents exploring different approaches (instead of prompt; as many as count).",
		}),
	),
	timeout: Type.Optional(Type.Number({ description: "Seconds each worker may run; then it is stopped and reported as timed out." })),
	env: Type.Optional(
		Type.Record(Type.String(), Type.String(), {
			description: "Environment variables for every worker (e.g. the model's API key for agents). Nothing else from this machine is passed.",
		}),
	),
	cwd: Type.Optional(Type.String({ description: "The directory tasks run in (default: the VM's home)." })),
	provider: Type.Optional(Type.String({ description: "Agents: pi's --provider." })),
	model: Type.Optional(Type.String({ description: "Agents: pi's --model." })),
	pi: Type.Optional(Type.String({ description: "Agents: how to start pi on the VM (default `pi`)." })),
	piArgs: Type.Optional(Type.Array(Type.String(), { description: "Agents: more pi arguments." })),
	piConfig: Type.Optional(
		Type.Boolean({
			description:
				"Agents: copy this machine's pi configuration ($PI_CODING_AGENT_DIR or ~/.pi/agent: settings.json, models.json, AGENTS.md, SYSTEM.md, APPEND_SYSTEM.md, keybindings.json, skills/, prompts/, extensions/, themes/; at most 16 MiB) to ~/.pi/agent on every worker before its agent starts. Never auth.json or sessions: credentials reach workers only through env. models.json can itself hold API keys and is copied as it is.",
		}),
	),
});
const StatusArgs = Type.Object({ swarm: swarm() });
const WaitArgs = Type.Object({
	swarm: swarm(),
	timeout: Type.Optional(Type.Number({ description: "Seconds to wait at most (default 300, at most 3600)." })),
});
const ReadArgs = Type.Object({
	swarm: swarm(),
	worker: workerRef("The worker: its index, or its VM id."),
	tail: Type.Optional(Type.Integer({ minimum: 0, description: "Return the last this many lines." })),
	offset: Type.Optional(Type.Integer({ minimum: 0, description: "Return output from this byte offset on (default 0)." })),
	wait: Type.Optional(Type.Number({ description: "Seconds to wait for output past `offset` (at most 60)." })),
});
const SendArgs = Type.Object({
	swarm: swarm(),
	workers: Type.Optional(
		Type.Array(workerRef("A worker: its index or its VM id (or a unique prefix)."), {
			description: "The workers to send to (indexes or VM ids). Default: every agent worker whose VM is left.",
		}),
	),
	message: Type.String({ description: "The message: a further task, a correction, a question." }),
	mode: Type.Optional(
		Type.Union([Type.Literal("followUp"), Type.Literal("steer")], {
			description: "followUp (default): after the agent has finished what it is doing; steer: before its next model call.",
		}),
	),
	env: Type.Optional(
		Type.Record(Type.String(), Type.String(), {
			description:
				"Environment variables for a follow-up run of an agent that has ended (e.g. the model's API key again). Nothing else from this machine is passed.",
		}),
	),
});
const KeepArgs = Type.Object({
	swarm: swarm(),
	workers: Type.Array(workerRef("A worker: its index or its VM id (or a unique prefix)."), {
		description: "The workers to keep (indexes or VM ids); every other worker VM is deleted. An empty list deletes them all.",
	}),
});
const StopArgs = Type.Object({
	swarm: swarm(),
	delete: Type.Optional(Type.Boolean({ description: "Also delete every worker VM that was not kept." })),
});

const result = (r: Json) => ({ content: [{ type: "text" as const, text: r.text as string }], details: r.details ?? undefined });

// ---- the widget -----------------------------------------------------------------------------
function summary(s: Json): string {
	const c = s.counts ?? {};
	const parts = (
		[
			[c.done, "done"],
			[c.failed, "failed"],
			[c.timedOut, "timed out"],
			[c.stopped, "stopped"],
			[c.deleted, "deleted"],
			[c.running, "running"],
			[c.starting, "starting"],
		] as [number, string][]
	)
		.filter(([n]) => n > 0)
		.map(([n, word]) => `${n} ${word}`);
	return `${s.workers.length} worker(s): ${parts.join(", ")}`;
}

function workerLine(w: Json): string {
	let what: string = w.state;
	if (w.state === "failed") what = w.exitCode === undefined ? "failed" : `failed (exit ${w.exitCode})`;
	else if (w.state === "timed_out") what = "timed out";
	else if (w.agent && (w.state === "running" || w.state === "starting"))
		what = `agent ${w.agent.phase || "starting"}: ${w.agent.turns} turn(s), ${w.agent.toolCalls} tool call(s)${w.agent.lastTool ? `, last ${w.agent.lastTool}` : ""}`;
	return `${ICONS[w.state] ?? "?"} ${w.index}  ${w.vmId.slice(0, 12)}  ${what}${w.disposition === "kept" ? " [kept]" : ""}`;
}

/** The widget's lines for swarm status `s` (deleted workers left out). */
export function widgetLines(s: Json, others = 0): string[] {
	const shown = s.workers.filter((w: Json) => w.state !== "deleted" && w.disposition !== "deleted");
	const lines = [`swarm ${s.swarmId} (${s.kind}): ${summary(s)}`, ...shown.slice(0, WIDGET_WORKERS).map(workerLine)];
	if (shown.length > WIDGET_WORKERS) lines.push(`… ${shown.length - WIDGET_WORKERS} more (swarm_status lists them)`);
	if (others > 0) lines.push(`(${others} more unfinished swarm(s))`);
	return lines;
}

export function registerSwarmTools(pi: ExtensionAPI, host: SwarmHost): { dispose(): void } {
	/** The unfinished swarms this session started (oldest first) with their newest status. */
	const unfinished = new Map<string, Json>();
	let ui: ExtensionContext | undefined;
	let shown = false;
	let timer: ReturnType<typeof setInterval> | undefined;
	let refreshing = false;

	function render() {
		const newest = [...unfinished.values()].at(-1);
		if (!newest) {
			if (timer) clearInterval(timer);
			timer = undefined;
			if (shown) ui?.ui.setWidget(WIDGET, undefined);
			shown = false;
			return;
		}
		if (!ui) return;
		ui.ui.setWidget(WIDGET, widgetLines(newest, unfinished.size - 1));
		shown = true;
		if (!timer) {
			timer = setInterval(() => void refresh(), REFRESH_MS);
			timer.unref?.();
		}
	}
	/** Takes in a status of swarm `s.swarmId` (a tracked one's, or a new swarm's with `start`). */
	function track(s: Json, ctx: ExtensionContext, start = false) {
		if (ctx.hasUI) ui = ctx;
		if (!s?.swarmId || (!start && !unfinished.has(s.swarmId))) return;
		if (s.finished) unfinished.delete(s.swarmId);
		else unfinished.set(s.swarmId, s);
		render();
	}
	async function refresh() {
		if (refreshing || !ui) return;
		refreshing = true;
		try {
			const side = await host.rpc();
			for (const id of [...unfinished.keys()]) {
				try {
					const s = await side.call("swarm/status", { swarm: id });
					if (ui) track(s, ui);
				} catch (e: Json) {
					if (e.kind === "not_found") unfinished.delete(id);
				}
			}
			render();
		} catch {
			// The sidecar is restarting; the next refresh tries again.
		} finally {
			refreshing = false;
		}
	}
	const swarmCall = async (tool: string, args: Json, timeoutMs?: number) => (await host.rpc()).call("swarm/call", { tool, args }, timeoutMs);

	pi.registerTool({
		name: "swarm_start",
		label: "Start swarm",
		description: START,
		promptSnippet: "Branch a VM into N workers that each run a command or a pi agent",
		parameters: StartArgs,
		async execute(_id, p: Json, _signal, _onUpdate, ctx) {
			const r = await swarmCall("swarm_start", p);
			track(r.details, ctx, true);
			return result(r);
		},
	});

	pi.registerTool({
		name: "swarm_status",
		label: "Swarm status",
		description: STATUS,
		promptSnippet: "How a swarm's workers are doing",
		parameters: StatusArgs,
		async execute(_id, p: Json, _signal, _onUpdate, ctx) {
			const r = await swarmCall("swarm_status", p);
			track(r.details, ctx);
			return result(r);
		},
	});

	pi.registerTool({
		name: "swarm_wait",
		label: "Wait for swarm",
		description: WAIT,
		promptSnippet: "Wait for a swarm's workers and gather their results",
		parameters: WaitArgs,
		async execute(_id, p: Json, signal, onUpdate, ctx) {
			const side = await host.rpc();
			const callId = randomUUID();
			const cancel = () => side.notify("swarm/cancel", { callId });
			side.swarmUpdates.set(callId, (u) => {
				onUpdate?.({ content: [{ type: "text", text: u.text }], details: u.status });
				track(u.status, ctx);
			});
			signal?.addEventListener("abort", cancel, { once: true });
			try {
				if (signal?.aborted) throw new Error("aborted");
				const r = await side.call("swarm/call", { tool: "swarm_wait", args: p, callId }, 0);
				track(r.details, ctx);
				if (signal?.aborted) throw new Error("aborted: stopped waiting; the workers go on (swarm_status shows them)");
				return result(r);
			} finally {
				side.swarmUpdates.delete(callId);
				signal?.removeEventListener("abort", cancel);
			}
		},
	});

	pi.registerTool({
		name: "swarm_read",
		label: "Read worker output",
		description: READ,
		promptSnippet: "Read one swarm worker's output",
		parameters: ReadArgs,
		async execute(_id, p: Json) {
			return result(await swarmCall("swarm_read", p));
		},
	});

	pi.registerTool({
		name: "swarm_send",
		label: "Message agents",
		description: SEND,
		promptSnippet: "Send a swarm's agents a further message (ended agents continue)",
		parameters: SendArgs,
		async execute(_id, p: Json, _signal, _onUpdate, ctx) {
			const r = await swarmCall("swarm_send", p);
			// Agents that ended are working again: the widget follows the swarm once more.
			const s = await (await host.rpc()).call("swarm/status", { swarm: r.details?.swarmId }).catch(() => undefined);
			if (s) track(s, ctx, true);
			return result(r);
		},
	});

	/** After keep/stop: the active VM may be gone, and the widget shows what is left. */
	async function afterDeletes(r: Json, ctx: ExtensionContext): Promise<string> {
		const active = host.activeVm();
		const deleted: Json[] = r.details?.deleted ?? [];
		const wasActive = !!active && deleted.some((d) => d.vmId === active);
		if (wasActive) await host.goLocal(ctx);
		if (unfinished.has(r.details?.swarmId)) {
			const s = await (await host.rpc()).call("swarm/status", { swarm: r.details.swarmId }).catch(() => undefined);
			if (s) track(s, ctx);
		}
		return wasActive ? `\nVM ${active} was the active VM: tools run locally again.` : "";
	}

	pi.registerTool({
		name: "swarm_keep",
		label: "Keep workers",
		description: KEEP,
		promptSnippet: "Keep the best swarm workers and delete the rest",
		parameters: KeepArgs,
		executionMode: "sequential",
		async execute(_id, p: Json, _signal, _onUpdate, ctx) {
			const r = await swarmCall("swarm_keep", p);
			return result({ ...r, text: r.text + (await afterDeletes(r, ctx)) });
		},
	});

	pi.registerTool({
		name: "swarm_stop",
		label: "Stop swarm",
		description: STOP,
		promptSnippet: "Stop a swarm's workers (and delete their VMs)",
		parameters: StopArgs,
		executionMode: "sequential",
		async execute(_id, p: Json, _signal, _onUpdate, ctx) {
			const r = await swarmCall("swarm_stop", p);
			track(r.details, ctx);
			return result({ ...r, text: r.text + (await afterDeletes(r, ctx)) });
		},
	});

	return {
		dispose() {
			if (timer) clearInterval(timer);
			timer = undefined;
			unfinished.clear();
			ui = undefined;
		},
	};
}
