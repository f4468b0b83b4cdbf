// tether for pi: VM tools, and pi's own bash/read/edit/write/ls/find/grep routed to the active
// Vers VM. Every remote operation is a JSON-RPC call to the Rust sidecar `tether serve`
// (wire spec: crates/serve/README.md); this file only wires pi's tool definitions to it. The
// swarm tools and their widget are in swarm.ts, the background-process tools in background.ts.
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { constants as osConstants, tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
	createBashToolDefinition,
	createEditToolDefinition,
	createFindToolDefinition,
	createGrepToolDefinition,
	createLsToolDefinition,
	createReadToolDefinition,
	createWriteToolDefinition,
	DEFAULT_MAX_BYTES,
	type ExtensionAPI,
	type ExtensionContext,
	formatSize,
	SettingsManager,
	truncateHead,
	truncateLine,
	VERSION,
} from "@mariozechner/pi-coding-agent";
import { Type } from "typebox";
import { registerBackgroundTools } from "./background.js";
import { registerSwarmTools } from "./swarm.js";
import { registerTunnelTool } from "./tunnel.js";
import { registerVersTools } from "./vers.js";

type Json = any;
type Active = { vmId: string; home: string; cwd: string };
const ENTRY = "tether-vm"; // session entry remembering the active VM
const STOP_GRACE_MS = 5000; // sidecar exit after stdin closes, before SIGKILL
const CALL_TIMEOUT_MS = 10 * 60 * 1000; // any single call but exec and swarm_wait
// How pi's own local bash reports a command killed by a signal: null up to 0.7x, 128+n after.
const SIGNAL_EXIT_CODES = Number(VERSION.split(".")[0]) > 0 || Number(VERSION.split(".")[1]) >= 80;
const signalExit = (signal: string | null): number | null =>
	signal && SIGNAL_EXIT_CODES ? 128 + ((osConstants.signals as Json)[`SIG${signal}`] ?? 0) : null;

/**
 * The sidecar's argv: TETHER_SERVE_ARGV (a JSON array), else TETHER_BIN with `serve`, else
 * `tether serve` from PATH, else this repository's build (`tether-serve`, or `tether serve`).
 */
function sidecarArgv(): string[] {
	const env = process.env;
	if (env.TETHER_SERVE_ARGV) return JSON.parse(env.TETHER_SERVE_ARGV);
	if (env.TETHER_BIN) return [env.TETHER_BIN, "serve"];
	for (const dir of (env.PATH ?? "").split(path.delimiter)) {
		if (dir && existsSync(path.join(dir, "tether"))) return [path.join(dir, "tether"), "serve"];
	}
	const here = typeof __dirname === "string" ? __dirname : path.dirname(fileURLToPath(import.meta.url));
	for (const build of ["debug", "release"]) {
		const target = path.resolve(here, "..", "target", build);
		if (existsSync(path.join(target, "tether-serve"))) return [path.join(target, "tether-serve")];
		if (existsSync(path.join(target, "tether"))) return [path.join(target, "tether"), "serve"];
	}
	throw new Error("tether is not installed: set TETHER_BIN, put `tether` on PATH, or run `cargo build` in the tether repository");
}

class RpcError extends Error {
	constructor(message: string, readonly code?: string, readonly kind?: string) {
		super(message);
	}
}

/** One `tether serve` process and its JSON-RPC stream (one JSON object per line). */
class Sidecar {
	private next = 1;
	private pending = new Map<number, { resolve: (v: Json) => void; reject: (e: Error) => void }>();
	readonly outputs = new Map<string, (data: Buffer) => void>();
	readonly progress = new Map<string, (message: string) => void>();
	readonly swarmUpdates = new Map<string, (update: Json) => void>();
	private stderr = "";
	private buffer = "";
	private exited: Error | undefined;
	private readonly onExit = () => this.child.kill("SIGKILL");

	private constructor(private child: ChildProcess) {
		process.on("exit", this.onExit);
		child.stdout!.setEncoding("utf8"); // decodes characters split across chunks
		child.stdout!.on("data", (text: string) => this.read(text));
		child.stderr!.setEncoding("utf8");
		child.stderr!.on("data", (text: string) => {
			this.stderr = (this.stderr + text).slice(-4000);
		});
		child.stdin!.on("error", () => undefined); // a dead sidecar is reported by "exit"
		child.on("error", (err) => this.fail(new Error(`could not start tether serve: ${err.message}`)));
		child.on("exit", (code, signal) =>
			this.fail(new Error(`tether serve exited (${signal ?? code}): ${this.stderr.trim() || "no message"}; retry (it restarts)`)),
		);
	}

