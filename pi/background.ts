// The background-process tools for pi: bg_start, bg_list, bg_logs and bg_stop run in the sidecar
// (`bg/call`, wire spec: crates/serve/README.md), which runs tether's own implementation
// (`tether_tools`, as `tether mcp` does). They follow the active target like bash: the active VM,
// or this machine. Their descriptions and argument schemas mirror crates/tools/src/descriptions.rs
// and crates/tools/src/args.rs; the pi end-to-end tests check they match.
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { Type } from "typebox";

type Json = any;

export interface BackgroundHost {
	/** Calls a sidecar method. */
	call(method: string, params?: Json): Promise<Json>;
	/** The active VM and its working directory, if tools run on a VM. */
	active(): { vmId: string; cwd: string } | undefined;
}

// ---- descriptions: crates/tools/src/descriptions.rs (BG_START, BG_LIST, BG_LOGS, BG_STOP) ----
const START =
	"Start a long-running command (dev server, watcher, build) in the background, detached, and return its id at once. Its output is kept on the machine it runs on; it survives this call and a restart of the agent. An optional timeout (seconds) stops it when it runs out. Give it a name to make a retry safe: starting the same command in the same directory under the name of a running process returns that process instead of a second one.";
const LIST =
	"List the background processes of the active machine: id, state (running, exited(code), killed(signal), timed-out, lost), start time, directory and command.";
const LOGS =
	"Read a background process's output in order: from a byte offset (the result says which offset continues) or its last lines (tail). At most 50KB per call.";
const STOP =
	"Stop a background process: its whole process group gets SIGTERM, then SIGKILL after 5 seconds. Says which signal ended it.";

// ---- arguments: the `Bg*Args` structs of crates/tools/src/args.rs, camelCase ----------------
const id = () => Type.String({ description: "The process id that bg_start returned." });
const StartArgs = Type.Object({
	command: Type.String({ description: "The bash command to run in the background (a dev server, a watcher, a long build)." }),
	cwd: Type.Optional(Type.String({ description: "Directory to run it in (default: the working directory)." })),
	name: Type.Optional(Type.String({ description: "A name to recognise it by; no two running processes may share one." })),
	timeout: Type.Optional(
		Type.Number({
			description:
				"Seconds it may run; then its process group is stopped (SIGTERM, SIGKILL 5 s later) and it shows as timed out. No limit when left out.",
		}),
	),
});
const ListArgs = Type.Object({});
const LogsArgs = Type.Object({
	id: id(),
	offset: Type.Optional(
		Type.Integer({
			minimum: 0,
			description: "Byte offset to read from (the `next offset` of the previous bg_logs call), to follow the output without rereading it.",
		}),
	),
	tail: Type.Optional(Type.Integer({ minimum: 0, description: "Only the last this many lines (instead of reading from `offset`)." })),
	wait: Type.Optional(
		Type.Number({
			description: "Wait up to this many seconds (at most 60) for output past `offset`, or for the process to end, before answering.",
		}),
	),
});
const StopArgs = Type.Object({ id: id() });

const result = (r: Json) => ({ content: [{ type: "text" as const, text: r.text as string }], details: r.details ?? undefined });

export function registerBackgroundTools(pi: ExtensionAPI, host: BackgroundHost): void {
	/** Runs `tool` where bash runs now: on the active VM in its directory, else here in pi's. */
	const bgCall = async (tool: string, args: Json, ctx: ExtensionContext) => {
		const vm = host.active();
		const where = vm ? { vmId: vm.vmId, cwd: vm.cwd } : { cwd: ctx.cwd };
		return result(await host.call("bg/call", { tool, args, ...where }));
	};
	const tools: [string, string, string, string, Json][] = [
		["bg_start", "Start background process", START, "Start a long-running command in the background; returns its id", StartArgs],
		["bg_list", "List background processes", LIST, "List background processes and their state", ListArgs],
		["bg_logs", "Background process output", LOGS, "Read a background process's output", LogsArgs],
		["bg_stop", "Stop background process", STOP, "Stop a background process and its whole group", StopArgs],
	];
	for (const [name, label, description, promptSnippet, parameters] of tools) {
		pi.registerTool({
			name,
			label,
			description,
			promptSnippet,
			parameters,
			async execute(_id, p: Json, _signal, _onUpdate, ctx) {
				return bgCall(name, p, ctx);
			},
		});
	}
}