	static async start(): Promise<Sidecar> {
		const [program, ...args] = sidecarArgv();
		const sidecar = new Sidecar(spawn(program, args, { stdio: ["pipe", "pipe", "pipe"] }));
		await sidecar.call("initialize", { protocolVersion: 1, clientInfo: { name: "pi-tether" } });
		return sidecar;
	}

	get alive(): boolean {
		return !this.exited;
	}

	/** `timeoutMs` 0: no limit (the server ends the call). */
	call(method: string, params: Json = {}, timeoutMs: number = CALL_TIMEOUT_MS): Promise<Json> {
		if (this.exited) return Promise.reject(this.exited);
		const id = this.next++;
		return new Promise((resolve, reject) => {
			const timer = timeoutMs ? setTimeout(() => this.settle(id, new Error(`tether serve did not answer ${method} within ${timeoutMs / 1000} s; retry`)), timeoutMs) : undefined;
			const done = (fn: () => void) => { if (timer) clearTimeout(timer); fn(); };
			this.pending.set(id, { resolve: (v) => done(() => resolve(v)), reject: (e) => done(() => reject(e)) });
			this.child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
		});
	}

	notify(method: string, params: Json): void {
		if (!this.exited) this.child.stdin!.write(`${JSON.stringify({ jsonrpc: "2.0", method, params })}\n`);
	}

	/** Closes stdin (the server cancels running commands and exits), then kills it after a grace. */
	async stop(): Promise<void> {
		process.off("exit", this.onExit);
		if (this.exited) return;
		const gone = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
		this.child.stdin!.end();
		const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
		await gone;
		clearTimeout(timer);
	}

	private read(text: string): void {
		this.buffer += text;
		let end: number;
		while ((end = this.buffer.indexOf("\n")) >= 0) {
			const line = this.buffer.slice(0, end);
			this.buffer = this.buffer.slice(end + 1);
			if (line.trim()) this.dispatch(JSON.parse(line));
		}
	}

	private dispatch(msg: Json): void {
		if (msg.method === "exec/output") this.outputs.get(msg.params.execId)?.(Buffer.from(msg.params.data, "base64"));
		else if (msg.method === "progress") this.progress.get(msg.params.progressId ?? "")?.(msg.params.message);
		else if (msg.method === "swarm/update") this.swarmUpdates.get(msg.params.callId ?? "")?.(msg.params);
		else if (msg.id !== undefined) {
			const error = msg.error && new RpcError(msg.error.message, msg.error.data?.errno, msg.error.data?.kind);
			this.settle(msg.id, error, msg.result);
		}
	}

	private settle(id: number, error: Error | undefined, result?: Json): void {
		const waiter = this.pending.get(id);
		this.pending.delete(id);
		if (error) waiter?.reject(error);
		else waiter?.resolve(result);
	}

	private fail(error: Error): void {
		this.exited ??= error;
		process.off("exit", this.onExit);
		for (const id of [...this.pending.keys()]) this.settle(id, error);
	}
}

/** `target` with `key` reading as `value` (methods still bound to `target`). */
function withField<T extends object>(target: T, key: string, value: unknown): T {
	return new Proxy(target, {
		get(t, k) {
			if (k === key) return value;
			const v = Reflect.get(t, k, t);
			return typeof v === "function" ? v.bind(t) : v;
		},
	});
}

/** A ctx whose cwd is the VM's (pi ≥ 0.85 resolves paths with ctx.cwd before its own cwd). */
const withCwd = (ctx: ExtensionContext, cwd: string): ExtensionContext => withField(ctx, "cwd", cwd);

/** A path as the model wrote it, with `~` meaning the VM's home (pi would expand it locally). */
function remoteParam(p: string | undefined, vm: Active): string | undefined {
	if (p === undefined) return p;
	const bare = p.startsWith("@") ? p.slice(1) : p;
	if (bare === "~") return vm.home;
	if (bare.startsWith("~/")) return vm.home.replace(/\/$/, "") + bare.slice(1);
	return p;
}

const text = (t: string, details?: Json) => ({ content: [{ type: "text" as const, text: t }], details });

export default function tether(pi: ExtensionAPI) {
	let sidecar: Promise<Sidecar> | undefined;
	let active: Active | undefined;
	let settings = { shellPath: undefined as string | undefined, commandPrefix: undefined as string | undefined, autoResizeImages: true };

	function rpc(): Promise<Sidecar> {
		if (sidecar) {
			const current = sidecar;
			return current.then((s) => (s.alive ? s : ((sidecar = undefined), rpc())), () => ((sidecar = undefined), rpc()));
		}
		sidecar = Sidecar.start();
		return sidecar;
	}
	const call = async (method: string, params?: Json) => (await rpc()).call(method, params);

	// ---- remote operations for pi's own tool definitions ------------------------------------
	const stat = (vmId: string, p: string) => call("fs/stat", { vmId, path: p });
	const exists = (vmId: string, p: string) =>
		stat(vmId, p).then(() => true, (e) => (e.code === "ENOENT" ? false : Promise.reject(e)));
	const readFile = async (vmId: string, p: string) => Buffer.from((await call("fs/readFile", { vmId, path: p })).data, "base64");
	const writeFile = (vmId: string, p: string, content: string | Buffer) =>
		call("fs/writeFile", { vmId, path: p, data: Buffer.from(content).toString("base64") }).then(() => undefined);
	const access = (vmId: string, p: string) => stat(vmId, p).then(() => undefined);

	function bashOps(vmId: string) {
		return {
			exec: async (command: string, cwd: string, opts: { onData: (d: Buffer) => void; signal?: AbortSignal; timeout?: number }) => {
				const side = await rpc();
				const execId = randomUUID();
				const cancel = () => side.notify("exec/cancel", { execId });
				side.outputs.set(execId, opts.onData);
				opts.signal?.addEventListener("abort", cancel, { once: true });
				try {
					if (opts.signal?.aborted) throw new Error("aborted");
					// Local environment variables are deliberately not sent (API keys stay here).
					const r = await side.call("exec", { execId, vmId, command, cwd, timeoutSecs: opts.timeout }, 0);
					if (r.cancelled) throw new Error("aborted");
					if (r.timedOut) throw new Error(`timeout:${opts.timeout}`);
					return { exitCode: r.exitCode ?? signalExit(r.signal) };
				} finally {
					side.outputs.delete(execId);
					opts.signal?.removeEventListener("abort", cancel);
				}
			},
		};
	}
	const readOps = (vmId: string) => ({
		readFile: (p: string) => readFile(vmId, p),
		access: (p: string) => access(vmId, p),
		detectImageMimeType: async (p: string) => (await call("fs/imageType", { vmId, path: p })).mimeType,
	});
	const editOps = (vmId: string) => ({ readFile: (p: string) => readFile(vmId, p), writeFile: (p: string, c: string) => writeFile(vmId, p, c), access: (p: string) => access(vmId, p) });
	const writeOps = (vmId: string) => ({ writeFile: (p: string, c: string) => writeFile(vmId, p, c), mkdir: (d: string) => call("fs/mkdir", { vmId, path: d }).then(() => undefined) });
	function lsOps(vmId: string) {
		const kinds = new Map<string, string>(); // from readdir, so ls needs no stat per entry
		return {
			exists: (p: string) => exists(vmId, p),
			stat: async (p: string) => {
				const kind = kinds.get(p) ?? (await stat(vmId, p)).kind;
				// Only a dangling link stats as a link: fail like Node's stat, which pi's ls skips.
				if (kind === "symlink") throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${p}'`), { code: "ENOENT" });
				return { isDirectory: () => kind === "dir" };
			},
			readdir: async (p: string) => {
				const r = await call("fs/readDir", { vmId, path: p });
				// A symlink is stat'ed when ls asks (stat follows it, as pi's local ls does).
				for (const e of r.entries) if (e.kind !== "symlink") kinds.set(path.posix.join(p, e.name), e.kind);
				return r.entries.map((e: Json) => e.name);
			},
		};
	}
	const findOps = (vmId: string) => ({
		exists: (p: string) => exists(vmId, p),
		glob: async (pattern: string, cwd: string, o: { limit: number }) => (await call("fs/glob", { vmId, path: cwd, pattern, limit: o.limit })).paths,
	});

	/** pi's grep output format, searched on the VM (pi's GrepOperations cannot move rg). */
	async function remoteGrep(vm: Active, p: Json) {
		const searchPath = path.posix.resolve(vm.cwd, remoteParam(p.path, vm) || ".");
		const info = await stat(vm.vmId, searchPath).catch(() => { throw new Error(`Path not found: ${searchPath}`); });
		const limit = Math.max(1, p.limit ?? 100);
		const context = p.context && p.context > 0 ? p.context : 0;
		const r = await call("fs/grep", { vmId: vm.vmId, path: searchPath, pattern: p.pattern, literal: !!p.literal, ignoreCase: !!p.ignoreCase, glob: p.glob, limit });
		if (!r.matches.length) return text("No matches found");
		const show = (file: string) => {
			const rel = path.posix.relative(searchPath, file);
			return info.kind === "dir" && rel && !rel.startsWith("..") ? rel : path.posix.basename(file);
		};
		let linesTruncated = false;
		const cut = (line: string) => { const t = truncateLine(line.replace(/\r/g, "")); linesTruncated ||= t.wasTruncated; return t.text; };
		const files = new Map<string, string[]>();
		const out: string[] = [];
		for (const m of r.matches) {
			if (!context) { out.push(`${show(m.path)}:${m.line}: ${cut(m.text)}`); continue; }
			if (!files.has(m.path)) files.set(m.path, (await readFile(vm.vmId, m.path).catch(() => Buffer.alloc(0))).toString("utf8").replace(/\r\n?/g, "\n").split("\n"));
			const lines = files.get(m.path)!;
			for (let n = Math.max(1, m.line - context); n <= Math.min(lines.length, m.line + context); n++)
				out.push(n === m.line ? `${show(m.path)}:${n}: ${cut(lines[n - 1] ?? "")}` : `${show(m.path)}-${n}- ${cut(lines[n - 1] ?? "")}`);
		}
		const truncation = truncateHead(out.join("\n"), { maxLines: Number.MAX_SAFE_INTEGER });
		const details: Json = {};
		const notices: string[] = [];
		if (r.matches.length >= limit) { notices.push(`${limit} matches limit reached. Use limit=${limit * 2} for more, or refine pattern`); details.matchLimitReached = limit; }
		if (truncation.truncated) { notices.push(`${formatSize(DEFAULT_MAX_BYTES)} limit reached`); details.truncation = truncation; }
		if (linesTruncated) { notices.push("Some lines truncated to 500 chars. Use read tool to see full lines"); details.linesTruncated = true; }
		return text(truncation.content + (notices.length ? `\n\n[${notices.join(". ")}]` : ""), Object.keys(details).length ? details : undefined);
	}

	// ---- overrides: pi's built-in with no active VM, pi's definition with remote ops with one ----
	type Make = (cwd: string, options?: Json) => Json;
	const isLocalBashLog = (p: string) => path.isAbsolute(p) && p.startsWith(path.join(tmpdir(), "pi-bash-")) && p.endsWith(".log") && existsSync(p);
	const overrides: [string, Make, (vm: Active) => Json][] = [
		["bash", createBashToolDefinition, (vm) => ({ operations: bashOps(vm.vmId) })],
		["read", createReadToolDefinition, (vm) => ({ operations: readOps(vm.vmId), autoResizeImages: settings.autoResizeImages })],
		["edit", createEditToolDefinition, (vm) => ({ operations: editOps(vm.vmId) })],
		["write", createWriteToolDefinition, (vm) => ({ operations: writeOps(vm.vmId) })],
		["ls", createLsToolDefinition, (vm) => ({ operations: lsOps(vm.vmId) })],
		["find", createFindToolDefinition, (vm) => ({ operations: findOps(vm.vmId) })],
		["grep", createGrepToolDefinition, () => ({})],
	];
	const localOptions = (name: string): Json =>
		name === "bash" ? { shellPath: settings.shellPath, commandPrefix: settings.commandPrefix } : name === "read" ? { autoResizeImages: settings.autoResizeImages } : {};
	for (const [name, make, remote] of overrides) {
		const base = make(process.cwd());
		pi.registerTool({
			...base,
			// edit's call preview diffs against the *local* file: with a VM active, show the call
			// without it (the result still carries pi's diff of the remote file).
			...(name === "edit" && {
				renderCall: (args: Json, theme: Json, context: Json) =>
					base.renderCall(args, theme, active ? withField(context, "argsComplete", false) : context),
			}),
			async execute(id: string, params: Json, signal: AbortSignal | undefined, onUpdate: Json, ctx: ExtensionContext) {
				const vm = active;
				// The bash full-output file pi writes is local even when the command ran on the VM.
				if (!vm || (name === "read" && isLocalBashLog(params.path))) return make(ctx.cwd, localOptions(name)).execute(id, params, signal, onUpdate, ctx);
				const remoteParams = { ...params, path: remoteParam(params.path, vm) };
				if (params.path === undefined) delete remoteParams.path;
				if (name === "grep") return remoteGrep(vm, params);
				return make(vm.cwd, remote(vm)).execute(id, remoteParams, signal, onUpdate, withCwd(ctx, vm.cwd));
			},
		});
	}

	// ---- the active VM --------------------------------------------------------------------------
	function showActive(ctx: ExtensionContext) {
		if (active) ctx.ui.setStatus("vers", `vers: ${active.vmId.slice(0, 12)}`);
	}
	async function useVm(vmId: string, ctx: ExtensionContext, cwd?: string) {
		const r = await call("vm/use", { vmId, cwd });
		active = { vmId: r.vmId, home: r.home, cwd: r.cwd };
		pi.appendEntry(ENTRY, { vmId: r.vmId, cwd: r.cwd });
		showActive(ctx);
		return r;
	}
	async function goLocal(ctx: ExtensionContext) {
		const previous = active;
		active = undefined;
		pi.appendEntry(ENTRY, { vmId: null });
		await call("vm/local").catch(() => undefined);
		await showCount(ctx);
		return previous;
	}
	async function showCount(ctx: ExtensionContext) {
		try {
			const r = await call("vm/list");
			const sim = r.backend.kind === "simulator" ? " (local simulator)" : "";
			if (!active) ctx.ui.setStatus("vers", `vers: ${r.vms.length} VM(s)${sim}`);
			if (r.backend.notice) ctx.ui.notify(`tether: ${r.backend.notice}`, "info");
			return r;
		} catch (e: Json) {
			if (!active) ctx.ui.setStatus("vers", "vers: offline");
			ctx.ui.notify(`tether: ${e.message}`, "warning");
		}
	}
	const vmIdParam = (what: string) => Type.String({ description: `Full VM id ${what} (a unique prefix also works)` });

	pi.registerTool({
		name: "create_vm",
		label: "Create VM",
		description: "Create a new Vers VM and wait for it to boot. Returns its full VM id; call vm_use with it to run bash, read, edit and write there.",
		promptSnippet: "Create a new Vers VM (then vm_use it)",
		parameters: Type.Object({
			vcpu_count: Type.Optional(Type.Number({ description: "Number of vCPUs" })),
			mem_size_mib: Type.Optional(Type.Number({ description: "Memory in MiB" })),
			fs_size_mib: Type.Optional(Type.Number({ description: "Disk size in MiB" })),
		}),
		executionMode: "sequential",
		async execute(id, p: Json, _signal, onUpdate) {
			const side = await rpc();
			side.progress.set(id, (message) => onUpdate?.(text(message)));
			try {
				const r = await side.call("vm/create", { vcpuCount: p.vcpu_count, memSizeMib: p.mem_size_mib, fsSizeMib: p.fs_size_mib, progressId: id });
				return text(`VM created: ${r.vmId}`, { vmId: r.vmId });
			} finally {
				side.progress.delete(id);
			}
		},
	});

	const vers = registerVersTools(pi, call);

	pi.registerTool({
		...createBashToolDefinition("~"),
		name: "vm_exec",
		label: "Run on VM",
		description: "Execute a shell command on a given Vers VM (in its home directory), whichever VM is active. Output is truncated like bash's. With detach: true it starts the command and returns its exec id at once; vm_attach reads its output and exit code.",
		promptSnippet: "Run a command on a specific Vers VM",
		parameters: Type.Object({
			vmId: vmIdParam("to run on"),
			command: Type.String({ description: "Shell command" }),
			timeout: Type.Optional(Type.Number({ description: "Timeout in seconds" })),
			detach: Type.Optional(
				Type.Boolean({
					description:
						"Start the command through the Vers API and return its exec id at once; it keeps running, and vm_attach (or vm_logs) reads its output and exit code.",
				}),
			),
		}),
		async execute(id, p: Json, signal, onUpdate, ctx) {
			if (p.detach) {
				const r = await vers("vm_exec", { vmId: p.vmId, command: p.command, timeout: p.timeout, detach: true });
				return text(r.text, r.details);
			}
			// Runs in that VM's home ("~" on the VM), without changing the active VM.
			return createBashToolDefinition("~", { operations: bashOps(p.vmId) }).execute(id, { command: p.command, timeout: p.timeout }, signal, onUpdate, withCwd(ctx, "~"));
		},
	});

	pi.registerTool({
		name: "vm_use",
		label: "Use VM",
		description: "Route bash, read, edit, write, ls, find and grep to this VM (checks that it answers). Use vm_local to switch back.",
		promptSnippet: "Route all tools to a Vers VM",
		parameters: Type.Object({
			vmId: vmIdParam("to use"),
			cwd: Type.Optional(Type.String({ description: "Working directory on the VM (default: as before, else its home)" })),
		}),
		executionMode: "sequential",
		async execute(_id, p: Json, _s, _u, ctx) {
			const r = await useVm(p.vmId, ctx, p.cwd);
			return text(`Routing to ${r.vmId}: bash, read, edit, write, ls, find, grep and bg_* now run on this VM (working directory ${r.cwd}, home ${r.home}). Use vm_local to switch back.`, { vmId: r.vmId, cwd: r.cwd, home: r.home });
		},
	});

	pi.registerTool({
		name: "vm_local",
		label: "Use Local",
		description: "Stop routing to the VM: bash, read, edit, write, ls, find and grep run on this machine again.",
		promptSnippet: "Switch tools back to the local machine",
		parameters: Type.Object({}),
		executionMode: "sequential",
		async execute(_id, _p, _s, _u, ctx) {
			const previous = await goLocal(ctx);
			return text(previous ? `Back to local (was routing to ${previous.vmId})` : "Back to local (no VM was active)", { previousVmId: previous?.vmId ?? null });
		},
	});

	pi.registerTool({
		name: "vm_delete",
		label: "Delete VM",
		description: "Delete a VM and its disk. If it is the active VM, tools run locally again.",
		promptSnippet: "Delete a Vers VM",
		parameters: Type.Object({ vmId: vmIdParam("to delete") }),
		executionMode: "sequential",
		async execute(_id, p: Json, _s, _u, ctx) {
			const r = await call("vm/delete", { vmId: p.vmId });
			const wasActive = r.wasActive || active?.vmId === r.vmId;
			if (wasActive) await goLocal(ctx);
			return text(`VM ${r.vmId} deleted.${wasActive ? " It was the active VM: tools run locally again." : ""}`, r);
		},
	});

	pi.registerTool({
		name: "vm_state",
		label: "Pause/Resume VM",
		description: "Pause a VM (freezes every process) or resume it.",
		promptSnippet: "Pause or resume a Vers VM",
		parameters: Type.Object({
			vmId: vmIdParam("to pause or resume"),
			state: Type.Union([Type.Literal("paused"), Type.Literal("running")], { description: "\"paused\" or \"running\"" }),
		}),
		executionMode: "sequential",
		async execute(_id, p: Json) {
			const r = await call("vm/state", { vmId: p.vmId, state: p.state });
			return text(`VM ${r.vmId} state set to ${r.state}.`, r);
		},
	});

	pi.registerTool({
		name: "vm_copy",
		label: "Copy files",
		description: "Copy a file or directory between this machine and a VM, or between VMs. Write VM places as vm:<vm_id>:<path>, local ones as plain paths.",
		promptSnippet: "Copy files between local and Vers VMs (vm:<id>:path)",
		parameters: Type.Object({
			src: Type.String({ description: "Source: a local path or vm:<vm_id>:<path>" }),
			dst: Type.String({ description: "Destination: a local path or vm:<vm_id>:<path>" }),
		}),
		async execute(_id, p: Json, _s, _u, ctx) {
			const r = await call("vm/copy", { src: p.src, dst: p.dst, localCwd: ctx.cwd });
			const size = r.kind === "dir" ? `${r.files} file(s)` : formatSize(r.bytes);
			return text(`Copied ${r.from} -> ${r.to} (${size})`, r);
		},
	});

	registerTunnelTool(pi, call);
	registerBackgroundTools(pi, { call, active: () => active });
	const swarms = registerSwarmTools(pi, { rpc, activeVm: () => active?.vmId, goLocal });

	pi.registerCommand("vers", {
		description: "Vers VMs: /vers [list | use <vm> | local | pause <vm> | resume <vm> | delete <vm>]; no argument: pick a VM and an action",
		async handler(args: string, ctx: Json) {
			let [action, vm] = args.trim().split(/\s+/).filter(Boolean);
			try {
				if (!action) {
					const r = await call("vm/list");
					vm = await ctx.ui.select("Vers VM", r.vms.map((v: Json) => `${v.vmId} ${v.state}${v.active ? " (active)" : ""}`));
					if (!vm) return;
					vm = vm.split(" ")[0];
					action = await ctx.ui.select(`VM ${vm}`, ["use", "local", "pause", "resume", "delete"]);
				}
				const done = {
					list: async () => (await call("vm/list")).vms.map((v: Json) => `${v.vmId} ${v.state}${v.active ? " (active)" : ""}`).join("\n") || "no VMs",
					use: async () => `Routing to ${(await useVm(vm, ctx)).vmId}`,
					local: async () => (await goLocal(ctx), "Back to local"),
					pause: async () => `VM ${(await call("vm/state", { vmId: vm, state: "paused" })).vmId} paused`,
					resume: async () => `VM ${(await call("vm/state", { vmId: vm, state: "running" })).vmId} running`,
					delete: async () => {
						const r = await call("vm/delete", { vmId: vm });
						if (r.wasActive || active?.vmId === r.vmId) await goLocal(ctx);
						return `VM ${r.vmId} deleted`;
					},
				}[action as "list"];
				if (!done) return ctx.ui.notify(`unknown /vers action ${action}; use list, use, local, pause, resume or delete`, "error");
				ctx.ui.notify(await done(), "info");
			} catch (e: Json) {
				ctx.ui.notify(`tether: ${e.message}`, "error");
			}
		},
	});

	// ---- lifecycle ----------------------------------------------------------------------------
	pi.on("session_start", async (_event, ctx) => {
		try {
			const s = SettingsManager.create(ctx.cwd);
			settings = { shellPath: s.getShellPath(), commandPrefix: s.getShellCommandPrefix(), autoResizeImages: s.getImageAutoResize() };
		} catch {
			// pi's defaults apply.
		}
		const entries = ctx.sessionManager.getBranch().filter((e: Json) => e.type === "custom" && e.customType === ENTRY);
		const last: Json = entries.at(-1);
		if (last?.data?.vmId) {
			try {
				const r = await call("vm/use", { vmId: last.data.vmId, cwd: last.data.cwd });
				active = { vmId: r.vmId, home: r.home, cwd: r.cwd };
				showActive(ctx);
			} catch (e: Json) {
				ctx.ui.notify(`tether: VM ${last.data.vmId} is not usable (${e.message}); tools run locally`, "warning");
			}
		}
		if (!active) void showCount(ctx);
	});

	// The person's own `!command` lines follow the active VM too.
	pi.on("user_bash", () => {
		const vm = active;
		if (!vm) return;
		const ops = bashOps(vm.vmId);
		return { operations: { exec: (command: string, _cwd: string, o: Json) => ops.exec(command, vm.cwd, o) } };
	});

	pi.on("before_agent_start", (event: Json) => {
		if (!active) return;
		if (event.systemPromptOptions && "cwd" in event.systemPromptOptions) event.systemPromptOptions.cwd = active.cwd;
		const prompt = event.systemPrompt.replace(/Current working directory: .*/, `Current working directory: ${active.cwd}`);
		return { systemPrompt: prompt };
	});

	pi.on("session_shutdown", async () => {
		swarms.dispose();
		const current = sidecar;
		sidecar = undefined;
		await current?.then((s) => s.stop(), () => undefined);
	});
}
